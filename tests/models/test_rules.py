"""The rule classifier on hand-made episodes: cramps called, look-alikes never woken for."""

from __future__ import annotations

import dataclasses
import math

import pytest

from models.rules import RuleClassifier, RuleParams
from sensor.records import EventKind
from tests.models import cases

RULES = RuleClassifier()
WAKE_CONFIDENCE = 0.6  # crampwatch.prompt.policy.PromptParams.min_confidence


def test_a_long_sustained_calf_contraction_in_a_still_leg_is_a_tonic_cramp() -> None:
    call = RULES.classify(cases.tonic())
    assert call.kind is EventKind.TONIC
    assert call.confidence >= 0.8


def test_a_tonic_cramp_stays_tonic_when_the_sleeper_grabs_the_leg_later() -> None:
    call = RULES.classify(cases.tonic(acc_motion_during_g=0.2))
    assert call.kind is EventKind.TONIC


def test_bursts_with_relaxation_in_bed_are_a_clonic_cramp() -> None:
    call = RULES.classify(cases.clonic())
    assert call.kind is EventKind.CLONIC
    assert call.confidence >= 0.6


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("plm", EventKind.PLM),
        ("hypnic_jerk", EventKind.JERK),
        ("myoclonus", EventKind.JERK),
        ("turning_over", EventKind.MOVEMENT),
        ("tremor", EventKind.TREMOR),
        ("walking", EventKind.WALKING),
        ("stretch", EventKind.STRETCH),
        ("contact_loss", EventKind.ARTIFACT),
    ],
)
def test_each_lookalike_gets_its_own_kind(name: str, expected: EventKind) -> None:
    call = RULES.classify(cases.LOOKALIKES[name]())
    assert call.kind is expected, RULES.trace(cases.LOOKALIKES[name]()).scores


@pytest.mark.parametrize("mode", ["mains", "clip", "flat", "lowfreq"])
def test_every_sign_of_a_junk_channel_is_an_artifact(mode: str) -> None:
    assert RULES.classify(cases.contact_loss(mode)).kind is EventKind.ARTIFACT


@pytest.mark.parametrize("name", sorted(cases.LOOKALIKES))
def test_no_lookalike_wakes_the_sleeper_at_any_age_while_it_runs(name: str) -> None:
    closed = cases.LOOKALIKES[name]()
    length = closed.features["duration_s"]
    for age in (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 5.0, 8.0):
        if age > length:
            break
        # The open episode at this age: same signal, shorter so far.
        update = cases.LOOKALIKES[name]()
        features = dict(update.features, duration_s=age)
        update = dataclasses.replace(
            update, phase=cases.EpisodePhase.UPDATED, end_s=None,
            known_at_s=update.start_s + age, features=features,
        )
        call = RULES.classify(update)
        # Any cramp call on an open episode wakes the sleeper (crampwatch.pipeline).
        assert not call.kind.is_cramp, (age, call)


@pytest.mark.parametrize("age_s", [2.0, 2.5, 3.0])
def test_a_tonic_cramp_is_called_provisionally_within_three_seconds(age_s: float) -> None:
    call = RULES.classify(cases.tonic(age_s, final=False))
    assert call.kind is EventKind.TONIC
    assert call.confidence >= WAKE_CONFIDENCE


def test_provisional_tonic_confidence_grows_with_the_cramps_age() -> None:
    confidences = [
        RULES.classify(cases.tonic(age, final=False)).confidence for age in (1.5, 3, 6, 12)
    ]
    assert confidences == sorted(confidences)
    assert confidences[-1] > confidences[0] + 0.2


def test_a_sustained_calf_contraction_with_the_shin_active_is_not_called_a_cramp() -> None:
    # The shin at two thirds of the calf's relative level: a voluntary co-contraction.
    call = RULES.classify(cases.tonic(3.0, final=False, coact_fraction=0.8, coact_rel=8.0))
    assert not call.kind.is_cramp


