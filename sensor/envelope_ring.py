"""The muscles around an event: a decimated history of every EMG channel's RMS envelope.

The event page shows the envelope of each muscle of the event's leg from some seconds
before the onset to the moment the event closed. The Detector keeps, as frames arrive,
every ``every``-th frame of the decision envelope (a 100 ms RMS window read every
100 ms: back-to-back RMS values, no aliasing) for the last ``keep_s`` seconds; the
snippet of a closed episode is cut from it and coarsened to at most ``max_values``
values per channel (RMS of the values in each step). Frames are chosen by their
global index, so the history, and each snippet, do not depend on block sizes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from sensor.records import ChannelInfo, EnvelopeSnippet

RING_STEP_S = 0.1  # 10 values per second
RING_KEEP_S = 900.0  # 15 minutes: longer than a cramp (DOMAIN.md: minutes at most)
SNIPPET_BEFORE_S = 10.0  # the resting muscles before the onset
SNIPPET_MAX_VALUES = 400  # a few kB per event


class EnvelopeRing:
    """The last ``keep_s`` seconds of every channel's envelope, one value per ``every`` frames."""

    def __init__(self, n_channels: int, hop_s: float, step_s: float = RING_STEP_S,
                 keep_s: float = RING_KEEP_S) -> None:
        if not (hop_s > 0 and step_s > 0 and keep_s > 0):
            raise ValueError("hop_s, step_s and keep_s must be positive")
        self.every = max(1, round(step_s / hop_s))
        self.step_s = self.every * hop_s
        self.keep_s = keep_s
        self.n_channels = n_channels
        self._t = np.empty(0)
        self._v = np.empty((0, n_channels))
        self._start = 0
        self._end = 0

    def __len__(self) -> int:
        return self._end - self._start

    def add(self, k0: int, t_end: np.ndarray, env: np.ndarray) -> None:
        """Take frames k0, k0 + 1, ... (their end times and (n, n_channels) envelopes)."""
        first = (-(k0 + 1)) % self.every  # frames whose global index k has (k + 1) % every == 0
        t = t_end[first :: self.every]
        n = t.shape[0]
        if n == 0:
            return
        if self._end + n > self._t.shape[0]:
            kept = self._end - self._start
            cap = max(1024, 2 * (kept + n))
            t_buf = np.empty(cap)
            v_buf = np.empty((cap, self.n_channels))
            t_buf[:kept] = self._t[self._start : self._end]
            v_buf[:kept] = self._v[self._start : self._end]
            self._t, self._v, self._start, self._end = t_buf, v_buf, 0, kept
        self._t[self._end : self._end + n] = t
        self._v[self._end : self._end + n] = env[first :: self.every]
        self._end += n

    def trim_before(self, t_s: float) -> None:
        """Forget values older than ``t_s``."""
        if self._end == self._start or self._t[self._start] >= t_s:
            return  # nothing to forget (every block asks)
        times = self._t[self._start : self._end]
        self._start += int(np.searchsorted(times, t_s))

    def snippet(
        self,
        columns: Sequence[int],
        channels: Sequence[ChannelInfo],
        onset_s: float,
        known_s: float,
        before_s: float = SNIPPET_BEFORE_S,
        max_values: int = SNIPPET_MAX_VALUES,
    ) -> EnvelopeSnippet | None:
        """Return the envelopes of ``columns`` from ``before_s`` before the onset to ``known_s``.

        The step is the ring's (0.1 s) or span / ``max_values``, whichever is longer;
        each value is the RMS of the ring's values in its step, and a step without any
        (a signal gap) holds the value before it. An episode longer than the ring gets
        its last ``keep_s`` seconds, as its ``start_s`` says. None when nothing was kept.
        """
        if max_values < 1:
            raise ValueError(f"max_values must be >= 1, got {max_values}")
        times = self._t[self._start : self._end]
        lo = max(onset_s - before_s, known_s - self.keep_s)
        eps = 1e-6
        i0 = int(np.searchsorted(times, lo - eps))
        i1 = int(np.searchsorted(times, known_s + eps, side="right"))
        if i1 <= i0:
            return None
        t = times[i0:i1]
        v = self._v[self._start + i0 : self._start + i1][:, list(columns)]
        start = float(t[0])
        span = float(t[-1]) - start
        step = max(self.step_s, span / max_values)
        n = min(max_values + 1, math.floor(span / step + eps) + 1)
        bins = np.minimum(np.floor((t - start) / step + eps).astype(np.int64), n - 1)
        counts = np.bincount(bins, minlength=n)
        values = np.empty((len(columns), n))
        for j in range(len(columns)):
            sq = np.bincount(bins, weights=v[:, j] * v[:, j], minlength=n)
            with np.errstate(invalid="ignore", divide="ignore"):
                values[j] = np.sqrt(sq / counts)
        held = np.maximum.accumulate(np.where(counts > 0, np.arange(n), 0))
        values = values[:, held]
        return EnvelopeSnippet(
            start_s=start,
            step_s=step,
            channels=tuple(channels),
            values_uv=tuple(tuple(float(x) for x in row) for row in values),
        )
