"""Calibrated gradient-boosted trees scored with numpy: the fitted model's probabilities, fast.

A shipped model is a ``CalibratedClassifierCV`` (sigmoid) over a
``HistGradientBoostingClassifier``. scikit-learn's ``predict_proba`` checks its input
and starts its thread pool on every call, which costs milliseconds for the one row
an episode update brings. :class:`CalibratedTrees` takes the fitted trees and sigmoid
parameters out once and evaluates them with the same arithmetic, in the same order:
raw score = baseline + each iteration's tree value, added one iteration after the
other; a tree sends a missing value where it learned to and a value ``<=`` its
threshold left; each class's sigmoid ``expit(-(a f + b))``; the classes normalised
by their sum (uniform when all are 0); calibrated folds averaged. So the
probabilities are scikit-learn's, to the last bit on the rows tested.

The scorer is plain arrays (:meth:`CalibratedTrees.to_arrays`, ``from_arrays``), so it
can be kept apart from its skops file and loaded without scikit-learn
(``models.scorer_cache``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np


def _expit(x: np.ndarray) -> np.ndarray:
    """Return 1 / (1 + exp(-x)) elementwise, as scipy.special.expit computes it.

    Its C code divides by 1 + exp(-x) with the C library's exp, which math.exp calls too
    (numpy's own exp may round differently); importing scipy.special costs about a second.
    """
    out = []
    for v in x.ravel().tolist():
        try:
            out.append(1.0 / (1.0 + math.exp(-v)))
        except OverflowError:  # exp(-v) beyond the largest float: C's exp gives inf
            out.append(0.0)
    return np.array(out, dtype=np.float64).reshape(x.shape)


class UnsupportedModel(ValueError):
    """The estimator is not one this scorer reproduces (use its own predict_proba)."""


@dataclass(frozen=True)
class _Forest:
    """All trees of one boosted model as flat node tables (tree after tree)."""

    feature: np.ndarray  # int64, per node
    threshold: np.ndarray  # float64, per node
    missing_left: np.ndarray  # bool, per node
    left: np.ndarray  # int64, flat index of the left child (a leaf points to itself)
    right: np.ndarray  # int64, flat index of the right child (a leaf points to itself)
    value: np.ndarray  # float64, per node (used at leaves)
    roots: np.ndarray  # int64, flat index of each tree's root
    depth: int  # longest root-to-leaf path
    n_iterations: int
    n_per_iteration: int  # one tree per class (one for a binary model)
    baseline: np.ndarray  # (n_per_iteration,)

    @cached_property
    def splits(self) -> tuple[np.ndarray, ...]:
        """Return (node, feature, threshold, missing_left, left, right) of the split nodes."""
        node = np.flatnonzero(self.left != np.arange(self.left.shape[0]))
        return (node, self.feature[node], self.threshold[node], self.missing_left[node],
                self.left[node], self.right[node])


_FOREST_ARRAYS = ("feature", "threshold", "missing_left", "left", "right", "value", "roots",
                  "baseline")
_FOREST_SIZES = ("depth", "n_iterations", "n_per_iteration")


@dataclass(frozen=True)
class _Fold:
    """One calibrated fold: its forest and the sigmoid (a, b) of each class column."""

    forest: _Forest
    columns: np.ndarray  # class index of each decision column
    a: np.ndarray  # sigmoid slope of each decision column
    b: np.ndarray  # sigmoid intercept of each decision column


def _forest(hgb: Any) -> _Forest:
    if type(hgb).__name__ != "HistGradientBoostingClassifier":
        raise UnsupportedModel(f"not a HistGradientBoostingClassifier: {type(hgb).__name__}")
    if getattr(hgb, "_preprocessor", None) is not None:
        raise UnsupportedModel("categorical preprocessing is not reproduced")
    trees = [tree.nodes for iteration in hgb._predictors for tree in iteration]
    n_iter = len(hgb._predictors)
    n_per = len(hgb._predictors[0]) if n_iter else 0
    if not trees:
        raise UnsupportedModel("no fitted trees")
    if any(np.any(nodes["is_categorical"]) for nodes in trees):
        raise UnsupportedModel("categorical splits are not reproduced")
    sizes = np.array([nodes.shape[0] for nodes in trees])
    roots = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    nodes = np.concatenate(trees)
    offset = np.repeat(roots, sizes)
    own = np.arange(nodes.shape[0], dtype=np.int64)
    leaf = nodes["is_leaf"].astype(bool)
    left = np.where(leaf, own, nodes["left"].astype(np.int64) + offset)
    right = np.where(leaf, own, nodes["right"].astype(np.int64) + offset)
    baseline = np.asarray(hgb._baseline_prediction, dtype=np.float64).reshape(-1)
    if baseline.shape[0] != n_per:
        raise UnsupportedModel("baseline and trees per iteration disagree")
    return _Forest(
        feature=nodes["feature_idx"].astype(np.int64),
        threshold=nodes["num_threshold"].astype(np.float64),
        missing_left=nodes["missing_go_to_left"].astype(bool),
        left=left, right=right,
        value=nodes["value"].astype(np.float64),
        roots=roots,
        depth=int(nodes["depth"].max()),
        n_iterations=n_iter, n_per_iteration=n_per, baseline=baseline,
    )


def _raw_scores(forest: _Forest, x: np.ndarray) -> np.ndarray:
    """Return the boosted raw scores, (n_rows, n_per_iteration)."""
    n_rows = x.shape[0]
    if n_rows == 1:
        return _raw_scores_of_row(forest, x[0])[None, :]
    # Every split's direction for every row at once, then each tree walked by lookups.
    v = x[:, forest.feature]
    go_left = np.where(np.isnan(v), forest.missing_left, v <= forest.threshold)
    step = np.where(go_left, forest.left, forest.right)  # (n_rows, n_nodes)
    base = (np.arange(n_rows, dtype=np.int64) * step.shape[1])[:, None]
    flat = step.reshape(-1)
    node = base + forest.roots
    for _ in range(forest.depth):
        node = flat[node] + base
    values = forest.value[node - base].reshape(n_rows, forest.n_iterations,
                                               forest.n_per_iteration)
    # Added iteration by iteration onto the baseline, as scikit-learn does: a running
    # (sequential) sum, not a pairwise one, so the rounding is the same.
    stacked = np.concatenate(
        [np.broadcast_to(forest.baseline, (n_rows, 1, forest.n_per_iteration)), values], axis=1)
    return np.cumsum(stacked, axis=1)[:, -1, :]


def _raw_scores_of_row(forest: _Forest, row: np.ndarray) -> np.ndarray:
    """Return one row's boosted raw scores, (n_per_iteration,), as :func:`_raw_scores` does.

    An episode update is scored alone: only split nodes are compared (a leaf leads to
    itself), a missing value only looked up when the row has one, and the trees walked
    without the offsets of many rows.
    """
    node, feature, threshold, missing_left, left, right = forest.splits
    v = row[feature]
    go_left = v <= threshold  # False for a missing value...
    if np.isnan(row).any():
        go_left |= np.isnan(v) & missing_left  # ...which goes where the tree learned
    step = np.arange(forest.left.shape[0])
    step[node] = np.where(go_left, left, right)
    at = forest.roots
    for _ in range(forest.depth):
        at = step[at]
    values = forest.value[at].reshape(forest.n_iterations, forest.n_per_iteration)
    # The same running sum from the baseline, iteration after iteration.
    return np.cumsum(np.concatenate([forest.baseline[None, :], values]), axis=0)[-1]


class CalibratedTrees:
    """Probabilities of a fitted sigmoid ``CalibratedClassifierCV`` over boosted trees."""

    def __init__(self, estimator: Any) -> None:
        if type(estimator).__name__ != "CalibratedClassifierCV":
            raise UnsupportedModel(f"not a CalibratedClassifierCV: {type(estimator).__name__}")
        self.classes = np.asarray(estimator.classes_)
        n_classes = self.classes.shape[0]
        if n_classes < 3:
            raise UnsupportedModel("binary calibrated models are not reproduced")
        folds = []
        for fold in estimator.calibrated_classifiers_:
            if fold.method != "sigmoid":
                raise UnsupportedModel(f"calibration {fold.method!r} is not reproduced")
            forest = _forest(fold.estimator)
            columns = np.searchsorted(np.sort(fold.classes), fold.estimator.classes_)
            if forest.n_per_iteration != len(fold.calibrators) or len(columns) != len(
                    fold.calibrators):
                raise UnsupportedModel("one calibrator per decision column is needed")
            folds.append(_Fold(forest, columns,
                               np.array([float(c.a_) for c in fold.calibrators]),
                               np.array([float(c.b_) for c in fold.calibrators])))
        if not folds:
            raise UnsupportedModel("no calibrated folds")
        self.n_features = int(estimator.n_features_in_)
        self._folds = tuple(folds)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Return (n_rows, n_classes) calibrated probabilities for float feature rows."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(f"expected rows of {self.n_features} features, got shape {x.shape}")
        n_rows, n_classes = x.shape[0], self.classes.shape[0]
        mean = np.zeros((n_rows, n_classes))
        for fold in self._folds:
            raw = _raw_scores(fold.forest, x)
            proba = np.zeros((n_rows, n_classes))
            proba[:, fold.columns] = _expit(-(fold.a * raw + fold.b))
            denominator = np.sum(proba, axis=1)[:, np.newaxis]
            uniform = np.full_like(proba, 1 / n_classes)
            proba = np.divide(proba, denominator, out=uniform, where=denominator != 0)
            proba[(proba > 1.0) & (proba <= 1.0 + 1e-5)] = 1.0
            mean += proba
        mean /= len(self._folds)
        return mean

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Return the scorer as named arrays (``np.savez`` them: no pickled object)."""
        out = {"classes": self.classes.astype(str), "n_features": np.array(self.n_features),
               "n_folds": np.array(len(self._folds))}
        for i, fold in enumerate(self._folds):
            forest = fold.forest
            for name in _FOREST_ARRAYS:
                out[f"{i}.{name}"] = getattr(forest, name)
            out[f"{i}.sizes"] = np.array([getattr(forest, name) for name in _FOREST_SIZES])
            out[f"{i}.columns"], out[f"{i}.a"], out[f"{i}.b"] = fold.columns, fold.a, fold.b
        return out

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> CalibratedTrees:
        """Return the scorer :meth:`to_arrays` gave; KeyError or ValueError when they do not fit."""
        n_features = int(arrays["n_features"])
        folds = []
        for i in range(int(arrays["n_folds"])):
            sizes = dict(zip(_FOREST_SIZES, (int(v) for v in arrays[f"{i}.sizes"]), strict=True))
            forest = _Forest(**{name: arrays[f"{i}.{name}"] for name in _FOREST_ARRAYS}, **sizes)
            _check_tables(forest, n_features)
            folds.append(_Fold(forest, arrays[f"{i}.columns"], arrays[f"{i}.a"], arrays[f"{i}.b"]))
        if not folds:
            raise ValueError("no calibrated folds")
        scorer = cls.__new__(cls)
        scorer.classes = np.asarray(arrays["classes"])
        scorer.n_features = n_features
        scorer._folds = tuple(folds)
        return scorer


def _check_tables(forest: _Forest, n_features: int) -> None:
    """Raise ValueError unless every node index and feature index of ``forest`` is in range."""
    n_nodes = forest.feature.shape[0]
    per_node = (forest.threshold, forest.missing_left, forest.left, forest.right, forest.value)
    links = np.concatenate([forest.left, forest.right, forest.roots])
    if (any(a.shape != (n_nodes,) for a in per_node) or links.min() < 0
            or links.max() >= n_nodes or forest.feature.min() < 0
            or forest.feature.max() >= n_features):
        raise ValueError("node tables of unequal length or with indices out of range")
