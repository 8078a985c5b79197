"""`crampwatch train` end to end on a few short nights: a loadable model, card and manifest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crampwatch.cli import main
from models import load_default
from models.learned import LearnedClassifier
from tests.models import cases


@pytest.mark.slow
def test_train_writes_a_checked_model_its_manifest_and_card(tmp_path: Path) -> None:
    out = tmp_path / "tiny.skops"
    argv = ["train", "--nights", "4", "--validation-nights", "1", "--hours", "0.25",
            "--seed", "3", "--no-real-emg", "--out", str(out)]
    assert main(argv) == 0
    manifest = json.loads(out.with_suffix(".json").read_text())
    assert manifest["training"]["night_seeds"] == "30000..30004"
    # Four short nights hold tonic cramps and look-alikes (clonic ones are rarer).
    assert "tonic" in manifest["classes"] and "plm" in manifest["classes"]
    card = out.with_suffix(".md").read_text()
    assert "scikit-learn" in card and manifest["sha256"][:16] in card
    classifier = load_default(out)
    assert isinstance(classifier, LearnedClassifier)
    # Same arguments, same model (the zip container's timestamps differ, the answers not).
    again = tmp_path / "again.skops"
    assert main([*argv[:-1], str(again)]) == 0
    twin = load_default(again)
    for updates, _ in cases.jittered_episodes(seed=5, per_kind=2):
        for update in updates:
            assert twin.probabilities(update) == classifier.probabilities(update)
