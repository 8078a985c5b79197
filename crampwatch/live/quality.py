"""Signal-quality checks per electrode: contact loss, flat line, mains hum, clipping.

Run over a few seconds of EMG at rest before the night starts (so the sleeper hears
"calf electrode not touching" while they can still fix it) and on every window during
the night (logged). The band's own lead-off flags count too. Thresholds are rules of
thumb from DOMAIN.md's "Signals" and look-alike table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sensor.records import ChannelInfo, Role, SampleBlock, SignalGroup


@dataclass(frozen=True)
class QualityParams:
    """Thresholds for one electrode over one window of EMG."""

    window_s: float = 2.0
    # Rest EMG is a few uV (DOMAIN.md); a real amplifier never reads below ~0.3 uV RMS.
    flat_rms_uv: float = 0.3
    # Mains dominates an open electrode (DOMAIN.md: electrode lift, "mains dominates"),
    # and is large: a good electrode at rest may still show a few uV of hum. (inference)
    mains_fraction: float = 0.8
    mains_min_uv: float = 10.0
    # Share of samples pinned at the window's extreme values: the amplifier clips.
    clip_fraction: float = 0.01
    # At rest, RMS above this is broadband junk or a loose electrode, not sleep. (inference)
    rest_max_rms_uv: float = 50.0


@dataclass(frozen=True)
class ElectrodeQuality:
    """The verdict on one electrode; ``problem`` is empty when it looks fine."""

    label: str
    role: Role
    rms_uv: float
    mains_fraction: float
    problem: str

    @property
    def ok(self) -> bool:
        return not self.problem

    def message(self) -> str:
        """Return what to tell the sleeper, e.g. 'calf electrode not touching'."""
        where = {Role.CALF: "calf", Role.SHIN: "shin"}.get(self.role, self.label)
        return f"{where} electrode ({self.label}): {self.problem or 'ok'}"


def check_window(
    samples_uv: np.ndarray,
    fs_hz: float,
    channels: tuple[ChannelInfo, ...],
    mains_hz: float | None = None,
    at_rest: bool = False,
    params: QualityParams | None = None,
) -> list[ElectrodeQuality]:
    """Return one verdict per EMG column of ``samples_uv`` ((n, channels), uV, raw)."""
    p = params or QualityParams()
    x = np.asarray(samples_uv, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != len(channels):
        raise ValueError(f"samples must be (n, {len(channels)}), got {x.shape}")
    out = []
    for j, ch in enumerate(channels):
        col = x[:, j] - np.mean(x[:, j]) if x.shape[0] else x[:, j]
        rms = float(np.sqrt(np.mean(col**2))) if col.size else 0.0
        mains = _mains_fraction(col, fs_hz, mains_hz)
        problem = ""
        lo, hi = (float(np.min(x[:, j])), float(np.max(x[:, j]))) if col.size else (0.0, 0.0)
        pinned = float(np.mean((x[:, j] <= lo) | (x[:, j] >= hi))) if hi > lo else 1.0
        if col.size == 0:
            problem = "no signal"
        elif rms < p.flat_rms_uv:
            problem = "flat line: electrode not touching or cable off"
        elif mains >= p.mains_fraction and rms * np.sqrt(mains) >= p.mains_min_uv:
            problem = "not touching: mains hum dominates"
        elif pinned >= p.clip_fraction and hi - lo > 0:
            problem = "clipping: electrode loose or moving"
        elif at_rest and rms > p.rest_max_rms_uv:
            problem = f"noisy ({rms:.0f} uV at rest): press the electrode on or reapply gel"
        out.append(ElectrodeQuality(ch.label, ch.role, rms, mains, problem))
    return out


def _mains_fraction(col: np.ndarray, fs_hz: float, mains_hz: float | None) -> float:
    """Return the share of 20-450 Hz power within +-2 Hz of mains and its harmonics."""
    if col.size < int(fs_hz * 0.5):
        return 0.0
    spec = np.abs(np.fft.rfft(col * np.hanning(col.size))) ** 2
    f = np.fft.rfftfreq(col.size, 1.0 / fs_hz)
    band = (f >= 20.0) & (f <= min(450.0, 0.45 * fs_hz))
    total = float(spec[band].sum())
    if total <= 0:
        return 0.0
    best = 0.0
    for base in (50.0, 60.0) if mains_hz is None else (mains_hz,):
        near = np.zeros_like(band)
        for k in (1, 2, 3):
            near |= np.abs(f - base * k) <= 2.0
        best = max(best, float(spec[band & near].sum()) / total)
    return best


class QualityMonitor:
    """Collects EMG into windows and checks each; keeps the latest verdict per electrode."""

    def __init__(self, channels: tuple[ChannelInfo, ...], params: QualityParams | None = None):
        self.params = params or QualityParams()
        self.channels = channels
        self.latest: dict[str, ElectrodeQuality] = {}
        self._buf: list[np.ndarray] = []
        self._n = 0
        self._fs: float | None = None

    def feed(self, block: SampleBlock, at_rest: bool = False) -> list[ElectrodeQuality] | None:
        """Add an EMG block; return verdicts when a window completes, else None."""
        if block.group is not SignalGroup.EMG:
            return None
        if block.gap_before:
            self._buf, self._n = [], 0  # a window never spans a gap
        self._fs = block.fs_hz
        self._buf.append(block.samples)
        self._n += block.n_samples
        if self._n < self.params.window_s * block.fs_hz:
            return None
        window = np.concatenate(self._buf)
        self._buf, self._n = [], 0
        verdicts = check_window(window, block.fs_hz, self.channels, at_rest=at_rest,
                                params=self.params)
        self.latest = {v.label: v for v in verdicts}
        return verdicts