def test_a_strong_cramp_whose_crosstalk_lights_up_the_shin_is_still_a_cramp() -> None:
    # Volume conduction: the shin "active" all along, at 4 % of the calf's level.
    crosstalk = dict(coact_fraction=0.95, coact_rel=2.0, amp_rel_median=50.0)
    assert RULES.classify(cases.tonic(**crosstalk)).kind is EventKind.TONIC
    assert RULES.classify(cases.tonic(3.0, final=False, **crosstalk)).kind is EventKind.TONIC


def test_the_shins_shadow_of_a_calf_cramp_is_not_a_cramp() -> None:
    shadow = cases.tonic(channel=cases.SHIN, coact_fraction=1.0, coact_rel=50.0,
                         amp_rel_median=3.0)
    assert RULES.classify(shadow).kind is EventKind.ARTIFACT


def test_a_sustained_contraction_that_starts_with_leg_motion_is_not_called_a_cramp() -> None:
    call = RULES.classify(cases.tonic(3.0, final=False, acc_motion_onset_g=0.3))
    assert not call.kind.is_cramp


def test_a_sustained_shin_contraction_is_not_a_cramp() -> None:
    call = RULES.classify(cases.tonic(channel=cases.SHIN))
    assert not call.kind.is_cramp


def test_a_short_sustained_calf_burst_once_closed_is_not_a_tonic_cramp() -> None:
    # 4 s: shorter than the 10 s tonic threshold, within the 0.5-10 s PLM range.
    assert RULES.classify(cases.tonic(4.0)).kind is not EventKind.TONIC


@pytest.mark.parametrize("channel", [cases.CALF_MEDIAL_LEFT, cases.CALF_LATERAL_LEFT])
def test_either_gastrocnemius_head_on_either_leg_is_a_calf(channel: cases.ChannelInfo) -> None:
    # Role left unset: the muscle alone says calf.
    unset = dataclasses.replace(channel, role=cases.Role.OTHER)
    assert RULES.classify(cases.tonic(channel=unset)).kind is EventKind.TONIC
    assert RULES.classify(cases.clonic(channel=channel)).kind is EventKind.CLONIC


def test_without_an_accelerometer_a_clear_tonic_cramp_is_still_called() -> None:
    no_acc = {k: math.nan for k in cases.QUIET if k.startswith("acc_")}
    call = RULES.classify(cases.tonic(**no_acc))
    assert call.kind is EventKind.TONIC


def test_confidence_is_low_when_two_rules_fit_equally() -> None:
    # A calf contraction of 10 s exactly: tonic and PLM thresholds meet.
    edge = RULES.classify(cases.tonic(10.0))
    clear = RULES.classify(cases.tonic(150.0))
    assert edge.confidence < clear.confidence - 0.3


def test_same_update_same_call() -> None:
    update = cases.clonic()
    assert RULES.classify(update) == RULES.classify(update)


def test_rule_numbers_are_checked() -> None:
    with pytest.raises(ValueError, match="tonic_min_duration_s"):
        RuleParams(tonic_min_duration_s=-1.0)
    with pytest.raises(ValueError, match="increasing ages"):
        RuleParams(provisional_tonic_confidence=((3.0, 0.5), (2.0, 0.7)))


def test_an_unsure_provisional_cramp_is_not_called_a_cramp_yet() -> None:
    # 1.2 s of calf activity: too young to wake for; called a look-alike for now.
    young = RULES.classify(cases.tonic(1.2, final=False))
    assert not young.kind.is_cramp


@pytest.mark.parametrize("pull_g", [0.02, 0.03, 0.04])
def test_the_cramps_own_pull_on_the_foot_does_not_delay_its_call(pull_g: float) -> None:
    # The calf pulls the foot down as it takes hold: the leg jolts a few hundredths of a g.
    jolt = dict(acc_motion_onset_g=pull_g, acc_motion_during_g=pull_g)
    call = RULES.classify(cases.tonic(2.5, final=False, **jolt))
    assert call.kind is EventKind.TONIC
    assert call.confidence >= WAKE_CONFIDENCE


