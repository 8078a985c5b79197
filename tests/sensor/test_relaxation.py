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


def test_a_run_reaching_the_end_is_not_yet_a_relaxation():
    # Relaxed, contracting, then low to the end: the contraction may be ending.
    env = np.concatenate([np.full(40, 0.1), np.full(20, 1.0), np.full(40, 0.1)])
    assert relaxed_fraction(env, 0.4, 30) == 0.4
    # The same low stretch followed by contraction is a relaxation.
    env = np.concatenate([env, np.full(10, 1.0)])
    assert relaxed_fraction(env, 0.4, 30) == 80 / 110


def test_the_rise_from_the_onset_is_not_a_relaxation():
    # A tonic cramp's first seconds: a slow rise, then a steady hold.
    env = np.concatenate([np.linspace(0.05, 1.0, 40), np.full(60, 1.0)])
    assert relaxed_fraction(env, 0.4, 10, from_onset=True) == 0.0
    # The same stretch inside a longer episode starts with a real relaxation.
    assert relaxed_fraction(env, 0.4, 10) == 0.15


def test_empty_envelope_is_unknown():
    assert math.isnan(relaxed_fraction(np.array([]), 0.4, 30))
