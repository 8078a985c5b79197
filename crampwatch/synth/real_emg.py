"""Real lower-limb EMG (UCI "EMG Dataset in Lower Limb", CC BY 4.0) cut into textures.

Gait recordings give real step-rate bursts and knee angles for walking; sitting and
standing recordings give real voluntary contractions for in-bed stretches. The
thigh muscles stand in for calf and shin (same tissue filter, same motor-unit
physics); amplitudes are rescaled to the target RMS by the caller.

:meth:`RealEmgLibrary.carrier` serves real texture for any episode, cramps included:
the active stretches of every recording with their slow envelope divided out,
spliced end to end, so the caller's drive shapes a signal whose spectrum and
motor-unit potentials are those of real surface EMG. Texture comes from one of
:attr:`RealEmgLibrary.sources`: "uci" always, and "hdemg" when the openhdemg package
is installed: its shipped sample (``otb_testfile.mat``, a 64-electrode 8 mm grid over
vastus lateralis during an isometric trapezoid hold at 2048 Hz, GPL-3.0) read as
single differentials between neighbouring electrodes, like a bipolar surface lead.
Nothing is downloaded; the package's code is not imported (only its data file read).
"""

from __future__ import annotations

import importlib.util
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
# Texture pieces: moving-RMS window, the share of a column's 95th-percentile envelope
# that counts as active, piece lengths and the crossfade between pieces (inference).
ENVELOPE_WINDOW_S = 0.25
ACTIVE_SHARE = 0.35
PIECE_S = (0.4, 3.0)
CROSSFADE_S = 0.02
MIN_ACTIVE_S = 0.5
TEXTURE_HIGHPASS_HZ = 20.0  # SENIAM 10-20 Hz high-pass (DOMAIN.md "Signals")


# The openhdemg package ships one real HD-EMG recording with its library.
HDEMG_PACKAGE = "openhdemg"
HDEMG_FILE = ("library", "decomposed_test_files", "otb_testfile.mat")
HDEMG_GRID_COLUMN = 13  # GR08MM1305: 13 x 5 electrodes, channels numbered along columns
HDEMG_CHANNELS = 64


def packaged_hdemg_path() -> Path | None:
    """Return the HD-EMG sample file shipped inside the openhdemg package, if installed."""
    spec = importlib.util.find_spec(HDEMG_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*HDEMG_FILE)
    return path if path.is_file() else None


class RealEmgUnavailable(FileNotFoundError):
    """The real-EMG dataset is not where it should be."""


@dataclass(frozen=True)
class Texture:
    """Two EMG columns (posterior, anterior) at the requested rate and knee angle at 100 Hz."""

    emg: np.ndarray  # (n, 2) float64, uV as recorded, mean removed
    knee_deg: np.ndarray  # (m,) at 100 Hz


