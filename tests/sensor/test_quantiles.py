"""percentile_linear is numpy's default percentile, to the last bit."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sensor.quantiles import median, percentile_linear


@settings(max_examples=300, deadline=None)
@given(
    x=arrays(np.float64, st.integers(1, 400),
             elements=st.floats(0.0, 1e6, allow_nan=False, allow_infinity=False)),
    q=st.sampled_from([0.0, 12.5, 50.0, 90.0, 99.0, 100.0]) | st.floats(0.0, 100.0),
)
def test_equals_numpy_percentile_bit_for_bit(x: np.ndarray, q: float) -> None:
    assert percentile_linear(x, q) == float(np.percentile(x, q))


def test_envelope_like_samples_with_ties() -> None:
    rng = np.random.default_rng(1)
    for n in (2, 3, 10, 299, 300, 301):
        x = np.round(rng.lognormal(1.0, 1.5, n), 1)
        assert percentile_linear(x, 90) == float(np.percentile(x, 90))
    x = rng.lognormal(1.0, 1.5, 50)
    before = x.copy()
    percentile_linear(x, 90)
    np.testing.assert_array_equal(x, before)  # the sample is left as it was


def test_nan_sample_gives_nan_and_bad_input_is_refused() -> None:
    assert math.isnan(percentile_linear(np.array([1.0, np.nan, 3.0]), 90))
    with pytest.raises(ValueError, match="empty"):
        percentile_linear(np.array([]), 90)
    with pytest.raises(ValueError, match=r"0\.\.100"):
        percentile_linear(np.array([1.0]), 101)


@settings(max_examples=300, deadline=None)
@given(x=arrays(np.float64, st.integers(1, 400),
                elements=st.floats(0.0, 1e6, allow_nan=False) | st.just(np.inf)))
def test_median_equals_numpy_median_bit_for_bit(x: np.ndarray) -> None:
    assert median(x) == float(np.median(x))


def test_median_of_ratios_with_ties_nan_and_nothing() -> None:
    rng = np.random.default_rng(2)
    for n in (1, 2, 3, 4, 299, 300):
        x = np.round(rng.lognormal(0.0, 1.0, n), 2)
        assert median(x) == float(np.median(x))
    assert math.isnan(median(np.array([2.0, np.nan])))
    assert math.isnan(median(np.array([])))
