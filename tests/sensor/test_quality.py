"""Signal quality: flat, clipped, stuck and missing channels are named; healthy is silent."""

from __future__ import annotations

import numpy as np
import pytest

from sensor.quality import QualityConfig, SignalQuality, _hop_max_min
from sensor.records import SampleBlock

FS = 1000.0
ACC_FS = 50.0
CALF, SHIN = "EMG R Gastroc", "EMG R Tib Ant"
ACC = ("ACC X", "ACC Y", "ACC Z")


def _emg(seconds: float, channels: int, seed: int = 0) -> np.ndarray:
    """Resting EMG: 5 uV RMS noise, quantised like a 16-bit EDF (0.15 uV)."""
    x = np.random.default_rng(seed).normal(0.0, 5.0, (round(seconds * FS), channels))
    return np.round(x / 0.15) * 0.15


def _acc(seconds: float, seed: int = 1) -> np.ndarray:
    n = round(seconds * ACC_FS)
    x = np.random.default_rng(seed).normal(0.0, 0.002, (n, 3))
    x[:, 0] += 1.0
    return x


def _feed(q: SignalQuality, emg: np.ndarray, labels, acc: np.ndarray | None,
          block_s: float = 0.02) -> None:
    """Feed in live-sized blocks, EMG and ACC interleaved as a band sends them."""
    step, acc_step = round(block_s * FS), max(1, round(block_s * ACC_FS))
    for k, i in enumerate(range(0, emg.shape[0], step)):
        q.add(SampleBlock("emg", FS, i / FS, emg[i:i + step], labels))
        if acc is not None and k * acc_step < acc.shape[0]:
            q.add(SampleBlock("acc", ACC_FS, k * acc_step / ACC_FS,
                              acc[k * acc_step:(k + 1) * acc_step], ACC))


def test_healthy_recording_gives_no_warning():
    q = SignalQuality((CALF, SHIN))
    _feed(q, _emg(20, 2), (CALF, SHIN), _acc(20))
    assert q.warnings() == []
    assert q.emg[CALF].seen_s == pytest.approx(20.0)
    assert q.emg[CALF].rms_uv == pytest.approx(5.0, rel=0.05)
    assert q.emg[SHIN].flat_s == 0 and q.emg[SHIN].clipped_s == 0
    assert q.acc is not None and q.acc.stuck_s == 0 and q.acc.seen_s == pytest.approx(20.0)


def test_flat_shin_is_dead_and_calls_fall_back_to_the_calf():
    emg = _emg(20, 2)
    emg[:, 1] = 0.01  # electrode off: a steady offset
    q = SignalQuality((CALF, SHIN))
    _feed(q, emg, (CALF, SHIN), _acc(20))
    assert q.emg[SHIN].flat_s == pytest.approx(20.0)
    assert q.emg[CALF].flat_s == 0
    (warning,) = q.warnings()
    assert warning == (f"channel {SHIN!r} was flat for 100 % of the night (electrode off or "
                       f"dead): calls use {CALF!r} only")
    assert q.short_warnings() == [f"dead {SHIN}"]


def test_partly_flat_channel_is_named_with_its_share():
    emg = _emg(20, 2)
    emg[:4000, 0] = 0.0
    q = SignalQuality((CALF, SHIN))
    _feed(q, emg, (CALF, SHIN), _acc(20))
    (warning,) = q.warnings()
    assert warning.startswith(f"channel {CALF!r} was flat for 20 % of the night")


def test_channel_pinned_at_its_limit_is_dead_not_flat():
    emg = _emg(20, 2)
    emg[:, 0] = 3276.7
    q = SignalQuality((CALF, SHIN))
    _feed(q, emg, (CALF, SHIN), _acc(20))
    assert q.emg[CALF].clipped_s == pytest.approx(20.0)
    (warning,) = q.warnings()
    assert warning.startswith(f"channel {CALF!r} was pinned at its limit for 100 % of the night")
    assert warning.endswith(f"calls use {SHIN!r} only")


def test_clipped_bursts_are_counted_and_warned():
    emg = _emg(20, 2)
    burst = np.random.default_rng(3).normal(0.0, 2000.0, 2000)
    emg[10000:12000, 1] = np.clip(burst, -500.0, 500.0)  # 2 s saturating at +-500 uV
    q = SignalQuality((CALF, SHIN))
    _feed(q, emg, (CALF, SHIN), _acc(20))
    assert q.emg[SHIN].clipped_s == pytest.approx(2.0, abs=0.2)
    assert q.emg[CALF].clipped_s == 0
    (warning,) = q.warnings()
    assert warning.startswith(f"channel {SHIN!r} was clipped for 10 % of the night")


def test_a_real_peak_repeating_once_is_not_clipping():
    emg = _emg(20, 2)
    emg[5000:5002, 0] = 120.0  # two equal samples at a peak
    q = SignalQuality((CALF, SHIN))
    _feed(q, emg, (CALF, SHIN), _acc(20))
    assert q.emg[CALF].clipped_s == 0


def test_stuck_accelerometer_is_warned():
    acc = np.tile([0.98, 0.01, 0.2], (round(20 * ACC_FS), 1))
    q = SignalQuality((CALF, SHIN))
    _feed(q, _emg(20, 2), (CALF, SHIN), acc)
    assert q.acc is not None and q.acc.stuck_s == pytest.approx(20.0)
    assert q.warnings() == ["the accelerometer was stuck for 100 % of the night: posture and "
                            "motion unknown"]


