"""The shipped model loads from its cached scorer with the same probabilities, without skops."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

import models
from models.learned import LearnedClassifier
from models.persistence import load_model, read_manifest
from models.scorer_cache import cache_dir, cached_scorer
from sensor.records import EpisodePhase
from tests.models import cases


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CRAMPWATCH_CACHE", str(tmp_path / "cache"))
    return cache_dir()


def _updates() -> list:
    return [dataclasses.replace(u, phase=phase)
            for u in (cases.tonic(), cases.clonic(), *(f() for f in cases.LOOKALIKES.values()))
            for phase in (EpisodePhase.UPDATED, EpisodePhase.CLOSED)]


def test_the_second_load_uses_the_cached_scorer_with_the_same_calls(cache: Path) -> None:
    first = models.load_default()
    assert isinstance(first, LearnedClassifier) and first.estimator is not None
    assert len(list(cache.glob("*.npz"))) == 1
    second = models.load_default()
    assert isinstance(second, LearnedClassifier) and second.estimator is None
    for update in _updates():
        assert second.probabilities(update) == first.probabilities(update)
        assert second.classify(update) == first.classify(update)
    rows = np.random.default_rng(7).normal(0, 10, (500, len(first.manifest.feature_names)))
    rows[rows > 12] = np.nan
    assert np.array_equal(second.predict_proba(rows), first.estimator.predict_proba(rows))


def test_a_damaged_or_foreign_cache_file_is_ignored(cache: Path) -> None:
    models.load_default()
    (path,) = cache.glob("*.npz")
    path.write_bytes(b"not an npz")
    assert cached_scorer(read_manifest(models.DEFAULT_MODEL_PATH)) is None
    assert models.load_default().estimator is not None  # unpacked again, and re-cached
    manifest = read_manifest(models.DEFAULT_MODEL_PATH)
    assert cached_scorer(manifest) is not None
    other = dataclasses.replace(manifest, classes=("tonic", "clonic"))
    assert cached_scorer(other) is None


def test_a_cache_folder_that_cannot_be_written_only_costs_the_cache(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("CRAMPWATCH_CACHE", str(blocker / "cache"))
    clf = models.load_default()
    assert isinstance(clf, LearnedClassifier) and clf._scorer is not None


def test_a_classifier_needs_an_estimator_or_a_scorer() -> None:
    _, manifest = load_model(models.DEFAULT_MODEL_PATH)
    with pytest.raises(ValueError, match="estimator or its scorer"):
        LearnedClassifier(None, manifest)
