import numpy as np
import pytest

from sensor.records import (
    ChannelInfo,
    Event,
    EventKind,
    SampleBlock,
    SampleBlockError,
    SignalGroup,
)


def test_sample_block_converts_to_float32_and_reports_timing():
    block = SampleBlock(SignalGroup.EMG, 2000.0, 10.0, np.zeros((40, 2)), ("EMG R Gastroc", "RAT"))
    assert block.samples.dtype == np.float32
    assert block.n_samples == 40 and block.n_channels == 2
    assert block.t_end_s == pytest.approx(10.02)
    assert block.group.unit == "uV"


def test_sample_block_rejects_label_count_mismatch_with_advice():
    with pytest.raises(SampleBlockError, match="one label per column"):
        SampleBlock(SignalGroup.EMG, 2000.0, 0.0, np.zeros((4, 2)), ("only one",))


def test_lost_samples_imply_gap():
    block = SampleBlock(
        SignalGroup.ACC, 100.0, 0.0, np.zeros((2, 3)), ("x", "y", "z"), lost_samples=5
    )
    assert block.gap_before


def test_only_tonic_and_clonic_are_cramps():
    assert {k for k in EventKind if k.is_cramp} == {EventKind.TONIC, EventKind.CLONIC}


def test_event_confidence_must_be_a_probability():
    with pytest.raises(ValueError, match=r"0\.\.1"):
        Event("e1", "s1", ChannelInfo("EMG"), 0.0, None, EventKind.TONIC, 1.5, {}, "d", "m", False)
