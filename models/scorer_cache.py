"""The numpy scorer of a model file, kept on disk so the next load skips scikit-learn and skops.

Unpacking the shipped skops file imports scikit-learn and skops (about 4 s of a
replay's start); the scorer taken from it (:class:`models.tree_scoring.CalibratedTrees`)
is a few arrays. They are saved once, named by the SHA-256 of the model file they came
from (the manifest's, checked against the file before each load), as ``.npz`` read
without pickle. A missing, unreadable or foreign cache file only means the skops file
is unpacked again. Where: ``$CRAMPWATCH_CACHE``, else ``$XDG_CACHE_HOME/crampwatch``,
else ``~/.cache/crampwatch``.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import numpy as np

from models.persistence import ModelManifest
from models.tree_scoring import CalibratedTrees

# Bump when CalibratedTrees.to_arrays() changes what it writes.
CACHE_FORMAT = "trees-1"

_log = logging.getLogger(__name__)


def cache_dir() -> Path:
    """Return the folder that holds cached scorers (not created here)."""
    env = os.environ.get("CRAMPWATCH_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "crampwatch"


def _path(manifest: ModelManifest) -> Path:
    return cache_dir() / f"model-{manifest.sha256}-{CACHE_FORMAT}.npz"


def cached_scorer(manifest: ModelManifest) -> CalibratedTrees | None:
    """Return the scorer saved for the model file ``manifest`` checked, or None."""
    path = _path(manifest)
    if not manifest.sha256 or not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as arrays:
            scorer = CalibratedTrees.from_arrays(arrays)
    except (OSError, KeyError, ValueError) as exc:
        _log.debug("ignoring the cached scorer %s: %s", path, exc)
        return None
    if tuple(str(c) for c in scorer.classes) != tuple(manifest.classes) or (
            scorer.n_features != len(manifest.feature_names)):
        _log.debug("ignoring the cached scorer %s: not this model's classes or features", path)
        return None
    return scorer


def save_scorer(manifest: ModelManifest, scorer: CalibratedTrees) -> None:
    """Save ``scorer`` for the model file ``manifest`` checked; a folder we cannot write is
    no error (the next load unpacks the skops file again)."""
    path = _path(manifest)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
    except OSError as exc:
        _log.debug("scorer not cached in %s: %s", path.parent, exc)
        return
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **scorer.to_arrays())
        os.replace(tmp, path)  # whole or not at all, also with two replays starting at once
    except OSError as exc:
        _log.debug("scorer not cached in %s: %s", path.parent, exc)
        Path(tmp).unlink(missing_ok=True)
