"""Training data and fitting: Detector episodes labelled by ground truth, a calibrated model.

Rows are episode updates. Each episode gives its final (CLOSED) update and snapshots
of its open updates at the ages a provisional call is made at (every update during
the first ``dense_snapshots_s`` seconds, then one per ``sparse_snapshot_every_s``), so
one model makes both the provisional and the final call; ``is_final`` tells it which.
An episode's label is the kind of the ground-truth event it overlaps most on its own
channel; one that overlaps no labelled event is activity no one scored (noise, a
twitch under threshold) and is labelled ``artifact``: not a cramp, never a wake-up.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import StratifiedGroupKFold

from models.classifier import EpisodeClassifier
from models.features import FEATURE_NAMES, feature_matrix
from sensor.records import EpisodePhase, EpisodeUpdate, EventKind


@dataclass(frozen=True)
class TruthSpan:
    """A labelled stretch of a recording: seconds, kind, and the channel labels it shows on.

    An empty ``channels`` means every channel (a label for the whole recording).
    """

    start_s: float
    end_s: float
    kind: EventKind
    channels: tuple[str, ...] = ()

    def shows_on(self, label: str) -> bool:
        return not self.channels or label in self.channels


@dataclass(frozen=True)
class LabelParams:
    """How episodes are matched to ground truth."""

    # Least overlap, as a share of the episode, for an episode to take an event's label;
    # below it the episode is activity no one scored (inference).
    min_overlap_fraction: float = 0.2


@dataclass(frozen=True)
class SnapshotParams:
    """Which open-episode updates become training rows (seconds of episode age)."""

    # Every update while an episode is this young: the provisional decision window
    # (the prompt must fire within ~3 s of a tonic onset, DESIGN.md) and a margin.
    dense_snapshots_s: float = 12.0
    # After that one snapshot per this many seconds, so a 5-minute cramp does not
    # outweigh fifty short look-alikes.
    sparse_snapshot_every_s: float = 10.0


@dataclass(frozen=True)
class TrainParams:
    """Model and fitting settings; ``seed`` makes a run reproducible."""

    seed: int = 0
    # Few, larger boosting steps: every tree costs a Python-level call per prediction and
    # the live pipeline classifies every open episode twice a second.
    max_iter: int = 40
    learning_rate: float = 0.2
    max_leaf_nodes: int = 15
    min_samples_leaf: int = 10
    l2_regularization: float = 1.0
    calibration: str = "sigmoid"  # Platt scaling: stable on small classes (isotonic is not)
    calibration_folds: int = 3
    # Closed episodes weigh as much as all of their provisional snapshots together, at
    # least this many times one snapshot: the final call is the one that is logged.
    final_row_weight: float = 5.0


@dataclass
class TrainingSet:
    """Feature rows with labels, the episode each came from, and whether it is final."""

    x: np.ndarray
    y: np.ndarray  # EventKind values as str
    episode: np.ndarray  # int group id, unique across sources
    final: np.ndarray  # bool
    source: np.ndarray  # str: night or recording name
    feature_names: tuple[str, ...] = FEATURE_NAMES
    # The update behind each row, for classifiers that read updates (the rules).
    updates: tuple[EpisodeUpdate, ...] = ()

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def class_counts(self, final_only: bool = True) -> dict[str, int]:
        """Return the number of rows per class (final rows only by default)."""
        mask = self.final if final_only else np.ones(len(self), bool)
        return dict(sorted(Counter(self.y[mask].tolist()).items()))

    def subset(self, mask: np.ndarray) -> TrainingSet:
        index = np.arange(len(self))[mask]
        kept = tuple(self.updates[i] for i in index) if self.updates else ()
        return TrainingSet(
            self.x[mask],
            self.y[mask],
            self.episode[mask],
            self.final[mask],
            self.source[mask],
            self.feature_names,
            kept,
        )

    @staticmethod
    def concat(parts: Sequence[TrainingSet]) -> TrainingSet:
        parts = [p for p in parts if len(p)]
        if not parts:
            return empty_training_set()
        return TrainingSet(
            np.vstack([p.x for p in parts]),
            np.concatenate([p.y for p in parts]),
            np.concatenate([p.episode for p in parts]),
            np.concatenate([p.final for p in parts]),
            np.concatenate([p.source for p in parts]),
            parts[0].feature_names,
            tuple(u for p in parts for u in p.updates) if all(p.updates for p in parts) else (),
        )


def empty_training_set() -> TrainingSet:
    """Return a training set with no rows."""
    n = len(FEATURE_NAMES)
    return TrainingSet(
        np.empty((0, n)),
        np.empty(0, dtype=object),
        np.empty(0, dtype=np.int64),
        np.empty(0, dtype=bool),
        np.empty(0, dtype=object),
    )


def episode_label(
    start_s: float,
    end_s: float,
    channel_label: str,
    truth: Sequence[TruthSpan],
    params: LabelParams = LabelParams(),
) -> EventKind:
    """Return the kind of the truth event the episode overlaps most on its channel."""
    length = max(end_s - start_s, 1e-3)
    best: tuple[float, EventKind] | None = None
    for span in truth:
        if not span.shows_on(channel_label):
            continue
        overlap = min(end_s, span.end_s) - max(start_s, span.start_s)
        if overlap <= 0:
            continue
        if best is None or overlap > best[0]:
            best = (overlap, EventKind(span.kind))
    if best is None or best[0] / length < params.min_overlap_fraction:
        return EventKind.ARTIFACT
    return best[1]


def group_episodes(updates: Iterable[EpisodeUpdate]) -> dict[int, list[EpisodeUpdate]]:
    """Return each episode's updates in arrival order, keyed by episode id."""
    episodes: dict[int, list[EpisodeUpdate]] = defaultdict(list)
    for u in updates:
        if isinstance(u, EpisodeUpdate):
            episodes[u.episode_id].append(u)
    return dict(episodes)


