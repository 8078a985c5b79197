"""Leg accelerometer: posture (gravity direction), movement intensity and rhythm.

PAM-RL style leg actigraphy (DOMAIN.md "Signals"): a streaming low-pass (default
0.3 Hz) gives the gravity vector; the rest is dynamic acceleration (movement). The
band axis ``leg_axis`` is assumed to run along the shank: its angle to gravity is the
tilt (0 deg = shank vertical, standing; 90 deg = shank horizontal, lying). Upright
means tilt below ``upright_max_tilt_deg``. Rhythm is the autocorrelation peak of the
dominant dynamic axis within 0.3-4 Hz (tremor, alternating leg activation and walking
live there: Chervin 2003, Yang & Winkelman 2010).
"""

from __future__ import annotations

import math

import numpy as np

from sensor.emg_frontend import GapMarker, TimelineError, check_continuity
from sensor.filters import StreamingSOS
from sensor.iir_design import butter_sos
from sensor.records import SampleBlock

_TIME_EPS_S = 1e-6


class AccelStage:
    """Streaming gravity/dynamic split of a 3-axis accelerometer, with a bounded history."""

    def __init__(self, config, labels: tuple[str, ...], fs_hz: float) -> None:
        if len(labels) != 3:
            raise TimelineError(
                f"accelerometer blocks need 3 axes (x, y, z), got {len(labels)} channels "
                f"{list(labels)}"
            )
        self.cfg = config
        self.labels = labels
        self.fs_hz = fs_hz
        cutoff = min(config.gravity_cutoff_hz, 0.45 * fs_hz)
        self.gravity = StreamingSOS(
            butter_sos(2, cutoff, "lowpass", fs_hz), 3
        )
        self.expected_t0_s: float | None = None
        self.started = False
        self._run_t0 = 0.0
        self._run_samples = 0
        self.end_s = -np.inf  # time up to which acceleration is known
        self._buf = np.empty((0, 7))  # rows: see process()
        # The time column again, contiguous: windows are found by binary search on it
        # several times per episode update (a strided column would be copied each time).
        self._times = np.empty(0)
        # Per row, how many rows so far differ from the row before by more than the
        # stuck tolerance on some axis: a window with such a pair inside is not stuck,
        # told without reading the window (asked at every episode update).
        self._moves = np.empty(0, dtype=np.int64)
        self._move_tol = config.stuck_tolerance_g
        self._last_raw: float | None = None
        self._moved = 0
        self._start = self._end = 0
        self._dropped = 0  # rows compacted away: a row's number is _dropped + buffer row
        # rhythm() per window of rows: updates of one episode often ask for the same one.
        self._rhythms: dict[tuple[int, int, float, float], tuple[float, float]] = {}

    def process(self, block: SampleBlock) -> list[GapMarker]:
        """Store the block's posture and motion; return a gap marker if samples were lost."""
        if block.labels != self.labels:
            raise TimelineError(
                f"ACC labels changed from {list(self.labels)} to {list(block.labels)} "
                "mid-stream: start a new Detector"
            )
        out: list[GapMarker] = []
        gap = check_continuity(block, self.expected_t0_s, self.fs_hz if self.started else None)
        if not self.started or gap is not None:
            if self.started:
                out.append(GapMarker(gap))
            self.gravity.reset()
            self._run_t0 = block.t0_s
            self._run_samples = 0
        self.started = True
        first = self._run_samples
        self._run_samples += block.n_samples
        # Times counted from the run's start: the same whatever the block sizes.
        self.expected_t0_s = self._run_t0 + self._run_samples / self.fs_hz
        self.end_s = self.expected_t0_s
        if block.n_samples == 0:
            return out
        x = np.ascontiguousarray(block.samples.T, dtype=np.float64)  # (3, n)
        if not np.isfinite(x).all():
            raise TimelineError(
                f"ACC block at {block.t0_s:.3f} s holds NaN or infinite samples: a source "
                "must drop lost samples and flag the next block (gap_before/lost_samples)"
            )
        g = self.gravity.process(x)
        t = self._run_t0 + (first + np.arange(block.n_samples)) / self.fs_hz
        # One row per sample: time, dynamic x/y/z, gravity x/y/z; tilt is derived only
        # when a window is read (rarely), not for every sample.
        rows = np.empty((block.n_samples, 7))
        rows[:, 0] = t
        rows[:, 1:4] = (x - g).T
        rows[:, 4:7] = g.T
        self._append(rows, self._count_moves(rows))
        return out

    def _count_moves(self, rows: np.ndarray) -> np.ndarray:
        """Return, per row, the running count of rows whose x moved past the stuck tolerance."""
        # One axis is enough to tell that a window moved (the others are checked in
        # full only when it did not), and costs a third of three.
        raw = rows[:, 1] + rows[:, 4]  # x as stuck() rebuilds it
        step = np.empty_like(raw)
        step[0] = raw[0] - (raw[0] if self._last_raw is None else self._last_raw)
        np.subtract(raw[1:], raw[:-1], out=step[1:])
        self._last_raw = raw[-1]
        counts = np.cumsum(np.abs(step, out=step) > self._move_tol)
        counts += self._moved
        self._moved = int(counts[-1])
        return counts

    def _append(self, rows: np.ndarray, moves: np.ndarray) -> None:
        # Rows live in a preallocated buffer (appending by copying the whole history
        # would cost more per 20 ms block than everything else here).
        n_new = rows.shape[0]
        if self._end + n_new > self._buf.shape[0]:
            kept = self._buf[self._start : self._end]
            cap = max(4096, 2 * (kept.shape[0] + n_new))
            buf = np.empty((cap, 7))
            buf[: kept.shape[0]] = kept
            times = np.empty(cap)
            times[: kept.shape[0]] = self._times[self._start : self._end]
            counts = np.empty(cap, dtype=np.int64)
            counts[: kept.shape[0]] = self._moves[self._start : self._end]
            self._buf, self._times, self._moves = buf, times, counts
            self._dropped += self._start
            self._start, self._end = 0, kept.shape[0]
        self._buf[self._end : self._end + n_new] = rows
        self._times[self._end : self._end + n_new] = rows[:, 0]
        self._moves[self._end : self._end + n_new] = moves
        self._end += n_new

    def trim_before(self, t_s: float) -> None:
        """Forget samples older than ``t_s`` (bounded memory)."""
        i = int(np.searchsorted(self._times[self._start : self._end], t_s))
        self._start += i

    def _span(self, t_from_s: float, t_to_s: float) -> tuple[int, int]:
        """Return the buffer rows [i, j) of the samples with t in [from, to)."""
        # A sample within 1 us of a bound counts as on it, so the float rounding of block
        # start times cannot move a sample in or out of a window.
        t = self._times[self._start : self._end]
        i = int(t.searchsorted(t_from_s - _TIME_EPS_S))
        j = int(t.searchsorted(t_to_s - _TIME_EPS_S))
        return self._start + i, self._start + j

    def _rows_between(self, t_from_s: float, t_to_s: float) -> np.ndarray:
        i, j = self._span(t_from_s, t_to_s)
        return self._buf[i:j]

    def dynamic(self, t_from_s: float, t_to_s: float) -> np.ndarray:
        """Return dynamic acceleration (n, 3) in g for samples with t in [from, to)."""
        return self._rows_between(t_from_s, t_to_s)[:, 1:4]

    def rhythm(self, t_from_s: float, t_to_s: float, low_hz: float,
               high_hz: float) -> tuple[float, float]:
        """Return :func:`rhythm` of the dynamic acceleration with t in [from, to)."""
        i, j = self._span(t_from_s, t_to_s)
        key = (self._dropped + i, self._dropped + j, low_hz, high_hz)
        found = self._rhythms.get(key)
        if found is None:
            if len(self._rhythms) >= 64:
                self._rhythms.clear()
            found = self._rhythms[key] = rhythm(self._buf[i:j, 1:4], self.fs_hz, low_hz, high_hz)
        return found

    def window(self, t_from_s: float, t_to_s: float) -> tuple[np.ndarray, np.ndarray]:
        """Return (dynamic (n, 3) in g, tilt (n,) in deg) for samples with t in [from, to)."""
        rows = self._rows_between(t_from_s, t_to_s)
        g = rows[:, 4:7]
        norm = np.sqrt(np.einsum("ij,ij->i", g, g))
        axis = np.abs(g[:, self.cfg.leg_axis])
        with np.errstate(invalid="ignore", divide="ignore"):
            cos = np.where(norm > 0, axis / norm, 0.0)
        # np.clip's arithmetic without its per-call wrapper (once per episode update).
        tilt = np.degrees(np.arccos(np.minimum(np.maximum(cos, 0.0), 1.0)))
        return rows[:, 1:4], tilt


    def stuck(self, t_from_s: float, t_to_s: float, tolerance_g: float) -> bool:
        """Return True when every axis held one value (within tolerance) over the window.

        A working accelerometer always moves by a few LSB (noise, breathing); one that
        repeats a value for seconds is stuck, and its zero motion means nothing.
        """
        i, j = self._span(t_from_s, t_to_s)
        if j - i < 2:
            return False
        if tolerance_g <= self._move_tol and self._moves[j - 1] > self._moves[i]:
            return False  # two neighbouring samples in the window differ by more
        rows = self._buf[i:j]
        raw = rows[:, 1:4] + rows[:, 4:7]
        # np.ptp's own arithmetic (max - min per axis) without its wrapper: once per update.
        return bool(((raw.max(axis=0) - raw.min(axis=0)) <= tolerance_g).all())


