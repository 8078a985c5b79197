"""Adaptive noise-floor baseline per channel that follows the night but not a cramp.

Minimum statistics (Martin 2001, applied here to the EMG envelope): the envelope is
cut into fixed segments (default 1 s); each segment's median envelope (its RMS level)
is a rest-level candidate; the baseline is the minimum of the admitted candidates of
the last ``history_s`` (20 s).

- A drop of the noise floor is followed at once (the minimum falls).
- A rise of the floor by less than ``admit_ratio`` (2x, the bruxism "resting amplitude"
  rule in DOMAIN.md) is followed within ``history_s``; until then it may show as one
  low-amplitude episode (envelope 1.5-2x baseline), which ends when the floor is learned.
  Slow drift (less than 2x per ``history_s``) is followed without an episode.
- A segment whose rest level is ``admit_ratio`` or more above the baseline is
  activity, not rest, and is not admitted, so a cramp (up to 10 min, DOMAIN.md) is
  never learned as rest. Only a level that persists longer than ``hold_s`` (15 min,
  longer than any cramp) is taken as a new floor (electrode change, new noise source):
  such a step of the floor reads as one long low-amplitude episode until then (its
  features, e.g. mains_ratio and amp_rel, let the classifier call it an artefact).
- A step of the floor itself (gel drying, a cable moved: broadband noise that rises
  2-4x and stays) is learned within ``step_hold_s``: a rejected level that has stayed
  within ``step_stationary_ratio`` of itself for that long, and that never went above
  ``step_max_ratio`` x the baseline (nor above ``step_max_uv``, for a floor that was
  low) since it rose (or since it last fell by that ratio: a floor step during a cramp
  is learned once the cramp is over), is the new floor. A cramp is louder (30-600 uV
  over a 2-5 uV floor), so it is not learned this way.
- Segments below ``floor_uv`` are a flat line (no contact), never rest either.
- Segments holding frames that are not valid (filter settling after a gap) are skipped.

The baseline in effect for a segment's frames is the one known before the segment
started (causal); it is NaN until the first segment of the stream is admitted.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np


class AdaptiveBaseline:
    """Streaming minimum-statistics baseline over envelope frames (one per channel)."""

    def __init__(
        self,
        n_channels: int,
        segment_frames: int,
        quantile: float,
        history_segments: int,
        admit_ratio: float,
        hold_segments: int,
        floor_uv: float,
        step_segments: int = 0,
        step_max_ratio: float = 0.0,
        step_stationary_ratio: float = 1.0,
        step_max_uv: float = 0.0,
    ) -> None:
        self.n_channels = n_channels
        self.segment_frames = segment_frames
        self.kth = min(segment_frames - 1, max(0, round(quantile * segment_frames)))
        self.history_segments = history_segments
        self.admit_ratio = admit_ratio
        self.hold_segments = hold_segments
        self.floor_uv = floor_uv
        self.step_segments = step_segments
        self.step_max_ratio = step_max_ratio
        self.step_stationary_ratio = step_stationary_ratio
        self.step_max_uv = step_max_uv
        # Per channel: the loudest level of the current run of rejected segments, and
        # the run's latest levels (for the floor-step rule).
        self._run_max = [0.0] * n_channels
        self._run_recent: list[deque[float]] = [
            deque(maxlen=max(1, step_segments)) for _ in range(n_channels)
        ]
        self._history: list[deque[tuple[int, float]]] = [deque() for _ in range(n_channels)]
        self._rejected_run = [0] * n_channels
        self._segment_index = 0
        # Python floats: the admission rules run once per segment and channel, where
        # numpy scalars would cost more than the rules themselves.
        self._value = [math.nan] * n_channels
        # The segment being filled, preallocated (live blocks add 2 frames at a time).
        self._seg_env = np.empty((segment_frames, n_channels))
        self._seg_valid = np.empty(segment_frames, dtype=bool)
        self._fill = 0

    @property
    def value(self) -> np.ndarray:
        """Return the baseline in effect now (uV per channel, NaN until learned)."""
        return np.array(self._value)

    def restart_segment(self) -> None:
        """Drop the partial segment (a gap): the next frame starts a new segment."""
        self._fill = 0

    def process(self, env: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """Return the baseline (uV) in effect at each frame, shape (n_frames, n_channels)."""
        m = env.shape[0]
        out = np.empty((m, self.n_channels))
        seg, kth = self.segment_frames, self.kth
        pos = 0
        while pos < m:
            if self._fill == 0 and m - pos >= seg:
                # Whole segments straight from the block, their quantiles in one call.
                n_full = (m - pos) // seg
                stop = pos + n_full * seg
                seg_env = env[pos:stop].reshape(n_full, seg, self.n_channels)
                seg_ok = valid[pos:stop].reshape(n_full, seg).all(axis=1)
                lows = np.partition(seg_env, kth, axis=1)[:, kth, :].tolist()
                admit = seg_ok.tolist()
                before = []
                for s in range(n_full):
                    # A segment's frames get the value known before it was complete.
                    before.append(list(self._value))
                    if admit[s]:
                        self._admit(lows[s])
                    self._segment_index += 1
                out[pos:stop] = np.repeat(np.array(before), seg, axis=0)
                pos = stop
                continue
            take = min(m - pos, seg - self._fill)
            self._seg_env[self._fill : self._fill + take] = env[pos : pos + take]
            self._seg_valid[self._fill : self._fill + take] = valid[pos : pos + take]
            out[pos : pos + take] = self._value
            self._fill += take
            pos += take
            if self._fill == seg:
                low = np.partition(self._seg_env, kth, axis=0)[kth].tolist()
                if self._seg_valid.all():
                    self._admit(low)
                self._segment_index += 1
                self._fill = 0
        return out

    def _admit(self, lows: list[float]) -> None:
        idx = self._segment_index
        for c in range(self.n_channels):
            low = lows[c]
            if not math.isfinite(low) or low < self.floor_uv:
                continue  # flat line or no data: not rest
            hist = self._history[c]
            current = self._value[c]
            admitted = not math.isfinite(current) or low < self.admit_ratio * current
            if not admitted:
                self._rejected_run[c] += 1
                if self._rejected_run[c] >= self.hold_segments or self._floor_step(c, low):
                    hist.clear()  # a level held longer than any cramp, or a floor step
                    admitted = True
            if admitted:
                self._rejected_run[c] = 0
                self._run_max[c] = 0.0
                self._run_recent[c].clear()
                # Monotonic deque: the front is always the minimum of the window.
                while hist and hist[-1][1] >= low:
                    hist.pop()
                hist.append((idx, low))
            while hist and hist[0][0] <= idx - self.history_segments:
                hist.popleft()
            if hist:
                self._value[c] = hist[0][1]

    def _floor_step(self, c: int, low: float) -> bool:
        """Return True when channel c's run of rejected levels is a step of the floor."""
        if self.step_segments <= 0:
            return False
        if low * self.step_stationary_ratio < self._run_max[c]:
            self._run_max[c] = low  # the level fell (a cramp ended): judge what stays
        self._run_max[c] = max(self._run_max[c], low)
        recent = self._run_recent[c]
        recent.append(low)
        if len(recent) < self.step_segments:
            return False
        if self._run_max[c] > max(self.step_max_ratio * self._value[c], self.step_max_uv):
            return False  # louder than any floor step since it rose: activity
        return max(recent) <= self.step_stationary_ratio * min(recent)
