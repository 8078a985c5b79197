"""Real lower-limb EMG (UCI "EMG Dataset in Lower Limb", CC BY 4.0) cut into textures.

Gait recordings give real step-rate bursts and knee angles for walking; sitting and
standing recordings give real voluntary contractions for in-bed stretches. The
thigh muscles stand in for calf and shin (same tissue filter, same motor-unit
physics); amplitudes are rescaled to the target RMS by the caller.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from scipy import signal

UCI_DIR = Path(__file__).resolve().parents[2] / "datasets" / "uci-lower-limb-emg"
# Column order in the dataset: rectus femoris, biceps femoris, vastus medialis,
# semitendinosus. In gait the hamstrings (posterior, push-off/late swing) and the
# quadriceps (anterior, loading) alternate like calf and shin (inference).
POSTERIOR_COLUMNS = (1, 3)
ANTERIOR_COLUMNS = (0, 2)


class RealEmgUnavailable(FileNotFoundError):
    """The real-EMG dataset is not where it should be."""


@dataclass(frozen=True)
class Texture:
    """Two EMG columns (posterior, anterior) at the requested rate and knee angle at 100 Hz."""

    emg: np.ndarray  # (n, 2) float64, uV as recorded, mean removed
    knee_deg: np.ndarray  # (m,) at 100 Hz


class RealEmgLibrary:
    """Loads the UCI recordings once and serves resampled excerpts."""

    def __init__(self, directory: Path = UCI_DIR) -> None:
        index_path = directory / "index.json"
        data_path = directory / "uci_lower_limb_emg.npz"
        if not index_path.is_file() or not data_path.is_file():
            raise RealEmgUnavailable(
                f"real EMG dataset not found in {directory}; synthetic walking and stretches "
                "need datasets/uci-lower-limb-emg (or pass --no-real-emg)"
            )
        index = json.loads(index_path.read_text())
        self.fs_hz = float(index["sampling_rate_hz"])
        with np.load(data_path) as archive:
            self._emg = {}
            self._knee = {}
            for name in index["recordings"]:
                self._emg[name] = archive[f"{name}_emg_uV"].astype(np.float64)
                self._knee[name] = archive[f"{name}_knee_deg"].astype(np.float64)
        self.gait = sorted(n for n in self._emg if n.endswith("mar"))
        self.contractions = sorted(n for n in self._emg if not n.endswith("mar"))

    def _excerpt(self, names: list[str], duration_s: float, fs_hz: float,
                 rng: np.random.Generator) -> Texture:
        """Return recordings from ``names`` joined until ``duration_s`` is filled."""
        need = int(np.ceil(duration_s * self.fs_hz))
        emg_parts, knee_parts, have = [], [], 0
        while have < need:
            name = names[int(rng.integers(len(names)))]
            emg = self._emg[name]
            start = int(rng.integers(0, max(1, emg.shape[0] // 3)))
            take = min(need - have, emg.shape[0] - start)
            cols = (
                POSTERIOR_COLUMNS[int(rng.integers(2))],
                ANTERIOR_COLUMNS[int(rng.integers(2))],
            )
            piece = emg[start : start + take][:, cols]
            emg_parts.append(piece - piece.mean(axis=0))
            knee_parts.append(self._knee[name][start : start + take])
            have += take
        emg = np.concatenate(emg_parts)
        knee = np.concatenate(knee_parts)
        ratio = Fraction(fs_hz / self.fs_hz).limit_denominator(1000)
        if ratio != 1:
            emg = signal.resample_poly(emg, ratio.numerator, ratio.denominator, axis=0)
        knee = knee[:: round(self.fs_hz / 100.0)]
        return Texture(emg=emg, knee_deg=knee)

    def gait_texture(self, duration_s: float, fs_hz: float, rng: np.random.Generator) -> Texture:
        """Return real walking EMG (posterior, anterior) and knee angle for ``duration_s``."""
        return self._excerpt(self.gait, duration_s, fs_hz, rng)

    def contraction_texture(
        self, duration_s: float, fs_hz: float, rng: np.random.Generator
    ) -> Texture:
        """Return real voluntary leg-extension / flexion EMG for ``duration_s``."""
        return self._excerpt(self.contractions, duration_s, fs_hz, rng)