def motion_rms_g(dyn: np.ndarray) -> float:
    """Return the RMS magnitude of dynamic acceleration in g (NaN for no samples)."""
    n = dyn.shape[0]
    if n == 0:
        return float("nan")
    # np.mean's sum and division, and the square root, without their per-call wrappers.
    return math.sqrt(float(np.sum(dyn * dyn, axis=1).sum()) / n)


def rhythm(dyn: np.ndarray, fs_hz: float, low_hz: float, high_hz: float) -> tuple[float, float]:
    """Return (rhythm frequency in Hz, strength 0..1) of dynamic acceleration in a band.

    The dominant axis (largest variance) is autocorrelated; the highest normalised
    autocorrelation at a lag between 1/high_hz and 1/low_hz (and at most half the
    window) gives the frequency and its strength. NaN, NaN when the window is shorter
    than two periods of ``high_hz`` or motionless.
    """
    # Called twice per episode update: means and the variance are written as the sums
    # and divisions numpy's mean and var do, without their per-call wrappers.
    # Averaging to >= 4x the top of the band keeps the rhythm and cuts the work.
    step = max(1, int(fs_hz // (4 * high_hz)))
    if step > 1 and dyn.shape[0] >= step:
        usable = dyn.shape[0] // step * step
        blocks = dyn[:usable].reshape(-1, step, dyn.shape[1])
        if dyn.shape[1] > 1:
            # What sum(axis=1) does over the middle axis of several axes: the steps added
            # one after another, without the cost of a reduction over a short axis.
            total = blocks[:, 0] + blocks[:, 1]
            for j in range(2, step):
                total += blocks[:, j]
        else:
            total = blocks.sum(axis=1)
        dyn = total / step
        fs_hz = fs_hz / step
    n = dyn.shape[0]
    # The shortest lag at or just past the top of the band (a peak may sit between samples).
    min_lag = max(1, math.floor(fs_hz / high_hz))
    max_lag = min(math.floor(fs_hz / low_hz), n // 2)
    if n < 2 or max_lag <= min_lag:
        return float("nan"), float("nan")
    x = dyn - dyn.sum(axis=0) / n
    axis = 0
    if x.shape[1] > 1:  # one axis (an envelope) is its own dominant axis
        centred = x - x.sum(axis=0, keepdims=True) / n
        centred *= centred
        axis = int(np.argmax(centred.sum(axis=0) / n))
    v = x[:, axis]
    energy = float(np.dot(v, v))
    if energy <= 1e-12:
        return float("nan"), float("nan")
    nfft = 1 << (2 * n - 1).bit_length()  # the power of two >= 2 n
    spec = np.fft.rfft(v, nfft)
    top = min(max_lag + 1, n - 1)
    ac = np.fft.irfft(spec * np.conj(spec), nfft)[: top + 1] / energy
    # Unbiased by the overlap length so long lags are not penalised.
    ac = ac * n / (n - np.arange(top + 1))
    # A rhythm is a peak of the autocorrelation after it has swung below zero: a smooth
    # push of the leg stays correlated with itself at short lags and fades, and its
    # largest value in the band would sit at the band's shortest lag with no swing.
    inner = ac[min_lag : max_lag + 1]
    after = ac[min_lag + 1 : max_lag + 2]
    if after.shape[0] < inner.shape[0]:  # the band reaches the last lag computed
        after = np.append(after, -np.inf)
    before = ac[min_lag - 1 : max_lag]
    swung = np.minimum.accumulate(ac[:max_lag + 1])[min_lag - 1 : max_lag] < 0.0
    # The array methods, not np.flatnonzero and np.argmax: the same, without wrappers.
    peaks = ((inner >= before) & (inner >= after) & swung).nonzero()[0]
    if peaks.size == 0:
        return float("nan"), 0.0
    k = int(peaks[inner[peaks].argmax()])
    lag = min_lag + k
    strength = min(max(float(ac[lag]), 0.0), 1.0)
    return fs_hz / lag, strength
