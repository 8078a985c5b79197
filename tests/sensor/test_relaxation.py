import math

import numpy as np

from sensor.relaxation import relaxed_fraction


def test_counts_only_runs_long_enough():
    # 10 frames high, 30 low (a relaxation), 10 high, 5 low (a trough), 45 high.
    env = np.concatenate([np.full(10, 1.0), np.full(30, 0.1), np.full(10, 1.0),
                          np.full(5, 0.1), np.full(45, 1.0)])
    assert relaxed_fraction(env, 0.4, 30) == 0.30
    assert relaxed_fraction(env, 0.4, 5) == 0.35
    assert relaxed_fraction(env, 0.05, 1) == 0.0


def test_runs_at_either_edge_count():
    env = np.concatenate([np.full(40, 0.1), np.full(20, 1.0), np.full(40, 0.1)])
    assert relaxed_fraction(env, 0.4, 30) == 0.8


def test_empty_envelope_is_unknown():
    assert math.isnan(relaxed_fraction(np.array([]), 0.4, 30))
