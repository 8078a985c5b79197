"""The sleeping leg's background EMG, generated chunk by chunk with state carried across.

Per channel: a noise floor (20-450 Hz) whose level drifts slowly, steps when the
leg is repositioned and may rise 2-4x for the rest of the night (gel drying), mains
hum at 50/60 Hz with its 2nd and 3rd harmonics and a slowly wandering frequency
(Mewett 2004), ECG leaking in (Drake & Callaghan 2006) and baseline wander below
1 Hz (De Luca 2010). Chunks must be asked for in order; the
samples do not depend on the chunk sizes (white noise is drawn per fixed 1 s block
from the seed, filter and mains phase carry their state), up to rounding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import signal

from crampwatch.synth.variation import REFERENCE_HARMONICS, STEADY_WANDER_SD_HZ, FloorStep

# The noise floor's level drifts (log scale) as a mean-reverting walk with knots this far
# apart: it wanders by ~20 % over tens of minutes but stays "a few uV" all night (inference).
LEVEL_KNOT_S = 120.0
LEVEL_DRIFT_SD = 0.2  # stationary SD of the log level
LEVEL_DRIFT_TAU_S = 1800.0  # time constant of the drift
# Repositioning the leg moves the electrodes on the skin: after each repositioning the
# floor sits at a new level between 0.7x and 1.45x its usual one (inference).
LEVEL_STEP_RANGE = (0.7, 1.45)
# Hum of a few tenths of a uV on a good contact to tens of uV on a loose or drying one
# (inference: 10x a 2-5 uV floor is common in home recordings).
MAINS_UV = (0.3, 30.0)
ECG_UV = (1.0, 15.0)
WANDER_UV = (3.0, 20.0)
HEART_RATE_BPM = (52.0, 72.0)
# Generation works on blocks of this many seconds, each drawing from its own RNG.
NOISE_BLOCK_S = 1.0
# Grid of the slowly changing parts (baseline wander, floor level), s.
COARSE_STEP_S = 0.01
# A wandering mains frequency moves smoothly between knots: knot-to-knot correlation
# and the largest excursion, Hz (inference: a few tenths of a hertz, Mewett 2004).
WANDER_KNOT_CORRELATION = 0.8
WANDER_MAX_HZ = 0.5


@dataclass(frozen=True)
class ChannelBackground:
    """Fixed properties of one channel's background, drawn once per night."""

    rest_rms_uv: float
    mains_uv: float
    ecg_uv: float
    wander_uv: tuple[float, float, float]
    wander_hz: tuple[float, float, float]
    wander_phase: tuple[float, float, float]


def _qrs_template(fs_hz: float) -> np.ndarray:
    """Return a unit-peak QRS-like wave (~100 ms) as a surface lead on the leg sees it."""
    t = np.arange(-0.05, 0.05, 1.0 / fs_hz)
    q = -0.2 * np.exp(-0.5 * ((t + 0.02) / 0.006) ** 2)
    r = np.exp(-0.5 * (t / 0.007) ** 2)
    s = -0.35 * np.exp(-0.5 * ((t - 0.022) / 0.008) ** 2)
    return q + r + s