class RealEmgLibrary:
    """Loads the UCI recordings once and serves resampled excerpts and textures.

    ``packaged=False`` ignores real EMG shipped inside installed packages, so the
    textures are the same on every machine.
    """

    def __init__(self, directory: Path = UCI_DIR, packaged: bool = True) -> None:
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
        self._hdemg_path = packaged_hdemg_path() if packaged else None
        self._runs: dict[str, tuple[float, list[tuple[np.ndarray, np.ndarray]]]] = {}

    @property
    def sources(self) -> tuple[str, ...]:
        """Return the names of the real-EMG texture sources on this machine."""
        return ("uci", "hdemg") if self._hdemg_path is not None else ("uci",)

    def _active_runs(
        self, source: str = "uci"
    ) -> tuple[float, list[tuple[np.ndarray, np.ndarray]]]:
        """Return a source's rate and (signal, envelope) of every active stretch, found once."""
        if source in self._runs:
            return self._runs[source]
        if source == "uci":
            fs_hz, columns = self.fs_hz, [
                self._emg[name][:, col] for name in sorted(self._emg)
                for col in range(self._emg[name].shape[1])
            ]
        elif source == "hdemg" and self._hdemg_path is not None:
            fs_hz, columns = _hdemg_columns(self._hdemg_path)
        else:
            raise RealEmgUnavailable(
                f"real-EMG source {source!r} is not available here; have: {', '.join(self.sources)}"
            )
        runs = []
        w = max(1, round(ENVELOPE_WINDOW_S * fs_hz))
        # The recordings keep motion artefact below 20 Hz; texture is the EMG band only.
        sos = signal.butter(2, TEXTURE_HIGHPASS_HZ, btype="highpass", fs=fs_hz, output="sos")
        for column in columns:
            x = signal.sosfiltfilt(sos, column)
            env = _moving_rms(x, w)
            active = env > ACTIVE_SHARE * np.percentile(env, 95)
            edges = np.flatnonzero(np.diff(np.concatenate([[0], active.view(np.int8), [0]])))
            for a, b in zip(edges[::2], edges[1::2], strict=True):
                if b - a >= MIN_ACTIVE_S * fs_hz:
                    runs.append((x[a:b], env[a:b]))
        self._runs[source] = (fs_hz, runs)
        return self._runs[source]

    def carrier(self, duration_s: float, fs_hz: float, rng: np.random.Generator,
                source: str = "uci") -> np.ndarray:
        """Return unit-RMS real EMG texture of ``duration_s`` at ``fs_hz``, envelope removed.

        Pieces of 0.4-3 s from the active stretches of every recording and muscle of
        ``source`` are each divided by their own moving RMS and joined with short
        equal-power crossfades.
        """
        src_fs, runs = self._active_runs(source)
        need = int(np.ceil(duration_s * src_fs)) + 2
        fade = max(2, round(CROSSFADE_S * src_fs))
        ramp = np.sin(0.5 * np.pi * (np.arange(fade) + 0.5) / fade)
        out = np.zeros(need + fade)
        pos = 0
        while pos < need:
            x, env = runs[int(rng.integers(len(runs)))]
            length = min(x.shape[0], round(rng.uniform(*PIECE_S) * src_fs) + fade)
            start = int(rng.integers(0, x.shape[0] - length + 1))
            piece = x[start : start + length] / np.maximum(env[start : start + length], 1e-6)
            piece = piece * rng.choice([-1.0, 1.0])
            piece[:fade] *= ramp
            piece[-fade:] *= ramp[::-1]
            take = min(length, out.shape[0] - pos)
            out[pos : pos + take] += piece[:take]
            pos += length - fade
        out = out[:need]
        ratio = Fraction(fs_hz / src_fs).limit_denominator(1000)
        if ratio != 1:
            out = signal.resample_poly(out, ratio.numerator, ratio.denominator)
        n = round(duration_s * fs_hz)
        out = out[:n] if out.shape[0] >= n else np.pad(out, (0, n - out.shape[0]))
        rms = float(np.sqrt(np.mean(out**2))) if n else 0.0
        return out / rms if rms > 0 else out

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


def _moving_rms(x: np.ndarray, window: int) -> np.ndarray:
    """Return the centred moving RMS of ``x`` over ``window`` samples (same length)."""
    c = np.concatenate([[0.0], np.cumsum(x * x)])
    half = window // 2
    idx = np.arange(x.shape[0])
    lo = np.clip(idx - half, 0, x.shape[0])
    hi = np.clip(idx + half + 1, 0, x.shape[0])
    return np.sqrt((c[hi] - c[lo]) / (hi - lo))


def _hdemg_columns(path: Path) -> tuple[float, list[np.ndarray]]:
    """Return the rate and single-differential signals (uV) of the packaged HD-EMG grid."""
    from scipy.io import loadmat

    mat = loadmat(str(path))
    fs_hz = float(np.asarray(mat["SamplingFrequency"]).ravel()[0])
    data = np.asarray(mat["Data"][0, 0], dtype=np.float64)[:, :HDEMG_CHANNELS]
    columns = []
    for ch in range(HDEMG_CHANNELS - 1):
        # Neighbours along a grid column, 8 mm apart: a bipolar lead as SENIAM places it.
        if (ch + 1) % HDEMG_GRID_COLUMN and np.std(data[:, ch + 1]) > 0 and np.std(data[:, ch]) > 0:
            columns.append(data[:, ch + 1] - data[:, ch])
    return fs_hz, columns
