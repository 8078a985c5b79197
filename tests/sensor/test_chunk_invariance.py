"""Whole, 20 ms and random block sizes give the same filtered signal and the same episodes."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sensor import Detector, DetectorConfig
from sensor.detector import EpisodeConfig, FilterConfig
from sensor.emg_frontend import EmgFrontEnd, FrameBatch
from sensor.filters import LowSampleRateWarning
from sensor.records import EpisodeUpdate, SignalGap, SignalGroup
from tests.sensor.synth import (
    ACC_FS_HZ,
    FS_HZ,
    add_bursts,
    blocks,
    interleave,
    rest_emg,
    run,
)

LABELS = ("EMG R Gastroc", "EMG R Tib Ant")
ACC_LABELS = ("x", "y", "z")
DURATION_S = 24.0


def _signal() -> tuple[np.ndarray, np.ndarray]:
    calf = add_bursts(rest_emg(DURATION_S, 3.0, FS_HZ, 21), FS_HZ,
                      [(4.0, 10.0)] + [(12.0 + 1.2 * i, 12.5 + 1.2 * i) for i in range(5)],
                      120.0, 22)
    shin = add_bursts(rest_emg(DURATION_S, 4.0, FS_HZ, 23), FS_HZ, [(6.0, 7.0), (19.0, 19.4)],
                      80.0, 24)
    emg = np.stack([calf, shin], axis=1)
    n_acc = int(DURATION_S * ACC_FS_HZ)
    t = np.arange(n_acc) / ACC_FS_HZ
    rng = np.random.default_rng(25)
    acc = np.stack([0.1 + 0.05 * np.sin(2 * np.pi * 1.5 * t), 0.2 + 0.0 * t, 0.97 + 0.0 * t],
                   axis=1) + 0.01 * rng.standard_normal((n_acc, 3))
    return emg, acc


EMG, ACC = _signal()


def _cut(total: int, sizes: list[int]) -> list[int]:
    return sizes if sizes else [total]


def _same(a: list, b: list) -> None:
    assert len(a) == len(b), (len(a), len(b))
    for x, y in zip(a, b, strict=True):
        assert type(x) is type(y)
        if isinstance(x, SignalGap):
            assert x == y
            continue
        assert isinstance(x, EpisodeUpdate)
        assert (x.phase, x.episode_id, x.channel) == (y.phase, y.episode_id, y.channel)
        assert math.isclose(x.start_s, y.start_s, abs_tol=1e-9)
        assert (x.end_s is None) == (y.end_s is None)
        assert math.isclose(x.known_at_s, y.known_at_s, abs_tol=1e-9)
        assert len(x.bursts) == len(y.bursts)
        assert x.features.keys() == y.features.keys()
        for name, v in x.features.items():
            w = y.features[name]
            assert (math.isnan(v) and math.isnan(w)) or math.isclose(
                v, w, rel_tol=1e-6, abs_tol=1e-9
            ), (name, v, w)


# Per channel (legs not fused), so both channels' episode code is compared.
PER_CHANNEL = DetectorConfig(episode=EpisodeConfig(fuse_legs=False))


def _outputs(emg_sizes: list[int] | int, acc_sizes: list[int] | int, with_acc: bool,
             config: DetectorConfig = PER_CHANNEL) -> list:
    emg_blocks = blocks(EMG, FS_HZ, LABELS, emg_sizes)
    streams = [emg_blocks]
    if with_acc:
        streams.append(blocks(ACC, ACC_FS_HZ, ACC_LABELS, acc_sizes, group=SignalGroup.ACC))
    return run(Detector(config), interleave(*streams))


REFERENCE_ACC = _outputs(10**9, 10**9, True)
REFERENCE_NO_ACC = _outputs(10**9, 10**9, False)


def test_reference_has_episodes_on_both_channels() -> None:
    labels = {o.channel.label for o in REFERENCE_ACC if isinstance(o, EpisodeUpdate)}
    assert labels == set(LABELS)
    feats = next(o for o in REFERENCE_ACC if isinstance(o, EpisodeUpdate)).features
    assert not math.isnan(feats["acc_tilt_deg"])


def test_20ms_blocks_live_shape() -> None:
    _same(_outputs(40, 2, True), REFERENCE_ACC)
    _same(_outputs(40, 2, False), REFERENCE_NO_ACC)


def test_fused_legs_are_chunk_invariant_too() -> None:
    fused = DetectorConfig()
    whole = _outputs(10**9, 10**9, True, fused)
    assert {o.channel.label for o in whole if isinstance(o, EpisodeUpdate)} == {LABELS[0]}
    _same(_outputs(40, 2, True, fused), whole)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    emg_sizes=st.lists(st.integers(1, 9000), min_size=1, max_size=12),
    acc_sizes=st.lists(st.integers(1, 500), min_size=1, max_size=6),
    with_acc=st.booleans(),
)
def test_random_block_sizes_give_the_same_episodes(
    emg_sizes: list[int], acc_sizes: list[int], with_acc: bool
) -> None:
    reference = REFERENCE_ACC if with_acc else REFERENCE_NO_ACC
    _same(_outputs(emg_sizes, acc_sizes, with_acc), reference)


def _frames(sizes: list[int] | int) -> dict[str, np.ndarray]:
    cfg = DetectorConfig(filter=FilterConfig(mains_hz=50.0))
    fe = EmgFrontEnd(cfg, LABELS, FS_HZ)
    parts: list[FrameBatch] = []
    for b in blocks(EMG, FS_HZ, LABELS, sizes):
        parts.extend(p for p in fe.process(b) if isinstance(p, FrameBatch))
    return {name: np.concatenate([getattr(p, name) for p in parts])
            for name in FrameBatch.ARRAYS}


FRAMES_WHOLE = _frames(10**9)


@settings(max_examples=15, deadline=None)
@given(sizes=st.lists(st.integers(1, 5000), min_size=1, max_size=10))
def test_filtered_envelopes_do_not_depend_on_block_size(sizes: list[int]) -> None:
    got = _frames(sizes)
    for name, ref in FRAMES_WHOLE.items():
        assert got[name].shape == ref.shape
        np.testing.assert_allclose(got[name], ref, rtol=1e-9, atol=1e-9, err_msg=name)


GAP = (11.0, 12.5)  # seconds lost mid-stream (a band reconnect)


def _outputs_with_gap(sizes: list[int] | int, acc_sizes: list[int] | int) -> list:
    a, b = (round(t * FS_HZ) for t in GAP)
    aa, ab = (round(t * ACC_FS_HZ) for t in GAP)
    emg = blocks(EMG[:a], FS_HZ, LABELS, sizes) + blocks(EMG[b:], FS_HZ, LABELS, sizes,
                                                         t0_s=GAP[1])
    acc = blocks(ACC[:aa], ACC_FS_HZ, ACC_LABELS, acc_sizes, group=SignalGroup.ACC) + blocks(
        ACC[ab:], ACC_FS_HZ, ACC_LABELS, acc_sizes, group=SignalGroup.ACC, t0_s=GAP[1]
    )
    return run(Detector(), interleave(emg, acc))


REFERENCE_GAP = _outputs_with_gap(10**9, 10**9)


def test_gap_reference_reports_both_gaps() -> None:
    gaps = [o for o in REFERENCE_GAP if isinstance(o, SignalGap)]
    assert {g.group for g in gaps} == {SignalGroup.EMG, SignalGroup.ACC}
    assert all(math.isclose(g.start_s, GAP[0]) and math.isclose(g.end_s, GAP[1]) for g in gaps)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    emg_sizes=st.lists(st.integers(1, 9000), min_size=1, max_size=8),
    acc_sizes=st.lists(st.integers(1, 500), min_size=1, max_size=4),
)
def test_random_block_sizes_around_a_gap_give_the_same_outputs(
    emg_sizes: list[int], acc_sizes: list[int]
) -> None:
    _same(_outputs_with_gap(emg_sizes, acc_sizes), REFERENCE_GAP)


@pytest.mark.parametrize("fs_hz", [250.0, 1000.0])
def test_other_rates_and_three_channels_with_a_gap(fs_hz: float) -> None:
    # A hobby board (250 Hz) and a 1 kHz board, three channels, 2.7 s lost at 9.3 s.
    rng = np.random.default_rng(int(fs_hz))
    dur = 25.0
    x = np.stack([add_bursts(rest_emg(dur, 4.0, fs_hz, 90 + c), fs_hz,
                             [(4.0 + 3 * c, 6.0 + 3 * c), (15.0, 15.3)], 90.0, 95 + c)
                  for c in range(3)], axis=1)
    labels = ("EMG1", "EMG2", "EMG3")
    a, b = round(9.3 * fs_hz), round(12.0 * fs_hz)

    def feed(sizes: list[int] | int) -> list:
        emg = blocks(x[:a], fs_hz, labels, sizes) + blocks(x[b:], fs_hz, labels, sizes,
                                                            t0_s=b / fs_hz)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LowSampleRateWarning)
            return run(Detector(PER_CHANNEL), emg)

    reference = feed(10**9)
    assert any(isinstance(o, SignalGap) for o in reference)
    assert {o.channel.label for o in reference if isinstance(o, EpisodeUpdate)} == set(labels)
    _same(feed(max(1, round(0.02 * fs_hz))), reference)
    _same(feed([int(s) for s in rng.integers(1, 3000, 9)]), reference)
