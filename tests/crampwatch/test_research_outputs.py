"""Replay's files as researchers' tools read them (MNE, pandas), and arguments checked first."""

from __future__ import annotations

import json
from pathlib import Path

import mne
import pandas as pd
import pytest

from crampwatch.cli import main
from crampwatch.events_tsv import COLUMNS
from crampwatch.synth import NightConfig, generate_night


@pytest.fixture(scope="module")
def night(tmp_path_factory) -> Path:
    """A short labelled night with cramps and look-alikes of several kinds."""
    out = tmp_path_factory.mktemp("night")
    return generate_night(NightConfig(duration_s=240.0, cramps_min=2, cramps_max=2), 11, out,
                          "night-0").edf


@pytest.fixture(scope="module")
def replayed(night, tmp_path_factory) -> tuple[Path, list[dict]]:
    """The night replayed with --edf-out; the output folder and the JSON lines."""
    out = tmp_path_factory.mktemp("out")
    events = out / "events.jsonl"
    assert main(["replay", str(night), "--events", str(events), "--edf-out", str(out / "edf"),
                 "--jobs", "1"]) == 0
    return out / "edf", [json.loads(line) for line in events.read_text().splitlines()]


def test_mne_reads_one_event_id_per_kind_from_the_edf_out(replayed):
    folder, lines = replayed
    kinds = {line["kind"] for line in lines}
    assert len(kinds) >= 2 and len(lines) > len(kinds)  # several events share a kind
    annotations = mne.read_annotations(folder / "night-0.events.edf")
    ours = [d for d in annotations.description if not d.startswith("truth: ")]
    assert sorted(ours) == sorted(line["kind"] for line in lines)
    raw = mne.io.read_raw_edf(folder / "night-0.events.edf", verbose="error")
    _, event_id = mne.events_from_annotations(raw, regexp="^(?!truth: )", verbose="error")
    assert event_id.keys() == kinds  # one event id per kind, not per event


def test_the_edf_out_sidecar_holds_confidence_and_ids_row_per_annotation(replayed):
    folder, lines = replayed
    table = pd.read_csv(folder / "night-0.events.tsv", sep="\t", na_values="n/a")
    assert list(table.columns) == list(COLUMNS)
    by_start = sorted(lines, key=lambda line: line["start_s"])
    assert list(table["event_id"]) == [line["event_id"] for line in by_start]
    assert list(table["trial_type"]) == [line["kind"] for line in by_start]
    assert table["confidence"].tolist() == pytest.approx([x["confidence"] for x in by_start],
                                                         abs=1e-6)
    annotations = mne.read_annotations(folder / "night-0.events.edf")
    ours = sorted((a["onset"], a["description"]) for a in annotations
                  if not a["description"].startswith("truth: "))
    assert [kind for _, kind in ours] == list(table["trial_type"])
    assert [onset for onset, _ in ours] == pytest.approx(list(table["onset"]), abs=1e-3)


def test_events_tsv_is_a_bids_events_file_pandas_reads(night, tmp_path):
    events = tmp_path / "new" / "sub-01_task-sleep_events.tsv"
    assert main(["replay", str(night), "--events", str(events), "--provisional",
                 "--jobs", "1"]) == 0
    table = pd.read_csv(events, sep="\t", na_values="n/a")
    assert list(table.columns[:3]) == ["onset", "duration", "trial_type"]
    assert list(table.columns) == list(COLUMNS)
    assert pd.api.types.is_float_dtype(table["onset"])
    assert pd.api.types.is_float_dtype(table["duration"])
    assert pd.api.types.is_float_dtype(table["confidence"])
    finals = table[table["final"]]
    provisional = table[~table["final"]]
    assert len(finals) and len(provisional)
    assert finals["duration"].notna().all() and (finals["duration"] >= 0).all()
    assert provisional["duration"].isna().all()  # still running when called: n/a
    assert set(table["trial_type"]) <= {"tonic", "clonic", "movement", "plm", "jerk",
                                        "tremor", "walking", "stretch", "artifact"}
    sidecar = json.loads(events.with_suffix(".json").read_text())
    assert set(sidecar) == set(COLUMNS) and sidecar["onset"]["Units"] == "s"


def test_evaluate_scores_an_events_tsv_as_it_scores_the_json_lines(night, tmp_path):
    figures = []
    for name in ("events.jsonl", "events.tsv"):
        assert main(["replay", str(night), "--events", str(tmp_path / name), "--provisional",
                     "--jobs", "1"]) == 0
        assert main(["evaluate", "--truth", str(night.parent), "--events",
                     str(tmp_path / name), "--json", str(tmp_path / f"{name}.json")]) == 0
        figures.append(json.loads((tmp_path / f"{name}.json").read_text()))
    assert figures[0]["truth_cramps"] == 2
    assert figures[0].keys() == figures[1].keys()
    # The JSON lines carry the prompts replay ran; the TSV's provisional rows let evaluate
    # derive the same prompts.
    assert (figures[0].pop("prompt_basis"), figures[1].pop("prompt_basis")) == (
        "replay's reported", "provisional")
    for key, value in figures[0].items():
        if isinstance(value, float):  # the TSV holds times to the microsecond
            assert figures[1][key] == pytest.approx(value, abs=1e-5), key
        else:
            assert figures[1][key] == value, key


@pytest.mark.parametrize("jobs", ["0", "-3"])
@pytest.mark.parametrize("command", ["replay", "evaluate"])
def test_jobs_below_one_are_refused_before_any_work(command, jobs, night, capsys):
    args = ["replay", str(night)] if command == "replay" else [
        "evaluate", "--truth", str(night.parent), "--replay"]
    with pytest.raises(SystemExit) as stop:
        main([*args, "--jobs", jobs])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "argument --jobs: must be 1 or more" in err and f"got {jobs}" in err


def test_output_folders_are_made_before_the_work(night, tmp_path, capsys):
    report = tmp_path / "new" / "deeper" / "report.html"
    events = tmp_path / "ev" / "events.jsonl"
    assert main(["replay", str(night), "--events", str(events), "--jobs", "1",
                 "--provisional"]) == 0
    assert main(["evaluate", "--truth", str(night.parent), "--events", str(events),
                 "--report", str(report)]) == 0
    assert report.is_file() and "<html" in report.read_text()


def test_an_output_place_that_cannot_be_made_is_refused_before_the_work(night, tmp_path,
                                                                        capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert main(["replay", str(night), "--edf-out", str(blocker)]) == 2
    assert "--edf-out" in capsys.readouterr().err
    assert main(["evaluate", "--truth", str(night.parent), "--replay",
                 "--report", str(blocker / "report.html")]) == 2
    err = capsys.readouterr().err
    assert "--report" in err and "replay events" not in err  # refused before replaying


def test_a_markdown_file_given_as_a_recording_is_named_for_what_it_is(tmp_path, capsys):
    notes = tmp_path / "NOTES.md"
    notes.write_text("# Night of 3 Dec\n\ncramp at 02:10\n")
    assert main(["replay", str(notes)]) == 1
    err = capsys.readouterr().err
    assert f"{notes}: not an EDF file: starts with '# Night of 3 Dec" in err
    assert "damaged" not in err


def test_synth_into_a_file_or_an_impossible_folder_is_one_message(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    for out in (blocker, blocker / "nights"):
        assert main(["synth", "--out", str(out), "--minutes", "1"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("crampwatch synth: --out") and "Traceback" not in err