def test_one_channel_and_no_accelerometer_are_both_said():
    q = SignalQuality(("EMG1",), expect_acc=False)
    _feed(q, _emg(10, 1), ("EMG1",), None)
    assert q.warnings() == [
        "only one EMG channel ('EMG1'): no co-activation evidence",
        "no accelerometer in this recording: posture and motion unknown",
    ]


def test_declared_channel_that_sends_nothing_is_missing():
    q = SignalQuality((CALF, SHIN))
    _feed(q, _emg(10, 1), (CALF,), _acc(10))
    assert q.warnings() == [f"channel {SHIN!r} carried no samples: calls use {CALF!r} only"]


def test_block_size_does_not_change_the_figures():
    emg = _emg(30, 2)
    emg[7000:19000, 1] = 0.0
    emg[21000:22500, 0] = np.clip(np.random.default_rng(5).normal(0, 2000, 1500), -400, 400)
    results = []
    for block_s in (0.02, 0.37, 10.0):
        q = SignalQuality((CALF, SHIN))
        _feed(q, emg, (CALF, SHIN), _acc(30), block_s)
        results.append([v for c in q.emg.values() for v in (c.seen_s, c.flat_s, c.clipped_s)])
    assert results[0] == pytest.approx(results[1], abs=0.02)
    assert results[0] == pytest.approx(results[2], abs=0.02)


def test_thresholds_are_parameters():
    emg = _emg(20, 2)
    emg[:4000, 0] = 0.0
    q = SignalQuality((CALF, SHIN), config=QualityConfig(flat_fraction=0.5))
    _feed(q, emg, (CALF, SHIN), _acc(20))
    assert q.warnings() == []


@pytest.mark.parametrize("n_hops", [1, 63, 64, 500])
def test_hop_max_min_is_the_plain_max_and_min(n_hops: int) -> None:
    rng = np.random.default_rng(n_hops)
    for hop in (1, 2, 3, 5, 20, 41):
        for n_ch in (1, 2, 3):
            x = (5 * rng.standard_normal((n_hops * hop, n_ch))).astype(np.float32)
            x[rng.integers(0, x.shape[0], 3), 0] = [np.nan, np.inf, -np.inf]
            hops = x.reshape(n_hops, hop, n_ch)
            top, bottom = _hop_max_min(hops)
            np.testing.assert_array_equal(top, hops.max(axis=1))
            np.testing.assert_array_equal(bottom, hops.min(axis=1))


@pytest.mark.parametrize("rail_uv", [None, 6000.0])
def test_flat_hops_are_those_whose_sd_is_below_the_limit(rail_uv: float | None) -> None:
    # Quiet blocks skip most hops' max and min, blocks that reach a rail do not: both
    # count exactly the hops the definition counts.
    rng = np.random.default_rng(3)
    x = np.round(rng.normal(0.0, 5.0, (20 * 500, 2)) / 0.15) * 0.15
    for start in range(0, x.shape[0], 1300):  # stretches of near-flat line, some hops SD ~ limit
        x[start : start + 400, start % 2] = np.round(rng.normal(0.0, 0.4, 400) / 0.15) * 0.15
    if rail_uv is not None:
        x[7, 1] = rail_uv
    x = x.astype(np.float32)
    cfg = QualityConfig()
    q = SignalQuality((CALF, SHIN))
    q.add(SampleBlock("emg", FS, 0.0, x, (CALF, SHIN)))
    hop = round(cfg.hop_s * FS)
    sd = x.reshape(-1, hop, 2).astype(np.float64).std(axis=1)
    expected = (sd < cfg.flat_std_uv).sum(axis=0) * (hop / FS)
    assert 0 < expected[0] < 500 * hop / FS
    assert [q.emg[CALF].flat_s, q.emg[SHIN].flat_s] == pytest.approx(expected.tolist(), abs=1e-9)


@pytest.mark.parametrize("n_hops", [7, 64, 503])
def test_clipped_hops_are_those_whose_extreme_is_held(n_hops: int) -> None:
    # Only hops in runs that reach a rail get their max and min: the count is still
    # exactly the definition's, whichever hop of a run (or the short last run) clips.
    rng = np.random.default_rng(n_hops)
    cfg = QualityConfig()
    hop = round(cfg.hop_s * FS)
    x = np.round(rng.normal(0.0, 5.0, (hop * n_hops, 2)) / 0.15) * 0.15
    for i in rng.integers(0, n_hops, max(2, n_hops // 20)):
        j, c = int(i) * hop + int(rng.integers(0, hop - 3)), int(rng.integers(0, 2))
        x[j : j + int(rng.integers(1, 4)), c] = rng.choice([-1.0, 1.0]) * 3000.0
    x[-2:, 1] = 3000.0  # in the last hop, whatever the runs
    x = x.astype(np.float32)
    q = SignalQuality((CALF, SHIN))
    q.add(SampleBlock("emg", FS, 0.0, x, (CALF, SHIN)))
    hops = x.reshape(n_hops, hop, 2)
    top, bottom = hops.max(axis=1), hops.min(axis=1)
    held_top = (hops == top[:, None, :]).sum(axis=1) >= cfg.clip_run
    held_bottom = (hops == bottom[:, None, :]).sum(axis=1) >= cfg.clip_run
    clipped = ((top >= cfg.clip_min_uv) & held_top) | ((bottom <= -cfg.clip_min_uv) & held_bottom)
    expected = clipped.sum(axis=0) * (hop / FS)
    assert expected.sum() > 0
    assert [q.emg[CALF].clipped_s, q.emg[SHIN].clipped_s] == pytest.approx(
        expected.tolist(), abs=1e-9)