def snapshots(episode: Sequence[EpisodeUpdate], params: SnapshotParams) -> list[EpisodeUpdate]:
    """Return the open updates of one episode kept as training rows, plus its final update."""
    kept: list[EpisodeUpdate] = []
    next_sparse = params.dense_snapshots_s
    for u in episode:
        if u.phase == EpisodePhase.CLOSED:
            kept.append(u)
            continue
        age = u.known_at_s - u.start_s
        if age <= params.dense_snapshots_s:
            kept.append(u)
        elif age >= next_sparse:
            kept.append(u)
            next_sparse = age + params.sparse_snapshot_every_s
    return kept


def training_rows(
    updates: Iterable[EpisodeUpdate],
    truth: Sequence[TruthSpan],
    source: str,
    first_episode_id: int,
    label_params: LabelParams = LabelParams(),
    snapshot_params: SnapshotParams = SnapshotParams(),
) -> TrainingSet:
    """Return labelled rows for one recording's episodes; episode ids start at first_episode_id.

    Episodes without a CLOSED update (cut off by the recording's end) are labelled by
    their last update's extent and contribute their open snapshots only.
    """
    rows: list[EpisodeUpdate] = []
    labels: list[str] = []
    groups: list[int] = []
    for i, (_, episode) in enumerate(sorted(group_episodes(updates).items())):
        last = episode[-1]
        end = last.end_s if last.end_s is not None else last.known_at_s
        kind = episode_label(last.start_s, end, last.channel.label, truth, label_params)
        for u in snapshots(episode, snapshot_params):
            rows.append(u)
            labels.append(str(kind))
            groups.append(first_episode_id + i)
    x = feature_matrix(rows)
    return TrainingSet(
        x=x,
        y=np.array(labels, dtype=object),
        episode=np.array(groups, dtype=np.int64),
        final=np.array([u.phase == EpisodePhase.CLOSED for u in rows], dtype=bool),
        source=np.array([source] * len(rows), dtype=object),
        updates=tuple(rows),
    )


def row_weights(data: TrainingSet, params: TrainParams) -> np.ndarray:
    """Return per-row weights: classes balanced by episode count, final rows weighted up."""
    weights = np.ones(len(data))
    open_per_episode = Counter(data.episode[~data.final].tolist())
    for i in np.flatnonzero(data.final):
        weights[i] = max(params.final_row_weight, float(open_per_episode.get(data.episode[i], 0)))
    # Balance classes: every class carries the same total weight.
    totals: dict[str, float] = defaultdict(float)
    for label, w in zip(data.y, weights, strict=True):
        totals[label] += w
    mean_total = sum(totals.values()) / len(totals)
    return weights * np.array([mean_total / totals[label] for label in data.y])


class TrainingDataError(ValueError):
    """The labelled rows cannot train a model (too few, or a class too small)."""


