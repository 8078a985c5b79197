"""Bad input gets a specific error; ACC presence, roles and low-rate boards behave as documented."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from sensor import Detector
from sensor.emg_frontend import TimelineError
from sensor.filters import FilterDesignError, LowSampleRateWarning
from sensor.records import EpisodePhase, EpisodeUpdate, Role, SampleBlock, SignalGroup
from tests.sensor.synth import ACC_FS_HZ, FS_HZ, add_bursts, blocks, interleave, rest_emg, run

LABELS = ("EMG1", "EMG2")


def _emg(seconds: float = 20.0) -> np.ndarray:
    calf = add_bursts(rest_emg(seconds, 3.0, FS_HZ, 61), FS_HZ, [(6.0, 12.0)], 150.0, 62)
    return np.stack([calf, rest_emg(seconds, 3.0, FS_HZ, 63)], axis=1)


def test_nan_samples_are_refused_with_advice() -> None:
    x = _emg(3.0)
    x[100, 0] = np.nan
    det = Detector()
    with pytest.raises(TimelineError, match="gap_before"):
        for b in blocks(x, FS_HZ, LABELS, 10**9):
            det.process(b)
        det.finish()


def test_blocks_going_back_in_time_are_refused() -> None:
    det = Detector()
    b1, b2 = blocks(_emg(3.0), FS_HZ, LABELS, 2000)[:2]
    det.process(b2)
    with pytest.raises(TimelineError, match="time order"):
        det.process(b1)
        det.finish()


def test_roles_known_after_first_block_and_unknown_labels_pick_a_calf() -> None:
    det = Detector()
    assert det.channels == ()
    det.process(blocks(_emg(1.0), FS_HZ, LABELS, 2000)[0])
    assert [c.role for c in det.channels] == [Role.CALF, Role.SHIN]
    assert "taken as calf" in det.describe_channels()


def test_acc_presence_is_learned_from_the_stream() -> None:
    x = _emg()
    n_acc = int(20 * ACC_FS_HZ)
    # Shank horizontal (lying), with the sensor noise every real accelerometer has.
    acc = np.tile([0.0, 0.0, 1.0], (n_acc, 1)) + 0.002 * np.random.default_rng(5).standard_normal(
        (n_acc, 3))
    with_acc = Detector()
    out = run(with_acc, interleave(blocks(x, FS_HZ, LABELS, 40),
                                   blocks(acc, ACC_FS_HZ, ("x", "y", "z"), 2,
                                          group=SignalGroup.ACC)))
    assert with_acc.has_acc is True
    closed = [o for o in out if isinstance(o, EpisodeUpdate) and o.phase is EpisodePhase.CLOSED]
    assert len(closed) == 1
    assert closed[0].features["acc_upright"] == 0.0
    assert closed[0].features["acc_tilt_deg"] == pytest.approx(90.0, abs=0.5)
    without = Detector()
    out = run(without, blocks(x, FS_HZ, LABELS, 40))
    assert without.has_acc is False
    closed = [o for o in out if isinstance(o, EpisodeUpdate) and o.phase is EpisodePhase.CLOSED]
    assert np.isnan(closed[0].features["acc_upright"])


def test_low_rate_board_warns_and_still_finds_the_contraction() -> None:
    fs = 500.0
    calf = add_bursts(rest_emg(20, 3.0, fs, 64), fs, [(6.0, 12.0)], 150.0, 65)
    det = Detector()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = run(det, [SampleBlock(SignalGroup.EMG, fs, 0.0, calf[:, None], ("Calf L",))])
    assert any(issubclass(w.category, LowSampleRateWarning) for w in caught)
    closed = [o for o in out if isinstance(o, EpisodeUpdate) and o.phase is EpisodePhase.CLOSED]
    assert len(closed) == 1 and abs(closed[0].start_s - 6.0) < 0.1


def test_too_slow_board_is_refused() -> None:
    with pytest.raises(FilterDesignError, match="sample rate"):
        Detector().process(SampleBlock(SignalGroup.EMG, 100.0, 0.0, np.zeros((10, 1)), ("EMG1",)))


def test_stalled_accelerometer_does_not_hold_decisions_forever() -> None:
    x = _emg(30.0)
    det = Detector(expect_acc=True)  # ACC promised, but it never comes
    emitted_at = []
    for b in blocks(x, FS_HZ, LABELS, 40):
        for o in det.process(b):
            if isinstance(o, EpisodeUpdate) and o.phase is EpisodePhase.OPENED:
                emitted_at.append((b.t_end_s, o))
    assert len(emitted_at) == 1
    block_end, opened = emitted_at[0]
    # Out once the EMG is 10 s (accel.max_lag_s) past the onset, not at the stream's end.
    assert block_end < 6.0 + 10.0 + 0.5
    assert np.isnan(opened.features["acc_upright"])


def test_a_block_with_nan_is_refused_on_arrival_even_while_mains_is_detected() -> None:
    # The first 2 s are held back to detect the mains frequency; a NaN in them must be
    # refused with the block that holds it, not later with another block.
    det = Detector()
    x = np.zeros((100, 1), dtype=np.float32)
    det.process(SampleBlock(SignalGroup.EMG, 1000.0, 0.0, x + 1.0, ("EMG R Gastroc",)))
    x[50, 0] = np.nan
    with pytest.raises(TimelineError, match=r"0\.100 s holds NaN"):
        det.process(SampleBlock(SignalGroup.EMG, 1000.0, 0.1, x, ("EMG R Gastroc",)))


@pytest.mark.parametrize("stuck", [True, False])
def test_a_stuck_accelerometer_says_nothing_about_motion(stuck: bool) -> None:
    # Axes pinned at one value (a stuck sensor) read as "unknown", not as a still leg:
    # a still leg would make any episode look like an involuntary cramp.
    emg = add_bursts(rest_emg(30.0, 3.0, FS_HZ, 61), FS_HZ, [(10.0, 22.0)], 100.0, 62)
    n_acc = int(30.0 * ACC_FS_HZ)
    acc = np.tile(np.array([[0.02, 0.1, 0.99]], dtype=np.float32), (n_acc, 1))
    if not stuck:
        acc = acc + 0.003 * np.random.default_rng(63).standard_normal((n_acc, 3)).astype(
            np.float32)
    out = run(Detector(), interleave(
        blocks(emg[:, None], FS_HZ, ("EMG R Gastroc",), 200),
        blocks(acc, ACC_FS_HZ, ("x", "y", "z"), 10, group=SignalGroup.ACC),
    ))
    closed = [o for o in out if isinstance(o, EpisodeUpdate) and o.phase is EpisodePhase.CLOSED]
    assert len(closed) == 1
    f = closed[0].features
    for name in ("acc_motion_onset_g", "acc_upright", "recent_motion_g"):
        assert np.isnan(f[name]) == stuck, (name, f[name])
