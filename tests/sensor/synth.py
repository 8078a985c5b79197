"""Small synthetic EMG test signals: band-limited noise bursts with an EMG-like spectrum."""

from __future__ import annotations

import numpy as np
from scipy import signal

from sensor.records import SampleBlock, SignalGroup

FS_HZ = 2000.0
ACC_FS_HZ = 100.0


def emg_noise(n: int, fs_hz: float, rng: np.random.Generator) -> np.ndarray:
    """Return unit-RMS noise shaped like surface EMG (power mostly 50-150 Hz, 20-450 Hz)."""
    # A 2nd-order band-pass 30-200 Hz puts the median frequency near 80-100 Hz, as in
    # surface EMG of leg muscles.
    sos = signal.butter(2, [30.0, min(200.0, 0.45 * fs_hz)], btype="bandpass", fs=fs_hz,
                        output="sos")
    x = signal.sosfilt(sos, rng.standard_normal(n + 2000))[2000:]
    return x / np.sqrt(np.mean(x * x))


def rest_emg(duration_s: float, rms_uv: float, fs_hz: float, seed: int) -> np.ndarray:
    """Return resting EMG (the noise floor), RMS ``rms_uv``."""
    rng = np.random.default_rng(seed)
    return rms_uv * emg_noise(round(duration_s * fs_hz), fs_hz, rng)


def add_bursts(
    x: np.ndarray, fs_hz: float, bursts: list[tuple[float, float]], rms_uv: float, seed: int
) -> np.ndarray:
    """Return x with EMG bursts of RMS ``rms_uv`` added over each (start_s, end_s)."""
    rng = np.random.default_rng(seed)
    y = x.copy()
    act = rms_uv * emg_noise(x.shape[0], fs_hz, rng)
    for start, end in bursts:
        i, j = round(start * fs_hz), round(end * fs_hz)
        y[i:j] += act[i:j]
    return y


def blocks(
    x: np.ndarray,
    fs_hz: float,
    labels: tuple[str, ...],
    sizes: list[int] | int,
    group: SignalGroup = SignalGroup.EMG,
    t0_s: float = 0.0,
) -> list[SampleBlock]:
    """Return x (n, ch) cut into consecutive blocks of the given sample counts."""
    if x.ndim == 1:
        x = x[:, None]
    out = []
    i = 0
    k = 0
    while i < x.shape[0]:
        size = sizes if isinstance(sizes, int) else sizes[k % len(sizes)]
        size = max(1, size)
        out.append(SampleBlock(group, fs_hz, t0_s + i / fs_hz, x[i : i + size].astype(np.float32),
                               labels))
        i += size
        k += 1
    return out


def interleave(*streams: list[SampleBlock]) -> list[SampleBlock]:
    """Return blocks of several groups merged in time order (EMG first on equal times)."""
    merged = [b for s in streams for b in s]
    order = {SignalGroup.EMG: 0, SignalGroup.ACC: 1}
    return sorted(merged, key=lambda b: (b.t0_s, order[b.group]))


def run(detector, blocks_in: list[SampleBlock]) -> list:
    """Return all detector outputs for the blocks, finish() included."""
    out = []
    for b in blocks_in:
        out.extend(detector.process(b))
    out.extend(detector.finish())
    return out
