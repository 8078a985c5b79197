"""From probabilities to a call: a cramp is called only when likely enough for the phase."""

from __future__ import annotations

import pytest

from models.decision import DecisionParams, decide
from sensor.records import EventKind as K

PARAMS = DecisionParams()


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