def test_a_calf_contraction_on_a_leg_that_keeps_moving_is_not_called_while_it_runs() -> None:
    # A quiet start, then the whole leg moves on (a turn taking shape), the shin quiet.
    call = RULES.classify(cases.tonic(18.0, final=False, acc_motion_onset_g=0.05,
                                      acc_motion_during_g=0.2))
    assert not call.kind.is_cramp
    still = RULES.classify(cases.tonic(18.0, final=False, acc_motion_onset_g=0.05))
    assert still.kind.is_cramp


def test_a_cramp_unsure_between_tonic_and_clonic_still_wakes() -> None:
    # Relaxing for a fifth of its time: the kinds tie, but a cramp it is either way.
    update = cases.tonic(6.0, final=False, alone_s=5.0, alone_dip_fraction=0.2)
    trace = RULES.trace(update)
    assert trace.scores[EventKind.TONIC] < 0.6 and trace.scores[EventKind.CLONIC] < 0.6
    call = RULES.classify(update)
    assert call.kind.is_cramp
    assert call.confidence >= WAKE_CONFIDENCE


def test_without_an_accelerometer_the_calf_must_go_on_alone_for_longer() -> None:
    # A calf contraction that started with the shin (no quiet onset), then alone for 6 s.
    after_start = dict(coact_fraction=0.6, coact_rel=8.0, alone_s=6.0, recent_amp_rel=12.0,
                       recent_motion_g=0.01)
    assert RULES.classify(cases.tonic(20.0, final=False, **after_start)).kind.is_cramp
    no_acc = {**after_start, **dict.fromkeys(
        ("recent_motion_g", "acc_upright", "acc_motion_onset_g", "acc_motion_pre_g",
         "acc_motion_during_g", "acc_rhythm_hz", "acc_rhythm_strength"), math.nan)}
    assert not RULES.classify(cases.tonic(20.0, final=False, **no_acc)).kind.is_cramp
    no_acc["alone_s"] = 9.0
    assert RULES.classify(cases.tonic(20.0, final=False, **no_acc)).kind.is_cramp


def test_without_an_accelerometer_calf_and_shin_taking_turns_is_walking() -> None:
    # Three calf bursts at step rate, 3 s in, on a night without an accelerometer.
    no_acc = dict.fromkeys(
        ("recent_motion_g", "acc_upright", "acc_motion_onset_g", "acc_motion_pre_g",
         "acc_motion_during_g", "acc_rhythm_hz", "acc_rhythm_strength"), math.nan)
    bursts = dict(burst_count=3.0, burst_rate_hz=0.9, burst_duration_median_s=0.5,
                  burst_duration_max_s=0.6, gap_median_s=0.6, interval_cv=0.35,
                  duty_cycle=0.45, coact_fraction=0.25, coact_rel=4.0,
                  onset_coact_fraction=0.05, alternation=0.3, alone_s=1.0,
                  recent_amp_rel=12.0)
    # The shin firing while the calf rests (each step's swing): walking, not a cramp.
    steps = RULES.classify(cases.clonic(3.3, final=False, **no_acc, **bursts,
                                        other_alone_fraction=0.3))
    assert steps.kind is EventKind.WALKING
    # The same calf bursts with the shin quiet between them: a clonic cramp.
    jerks = RULES.classify(cases.clonic(3.3, final=False, **no_acc, **bursts,
                                        other_alone_fraction=0.0))
    assert jerks.kind is EventKind.CLONIC
    # A calf that goes on alone long after is a cramp whose sleeper pulls the toes up
    # between its jerks.
    persisting = {**bursts, "alone_s": 9.0}
    assert RULES.classify(cases.clonic(12.0, final=False, **no_acc, **persisting,
                                       other_alone_fraction=0.3)).kind.is_cramp


