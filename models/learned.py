"""The learned classifier: a calibrated scikit-learn model over the fixed feature vector."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from threadpoolctl import ThreadpoolController

from models.classifier import Classification
from models.decision import DecisionParams, decide, decision_age_s
from models.features import feature_vector
from models.persistence import ModelManifest, load_model, read_manifest
from models.rules import RuleClassifier
from models.scorer_cache import cached_scorer, save_scorer
from models.tree_scoring import CalibratedTrees, UnsupportedModel
from sensor.records import EpisodePhase, EpisodeUpdate, EventKind


@dataclass(frozen=True)
class LearnedClassifier:
    """Classifies with a fitted probabilistic estimator; confidence = its calibrated probability.

    One estimator makes both calls: it was trained on snapshots of open episodes
    (``is_final`` = 0) and on closed ones (``is_final`` = 1), so the provisional call
    knows it sees an episode that is still running.

    ``estimator`` is None for a model loaded from its cached scorer (``load``): the
    scorer alone then gives the probabilities, scikit-learn's to the last bit.
    """

    estimator: Any
    manifest: ModelManifest
    decision: DecisionParams = field(default_factory=DecisionParams)
    # The rules' junk-channel signs (mains, clipping, flat line, motion artefact) are
    # physics, not statistics: above this truth value no cramp is called, whatever the
    # model learned. It guards against signal faults the training nights never had.
    artifact_veto: float = 0.9
    rules: RuleClassifier = field(default_factory=RuleClassifier)
    # One episode is scored at a time: OpenMP worker threads only add start-up and
    # contention costs to such a call (2 ms alone, up to 300 ms on a busy 2-core hub).
    _threads: ThreadpoolController = field(
        default_factory=ThreadpoolController, repr=False, compare=False
    )
    # The fitted trees and sigmoids scored with numpy (scikit-learn's probabilities
    # without its per-call checks); made from the estimator when not given, None for an
    # estimator of another kind.
    _scorer: CalibratedTrees | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        scorer = self._scorer
        if self.estimator is not None:
            classes = tuple(str(c) for c in self.estimator.classes_)
            if scorer is None:
                try:
                    scorer = CalibratedTrees(self.estimator)
                except UnsupportedModel:
                    scorer = None
        elif scorer is not None:
            classes = tuple(str(c) for c in scorer.classes)
        else:
            raise ValueError("a LearnedClassifier needs an estimator or its scorer")
        unknown = [c for c in classes if c not in EventKind.__members__.values()]
        if unknown:
            raise ValueError(f"estimator classes {unknown} are not EventKind values")
        if classes != tuple(self.manifest.classes):
            raise ValueError(
                f"estimator classes {classes} differ from the manifest's {self.manifest.classes}"
            )
        object.__setattr__(self, "_scorer", scorer)

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], decision: DecisionParams | None = None
    ) -> LearnedClassifier:
        """Return the classifier in a checked model file (see ``models.persistence``).

        The model's scorer comes from the cache when it holds this file's
        (``models.scorer_cache``); else the skops file is unpacked and its scorer cached.
        """
        decision = decision or DecisionParams()
        manifest = read_manifest(path)
        scorer = cached_scorer(manifest)
        if scorer is not None:
            return cls(None, manifest, decision, _scorer=scorer)
        estimator, manifest = load_model(path)
        classifier = cls(estimator, manifest, decision)
        if classifier._scorer is not None:
            save_scorer(manifest, classifier._scorer)
        return classifier

    @property
    def version(self) -> str:
        return self.manifest.model_version

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Return (n_rows, n_classes) calibrated probabilities of feature rows, classes in
        the manifest's order."""
        if self._scorer is not None:
            return self._scorer.predict_proba(x)
        with self._threads.limit(limits=1, user_api="openmp"):
            return np.asarray(self.estimator.predict_proba(x))

    def probabilities(self, update: EpisodeUpdate) -> dict[EventKind, float]:
        """Return the calibrated probability of each kind (sums to 1)."""
        x = feature_vector(update, self.manifest.feature_names)[None, :]
        proba = self.predict_proba(x)[0]
        return {
            EventKind(str(c)): float(p) for c, p in zip(self.manifest.classes, proba, strict=True)
        }

    def classify(self, update: EpisodeUpdate) -> Classification:
        """Return the call and its calibrated probability (see ``models.decision``)."""
        final = update.phase == EpisodePhase.CLOSED
        call = decide(self.probabilities(update), final, self.decision, decision_age_s(update))
        if call.kind.is_cramp:
            junk = self.rules.trace(update).scores[EventKind.ARTIFACT]
            if junk >= self.artifact_veto:
                return Classification(EventKind.ARTIFACT, junk)
        return call
