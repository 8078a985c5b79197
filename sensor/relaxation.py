"""How much of a stretch of envelope a muscle spent relaxed: runs below a level, long enough."""

from __future__ import annotations

import numpy as np


def relaxed_fraction(env: np.ndarray, level: float, min_run: int, *,
                     from_onset: bool = False) -> float:
    """Return the share of ``env`` in relaxations: runs of >= ``min_run`` frames below ``level``.

    A relaxation lasts (a clonic cramp's are >= 0.3 s); a single trough of a contraction's
    RMS envelope is shorter and does not count. A relaxation is followed by contraction:
    a run that reaches the end of ``env`` may be the contraction ending and does not
    count (yet); nor does a run at the start when ``env`` starts at the onset
    (``from_onset``), which is the contraction's rise. NaN for an empty envelope.
    """
    n = env.shape[0]
    if n == 0:
        return float("nan")
    low = np.concatenate(([False], env < level, [False]))
    edges = np.flatnonzero(low[1:] != low[:-1])
    starts, ends = edges[::2], edges[1::2]
    keep = (ends - starts >= max(1, min_run)) & (ends < n)
    if from_onset:
        keep &= starts > 0
    return float((ends - starts)[keep].sum()) / n
