"""crampwatch from a notebook: the README's example runs as written and gives DataFrames."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from pandas.api import types

import crampwatch
from crampwatch.cli import main
from crampwatch.errors import UserError
from crampwatch.frames import EVENT_COLUMNS, OUTCOME_COLUMNS, TRUTH_COLUMNS
from crampwatch.recordings import EdfRecording
from sensor.features import FEATURES

README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_example() -> str:
    text = README.read_text()
    section = text[text.index("### From a notebook"):]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "the README's notebook section has a python example"
    return match.group(1)


@pytest.fixture(scope="module")
def example(tmp_path_factory) -> tuple[Path, dict]:
    """The README's example run in a fresh folder; its folder and its variables."""
    folder = tmp_path_factory.mktemp("notebook")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        namespace: dict = {}
        exec(compile(_readme_example(), "README.md", "exec"), namespace)
    return folder, namespace


def test_the_readme_example_gives_one_row_per_event_of_the_command_line(example, capsys):
    folder, ns = example
    events = ns["events"]
    assert isinstance(events, pd.DataFrame)
    expected = folder / "cli.jsonl"
    assert main(["replay", str(folder / "nights"), "--provisional", "--jobs", "1",
                 "--events", str(expected)]) == 0
    lines = [json.loads(line) for line in expected.read_text().splitlines()]
    assert len(events) == len(lines) > 0
    assert list(events["event_id"]) == [line["event_id"] for line in lines]
    assert list(events["kind"]) == [line["kind"] for line in lines]
    assert events["start_s"].tolist() == pytest.approx([line["start_s"] for line in lines])
    # Features flattened: one column each, none left nested.
    assert list(events.columns[:len(EVENT_COLUMNS)]) == list(EVENT_COLUMNS)
    assert set(events.columns) - set(EVENT_COLUMNS) == set(lines[0]["features"])
    assert set(events.columns) - set(EVENT_COLUMNS) <= set(FEATURES)
    assert "features" not in events.columns
    assert {"recording", "kind", "start_time", "confidence"} <= set(ns["finals"].columns)


def test_the_readme_example_has_the_dtypes_a_notebook_expects(example):
    _, ns = example
    events = ns["events"]
    for column in ("start_s", "end_s", "confidence", "known_at_s", "duration_s",
                   "burst_count", "coact_rel"):
        assert types.is_float_dtype(events[column]), column
    for column in ("file", "recording", "kind", "channel", "event_id", "model_version"):
        assert types.is_string_dtype(events[column]) or events[column].dtype == object, column
    assert types.is_bool_dtype(events["final"])
    assert types.is_datetime64_any_dtype(events["start_time"])
    assert events["final"].any() and not events["final"].all()  # provisional=True
    assert events.loc[events["final"], "end_s"].notna().all()


def test_times_are_on_the_recordings_clock(example):
    folder, ns = example
    events = ns["events"]
    row = events[events["final"]].iloc[0]
    with EdfRecording(folder / "nights" / f"{row['recording']}.edf") as rec:
        start = rec.start_datetime
    assert row["start_time"] == pd.Timestamp(start + timedelta(seconds=row["start_s"]))
    assert row["end_time"] == pd.Timestamp(start + timedelta(seconds=row["end_s"]))


def test_synth_gives_the_truth_it_wrote(example):
    folder, ns = example
    truth = ns["truth"]
    assert list(truth.columns[:len(TRUTH_COLUMNS)]) == list(TRUTH_COLUMNS)
    written = sum(len(json.loads(p.read_text())["events"])
                  for p in (folder / "nights").glob("*.truth.json"))
    assert len(truth) == written > 0
    assert set(truth["recording"]) == {"night-000", "night-001"}
    assert types.is_float_dtype(truth["start_s"])
    assert types.is_datetime64_any_dtype(truth["start_time"])
    assert {"tonic", "clonic"} & set(truth["kind"])


def test_evaluate_gives_one_row_per_cramp_with_the_figures_of_the_command(example, capsys):
    folder, ns = example
    scored = ns["scored"]
    assert list(scored.columns[:len(OUTCOME_COLUMNS)]) == list(OUTCOME_COLUMNS)
    truth = ns["truth"]
    cramps = truth[truth["kind"].isin(["tonic", "clonic"])]
    rows = scored[scored["outcome"].isin(["found", "missed"])]
    assert len(rows) == len(cramps)
    assert types.is_float_dtype(scored["onset_error_s"])
    summary_json = folder / "summary.json"
    events = folder / "events.jsonl"
    events.write_text("".join(
        json.dumps({k: (None if pd.isna(v) else v) for k, v in line.items()
                    if k in EVENT_COLUMNS and not k.endswith("_time")}) + "\n"
        for line in ns["events"].to_dict("records")))
    assert main(["evaluate", "--truth", str(folder / "nights"), "--events", str(events),
                 "--json", str(summary_json)]) == 0
    saved = json.loads(summary_json.read_text())
    for key in ("truth_cramps", "found", "false_wakeups", "f1", "recall"):
        assert scored.attrs["summary"][key] == saved[key], key


def test_a_recording_that_cannot_be_replayed_is_named_or_skipped_with_a_warning(tmp_path):
    bad = tmp_path / "notes.edf"
    bad.write_text("# my notes\n")
    with pytest.raises(UserError, match="not an EDF file"):
        crampwatch.replay(bad)
    with pytest.warns(UserWarning, match="not replayed"):
        frame = crampwatch.replay([bad], skip_unreadable=True)
    assert frame.empty and list(frame.columns) == list(EVENT_COLUMNS)
    assert "not an EDF file" in frame.attrs["not_replayed"][str(bad)]
    with pytest.raises(ValueError, match="jobs"):
        crampwatch.replay(bad, jobs=0)


def test_importing_the_modules_keeps_the_functions_callable():
    import crampwatch.evaluate.inputs
    import crampwatch.replay
    import crampwatch.synth.truth

    assert callable(crampwatch.replay) and callable(crampwatch.replay.replay_file)
    assert callable(crampwatch.evaluate) and callable(crampwatch.evaluate.load_truth)
    assert callable(crampwatch.synth) and callable(crampwatch.synth.generate_night)


def test_the_command_line_needs_no_pandas_of_its_own():
    # scikit-learn loads pandas when it is installed; crampwatch itself only on a call.
    code = ("import sys; sys.modules['pandas'] = None; from crampwatch.cli import main; "
            "import crampwatch; crampwatch.replay, crampwatch.evaluate, crampwatch.synth; "
            "main(['--help'])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "replay" in done.stdout
