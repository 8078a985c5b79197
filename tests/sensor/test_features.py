"""Episode features say what a physiologist sees: co-activation, alternation, posture, rhythm."""

from __future__ import annotations

import numpy as np
import pytest

from sensor import Detector, DetectorConfig
from sensor.accel import rhythm
from sensor.detector import FilterConfig
from sensor.detector_config import EpisodeConfig
from sensor.emg_frontend import EmgFrontEnd
from sensor.records import EpisodePhase, EpisodeUpdate, SignalGroup
from tests.sensor.synth import ACC_FS_HZ, FS_HZ, add_bursts, blocks, interleave, rest_emg, run

LABELS = ("EMG R Gastroc", "EMG R Tib Ant")


def _closed_by_channel(out: list) -> dict[str, list[EpisodeUpdate]]:
    res: dict[str, list[EpisodeUpdate]] = {}
    for o in out:
        if isinstance(o, EpisodeUpdate) and o.phase is EpisodePhase.CLOSED:
            res.setdefault(o.channel.label, []).append(o)
    return res


def test_cocontraction_vs_alternation() -> None:
    # Stretch: both muscles on together. Walking: calf and shin take turns at ~1 Hz.
    dur = 40.0
    calf = rest_emg(dur, 3.0, FS_HZ, 81)
    shin = rest_emg(dur, 3.0, FS_HZ, 82)
    calf = add_bursts(calf, FS_HZ, [(5.0, 12.0)], 100.0, 83)
    shin = add_bursts(shin, FS_HZ, [(5.3, 12.0)], 80.0, 84)
    steps = [(20.0 + i, 20.4 + i) for i in range(12)]
    calf = add_bursts(calf, FS_HZ, steps, 100.0, 85)
    shin = add_bursts(shin, FS_HZ, [(a + 0.5, b + 0.5) for a, b in steps], 80.0, 86)
    out = run(Detector(), blocks(np.stack([calf, shin], 1), FS_HZ, LABELS, 40))
    calf_eps = _closed_by_channel(out)["EMG R Gastroc"]
    stretch = next(e for e in calf_eps if e.start_s < 15)
    walk = next(e for e in calf_eps if e.start_s > 15)
    assert stretch.features["coact_fraction"] > 0.8
    assert stretch.features["coact_rel"] > 5
    assert stretch.features["lead_s"] == pytest.approx(-0.3, abs=0.05)  # calf first
    assert walk.features["alternation"] > 0.3 > stretch.features["alternation"]
    # The shin fires while the calf rests in each step; in the stretch only alongside it.
    assert walk.features["other_alone_fraction"] > 0.3
    assert stretch.features["other_alone_fraction"] < 0.1
    assert walk.features["burst_count"] == 12
    assert walk.features["interval_cv"] < 0.1  # regular steps


def test_co_activation_at_the_start_is_kept_apart_from_the_response() -> None:
    # A cramp rising alone, the shin firing from 10 s (toes pulled up), and a stretch
    # with both muscles from the start that leaves the calf on alone after 3 s.
    dur = 70.0
    calf = rest_emg(dur, 3.0, FS_HZ, 91)
    shin = rest_emg(dur, 3.0, FS_HZ, 92)
    calf = add_bursts(calf, FS_HZ, [(5.0, 25.0), (40.0, 60.0)], 100.0, 93)
    shin = add_bursts(shin, FS_HZ, [(15.0, 25.0), (40.0, 43.0)], 80.0, 94)
    out = run(Detector(), blocks(np.stack([calf, shin], 1), FS_HZ, LABELS, 40))
    cramp, stretch = _closed_by_channel(out)["EMG R Gastroc"][:2]
    assert cramp.features["onset_coact_fraction"] < 0.1
    assert cramp.features["coact_fraction"] > 0.4  # the response, later
    assert cramp.features["other_alone_fraction"] < 0.05  # ... while the calf holds on
    assert stretch.features["onset_coact_fraction"] > 0.8
    assert stretch.features["coact_fraction"] < 0.3


def test_posture_motion_and_rhythm_from_the_accelerometer() -> None:
    dur = 40.0
    calf = add_bursts(rest_emg(dur, 3.0, FS_HZ, 87), FS_HZ, [(10.0, 30.0)], 100.0, 88)
    emg = np.stack([calf, rest_emg(dur, 3.0, FS_HZ, 89)], 1)
    t = np.arange(int(dur * ACC_FS_HZ)) / ACC_FS_HZ
    acc = np.zeros((t.size, 3))
    acc[:, 0] = 1.0  # shank vertical: upright (standing)
    shaking = (t >= 10.0) & (t < 30.0)
    acc[shaking, 1] += 0.2 * np.sin(2 * np.pi * 1.5 * t[shaking])  # 1.5 Hz rhythm
    out = run(Detector(), interleave(
        blocks(emg, FS_HZ, LABELS, 40),
        blocks(acc, ACC_FS_HZ, ("x", "y", "z"), 2, group=SignalGroup.ACC),
    ))
    ep = _closed_by_channel(out)["EMG R Gastroc"][0]
    f = ep.features
    assert f["acc_upright"] > 0.95 and f["acc_tilt_deg"] < 20
    assert f["acc_motion_pre_g"] < 0.02 < f["acc_motion_during_g"]
    assert f["acc_rhythm_hz"] == pytest.approx(1.5, rel=0.1)
    assert f["acc_rhythm_strength"] > 0.7


