"""The learned classifier: fitting is reproducible, model files are checked before use."""

from __future__ import annotations

import json
import logging
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio

import models
from models.features import FEATURE_NAMES
from models.learned import LearnedClassifier
from models.persistence import (
    ModelFileError,
    ModelIntegrityError,
    ModelManifest,
    ModelVersionError,
    load_model,
    manifest_path,
    save_model,
)
from models.rules import RuleClassifier
from models.training import TrainingSet, TrainParams, TruthSpan, fit_model, training_rows
from sensor.records import EventKind
from tests.models import cases

TINY = TrainParams(seed=3, max_iter=30, max_leaf_nodes=7, min_samples_leaf=3)


def tiny_set(seed: int) -> TrainingSet:
    """Return labelled rows from jittered hand-made episodes, truth spans per episode."""
    parts = []
    for i, (updates, kind) in enumerate(cases.jittered_episodes(seed)):
        closed = updates[-1]
        truth = [TruthSpan(closed.start_s, closed.end_s, EventKind(kind))]
        parts.append(training_rows(updates, truth, f"case-{i}", first_episode_id=1000 * i))
    return TrainingSet.concat(parts)


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tiny_set(seed=1)
    model = fit_model(data, TINY)
    path = tmp_path_factory.mktemp("model") / "tiny.skops"
    manifest = ModelManifest(
        model_version="test-1", feature_names=FEATURE_NAMES,
        classes=tuple(str(c) for c in model.classes_),
    )
    save_model(model, path, manifest)
    return path


def copy_model(src: Path, dst_dir: Path) -> Path:
    dst = dst_dir / src.name
    dst.write_bytes(src.read_bytes())
    manifest_path(dst).write_bytes(manifest_path(src).read_bytes())
    return dst


def test_training_is_reproducible_with_the_same_seed() -> None:
    data = tiny_set(seed=1)
    a = fit_model(data, TINY).predict_proba(data.x)
    b = fit_model(data, TINY).predict_proba(data.x)
    np.testing.assert_array_equal(a, b)


def test_the_learned_model_calls_the_hand_made_cases(fitted: Path) -> None:
    clf = LearnedClassifier.load(fitted)
    held_out = cases.jittered_episodes(seed=99, per_kind=3)
    correct = sum(clf.classify(updates[-1]).kind == kind for updates, kind in held_out)
    assert correct / len(held_out) >= 0.9
    for updates, _ in held_out:
        call = clf.classify(updates[-1])
        assert 0.0 <= call.confidence <= 1.0


def test_a_saved_model_loads_back_with_the_same_answers(fitted: Path) -> None:
    clf = LearnedClassifier.load(fitted)
    update = cases.tonic()
    again = LearnedClassifier.load(fitted)
    assert clf.classify(update) == again.classify(update)
    assert clf.version == "test-1"
    probs = clf.probabilities(update)
    assert abs(sum(probs.values()) - 1.0) < 1e-9


def test_a_model_written_with_another_scikit_learn_is_refused(
    fitted: Path, tmp_path: Path
) -> None:
    path = copy_model(fitted, tmp_path)
    data = json.loads(manifest_path(path).read_text())
    data["sklearn_version"] = "0.24.2"
    manifest_path(path).write_text(json.dumps(data))
    with pytest.raises(ModelVersionError, match=r"scikit-learn 0\.24\.2.*crampwatch train"):
        load_model(path)


def test_a_model_written_with_another_skops_is_refused(fitted: Path, tmp_path: Path) -> None:
    path = copy_model(fitted, tmp_path)
    data = json.loads(manifest_path(path).read_text())
    data["skops_version"] = "0.1.0"
    manifest_path(path).write_text(json.dumps(data))
    with pytest.raises(ModelVersionError, match=r"skops 0\.1\.0"):
        load_model(path)


def test_a_model_for_another_feature_order_is_refused(fitted: Path, tmp_path: Path) -> None:
    path = copy_model(fitted, tmp_path)
    data = json.loads(manifest_path(path).read_text())
    data["feature_names"] = list(reversed(data["feature_names"]))
    manifest_path(path).write_text(json.dumps(data))
    with pytest.raises(ModelVersionError, match="feature schema"):
        load_model(path)


def test_a_tampered_model_file_is_refused(fitted: Path, tmp_path: Path) -> None:
    path = copy_model(fitted, tmp_path)
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(ModelIntegrityError, match="changed after it was written"):
        load_model(path)


def test_a_tampered_file_with_a_matching_hash_asking_for_code_is_refused(
    fitted: Path, tmp_path: Path
) -> None:
    # Someone rewrites both files: the skops file now holds a type no model holds.
    path = copy_model(fitted, tmp_path)
    manifest = ModelManifest.from_json(json.loads(manifest_path(path).read_text()), "test")
    from models.persistence import _embedded, _sha256

    sio.dump({"estimator": Fraction(1, 3), "meta": _embedded(manifest)}, path)
    data = manifest.to_json()
    data["sha256"] = _sha256(path)
    manifest_path(path).write_text(json.dumps(data))
    with pytest.raises(ModelIntegrityError, match=r"fractions\.Fraction"):
        load_model(path)


def test_a_model_without_its_manifest_is_refused(fitted: Path, tmp_path: Path) -> None:
    path = copy_model(fitted, tmp_path)
    manifest_path(path).unlink()
    with pytest.raises(ModelFileError, match="manifest"):
        load_model(path)


def test_load_default_raises_unless_asked_to_fall_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    missing = tmp_path / "none.skops"
    with pytest.raises(ModelFileError, match="not found"):
        models.load_default(missing)
    with caplog.at_level(logging.WARNING):
        clf = models.load_default(missing, fallback_to_rules=True)
    assert isinstance(clf, RuleClassifier)
    assert "rule classifier" in caplog.text


def test_training_refuses_a_set_with_one_kind() -> None:
    data = tiny_set(seed=2)
    only_tonic = data.subset(data.y == "tonic")
    with pytest.raises(ValueError, match="at least two kinds"):
        fit_model(only_tonic, TINY)