class Background:
    """Streams the background of every EMG channel for a night of ``duration_s``."""

    def __init__(
        self,
        n_channels: int,
        fs_hz: float,
        duration_s: float,
        mains_hz: float,
        seed: int,
        level_steps_s: Sequence[float],
        rest_rms_uv: tuple[float, float],
        mains_wander_sd_hz: float = STEADY_WANDER_SD_HZ,
        harmonics: tuple[float, float] = REFERENCE_HARMONICS,
        floor_step: FloorStep | None = None,
    ) -> None:
        self.fs_hz = fs_hz
        self.harmonics = harmonics
        self.floor_step = floor_step
        self.seed = seed
        self.mains_hz = mains_hz
        rng = np.random.default_rng([seed, 1])
        self.channels = [
            ChannelBackground(
                rest_rms_uv=float(rng.uniform(*rest_rms_uv)),
                mains_uv=float(np.exp(rng.uniform(np.log(MAINS_UV[0]), np.log(MAINS_UV[1])))),
                ecg_uv=float(rng.uniform(*ECG_UV)) * (1.0 if c == 0 else 0.6),
                wander_uv=tuple(float(v) for v in rng.uniform(*WANDER_UV, 3)),
                wander_hz=tuple(float(v) for v in rng.uniform(0.05, 0.6, 3)),
                wander_phase=tuple(float(v) for v in rng.uniform(0, 2 * np.pi, 3)),
            )
            for c in range(n_channels)
        ]
        # Level multiplier knots: slow drift plus a new level after each repositioning.
        n_knots = int(np.ceil(duration_s / LEVEL_KNOT_S)) + 2
        self._knot_t = np.arange(n_knots) * LEVEL_KNOT_S
        keep = np.exp(-LEVEL_KNOT_S / LEVEL_DRIFT_TAU_S)
        shocks = rng.normal(0, LEVEL_DRIFT_SD * np.sqrt(1 - keep**2), (n_knots, n_channels))
        drift = np.zeros((n_knots, n_channels))
        drift[0] = rng.normal(0, LEVEL_DRIFT_SD, n_channels)
        for k in range(1, n_knots):
            drift[k] = keep * drift[k - 1] + shocks[k]
        self._knot_log = drift
        steps = sorted(level_steps_s)
        self._step_t = np.array(steps)
        self._step_log = (
            np.log(rng.uniform(*LEVEL_STEP_RANGE, (len(steps), n_channels)))
            if steps else np.zeros((0, n_channels))
        )
        # Mains frequency: within +/-0.1 Hz knot to knot (grid regulation limits), or a
        # smooth wander of a few tenths of a hertz.
        z = rng.normal(0, 1.0, n_knots)
        if mains_wander_sd_hz > STEADY_WANDER_SD_HZ:
            r = WANDER_KNOT_CORRELATION
            z = signal.lfilter([np.sqrt(1 - r * r)], [1.0, -r], z)
            self._mains_dev = np.clip(mains_wander_sd_hz * z, -WANDER_MAX_HZ, WANDER_MAX_HZ)
        else:
            self._mains_dev = mains_wander_sd_hz * z
        # Heart beats for the whole night: a few thousand numbers.
        hr = rng.uniform(*HEART_RATE_BPM)
        n_beats = int(duration_s * hr / 60 * 1.3) + 10
        rr = 60.0 / hr * (1 + 0.05 * rng.standard_normal(n_beats))
        self._beats_s = np.cumsum(np.clip(rr, 0.4, 2.0))
        self._qrs = _qrs_template(fs_hz)
        self._sos = signal.butter(4, [20.0, min(450.0, 0.45 * fs_hz)], btype="bandpass",
                                  fs=fs_hz, output="sos")
        # Filter state runs on across chunks so the noise has no seams.
        self._zi = np.zeros((self._sos.shape[0], 2, n_channels))
        self._noise_gain = self._unit_gain()
        self._next_sample = 0
        self._mains_phase = 0.0

    def _unit_gain(self) -> float:
        """Return the RMS of unit white noise after the band-pass (for level calibration)."""
        _, h = signal.sosfreqz(self._sos, worN=4096, fs=self.fs_hz)
        return float(np.sqrt(np.mean(np.abs(h) ** 2)))

    def level(self, t_s: np.ndarray, channel: int) -> np.ndarray:
        """Return the rest RMS (uV) of a channel at the given times."""
        log_level = np.interp(t_s, self._knot_t, self._knot_log[:, channel])
        if self._step_t.size:
            idx = np.searchsorted(self._step_t, t_s, side="right")
            stepped = np.concatenate([[0.0], self._step_log[:, channel]])
            log_level = log_level + stepped[idx]
        level = self.channels[channel].rest_rms_uv * np.exp(log_level)
        step = self.floor_step
        if step is not None:
            ramp = max(step.ramp_s, 1e-9)
            rise = np.clip((np.asarray(t_s) - step.start_s) / ramp, 0.0, 1.0)
            level = level * (1.0 + (step.factor - 1.0) * rise)
        return level

    def chunk(self, n: int) -> np.ndarray:
        """Return the next ``n`` samples of background, (n, n_channels) uV."""
        start = self._next_sample
        t = (start + np.arange(n)) / self.fs_hz
        n_ch = len(self.channels)
        # White noise drawn per fixed block so a different chunking gives the same night.
        first_block = int(start // (NOISE_BLOCK_S * self.fs_hz))
        last_block = int((start + n - 1) // (NOISE_BLOCK_S * self.fs_hz))
        block_len = int(NOISE_BLOCK_S * self.fs_hz)
        raw = np.concatenate([
            np.random.default_rng([self.seed, 2, b]).standard_normal((block_len, n_ch))
            for b in range(first_block, last_block + 1)
        ])
        offset = start - first_block * block_len
        white = raw[offset : offset + n]
        noise, self._zi = signal.sosfilt(self._sos, white, axis=0, zi=self._zi)
        noise /= self._noise_gain
        out = np.empty((n, n_ch))
        mains_f = self.mains_hz + np.interp(t, self._knot_t, self._mains_dev)
        phase = self._mains_phase + 2 * np.pi * np.cumsum(mains_f) / self.fs_hz
        self._mains_phase = float(phase[-1] % (2 * np.pi))
        h2, h3 = self.harmonics
        hum = np.sin(phase) + h3 * np.sin(3 * phase + 0.7)
        if h2:
            hum += h2 * np.sin(2 * phase + 0.4)
        ecg = self._ecg(start, n)
        # Wander (< 1 Hz) and the floor level change slowly: computed on a coarse grid
        # and interpolated, which saves most of the per-sample work.
        t_coarse = np.arange(t[0], t[-1] + COARSE_STEP_S, COARSE_STEP_S)
        for c, ch in enumerate(self.channels):
            wander = sum(
                a * np.sin(2 * np.pi * f * t_coarse + p)
                for a, f, p in zip(ch.wander_uv, ch.wander_hz, ch.wander_phase, strict=True)
            )
            level = self.level(t_coarse, c)
            if self.floor_step is not None and self.floor_step.ramp_s < 1.0:
                level = self.level(t, c)  # a sharp step stays sharp
            else:
                level = np.interp(t, t_coarse, level)
            out[:, c] = (
                level * noise[:, c] + ch.mains_uv * hum + ch.ecg_uv * ecg
                + np.interp(t, t_coarse, wander)
            )
        self._next_sample = start + n
        return out

    def _ecg(self, start: int, n: int) -> np.ndarray:
        """Return the ECG leak (unit peak) for samples [start, start + n)."""
        out = np.zeros(n)
        half = self._qrs.shape[0] // 2
        t0, t1 = (start - half) / self.fs_hz, (start + n + half) / self.fs_hz
        lo, hi = np.searchsorted(self._beats_s, [t0, t1])
        for beat in self._beats_s[lo:hi]:
            centre = round(beat * self.fs_hz) - start
            a, b = centre - half, centre - half + self._qrs.shape[0]
            ia, ib = max(a, 0), min(b, n)
            if ib > ia:
                out[ia:ib] += self._qrs[ia - a : ib - a]
        return out
