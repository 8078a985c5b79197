"""The baseline follows the night's noise floor but never learns a cramp as rest."""

from __future__ import annotations

import numpy as np

from sensor import Detector
from sensor.records import EpisodePhase, EpisodeUpdate, SampleBlock, SignalGroup
from tests.sensor.synth import add_bursts, rest_emg, run

FS = 1000.0


def _closed(x: np.ndarray) -> list[EpisodeUpdate]:
    block = SampleBlock(SignalGroup.EMG, FS, 0.0, x[:, None], ("EMG R Gastroc",))
    out = run(Detector(), [block])
    return [o for o in out if isinstance(o, EpisodeUpdate) and o.phase is EpisodePhase.CLOSED]


def test_ten_minute_cramp_is_one_episode_to_its_end() -> None:
    # A tonic cramp of 10 min (the longest DOMAIN.md gives) fading from 60 to 15 uV
    # over a 3 uV floor: the baseline must not creep up and cut it short.
    x = rest_emg(720, 3.0, FS, 71)
    n0, n1 = int(60 * FS), int(660 * FS)
    act = add_bursts(np.zeros_like(x), FS, [(60.0, 660.0)], 1.0, 72)
    act[n0:n1] *= np.linspace(60.0, 15.0, n1 - n0)
    eps = _closed(x + act)
    assert len(eps) == 1
    assert abs(eps[0].start_s - 60.0) < 0.1
    assert abs(eps[0].end_s - 660.0) < 1.0
    assert eps[0].features["baseline_uv"] < 4.0


def test_slow_drift_of_the_floor_makes_no_episode() -> None:
    # The floor doubles over 5 minutes (electrode gel drying, temperature).
    x = rest_emg(420, 1.0, FS, 73)
    gain = np.concatenate([np.full(60_000, 3.0), np.linspace(3.0, 6.0, 300_000),
                           np.full(60_000, 6.0)])
    assert _closed(x * gain) == []


def test_noise_floor_step_is_learned_and_bursts_found_on_the_new_floor() -> None:
    # Rest goes from 3 to 5 uV (x1.7) at 120 s and stays; a 2 s burst at 250 s.
    x = np.concatenate([rest_emg(120, 3.0, FS, 74), rest_emg(240, 5.0, FS, 75)])
    x = add_bursts(x, FS, [(250.0, 252.0)], 60.0, 76)
    eps = _closed(x)
    step = [e for e in eps if e.start_s < 200]
    # At most one episode while the floor is being learned, over within history_s.
    assert len(step) <= 1
    assert all(e.end_s < 120 + 20 + 5 for e in step)
    assert all(e.features["amp_rel_median"] < 2.0 for e in step)
    burst = [e for e in eps if e.start_s >= 200]
    assert len(burst) == 1 and abs(burst[0].start_s - 250.0) < 0.1
    assert burst[0].features["baseline_uv"] > 3.5  # the new floor


def test_bursts_still_found_after_noise_floor_drop_and_rise() -> None:
    quiet = rest_emg(300, 2.0, FS, 75)
    noisy = rest_emg(300, 3.5, FS, 76)
    x = np.concatenate([noisy, quiet, noisy])
    x = add_bursts(x, FS, [(250.0, 252.0), (550.0, 552.0), (850.0, 852.0)], 40.0, 77)
    eps = _closed(x)
    found = sorted(round(e.start_s) for e in eps if e.features["amp_rel_median"] >= 2.0)
    assert found == [250, 550, 850]
    # Anything else is the floor step at 600 s being learned: weak and short.
    others = [e for e in eps if e.features["amp_rel_median"] < 2.0]
    assert all(e.start_s >= 600 and e.end_s < 600 + 25 for e in others)


def test_a_low_floor_stepping_six_fold_is_learned_within_seconds() -> None:
    # A 1.5 uV floor rises to 9 uV at 120 s (a drying electrode on a quiet leg): more
    # than step_max_ratio x the old floor, but no louder than a floor gets.
    x = np.concatenate([rest_emg(120, 1.5, FS, 81), rest_emg(180, 9.0, FS, 82)])
    x = add_bursts(x, FS, [(250.0, 253.0)], 80.0, 83)
    eps = _closed(x)
    step = [e for e in eps if e.start_s < 200]
    assert all(e.end_s - e.start_s < 30.0 for e in step)
    burst = [e for e in eps if e.start_s >= 200]
    assert len(burst) == 1 and abs(burst[0].start_s - 250.0) < 0.2


def test_a_steady_contraction_at_cramp_strength_is_not_learned_as_a_floor_step() -> None:
    # 30 uV held for a minute over a 2 uV floor: stationary, but loud in itself.
    x = rest_emg(150, 2.0, FS, 84)
    x = add_bursts(x, FS, [(30.0, 90.0)], 30.0, 85)
    eps = [e for e in _closed(x) if e.start_s < 100]
    assert len(eps) == 1
    assert abs(eps[0].start_s - 30.0) < 0.3 and abs(eps[0].end_s - 90.0) < 1.0
