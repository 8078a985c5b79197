"""The numpy designs equal scipy.signal's bit for bit at the rates the detector meets."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from sensor.iir_design import butter_sos, notch_ba, sos_step_state

EMG_RATES_HZ = (250.0, 256.0, 400.0, 500.0, 512.0, 1000.0, 1024.0, 1111.0, 2000.0, 2048.0,
                4000.0, 4096.0, 10000.0)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("fs", EMG_RATES_HZ)
def test_emg_bandpass_and_notches_are_scipys(fs: float) -> None:
    for low in (20.0, 30.0):
        high = min(450.0, 0.45 * fs)
        ours = butter_sos(4, (low, high), "bandpass", fs)
        theirs = signal.butter(4, [low, high], btype="bandpass", fs=fs, output="sos")
        assert _same(ours, theirs)
        assert _same(sos_step_state(ours), signal.sosfilt_zi(theirs))
    for mains in (50.0, 60.0):
        for k in range(1, 6):
            if mains * k >= 0.5 * fs:
                break
            b, a = notch_ba(mains * k, 10.0 * k, fs)
            b_ref, a_ref = signal.iirnotch(mains * k, 10.0 * k, fs=fs)
            assert _same(b, b_ref) and _same(a, a_ref)


@pytest.mark.parametrize("fs", (1.0, 12.5, 25.0, 50.0, 85.33333333333333, 100.0, 102.4, 200.0))
def test_frame_band_and_gravity_lowpass_are_scipys(fs: float) -> None:
    high = min(20.0, 0.45 * fs)
    if high > 1.0:
        ours = butter_sos(2, (1.0, high), "bandpass", fs)
        theirs = signal.butter(2, [1.0, high], btype="bandpass", fs=fs, output="sos")
        assert _same(ours, theirs)
        assert _same(sos_step_state(ours), signal.sosfilt_zi(theirs))
    cutoff = min(0.3, 0.45 * fs)
    ours = butter_sos(2, cutoff, "lowpass", fs)
    theirs = signal.butter(2, cutoff, btype="lowpass", fs=fs, output="sos")
    assert _same(ours, theirs)
    assert _same(sos_step_state(ours), signal.sosfilt_zi(theirs))


@pytest.mark.parametrize("order", range(1, 9))
def test_other_orders_are_scipys(order: int) -> None:
    for fs in (100.0, 2000.0):
        assert _same(butter_sos(order, (10.0, 40.0), "bandpass", fs),
                     signal.butter(order, [10.0, 40.0], btype="bandpass", fs=fs, output="sos"))
        assert _same(butter_sos(order, 10.0, "lowpass", fs),
                     signal.butter(order, 10.0, btype="lowpass", fs=fs, output="sos"))


def test_corners_outside_the_band_are_refused() -> None:
    with pytest.raises(ValueError, match="critical frequencies"):
        butter_sos(2, (20.0, 600.0), "bandpass", 1000.0)
    with pytest.raises(ValueError, match="less than"):
        butter_sos(2, (300.0, 200.0), "bandpass", 1000.0)
