"""Model files: a skops file (never pickle) plus a JSON manifest, checked before loading.

A shipped model is two files side by side: ``<name>.skops`` holds the fitted estimator
and a copy of its metadata; ``<name>.json`` (the manifest) holds the metadata and the
SHA-256 of the skops file. Loading refuses, with a message that says what to do:

- a manifest or model written for another scikit-learn or skops version, or another
  feature schema (a model fed features in the wrong order answers nonsense);
- a skops file whose bytes no longer match the manifest (changed after training);
- a skops file that asks for any type outside :data:`TRUSTED_TYPES` (skops would
  otherwise have to import and build it: a model file must not be able to run code).

scikit-learn and skops are imported only to write or unpack a skops file (together
about 4 s): the manifest's checks read their installed versions from the package
metadata, so a model whose trees are cached (``models.scorer_cache``) loads without them.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from models.features import FEATURE_NAMES, FEATURE_SCHEMA_VERSION

MANIFEST_FORMAT = "crampwatch-model/1"

# Types a crampwatch model file may contain beyond skops' own safe defaults: the
# calibrated gradient-boosting classifier and its parts. Anything else is refused.
TRUSTED_TYPES: tuple[str, ...] = (
    "sklearn.calibration.CalibratedClassifierCV",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.isotonic.IsotonicRegression",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn._loss.loss.HalfMultinomialLoss",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn._loss.link.MultinomialLogit",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss.link.Interval",
    "sklearn.model_selection._split.StratifiedKFold",
    "sklearn.model_selection._split.StratifiedGroupKFold",
    "sklearn.frozen._frozen.FrozenEstimator",
)


def installed_version(distribution: str) -> str:
    """Return the installed version of a distribution ("scikit-learn"), "" if not installed."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return ""


class ModelFileError(Exception):
    """A model file cannot be used; the message says why and what to do."""


class ModelVersionError(ModelFileError):
    """The model was written for another scikit-learn, skops or feature-schema version."""


class ModelIntegrityError(ModelFileError):
    """The model file changed after it was written, or asks for types it must not hold."""


@dataclass(frozen=True)
class ModelManifest:
    """What a model file is: versions it needs, its features and classes, how it was made."""

    model_version: str
    feature_names: tuple[str, ...]
    classes: tuple[str, ...]
    feature_schema_version: str = FEATURE_SCHEMA_VERSION
    sklearn_version: str = field(default_factory=lambda: installed_version("scikit-learn"))
    skops_version: str = field(default_factory=lambda: installed_version("skops"))
    numpy_version: str = np.__version__
    sha256: str = ""
    training: Mapping[str, Any] = field(default_factory=dict)
    metrics: Mapping[str, Any] = field(default_factory=dict)
    format: str = MANIFEST_FORMAT

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["feature_names"] = list(self.feature_names)
        data["classes"] = list(self.classes)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any], source: str) -> ModelManifest:
        """Return the manifest in ``data``; ModelFileError when a field is missing or wrong."""
        if not isinstance(data, Mapping) or data.get("format") != MANIFEST_FORMAT:
            raise ModelFileError(
                f"{source}: not a {MANIFEST_FORMAT} model manifest; "
                "re-create the model with `crampwatch train`"
            )
        try:
            return cls(
                model_version=str(data["model_version"]),
                feature_names=tuple(str(n) for n in data["feature_names"]),
                classes=tuple(str(c) for c in data["classes"]),
                feature_schema_version=str(data["feature_schema_version"]),
                sklearn_version=str(data["sklearn_version"]),
                skops_version=str(data["skops_version"]),
                numpy_version=str(data.get("numpy_version", "")),
                sha256=str(data["sha256"]),
                training=dict(data.get("training", {})),
                metrics=dict(data.get("metrics", {})),
            )
        except (KeyError, TypeError) as exc:
            raise ModelFileError(
                f"{source}: model manifest lacks or mangles field {exc}; "
                "re-create the model with `crampwatch train`"
            ) from None


def manifest_path(model_path: str | os.PathLike[str]) -> Path:
    """Return the manifest path that belongs to a ``.skops`` model path."""
    return Path(model_path).with_suffix(".json")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _embedded(manifest: ModelManifest) -> dict[str, Any]:
    """Return the metadata stored inside the skops file (everything but the hash)."""
    data = manifest.to_json()
    data.pop("sha256")
    data.pop("metrics")
    data.pop("training")
    return data


