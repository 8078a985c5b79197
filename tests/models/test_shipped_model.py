"""The shipped model (models/cramp_classifier.skops) on hand-made episodes."""

from __future__ import annotations

import dataclasses

import pytest

import models
from models.learned import LearnedClassifier
from models.persistence import ModelFileError
from sensor.records import EpisodePhase, EventKind
from tests.models import cases


@pytest.fixture(scope="module")
def shipped() -> LearnedClassifier:
    try:
        clf = models.load_default()
    except ModelFileError as exc:  # pragma: no cover - the shipped file is in the repo
        pytest.fail(f"the shipped model does not load: {exc}")
    assert isinstance(clf, LearnedClassifier)
    return clf


def test_the_shipped_model_calls_a_long_still_calf_contraction_tonic(
    shipped: LearnedClassifier,
) -> None:
    call = shipped.classify(cases.tonic())
    assert call.kind is EventKind.TONIC
    assert call.confidence >= 0.8


def test_the_shipped_model_calls_a_jerky_calf_contraction_clonic(
    shipped: LearnedClassifier,
) -> None:
    assert shipped.classify(cases.clonic()).kind is EventKind.CLONIC


@pytest.mark.parametrize("name", sorted(cases.LOOKALIKES))
def test_the_shipped_model_never_calls_a_lookalike_a_cramp(
    shipped: LearnedClassifier, name: str
) -> None:
    closed = cases.LOOKALIKES[name]()
    assert not shipped.classify(closed).kind.is_cramp
    for age in (1.0, 2.0, 3.0):
        if age >= closed.features["duration_s"]:
            break
        young = dataclasses.replace(
            closed, phase=EpisodePhase.UPDATED, end_s=None, known_at_s=closed.start_s + age,
            features=dict(closed.features, duration_s=age),
        )
        assert not shipped.classify(young).kind.is_cramp, age


def test_the_shipped_model_calls_a_tonic_cramp_within_three_seconds(
    shipped: LearnedClassifier,
) -> None:
    call = shipped.classify(cases.tonic(2.5, final=False))
    assert call.kind is EventKind.TONIC
    assert call.confidence >= 0.6
