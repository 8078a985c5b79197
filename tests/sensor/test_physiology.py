"""What a physiologist would check: hum is not muscle, a contraction is one episode, etc."""

from __future__ import annotations

import numpy as np

from sensor import DETECTOR_VERSION, Detector, DetectorConfig
from sensor.detector import FilterConfig
from sensor.features import FEATURES
from sensor.records import EpisodePhase, EpisodeUpdate, SignalGap
from tests.sensor.synth import FS_HZ, add_bursts, blocks, rest_emg, run

LABELS = ("EMG R Gastroc", "EMG R Tib Ant")


def closed(outputs: list) -> list[EpisodeUpdate]:
    return [o for o in outputs if isinstance(o, EpisodeUpdate) and o.phase is EpisodePhase.CLOSED]


def two_channels(calf: np.ndarray, seed: int = 99) -> np.ndarray:
    shin = rest_emg(calf.shape[0] / FS_HZ, 3.0, FS_HZ, seed)
    return np.stack([calf, shin], axis=1)


def test_version_is_exported() -> None:
    assert DETECTOR_VERSION.count(".") == 2


def test_60hz_hum_of_50uv_is_not_an_episode() -> None:
    t = np.arange(int(60 * FS_HZ)) / FS_HZ
    hum = 50.0 * np.sqrt(2) * np.sin(2 * np.pi * 60.0 * t)  # 50 uV RMS
    sig = two_channels(rest_emg(60, 3.0, FS_HZ, 1) + hum)
    sig[:, 1] += hum
    det = Detector()
    out = run(det, blocks(sig, FS_HZ, LABELS, 40))
    assert det.mains_hz == 60.0
    assert [o for o in out if isinstance(o, EpisodeUpdate)] == []


def test_60hz_hum_with_configured_notch_is_not_an_episode() -> None:
    t = np.arange(int(60 * FS_HZ)) / FS_HZ
    hum = 50.0 * np.sqrt(2) * np.sin(2 * np.pi * 60.0 * t + 0.3)
    sig = two_channels(rest_emg(60, 3.0, FS_HZ, 2) + hum)
    det = Detector(DetectorConfig(filter=FilterConfig(mains_hz=60.0)))
    out = run(det, blocks(sig, FS_HZ, LABELS, 10**9))
    assert [o for o in out if isinstance(o, EpisodeUpdate)] == []


def test_sustained_15s_contraction_is_one_episode_of_15s() -> None:
    calf = add_bursts(rest_emg(40, 3.0, FS_HZ, 3), FS_HZ, [(10.0, 25.0)], 200.0, 4)
    out = run(Detector(), blocks(two_channels(calf), FS_HZ, LABELS, 40))
    eps = closed(out)
    assert len(eps) == 1
    ep = eps[0]
    assert ep.channel.label == "EMG R Gastroc"
    assert abs(ep.start_s - 10.0) < 0.05
    assert abs((ep.end_s - ep.start_s) - 15.0) < 0.5
    assert ep.features["burst_count"] == 1
    assert ep.features["amp_rel_median"] > 20  # 200 uV over a ~3 uV floor
    assert set(ep.features) >= set(FEATURES)
    assert 50 < ep.features["median_freq_hz"] < 150
    assert ep.features["coact_fraction"] < 0.05  # shin silent


def test_eight_half_second_bursts_one_second_apart_are_one_episode_of_eight() -> None:
    starts = [5.0 + 1.5 * i for i in range(8)]
    calf = add_bursts(rest_emg(30, 3.0, FS_HZ, 5), FS_HZ, [(s, s + 0.5) for s in starts],
                      100.0, 6)
    out = run(Detector(), blocks(two_channels(calf), FS_HZ, LABELS, 40))
    eps = closed(out)
    assert len(eps) == 1
    ep = eps[0]
    assert len(ep.bursts) == 8
    assert ep.features["burst_count"] == 8
    assert abs(ep.features["burst_rate_hz"] - 8 / 11.0) < 0.1
    assert 0.3 < ep.features["duty_cycle"] < 0.5
    assert abs(ep.features["burst_duration_median_s"] - 0.5) < 0.15
    assert abs(ep.features["gap_median_s"] - 1.0) < 0.15


def test_open_episode_is_updated_at_least_every_half_second() -> None:
    calf = add_bursts(rest_emg(30, 3.0, FS_HZ, 7), FS_HZ, [(5.0, 15.0)], 150.0, 8)
    out = run(Detector(), blocks(two_channels(calf), FS_HZ, LABELS, 40))
    ups = [o for o in out if isinstance(o, EpisodeUpdate)]
    assert ups[0].phase is EpisodePhase.OPENED and ups[-1].phase is EpisodePhase.CLOSED
    known = [u.known_at_s for u in ups]
    assert max(np.diff(known[:-1])) <= 0.5 + 1e-6
    assert ups[0].known_at_s - ups[0].start_s < 0.3  # opened within 0.3 s of onset