def save_model(
    estimator: object, path: str | os.PathLike[str], manifest: ModelManifest
) -> ModelManifest:
    """Return the manifest as written after saving ``estimator`` to ``path`` (.skops) + .json."""
    import skops.io as sio

    path = Path(path)
    if path.suffix != ".skops":
        raise ValueError(f"model path must end in .skops, got {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".skops.tmp")
    sio.dump({"estimator": estimator, "meta": _embedded(manifest)}, tmp)
    untrusted = set(sio.get_untrusted_types(file=tmp)) - set(TRUSTED_TYPES)
    if untrusted:
        tmp.unlink()
        raise ModelIntegrityError(
            f"estimator holds types outside TRUSTED_TYPES: {sorted(untrusted)}; "
            "add them to models.persistence.TRUSTED_TYPES only after checking they run no code"
        )
    os.replace(tmp, path)
    written = ModelManifest(**{**asdict(manifest), "sha256": _sha256(path)})
    manifest_path(path).write_text(json.dumps(written.to_json(), indent=1) + "\n")
    return written


def check_manifest(
    manifest: ModelManifest, source: str, feature_names: Sequence[str] = FEATURE_NAMES
) -> None:
    """Raise ModelVersionError when the manifest does not fit the installed libraries/features."""
    wanted = {
        "scikit-learn": (manifest.sklearn_version, installed_version("scikit-learn")),
        "skops": (manifest.skops_version, installed_version("skops")),
    }
    for lib, (was, now) in wanted.items():
        if was != now:
            raise ModelVersionError(
                f"{source} was written with {lib} {was} but {lib} {now} is installed; "
                f"install {lib}=={was} or retrain with `crampwatch train`"
            )
    if manifest.feature_schema_version != FEATURE_SCHEMA_VERSION or tuple(
        manifest.feature_names
    ) != tuple(feature_names):
        raise ModelVersionError(
            f"{source} expects feature schema {manifest.feature_schema_version} "
            f"({len(manifest.feature_names)} features) but this crampwatch computes schema "
            f"{FEATURE_SCHEMA_VERSION} ({len(feature_names)} features); "
            "retrain with `crampwatch train`"
        )


def read_manifest(path: str | os.PathLike[str]) -> ModelManifest:
    """Return the manifest of a model file once it is checked: versions, features, SHA-256.

    ModelFileError when the model or its manifest is missing, unreadable, written for
    other versions or features, or when the model's bytes differ from the manifest's hash.
    """
    path = Path(path)
    mpath = manifest_path(path)
    if not path.is_file():
        raise ModelFileError(f"model file {path} not found; train one with `crampwatch train`")
    if not mpath.is_file():
        raise ModelFileError(
            f"manifest {mpath} for model {path} not found; a model is only loaded with "
            "the manifest written beside it by `crampwatch train`"
        )
    try:
        raw = json.loads(mpath.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{mpath}: unreadable model manifest ({exc})") from None
    manifest = ModelManifest.from_json(raw, str(mpath))
    check_manifest(manifest, str(path))
    if _sha256(path) != manifest.sha256:
        raise ModelIntegrityError(
            f"{path} does not match the SHA-256 in {mpath.name}: the model file was changed "
            "after it was written; restore it or retrain with `crampwatch train`"
        )
    return manifest


def load_model(path: str | os.PathLike[str]) -> tuple[Any, ModelManifest]:
    """Return (estimator, manifest) from a checked model file; ModelFileError when refused."""
    import skops.io as sio

    manifest = read_manifest(path)
    path = Path(path)
    mpath = manifest_path(path)
    try:
        untrusted = set(sio.get_untrusted_types(file=path)) - set(TRUSTED_TYPES)
    except Exception as exc:  # skops raises assorted errors on a corrupt archive
        raise ModelIntegrityError(f"{path}: not a readable skops file ({exc})") from None
    if untrusted:
        raise ModelIntegrityError(
            f"{path} asks for types a crampwatch model never holds: {sorted(untrusted)}; "
            "refusing to load it"
        )
    try:
        payload = sio.load(path, trusted=list(TRUSTED_TYPES))
    except Exception as exc:
        raise ModelIntegrityError(f"{path}: cannot be loaded by skops ({exc})") from None
    if not isinstance(payload, dict) or "estimator" not in payload or "meta" not in payload:
        raise ModelIntegrityError(f"{path}: not a crampwatch model (no estimator and metadata)")
    if payload["meta"] != _embedded(manifest):
        raise ModelIntegrityError(
            f"{path}: metadata inside the model differs from {mpath.name}; "
            "the pair was not written together: retrain with `crampwatch train`"
        )
    estimator = payload["estimator"]
    classes = tuple(str(c) for c in getattr(estimator, "classes_", ()))
    if classes != manifest.classes:
        raise ModelIntegrityError(
            f"{path}: estimator classes {classes} differ from the manifest's {manifest.classes}"
        )
    return estimator, manifest
