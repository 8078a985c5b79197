"""A percentile of one 1-D sample, as numpy's default (linear) ``np.percentile`` gives it.

``np.percentile`` spends most of a call on its generality (axes, methods, weights)
when the sample is a few hundred frames, as an episode's recent window is. This
computes the same value with the same arithmetic: the virtual index ``(n - 1) q``,
the two neighbouring order statistics by partition, and numpy's two-sided linear
interpolation (from the upper neighbour when the weight is 0.5 or more); NaN when the
sample holds NaN.
"""

from __future__ import annotations

import math

import numpy as np


def percentile_linear(x: np.ndarray, q: float) -> float:
    """Return ``float(np.percentile(x, q))`` for a non-empty 1-D float array."""
    n = x.shape[0]
    if n == 0:
        raise ValueError("the percentile of an empty sample is undefined")
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    if np.isnan(x).any():
        return math.nan
    virtual = (n - 1) * (q / 100.0)
    if virtual >= n - 1:
        return float(x.max())
    below = math.floor(virtual)
    part = np.partition(x, (below, below + 1))
    a = float(part[below])
    b = float(part[below + 1])
    weight = virtual - below
    diff = b - a
    if weight >= 0.5:
        return b - diff * (1.0 - weight)
    return a + diff * weight
