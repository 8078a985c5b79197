"""Per-sleeper calibration: a short guided rest and a gentle contraction set the sleeper's
own amplitude references, so an event's strength reads against their own muscle.

The references are RMS of the 20-450 Hz band-passed EMG (SENIAM band, DOMAIN.md) per
channel: ``rest_rms_uv`` (lying still) and ``contraction_rms_uv`` (toes gently pointed
down, a light calf contraction). An event's severity proxy is then its median amplitude
over the contraction reference (``amp_rel_calibrated``: 1 = as strong as that contraction).
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from scipy import signal

from api.db import make_private_file
from sensor.records import SampleBlock, SignalGroup

CALIBRATION_FILE = "calibration.json"


class CalibrationError(ValueError):
    """The recording does not give usable references (say what to do again)."""


@dataclass(frozen=True)
class CalibrationParams:
    """The guided steps, in seconds of signal."""

    settle_s: float = 2.0  # the sleeper settles after each instruction: not used
    rest_s: float = 20.0
    contraction_s: float = 5.0
    # A light contraction is several times rest (bruxism rule: >= 2x rest is activity).
    min_contraction_ratio: float = 3.0


@dataclass(frozen=True)
class Calibration:
    """One sleeper's references per EMG channel label, in uV RMS."""

    rest_rms_uv: Mapping[str, float]
    contraction_rms_uv: Mapping[str, float]
    created_at: str

    def save(self, data_dir: Path) -> Path:
        """Write the references to ``data_dir``/calibration.json; return the path."""
        path = Path(data_dir) / CALIBRATION_FILE
        make_private_file(path)  # the sleeper's own levels: owner-only
        path.write_text(json.dumps(asdict(self), indent=1, sort_keys=True) + "\n")
        return path

    @classmethod
    def load(cls, data_dir: Path) -> Calibration | None:
        """Return the saved references, or None when the sleeper never calibrated."""
        path = Path(data_dir) / CALIBRATION_FILE
        if not path.is_file():
            return None
        try:
            d = json.loads(path.read_text())
            return cls(dict(d["rest_rms_uv"]), dict(d["contraction_rms_uv"]), d["created_at"])
        except (ValueError, KeyError, TypeError) as exc:
            raise CalibrationError(
                f"{path} is damaged ({exc}); delete it and calibrate again"
            ) from exc

    def severity(self, label: str, features: Mapping[str, float]) -> float:
        """Return an event's median amplitude over the contraction reference (NaN if unknown)."""
        ref = self.contraction_rms_uv.get(label)
        amp = features.get("amp_rel_median", math.nan) * features.get("baseline_uv", math.nan)
        if not ref or not math.isfinite(amp):
            return math.nan
        return amp / ref


def band_rms_uv(samples_uv: np.ndarray, fs_hz: float) -> np.ndarray:
    """Return per-column RMS (uV) of the 20-450 Hz band (upper edge capped at 0.45 fs)."""
    high = min(450.0, 0.45 * fs_hz)
    sos = signal.butter(4, [20.0, high], btype="bandpass", fs=fs_hz, output="sos")
    x = signal.sosfiltfilt(sos, np.asarray(samples_uv, dtype=np.float64), axis=0)
    return np.sqrt(np.mean(x**2, axis=0))


def compute_calibration(
    rest: list[SampleBlock], contraction: list[SampleBlock], params: CalibrationParams
) -> Calibration:
    """Return the references from the rest and contraction blocks (EMG only)."""
    rest_emg = [b for b in rest if b.group is SignalGroup.EMG]
    con_emg = [b for b in contraction if b.group is SignalGroup.EMG]
    if not rest_emg or not con_emg:
        raise CalibrationError("no EMG arrived during calibration: is the band streaming?")
    labels, fs = rest_emg[0].labels, rest_emg[0].fs_hz
    rest_rms = band_rms_uv(np.concatenate([b.samples for b in rest_emg]), fs)
    con_rms = band_rms_uv(np.concatenate([b.samples for b in con_emg]), fs)
    ratios = con_rms / np.maximum(rest_rms, 1e-6)
    if float(ratios.max()) < params.min_contraction_ratio:
        raise CalibrationError(
            f"the contraction was only {float(ratios.max()):.1f}x rest (need "
            f"{params.min_contraction_ratio:g}x): press the toes down a little harder, "
            "or check that the calf electrode touches the skin, and calibrate again"
        )
    return Calibration(
        {lab: float(v) for lab, v in zip(labels, rest_rms, strict=True)},
        {lab: float(v) for lab, v in zip(labels, con_rms, strict=True)},
        datetime.now(UTC).isoformat(),
    )


async def record_calibration(
    items: AsyncIterator[object],
    say: Callable[[str], None],
    params: CalibrationParams | None = None,
) -> Calibration:
    """Guide the sleeper through rest then contraction on a live stream; return references."""
    p = params or CalibrationParams()
    steps = (
        ("rest", f"Lie still and relaxed for {p.rest_s:g} seconds...", p.rest_s),
        ("contraction", f"Now gently point your toes down, as on a pedal, and hold for "
                        f"{p.contraction_s:g} seconds...", p.contraction_s),
    )
    recorded: dict[str, list[SampleBlock]] = {}
    t_start: float | None = None
    step = 0
    say(steps[0][1])
    async for item in items:
        if not isinstance(item, SampleBlock):
            continue
        if t_start is None:
            t_start = item.t0_s
        name, _, length = steps[step]
        # The first settle_s after an instruction is not used: the sleeper is moving.
        if item.t0_s - t_start >= p.settle_s:
            recorded.setdefault(name, []).append(item)
        if item.t_end_s - t_start >= p.settle_s + length:
            step += 1
            if step == len(steps):
                break
            say(steps[step][1])
            t_start = None
    if step < len(steps):
        raise CalibrationError("the stream ended before calibration was done: try again")
    say("Thank you: calibration done.")
    return compute_calibration(recorded["rest"], recorded["contraction"], p)
