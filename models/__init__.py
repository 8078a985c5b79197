"""The tonic / clonic / not-a-cramp classifier, its training and its shipped model files."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from models.classifier import Classification, EpisodeClassifier

__all__ = [
    "DEFAULT_CLASSIFIER",
    "DEFAULT_MODEL_PATH",
    "Classification",
    "EpisodeClassifier",
    "load_default",
]

# What replay, evaluate and the live session use unless told otherwise: the rule
# classifier, which generalizes better across held-out families of nights than the
# shipped learned model (leave-one-family-out table in models/MODEL_CARD.md).
DEFAULT_CLASSIFIER = "rules"

# The shipped model (and its manifest cramp_classifier.json beside it), made by
# `crampwatch train`; see models/MODEL_CARD.md.
DEFAULT_MODEL_PATH = Path(__file__).resolve().parent / "cramp_classifier.skops"

_log = logging.getLogger(__name__)


def load_default(
    path: str | os.PathLike[str] | None = None, *, fallback_to_rules: bool = False
) -> EpisodeClassifier:
    """Return the classifier the pipeline uses by default: the shipped learned model.

    A missing, mismatched (scikit-learn/skops/feature versions) or tampered model file
    raises ``models.persistence.ModelFileError`` with what to do; only when the caller
    passes ``fallback_to_rules=True`` is the rule classifier returned instead, with a
    warning that says why.
    """
    from models.learned import LearnedClassifier
    from models.persistence import ModelFileError
    from models.rules import RuleClassifier

    try:
        return LearnedClassifier.load(DEFAULT_MODEL_PATH if path is None else path)
    except ModelFileError as exc:
        if not fallback_to_rules:
            raise
        _log.warning("using the rule classifier instead of the learned model: %s", exc)
        return RuleClassifier()
