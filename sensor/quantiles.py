"""A percentile and the median of one 1-D sample, as numpy's ``percentile`` and ``median``.

``np.percentile`` and ``np.median`` spend most of a call on their generality (axes,
methods, weights) when the sample is a few hundred frames, as an episode's recent
window is. These compute the same values with the same arithmetic: for the percentile
the virtual index ``(n - 1) q``, the two neighbouring order statistics by partition,
and numpy's two-sided linear interpolation (from the upper neighbour when the weight
is 0.5 or more); for the median the middle order statistic, or the mean of the two
middle ones. NaN when the sample holds NaN.
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


def median(x: np.ndarray) -> float:
    """Return ``float(np.median(x))`` for a 1-D float array (NaN when empty)."""
    n = x.shape[0]
    if n == 0 or np.isnan(x).any():
        return math.nan
    half = n // 2
    if n % 2:
        return float(np.partition(x, half)[half])
    part = np.partition(x, (half - 1, half))
    return (float(part[half - 1]) + float(part[half])) / 2
