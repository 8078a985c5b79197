"""Hand-made episode updates: what a physiologist would expect each kind to look like."""

from __future__ import annotations

import math

from sensor.records import ChannelInfo, EpisodePhase, EpisodeUpdate, Muscle, Role, Side

CALF = ChannelInfo("EMG R Gastroc", Muscle.GASTROCNEMIUS, Side.RIGHT, Role.CALF)
CALF_MEDIAL_LEFT = ChannelInfo("EMG MGM L", Muscle.GASTROCNEMIUS_MEDIAL, Side.LEFT, Role.CALF)
CALF_LATERAL_LEFT = ChannelInfo("EMG LGM L", Muscle.GASTROCNEMIUS_LATERAL, Side.LEFT, Role.CALF)
SHIN = ChannelInfo("EMG R Tib Ant", Muscle.TIBIALIS_ANTERIOR, Side.RIGHT, Role.SHIN)

# A lying, still leg with clean electrodes: the background every case starts from.
QUIET = {
    "burst_count": 1.0,
    "burst_rate_hz": math.nan,
    "gap_median_s": math.nan,
    "interval_cv": math.nan,
    "duty_cycle": 0.97,
    "amp_rel_median": 12.0,
    "amp_rel_peak": 30.0,
    "envelope_cv": 0.25,
    "median_freq_hz": 95.0,
    "mains_ratio": 0.02,
    "lowfreq_ratio": 0.08,
    "clip_fraction": 0.0,
    "flat_fraction": 0.0,
    "coact_rel": 1.1,
    "coact_fraction": 0.03,
    "lead_s": math.nan,
    "alternation": 0.0,
    "acc_upright": 0.0,
    "acc_tilt_deg": 12.0,
    "acc_motion_pre_g": 0.004,
    "acc_motion_onset_g": 0.006,
    "acc_motion_during_g": 0.01,
    "acc_rhythm_hz": math.nan,
    "acc_rhythm_strength": 0.05,
    "gap_s": 900.0,
    "baseline_uv": 2.5,
}


def make_update(
    duration_s: float,
    channel: ChannelInfo = CALF,
    final: bool = True,
    start_s: float = 1000.0,
    **features: float,
) -> EpisodeUpdate:
    """Return an episode update of the given length with QUIET features overridden."""
    values = dict(QUIET)
    values.update(features)
    values["duration_s"] = duration_s
    values.setdefault("burst_duration_median_s", duration_s)
    values.setdefault("burst_duration_max_s", duration_s)
    values["onset_s"] = start_s
    return EpisodeUpdate(
        phase=EpisodePhase.CLOSED if final else EpisodePhase.UPDATED,
        episode_id=1,
        channel=channel,
        start_s=start_s,
        end_s=start_s + duration_s if final else None,
        known_at_s=start_s + duration_s + (0.3 if final else 0.0),
        features=values,
    )


def tonic(duration_s: float = 150.0, **kw: float) -> EpisodeUpdate:
    return make_update(duration_s, **kw)


def clonic(duration_s: float = 40.0, **kw: float) -> EpisodeUpdate:
    values = dict(
        burst_count=28.0, burst_rate_hz=0.7, burst_duration_median_s=0.8,
        burst_duration_max_s=1.7, gap_median_s=0.65, interval_cv=0.42, duty_cycle=0.55,
        envelope_cv=0.9, acc_motion_during_g=0.03,
    )
    values.update(kw)
    return make_update(duration_s, **values)


def plm(duration_s: float = 2.2, **kw: float) -> EpisodeUpdate:
    values = dict(channel=SHIN, amp_rel_median=6.0, gap_s=24.0, acc_motion_onset_g=0.02)
    values.update(kw)
    return make_update(duration_s, **values)


def hypnic_jerk(**kw: float) -> EpisodeUpdate:
    values = dict(coact_fraction=0.9, coact_rel=40.0, acc_motion_onset_g=0.6,
                  acc_motion_during_g=0.6, amp_rel_median=60.0)
    values.update(kw)
    return make_update(0.18, **values)


def myoclonus(**kw: float) -> EpisodeUpdate:
    values = dict(burst_count=35.0, burst_rate_hz=0.6, burst_duration_median_s=0.09,
                  burst_duration_max_s=0.15, duty_cycle=0.06, interval_cv=0.95,
                  amp_rel_median=3.0)
    values.update(kw)
    return make_update(70.0, **values)


