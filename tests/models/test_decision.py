"""From probabilities to a call: a cramp is called only when likely enough for the phase."""

from __future__ import annotations

from dataclasses import replace

import pytest

from models.decision import DecisionParams, decide, decision_age_s
from models.rules import RuleClassifier
from sensor.records import EventKind as K
from tests.models import cases

PARAMS = DecisionParams()
RULES = RuleClassifier()


def test_a_likely_cramp_is_called_with_the_probability_of_either_kind() -> None:
    call = decide({K.TONIC: 0.5, K.CLONIC: 0.3, K.PLM: 0.2}, final=False, params=PARAMS)
    assert call.kind is K.TONIC
    assert call.confidence == pytest.approx(0.8)


def test_an_open_episode_below_the_wake_floor_is_called_its_best_lookalike() -> None:
    call = decide({K.TONIC: 0.55, K.PLM: 0.3, K.MOVEMENT: 0.15}, final=False, params=PARAMS)
    assert call.kind is K.PLM
    assert call.confidence == pytest.approx(0.3)


def test_a_closed_episode_more_likely_a_cramp_than_not_is_a_cramp() -> None:
    call = decide({K.CLONIC: 0.55, K.TREMOR: 0.45}, final=True, params=PARAMS)
    assert call.kind is K.CLONIC


def test_floors_outside_0_1_are_refused() -> None:
    with pytest.raises(ValueError, match="provisional_min_cramp"):
        DecisionParams(provisional_min_cramp=1.5)


def test_no_cramp_call_on_an_episode_as_young_as_a_jerk() -> None:
    likely = {K.TONIC: 0.9, K.JERK: 0.1}
    assert decide(likely, final=False, params=PARAMS, age_s=0.3).kind is K.JERK
    assert decide(likely, final=False, params=PARAMS, age_s=1.5).kind is K.TONIC


def test_no_final_cramp_call_on_an_episode_shorter_than_any_cramp() -> None:
    likely = {K.CLONIC: 0.7, K.JERK: 0.3}
    assert decide(likely, final=True, params=PARAMS, age_s=1.8).kind is K.JERK
    assert decide(likely, final=True, params=PARAMS, age_s=20.0).kind is K.CLONIC


def test_an_open_episode_is_as_old_as_its_muscle_activity_not_its_wait_for_quiet() -> None:
    # A 0.1 s jerk, then quiet: at 1.1 s the episode is still open (3 s of quiet end it),
    # but the muscle was active for 0.1 s only: too young for a cramp call.
    jerk = cases.make_update(0.1, final=False, duty_cycle=1.0)
    jerk = replace(jerk, known_at_s=jerk.start_s + 1.1)
    assert decision_age_s(jerk) == pytest.approx(0.1)
    assert RULES.classify(jerk).kind is not K.TONIC
    # A tonic cramp active throughout its first 2 s is 2 s old.
    assert decision_age_s(cases.tonic(2.0, final=False, duty_cycle=1.0)) == pytest.approx(2.0)


def test_a_closed_episode_is_as_old_as_it_lasted() -> None:
    closed = cases.tonic(12.0, final=True, duty_cycle=0.5)
    assert decision_age_s(closed) == pytest.approx(12.0)
