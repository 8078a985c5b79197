"""The learned model scored with numpy gives scikit-learn's probabilities, row for row."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

import models
from models.features import feature_vector
from models.learned import LearnedClassifier
from models.persistence import load_model
from models.tree_scoring import CalibratedTrees, UnsupportedModel
from sensor.records import EpisodePhase, EventKind
from tests.models import cases


@pytest.fixture(scope="module")
def shipped() -> LearnedClassifier:
    """The shipped model unpacked from its skops file (not from the scorer cache)."""
    return LearnedClassifier(*load_model(models.DEFAULT_MODEL_PATH))


def _rows(n: int, n_features: int, seed: int, thresholds: np.ndarray | None = None) -> np.ndarray:
    """Rows over many scales, with missing values, and (if given) values on split thresholds."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 1.0, (n, n_features)) * rng.choice([0.01, 1.0, 10.0, 300.0],
                                                           (n, n_features))
    x[rng.random(x.shape) < 0.15] = np.nan
    if thresholds is not None:
        # A value equal to a threshold goes left: the edge a re-implementation gets wrong.
        on = rng.random(x.shape) < 0.3
        x[on] = rng.choice(thresholds, int(on.sum()))
    return x


def _thresholds(clf: CalibratedClassifierCV) -> np.ndarray:
    hgb = clf.calibrated_classifiers_[0].estimator
    nodes = np.concatenate([t.nodes for it in hgb._predictors for t in it])
    return np.unique(nodes["num_threshold"][~nodes["is_leaf"].astype(bool)])


def test_the_shipped_model_scores_as_scikit_learn_on_many_rows(shipped) -> None:
    scorer = CalibratedTrees(shipped.estimator)
    x = _rows(2000, shipped.estimator.n_features_in_, 1, _thresholds(shipped.estimator))
    want = shipped.estimator.predict_proba(x)
    got = scorer.predict_proba(x)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)
    assert np.array_equal(got, want)  # the same arithmetic in the same order
    assert len(set(np.argmax(want, axis=1))) > 1  # the rows reach several kinds


def test_one_row_at_a_time_is_the_same_as_scikit_learn(shipped) -> None:
    scorer = CalibratedTrees(shipped.estimator)
    x = _rows(40, shipped.estimator.n_features_in_, 2, _thresholds(shipped.estimator))
    for row in x:
        assert np.array_equal(scorer.predict_proba(row[None, :]),
                              shipped.estimator.predict_proba(row[None, :]))


def test_the_classifier_uses_the_scorer_and_calls_the_cases_as_before(shipped) -> None:
    assert shipped._scorer is not None
    for update in (cases.tonic(), cases.clonic(), *(f() for f in cases.LOOKALIKES.values())):
        for phase in (EpisodePhase.UPDATED, EpisodePhase.CLOSED):
            u = dataclasses.replace(update, phase=phase)
            got = shipped.probabilities(u)
            x = feature_vector(u, shipped.manifest.feature_names)[None, :]
            want = shipped.estimator.predict_proba(x)[0]
            assert list(got) == [EventKind(str(c)) for c in shipped.estimator.classes_]
            assert list(got.values()) == [float(p) for p in want]


def _fitted(ensemble: bool, seed: int) -> CalibratedClassifierCV:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(600, 6))
    x[rng.random(x.shape) < 0.1] = np.nan
    y = np.where(np.nan_to_num(x[:, 0]) > 0.5, "tonic",
                 np.where(np.nan_to_num(x[:, 1]) > 0, "clonic", "plm"))
    hgb = HistGradientBoostingClassifier(max_iter=15, max_leaf_nodes=7, random_state=seed)
    return CalibratedClassifierCV(hgb, cv=3, ensemble=ensemble).fit(x, y)


@pytest.mark.parametrize("ensemble", [False, True])
def test_a_freshly_fitted_model_with_missing_values_and_folds_scores_the_same(ensemble) -> None:
    clf = _fitted(ensemble, 3)
    assert len(clf.calibrated_classifiers_) == (3 if ensemble else 1)
    x = _rows(3000, 6, 4, _thresholds(clf))
    np.testing.assert_allclose(CalibratedTrees(clf).predict_proba(x), clf.predict_proba(x),
                               rtol=0, atol=1e-9)


def test_models_it_does_not_reproduce_are_refused_and_scored_by_scikit_learn() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(90, 4))
    y = np.array(["tonic", "clonic", "plm"])[rng.integers(0, 3, 90)]
    logistic = CalibratedClassifierCV(LogisticRegression(), cv=3).fit(x, y)
    with pytest.raises(UnsupportedModel, match="HistGradientBoosting"):
        CalibratedTrees(logistic)
    with pytest.raises(UnsupportedModel, match="CalibratedClassifierCV"):
        CalibratedTrees(HistGradientBoostingClassifier(max_iter=3).fit(x, y))
    two = CalibratedClassifierCV(HistGradientBoostingClassifier(max_iter=3), cv=3).fit(
        x, np.where(x[:, 0] > 0, "tonic", "plm"))
    with pytest.raises(UnsupportedModel, match="binary"):
        CalibratedTrees(two)


def test_rows_of_the_wrong_width_are_refused(shipped) -> None:
    with pytest.raises(ValueError, match="features"):
        CalibratedTrees(shipped.estimator).predict_proba(np.zeros((2, 3)))


def test_one_row_walks_to_the_same_leaves_as_many_rows(shipped) -> None:
    scorer = CalibratedTrees(shipped.estimator)
    x = _rows(600, shipped.estimator.n_features_in_, 8, _thresholds(shipped.estimator))
    x[0] = np.nan  # every split's missing-value side
    x[1] = np.nan_to_num(x[1])  # no missing value at all
    together = scorer.predict_proba(x)
    for i, row in enumerate(x):
        assert np.array_equal(scorer.predict_proba(row[None, :]), together[i : i + 1])