def fit_model(data: TrainingSet, params: TrainParams = TrainParams()) -> CalibratedClassifierCV:
    """Return a calibrated gradient-boosting classifier fitted on ``data`` (seeded)."""
    counts = Counter(data.y[data.final].tolist())
    if len(counts) < 2:
        raise TrainingDataError(
            f"need episodes of at least two kinds to train, got {dict(counts)}; "
            "generate more nights"
        )
    small = {k: n for k, n in counts.items() if n < params.calibration_folds}
    if small:
        raise TrainingDataError(
            f"kinds with fewer closed episodes than calibration folds "
            f"({params.calibration_folds}): {small}; generate more nights"
        )
    base = HistGradientBoostingClassifier(
        max_iter=params.max_iter,
        learning_rate=params.learning_rate,
        max_leaf_nodes=params.max_leaf_nodes,
        min_samples_leaf=params.min_samples_leaf,
        l2_regularization=params.l2_regularization,
        early_stopping=False,
        random_state=params.seed,
    )
    # Folds by episode: snapshots of one episode never sit on both sides of a split,
    # or calibration would be fitted on near-copies of training rows.
    folds = StratifiedGroupKFold(
        n_splits=params.calibration_folds, shuffle=True, random_state=params.seed
    )
    splits = list(folds.split(data.x, data.y, groups=data.episode))
    # ensemble=False: one booster fitted on all rows, calibrated on out-of-fold
    # predictions, so a prediction runs one booster, not one per fold.
    model = CalibratedClassifierCV(base, method=params.calibration, cv=splits, ensemble=False)
    model.fit(
        never_all_missing(data.x, splits),
        data.y.astype(str),
        sample_weight=row_weights(data, params),
    )
    # The fold indices were needed for fitting only; the saved model need not carry them.
    model.set_params(cv=params.calibration_folds)
    return model


def never_all_missing(x: np.ndarray, splits: Sequence[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Return x with columns that are all NaN in some training fold set to 0.

    Gradient boosting in scikit-learn cannot bin a column with no known value; such a
    column (a feature the training recordings never had, e.g. no accelerometer) carries
    no information to learn from anyway. At prediction its NaN follows the learned
    default branch.
    """
    x = x.copy()
    for train, _ in [(np.arange(x.shape[0]), None), *splits]:
        empty = np.all(np.isnan(x[train]), axis=0)
        x[:, empty] = np.where(np.isnan(x[:, empty]), 0.0, x[:, empty])
    return x


@dataclass
class EpisodeScores:
    """How a classifier's calls on labelled episodes compare with their labels."""

    n_episodes: int = 0
    final_accuracy: float = math.nan
    cramp_precision: float = math.nan
    cramp_recall: float = math.nan
    cramp_f1: float = math.nan
    cramp_kind_accuracy: float = math.nan  # tonic vs clonic on true cramps called cramps
    false_provisional_cramps: int = 0  # look-alike episodes ever called a cramp while open
    confusion: dict[str, dict[str, int]] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {
            k: (round(v, 4) if isinstance(v, float) and math.isfinite(v) else v)
            for k, v in self.__dict__.items()
        }


def score_episodes(
    classifier: EpisodeClassifier, data: TrainingSet, wake_confidence: float = 0.6
) -> EpisodeScores:
    """Return episode-level scores of ``classifier`` on rows of ``data`` (final and open)."""
    from models.learned import LearnedClassifier  # local: only for the fast matrix path

    if isinstance(classifier, LearnedClassifier):
        proba = classifier.predict_proba(data.x)
        classes = np.array(classifier.manifest.classes)
        pred = classes[np.argmax(proba, axis=1)]
        conf = proba.max(axis=1)
    else:
        if len(data.updates) != len(data):
            raise ValueError("scoring this classifier needs the updates behind the rows")
        calls = [classifier.classify(u) for u in data.updates]
        pred = np.array([str(c.kind) for c in calls])
        conf = np.array([c.confidence for c in calls])
    scores = EpisodeScores()
    final = data.final
    truth_f, pred_f = data.y[final].astype(str), pred[final]
    scores.n_episodes = int(final.sum())
    if scores.n_episodes:
        scores.final_accuracy = float(np.mean(truth_f == pred_f))
    is_cramp = {str(EventKind.TONIC), str(EventKind.CLONIC)}
    t_c = np.isin(truth_f, list(is_cramp))
    p_c = np.isin(pred_f, list(is_cramp))
    tp = int(np.sum(t_c & p_c))
    if p_c.any():
        scores.cramp_precision = tp / int(p_c.sum())
    if t_c.any():
        scores.cramp_recall = tp / int(t_c.sum())
    if tp:
        scores.cramp_f1 = 2 * tp / (int(p_c.sum()) + int(t_c.sum()))
        both = t_c & p_c
        scores.cramp_kind_accuracy = float(np.mean(truth_f[both] == pred_f[both]))
    opened = ~final
    woke = opened & np.isin(pred, list(is_cramp)) & (conf >= wake_confidence)
    lookalike = ~np.isin(data.y.astype(str), list(is_cramp))
    scores.false_provisional_cramps = len(set(data.episode[woke & lookalike].tolist()))
    confusion: dict[str, dict[str, int]] = {}
    for t, p in zip(truth_f, pred_f, strict=True):
        confusion.setdefault(t, {}).setdefault(p, 0)
        confusion[t][p] += 1
    scores.confusion = confusion
    return scores


def describe_counts(counts: Mapping[str, int]) -> str:
    """Return 'kind n, kind n, ...' for a log line."""
    return ", ".join(f"{k} {n}" for k, n in counts.items())