def test_without_an_accelerometer_both_muscles_at_the_start_is_voluntary() -> None:
    # A walk or stretch: both muscles from the start, the shin thinning out later.
    later_alone = dict(coact_fraction=0.3, coact_rel=3.0, alone_s=0.0, recent_amp_rel=12.0)
    no_acc = dict.fromkeys(
        ("recent_motion_g", "acc_upright", "acc_motion_onset_g", "acc_motion_pre_g",
         "acc_motion_during_g", "acc_rhythm_hz", "acc_rhythm_strength"), math.nan)
    together = dict(onset_coact_fraction=0.9)
    calf_first = dict(onset_coact_fraction=0.05)
    assert not RULES.classify(
        cases.tonic(20.0, final=False, **later_alone, **no_acc, **together)).kind.is_cramp
    # The calf alone at the start is a cramp's onset ...
    assert RULES.classify(
        cases.tonic(20.0, final=False, **later_alone, **no_acc, **calf_first)).kind.is_cramp
    # ... and one that began with both goes on as a cramp once the calf persists alone.
    persisting = {**later_alone, "alone_s": 9.0}
    assert RULES.classify(
        cases.tonic(20.0, final=False, **persisting, **no_acc, **together)).kind.is_cramp
    # With an accelerometer a still onset says it: a foot pointed in bed sets cramps off.
    still = dict(recent_motion_g=0.01, acc_motion_onset_g=0.01, acc_motion_pre_g=0.01,
                 acc_motion_during_g=0.01, acc_upright=0.0)
    assert RULES.classify(
        cases.tonic(20.0, final=False, **later_alone, **still, **together)).kind.is_cramp


def test_a_clonic_cramp_whose_jerks_never_relax_to_rest_is_called_while_it_runs() -> None:
    # Active 84 % of the time, its bursts merging and splitting at the onset threshold,
    # relaxing a third of the time it has been alone: neither a run of separate bursts
    # with rest between (duty too high) nor one unbroken contraction.
    update = cases.clonic(20.0, final=False, burst_count=12.0, duty_cycle=0.84,
                          burst_duration_median_s=1.4, burst_duration_max_s=4.0,
                          alone_s=15.0, alone_dip_fraction=0.32, recent_amp_rel=12.0)
    call = RULES.classify(update)
    assert call.kind is EventKind.CLONIC
    assert call.confidence >= WAKE_CONFIDENCE


NO_ACC = dict.fromkeys(
    ("recent_motion_g", "acc_upright", "acc_motion_onset_g", "acc_motion_pre_g",
     "acc_motion_during_g", "acc_rhythm_hz", "acc_rhythm_strength"), math.nan)


@pytest.mark.parametrize("acc", [{}, NO_ACC], ids=["with_acc", "without_acc"])
def test_a_calf_pulsing_faster_than_a_cramp_jerks_is_a_tremor_not_a_tonic_hold(
        acc: dict[str, float]) -> None:
    # Tremor bursts at 3 Hz merge into one "sustained" burst in the 100 ms envelope; only
    # the envelope's own rhythm, over the time the calf was active alone, tells them apart.
    running = dict(recent_amp_rel=8.0, alone_s=3.0, **acc)
    steady = cases.tonic(3.0, final=False, alone_pulse_strength=0.3, **running)
    assert RULES.classify(steady).kind.is_cramp
    pulsing = cases.tonic(3.0, final=False, alone_pulse_strength=0.7, **running)
    call = RULES.classify(pulsing)
    assert call.kind is EventKind.TREMOR
    closed = cases.tonic(14.0, alone_s=12.0, alone_pulse_strength=0.68, **acc)
    assert RULES.classify(closed).kind is EventKind.TREMOR
    held = cases.tonic(14.0, alone_s=12.0, alone_pulse_strength=0.2, **acc)
    assert RULES.classify(held).kind is EventKind.TONIC


def test_a_moment_of_pulse_does_not_hold_back_a_cramp_call() -> None:
    # The last 3 s of a real contraction can reach a 2-4 Hz rhythm by chance; only a pulse
    # that held over the calf's time alone is a tremor.
    running = dict(recent_amp_rel=8.0, alone_s=3.0, recent_pulse_strength=0.7,
                   alone_pulse_strength=0.15)
    assert RULES.classify(cases.tonic(3.0, final=False, **running)).kind.is_cramp
