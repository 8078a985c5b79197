"""How much of a stretch of envelope a muscle spent relaxed: runs below a level, long enough."""

from __future__ import annotations

import numpy as np


def relaxed_fraction(env: np.ndarray, level: float, min_run: int) -> float:
    """Return the share of ``env`` in runs of >= ``min_run`` consecutive frames below ``level``.

    A relaxation lasts (a clonic cramp's are >= 0.3 s); a single trough of a contraction's
    RMS envelope is shorter and does not count. NaN for an empty envelope.
    """
    n = env.shape[0]
    if n == 0:
        return float("nan")
    low = np.concatenate(([False], env < level, [False]))
    edges = np.flatnonzero(low[1:] != low[:-1])
    lengths = edges[1::2] - edges[::2]
    return float(lengths[lengths >= max(1, min_run)].sum()) / n
