"""Streaming filters equal whole-signal scipy filtering; designs do what they promise."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest
from scipy import signal

from sensor import filters
from sensor.filters import (
    FilterDesignError,
    LowSampleRateWarning,
    StreamingSOS,
    bandpass_corners_hz,
    design_bandpass,
    design_notches,
    detect_mains_hz,
)


def test_streaming_equals_scipy_on_the_whole_signal(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 5000)) + 100.0
    sos = design_bandpass(2000.0, 20.0, 450.0, 4)
    zi = signal.sosfilt_zi(sos)[:, None, :] * x[:, 0][None, :, None]
    expected, _ = signal.sosfilt(sos, x, axis=-1, zi=zi)
    for kernel in (filters._sosfilt_inplace, None):
        monkeypatch.setattr(filters, "_sosfilt_inplace", kernel)
        f = StreamingSOS(sos, 2)
        parts = [f.process(x[:, i : i + 37]) for i in range(0, 5000, 37)]
        np.testing.assert_allclose(np.concatenate(parts, axis=1), expected, rtol=1e-10,
                                   atol=1e-9)


def test_notch_removes_mains_and_keeps_emg_band() -> None:
    fs = 2000.0
    sos = design_notches(fs, 50.0, 3, 10.0, below_hz=460.0)
    assert sos.shape[0] == 3
    _w, h = signal.sosfreqz(sos, worN=[50.0, 100.0, 150.0, 80.0, 200.0], fs=fs)
    gain = np.abs(h)
    assert np.all(gain[:3] < 1e-3)
    assert np.all(gain[3:] > 0.9)


def test_low_rate_board_caps_upper_corner_with_warning() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        low, high = bandpass_corners_hz(500.0, 20.0, 450.0)
    assert (low, high) == (20.0, 225.0)
    assert any(issubclass(w.category, LowSampleRateWarning) for w in caught)
    with pytest.raises(FilterDesignError, match="250"):
        bandpass_corners_hz(200.0, 20.0, 450.0)


@pytest.mark.parametrize("mains", [50.0, 60.0])
def test_mains_frequency_is_detected(mains: float) -> None:
    fs = 1000.0
    t = np.arange(int(2 * fs)) / fs
    rng = np.random.default_rng(2)
    x = 5 * rng.standard_normal(t.size) + 30 * np.sin(2 * np.pi * mains * t)
    assert detect_mains_hz(x[:, None], fs, fallback_hz=0.0) == mains
    assert detect_mains_hz(5 * rng.standard_normal((t.size, 1)), fs, fallback_hz=0.0) == 0.0


def test_the_detector_and_replay_load_without_scipy_signal() -> None:
    # scipy.signal's package import costs about a second per replayed file or command.
    code = ("import sys, sensor.detector, sensor.quality, crampwatch.replay; "
            "from sensor.filters import _sosfilt_inplace; "
            "assert _sosfilt_inplace is not None; "
            "print('scipy.signal' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "False"
