"""Shared test fixtures: paths to shipped data and to artefact output."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
DATASETS = REPO_ROOT / "datasets"
ARTIFACTS = REPO_ROOT / "artifacts"


@pytest.fixture(scope="session")
def uci_emg_dir() -> Path:
    """The real lower-limb EMG recordings (UCI, CC BY 4.0) shipped in datasets/."""
    return DATASETS / "uci-lower-limb-emg"


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where tests save things a person may want to look at (screenshots, plots)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session", autouse=True)
def _scorer_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Models' scorer cache (models.scorer_cache) in a folder of the test session, not ~/.cache;
    set in the environment so command-line children use it too."""
    os.environ["CRAMPWATCH_CACHE"] = str(tmp_path_factory.mktemp("scorer-cache"))