def turning_over(**kw: float) -> EpisodeUpdate:
    values = dict(coact_fraction=0.8, coact_rel=15.0, acc_motion_pre_g=0.05,
                  acc_motion_onset_g=0.25, acc_motion_during_g=0.3, lowfreq_ratio=0.3,
                  acc_tilt_deg=70.0)
    values.update(kw)
    return make_update(7.0, **values)


def tremor(**kw: float) -> EpisodeUpdate:
    values = dict(burst_count=30.0, burst_rate_hz=2.0, burst_duration_median_s=0.25,
                  burst_duration_max_s=0.32, interval_cv=0.08, duty_cycle=0.5,
                  amp_rel_median=5.0, acc_rhythm_hz=2.0, acc_rhythm_strength=0.8,
                  acc_motion_during_g=0.02)
    values.update(kw)
    return make_update(15.0, **values)


def walking(**kw: float) -> EpisodeUpdate:
    values = dict(burst_count=60.0, burst_rate_hz=0.9, burst_duration_median_s=0.4,
                  burst_duration_max_s=1.5, interval_cv=0.15, duty_cycle=0.45,
                  coact_fraction=0.3, alternation=0.8, acc_upright=1.0, acc_tilt_deg=5.0,
                  acc_motion_onset_g=0.12, acc_motion_during_g=0.15, acc_rhythm_hz=0.9,
                  acc_rhythm_strength=0.6)
    values.update(kw)
    return make_update(70.0, **values)


def stretch(**kw: float) -> EpisodeUpdate:
    values = dict(coact_fraction=0.85, coact_rel=20.0, acc_motion_onset_g=0.03,
                  acc_motion_during_g=0.06)
    values.update(kw)
    return make_update(9.0, **values)


def contact_loss(mode: str = "mains", **kw: float) -> EpisodeUpdate:
    values: dict[str, float] = dict(amp_rel_median=80.0)
    if mode == "mains":
        values["mains_ratio"] = 0.8
    elif mode == "clip":
        values["clip_fraction"] = 0.3
    elif mode == "flat":
        values.update(flat_fraction=0.9, amp_rel_median=0.2)
    else:
        values["lowfreq_ratio"] = 1.5
    values.update(kw)
    return make_update(20.0, **values)


LOOKALIKES = {
    "plm": plm,
    "hypnic_jerk": hypnic_jerk,
    "myoclonus": myoclonus,
    "turning_over": turning_over,
    "tremor": tremor,
    "walking": walking,
    "stretch": stretch,
    "contact_loss": contact_loss,
}


def jittered_episodes(
    seed: int, per_kind: int = 12
) -> list[tuple[list[EpisodeUpdate], str]]:
    """Return (updates of one episode, its kind) for every hand-made case, with jitter.

    Each episode is a few open snapshots and its closed update; numeric features are
    scaled by +/-15 % so no two episodes are the same.
    """
    import dataclasses

    import numpy as np

    rng = np.random.default_rng(seed)
    makers = {"tonic": tonic, "clonic": clonic, **LOOKALIKES}
    kinds = {
        "tonic": "tonic", "clonic": "clonic", "plm": "plm", "hypnic_jerk": "jerk",
        "myoclonus": "jerk", "turning_over": "movement", "tremor": "tremor",
        "walking": "walking", "stretch": "stretch", "contact_loss": "artifact",
    }
    out: list[tuple[list[EpisodeUpdate], str]] = []
    episode_id = 0
    for name, make in makers.items():
        for _ in range(per_kind):
            episode_id += 1
            closed = make()
            scale = {k: float(rng.uniform(0.85, 1.15)) for k in closed.features}
            features = {k: v * scale[k] for k, v in closed.features.items()}
            length = features["duration_s"]
            closed = dataclasses.replace(
                closed, episode_id=episode_id, features=features,
                end_s=closed.start_s + length, known_at_s=closed.start_s + length + 0.3,
            )
            updates = []
            for age in (0.5, 1.0, 2.0, 3.0):
                if age >= length:
                    break
                updates.append(dataclasses.replace(
                    closed, phase=EpisodePhase.UPDATED, end_s=None,
                    known_at_s=closed.start_s + age, features=dict(features, duration_s=age),
                ))
            out.append(([*updates, closed], kinds[name]))
    return out
