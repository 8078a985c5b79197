"""Agreement of detected EMG onsets with knee-movement onsets in the UCI lower-limb recordings."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sensor import Detector, DetectorConfig
from sensor.detector import EpisodeConfig
from sensor.records import EpisodePhase, EpisodeUpdate, SampleBlock, SignalGroup

UCI_LABELS = ("EMG Rectus Femoris", "EMG Biceps Femoris", "EMG Vastus Medialis",
              "EMG Semitendinosus")
STILL_DEG_S = 5.0  # knee slower than this is at rest
MOVING_DEG_S = 20.0  # knee faster than this is moving
QUIET_BEFORE_S = 0.5  # a movement onset follows this much rest
WARMUP_S = 4.0  # detector needs mains detection, settling and a first baseline


@dataclass
class Agreement:
    movements: int
    matched: int
    leads_s: list[float]  # knee onset minus EMG onset, for matched movements


def movement_onsets_s(knee_deg: np.ndarray, fs_hz: float) -> list[float]:
    """Return times (s) when the knee starts to move after at least 0.5 s of rest."""
    w = int(0.1 * fs_hz)
    smooth = np.convolve(knee_deg, np.ones(w) / w, mode="same")
    speed = np.abs(np.gradient(smooth) * fs_hz)
    moving = speed > MOVING_DEG_S
    onsets = []
    quiet = int(QUIET_BEFORE_S * fs_hz)
    for i in np.flatnonzero(moving[1:] & ~moving[:-1]) + 1:
        j = i
        while j > 0 and speed[j - 1] > STILL_DEG_S:
            j -= 1
        calm = j >= quiet and speed[j - quiet : j].max() < 2 * STILL_DEG_S
        if calm and (not onsets or j / fs_hz - onsets[-1] > QUIET_BEFORE_S):
            onsets.append(j / fs_hz)
    return onsets


def detected_onsets_s(emg_uv: np.ndarray, fs_hz: float) -> list[float]:
    """Return episode onset times (s) the Detector finds on any channel."""
    det = Detector(DetectorConfig(episode=EpisodeConfig(fuse_legs=False)))
    block = SampleBlock(SignalGroup.EMG, fs_hz, 0.0, emg_uv.astype(np.float32), UCI_LABELS)
    out = det.process(block) + det.finish()
    starts = []
    for o in out:
        if isinstance(o, EpisodeUpdate) and o.phase is EpisodePhase.OPENED:
            starts.append(o.start_s)
        if isinstance(o, EpisodeUpdate):
            starts.extend(b.start_s for b in o.bursts)
    return sorted(set(starts))


def agreement(uci_dir: Path, tasks: tuple[str, ...] = ("sen", "pie"),
              before_s: float = 1.0, after_s: float = 0.3) -> Agreement:
    """Return how many knee-movement onsets have an EMG onset in [-before, +after] s."""
    index = json.loads((uci_dir / "index.json").read_text())
    fs = float(index["sampling_rate_hz"])
    data = np.load(uci_dir / "uci_lower_limb_emg.npz")
    total = matched = 0
    leads: list[float] = []
    for name in sorted(index["recordings"]):
        if not name.endswith(tasks):
            continue
        moves = [t for t in movement_onsets_s(data[f"{name}_knee_deg"], fs) if t >= WARMUP_S]
        if not moves:
            continue
        emg_onsets = np.asarray(detected_onsets_s(data[f"{name}_emg_uV"], fs))
        for t in moves:
            total += 1
            near = emg_onsets[(emg_onsets >= t - before_s) & (emg_onsets <= t + after_s)]
            if near.size:
                matched += 1
                leads.append(float(t - near.min()))
    return Agreement(total, matched, leads)


if __name__ == "__main__":
    result = agreement(Path(__file__).resolve().parents[2] / "datasets" / "uci-lower-limb-emg")
    leads = np.asarray(result.leads_s)
    print(f"knee movement onsets: {result.movements}, with an EMG onset within -1.0/+0.3 s: "
          f"{result.matched} ({100 * result.matched / result.movements:.0f} %)")
    print(f"EMG onset before knee movement: median {1000 * np.median(leads):.0f} ms, "
          f"IQR {1000 * np.percentile(leads, 25):.0f}-{1000 * np.percentile(leads, 75):.0f} ms")