def test_gap_mid_episode_is_reported_and_ringing_is_not_muscle() -> None:
    calf = add_bursts(rest_emg(40, 3.0, FS_HZ, 9), FS_HZ, [(5.0, 20.0)], 200.0, 10)
    sig = two_channels(calf)
    # 2 s lost at 12-14 s (a band reconnect mid-cramp); after the gap the signal jumps
    # by a DC offset, which rings through the filters if they were not restarted.
    lost = (int(12 * FS_HZ), int(14 * FS_HZ))
    before = blocks(sig[: lost[0]], FS_HZ, LABELS, 40)
    after = blocks(sig[lost[1] :] + 3000.0, FS_HZ, LABELS, 40, t0_s=14.0)
    det = Detector()
    out = run(det, before + after)
    gaps = [o for o in out if isinstance(o, SignalGap)]
    assert len(gaps) == 1
    assert abs(gaps[0].start_s - 12.0) < 1e-6 and abs(gaps[0].end_s - 14.0) < 1e-6
    eps = closed(out)
    assert len(eps) == 1, [(e.channel.label, e.start_s, e.end_s) for e in eps]
    assert abs(eps[0].start_s - 5.0) < 0.05 and abs(eps[0].end_s - 20.0) < 0.5
    assert eps[0].features["gap_s"] >= 2.0
    # The shin channel got the same DC jump: no episode there.
    assert all(e.channel.label == "EMG R Gastroc" for e in eps)


def test_gap_in_quiet_signal_makes_no_episode() -> None:
    sig = two_channels(rest_emg(30, 3.0, FS_HZ, 11))
    before = blocks(sig[: int(10 * FS_HZ)], FS_HZ, LABELS, 40)
    after = blocks(sig[int(10 * FS_HZ) :] - 5000.0, FS_HZ, LABELS, 40, t0_s=17.0)
    out = run(Detector(), before + after)
    assert [type(o) for o in out] == [SignalGap]


def _wandering_hum(duration_s: float, rms_uv: float, offset_hz: float) -> np.ndarray:
    """60 Hz hum and its 3rd harmonic, the line swinging +-offset_hz every few seconds."""
    t = np.arange(int(duration_s * FS_HZ)) / FS_HZ
    f = 60.0 + offset_hz * np.sin(2 * np.pi * t / 7.0)
    phase = 2 * np.pi * np.cumsum(f) / FS_HZ
    return rms_uv * np.sqrt(2) * (np.sin(phase) + 0.3 * np.sin(3 * phase + 0.7))


def _ecg_leak(duration_s: float, peak_uv: float, seed: int) -> np.ndarray:
    """QRS complexes (~80 ms, most power below 30 Hz) at 55-70 beats per minute."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * FS_HZ)
    x = np.zeros(n)
    tq = np.arange(int(0.08 * FS_HZ)) / FS_HZ
    qrs = peak_uv * np.sin(2 * np.pi * tq / 0.08) * np.hanning(tq.size)
    t = 0.5
    while t < duration_s - 0.1:
        i = int(t * FS_HZ)
        x[i : i + qrs.size] += qrs[: n - i]
        t += 60.0 / rng.uniform(55.0, 70.0)
    return x


def test_hum_twenty_times_the_floor_wandering_0_3_hz_is_not_an_episode() -> None:
    # A loose electrode: 40 uV of hum on a 2 uV floor, the line 0.3 Hz off at times.
    sig = two_channels(rest_emg(90, 2.0, FS_HZ, 7) + _wandering_hum(90, 40.0, 0.3))
    cfg = DetectorConfig(filter=FilterConfig(mains_hz=60.0))
    out = run(Detector(cfg), blocks(sig, FS_HZ, LABELS, 40))
    assert closed(out) == []
    # One notch per line leaves the wandering hum above the floor: episodes.
    single = DetectorConfig(filter=FilterConfig(mains_hz=60.0, notch_depth=1))
    assert closed(run(Detector(single), blocks(sig, FS_HZ, LABELS, 40)))


def test_a_heart_beating_into_the_calf_channel_is_not_muscle() -> None:
    # ECG leaking into the leg leads at 15 uV over a 2 uV floor: every beat would be a
    # burst below 30 Hz.
    calf = rest_emg(90, 2.0, FS_HZ, 8) + _ecg_leak(90, 15.0, 9)
    sig = two_channels(calf)
    cfg = DetectorConfig(filter=FilterConfig(mains_hz=60.0))
    assert closed(run(Detector(cfg), blocks(sig, FS_HZ, LABELS, 40))) == []
    plain = DetectorConfig(filter=FilterConfig(mains_hz=60.0, ecg_suppression=False))
    assert closed(run(Detector(plain), blocks(sig, FS_HZ, LABELS, 40)))
