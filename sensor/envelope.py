"""Decimated energy envelopes: per-hop sums of squares (or TKEO) and windowed RMS.

The envelope is computed on a fixed hop grid (default 10 ms) that starts at the first
sample of a continuous run, so its frames do not depend on how samples were split
into blocks. RMS window lengths follow St-Amant 1998 (DOMAIN.md "Onset detection"):
25-100 ms for onset timing, 100-250 ms for the decision. TKEO (Teager-Kaiser energy,
Solnik 2010) sharpens onsets against background noise.
"""

from __future__ import annotations

import numpy as np


class HopReducer:
    """Cuts a sample stream into whole hops, carrying the partial hop between blocks."""

    def __init__(self, hop_samples: int) -> None:
        self.hop = hop_samples
        self._carry: list[np.ndarray] | None = None  # partial hop, one array per stream

    def reset(self) -> None:
        self._carry = None

    def split(self, *streams: np.ndarray) -> tuple[int, list[np.ndarray]]:
        """Return (n_hops, streams reshaped to (n_channels, n_hops, hop)); keep the rest.

        Streams are channel-first, (n_channels, n_samples).
        """
        if self._carry is not None and self._carry[0].shape[-1]:
            streams = tuple(
                np.concatenate([c, s], axis=-1) for c, s in zip(self._carry, streams, strict=True)
            )
        n = streams[0].shape[-1]
        n_hops = n // self.hop
        used = n_hops * self.hop
        # Copies (callers may reuse their arrays for the next block); none when the
        # block ends on a hop boundary, as fixed-size blocks mostly do.
        self._carry = [s[:, used:].copy() for s in streams] if used < n else None
        shaped = [s[:, :used].reshape(s.shape[0], n_hops, self.hop) for s in streams]
        return n_hops, shaped

    @property
    def pending_samples(self) -> int:
        return 0 if self._carry is None else int(self._carry[0].shape[-1])


def tkeo_delayed(
    x: np.ndarray, prev: np.ndarray | None, out: np.ndarray | None = None,
    scratch: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Return TKEO delayed by one sample, psi[n-1] = x[n-1]^2 - x[n-2] x[n], and the carry.

    ``x`` is channel-first (n_channels, n_samples). ``prev`` holds the last two samples
    of the previous block (None at a run start, where the missing samples count as the
    first sample). The one-sample delay lets the operator run causally (0.5-1 ms).
    ``out`` and ``scratch`` (float64, shaped as x) are used instead of new arrays when
    given: a night's blocks then reuse the same memory.
    """
    if prev is None:
        prev = np.repeat(x[:, :1], 2, axis=1)
    n = x.shape[1]
    psi = np.empty_like(x) if out is None else out
    psi[:, 0] = prev[:, 1] * prev[:, 1] - prev[:, 0] * x[:, 0]
    if n > 1:
        psi[:, 1] = x[:, 0] * x[:, 0] - prev[:, 1] * x[:, 1]
    if n > 2:
        # In place, without a concatenated copy: this runs over every sample of a night.
        body = psi[:, 2:]
        square = np.empty_like(body) if scratch is None else scratch[:, 2:]
        np.multiply(x[:, :-2], x[:, 2:], out=body)
        np.square(x[:, 1:-1], out=square)
        np.subtract(square, body, out=body)
    carry = np.concatenate([prev, x], axis=1)[:, -2:] if n < 2 else x[:, -2:].copy()
    return psi, carry


class WindowSum:
    """Sum of the last ``n_frames`` hop values, frame by frame, with carried history."""

    def __init__(self, n_frames: int, n_channels: int) -> None:
        self.n = n_frames
        self._hist = np.zeros((n_frames - 1, n_channels))
        self._count = 0  # frames seen in this run (the first windows are shorter)

    def reset(self) -> None:
        self._hist[:] = 0.0
        self._count = 0

    def process(self, hop_values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return (window sums, frames in each window) for (n_hops, n_channels) hop values."""
        m = hop_values.shape[0]
        ext = np.concatenate([self._hist, hop_values], axis=0)
        # An explicit sum per window (not a running cumsum, whose rounding grows with
        # the block), added as n shifted contiguous slices: every frame is the same
        # sum in the same order whatever the block size.
        if m < self.n:  # a live block: one row-wise sum per frame is fewer calls
            sums = np.empty((m, ext.shape[1]))
            for f in range(m):
                sums[f] = ext[f : f + self.n].sum(axis=0)
        else:
            sums = ext[0:m].copy()
            for j in range(1, self.n):
                sums += ext[j : j + m]
        counts = np.minimum(self._count + np.arange(1, m + 1), self.n)
        self._count += m
        if self.n > 1:
            self._hist = ext[ext.shape[0] - (self.n - 1) :].copy()
        return sums, counts
