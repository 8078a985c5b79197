"""Shared test fixtures: paths to shipped data and to artefact output."""

from __future__ import annotations

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