def test_rhythm_is_nan_without_motion() -> None:
    assert all(np.isnan(rhythm(np.zeros((500, 3)), 100.0, 0.3, 4.0)))


def test_one_smooth_push_of_the_leg_is_no_rhythm() -> None:
    # A cramp pulling the foot down: one cycle of acceleration over 1 s, in sensor noise.
    fs = 50.0
    rng = np.random.default_rng(5)
    acc = 0.005 * rng.standard_normal((int(5 * fs), 3))
    k = int(fs)
    acc[100 : 100 + k, 0] += 0.05 * np.sin(2 * np.pi * np.arange(k) / k)
    _, strength = rhythm(acc, fs, 0.3, 4.0)
    assert strength < 0.2
    # Shaking at 1.5 Hz is one.
    t = np.arange(acc.shape[0]) / fs
    acc[:, 1] += 0.1 * np.sin(2 * np.pi * 1.5 * t)
    hz, strength = rhythm(acc, fs, 0.3, 4.0)
    assert strength > 0.9 and hz == pytest.approx(1.5, rel=0.1)


def test_ecg_suppression_raises_the_low_corner() -> None:
    cfg = DetectorConfig(filter=FilterConfig(ecg_suppression=True, mains_hz=50.0))
    fe = EmgFrontEnd(cfg, LABELS, FS_HZ)
    assert fe.low_hz == 30.0


def test_electrode_trouble_shows_in_quality_features() -> None:
    # Contact loss: 50 Hz mains dominates and the amplifier clips at +-2000 uV.
    dur = 20.0
    t = np.arange(int(dur * FS_HZ)) / FS_HZ
    calf = rest_emg(dur, 3.0, FS_HZ, 90)
    bad = (t >= 8) & (t < 14)
    calf[bad] += 3000.0 * np.sin(2 * np.pi * 50.0 * t[bad]) + 200 * np.sin(2 * np.pi * 3 * t[bad])
    calf = np.clip(calf, -2000.0, 2000.0)
    cfg = DetectorConfig(filter=FilterConfig(mains_hz=50.0))
    out = run(Detector(cfg), blocks(np.stack([calf, rest_emg(dur, 3.0, FS_HZ, 91)], 1),
                                    FS_HZ, LABELS, 40))
    ep = _closed_by_channel(out)["EMG R Gastroc"][0]
    assert ep.features["clip_fraction"] > 0.1
    assert ep.features["mains_ratio"] > 0.3


@pytest.mark.parametrize(
    ("name", "bursts", "pulsing"),
    [
        # Foot tremor at 3 Hz: 0.18 s bursts, gaps too short to split them in the envelope.
        ("tremor", [(5.0 + i / 3.0, 5.18 + i / 3.0) for i in range(36)], True),
        ("tonic hold", [(5.0, 17.0)], False),
        # A clonic cramp jerks at most every ~0.5 s (bursts >= 0.25 s, relaxations).
        ("clonic jerks", [(5.0 + 1.1 * i, 5.6 + 1.1 * i) for i in range(11)], False),
    ],
)
def test_the_envelope_pulse_tells_a_tremor_from_a_hold_and_from_jerks(
        name: str, bursts: list[tuple[float, float]], pulsing: bool) -> None:
    dur = 25.0
    calf = add_bursts(rest_emg(dur, 3.0, FS_HZ, 101), FS_HZ, bursts, 60.0, 102)
    shin = rest_emg(dur, 3.0, FS_HZ, 103)
    out = run(Detector(), blocks(np.stack([calf, shin], 1), FS_HZ, LABELS, 40))
    updates = [o for o in out if isinstance(o, EpisodeUpdate)
               and o.channel.label == "EMG R Gastroc" and 7.0 < o.known_at_s < 17.0]
    assert updates, name
    recent = [o.features["recent_pulse_strength"] for o in updates]
    alone = _closed_by_channel(out)["EMG R Gastroc"][0].features["alone_pulse_strength"]
    if pulsing:
        assert np.median(recent) > 0.6, recent
        assert alone > 0.6
    else:
        assert max(recent) < 0.45, recent
        assert alone < 0.3


@pytest.mark.parametrize(("low", "high"), [(0.0, 4.0), (4.0, 2.0), (3.0, 3.0)])
def test_an_empty_or_upside_down_pulse_band_is_refused(low: float, high: float) -> None:
    with pytest.raises(ValueError, match="pulse_low_hz"):
        EpisodeConfig(pulse_low_hz=low, pulse_high_hz=high)
