"""Replay: the live path fed faster. Same events as 20 ms live blocks; the CLI contract."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from crampwatch.cli import main
from crampwatch.pipeline import Pipeline
from crampwatch.recordings import EdfRecording
from crampwatch.replay import ReplayOptions, build_pipeline, event_line, replay_file
from crampwatch.synth import NightConfig, generate_night
from models.rules import RuleClassifier
from sensor.records import Event

REQUIRED = {"file", "start_s", "end_s", "kind", "channel", "confidence"}


@pytest.fixture(scope="module")
def nights(tmp_path_factory) -> Path:
    """Two short labelled nights (2 kHz) in one folder."""
    out = tmp_path_factory.mktemp("nights")
    cfg = NightConfig(duration_s=180.0, cramps_min=1, cramps_max=1)
    for i in range(2):
        generate_night(cfg, 100 + i, out, f"night-{i}")
    return out


def _same(a: dict, b: dict) -> bool:
    """JSON objects equal, NaN-free floats compared to 1e-9."""
    if a.keys() != b.keys():
        return False
    for key in a:
        x, y = a[key], b[key]
        if isinstance(x, dict):
            if not _same(x, y):
                return False
        elif isinstance(x, float) and isinstance(y, float):
            if not math.isclose(x, y, rel_tol=0, abs_tol=1e-9):
                return False
        elif x != y:
            return False
    return True


@pytest.mark.slow
def test_replay_equals_live_20_ms_blocks(nights):
    edf = nights / "night-0.edf"
    replayed = replay_file(edf, ReplayOptions(include_provisional=True, chunk_s=10.0),
                           RuleClassifier()).lines
    with EdfRecording(edf) as rec:
        pipeline: Pipeline = build_pipeline(RuleClassifier(), edf.stem, has_acc=bool(rec.acc))
        live = []
        for block in rec.blocks(0.02):  # the band's 20 ms packets
            live += [o for o in pipeline.process(block) if isinstance(o, Event)]
        live += [o for o in pipeline.finish() if isinstance(o, Event)]
    live_lines = [event_line(str(edf), e) for e in live]
    finals = [line for line in replayed if line["final"]]
    assert finals, "the night holds a cramp and look-alikes: replay must report events"
    assert len(live_lines) == len(replayed)
    assert all(_same(a, b) for a, b in zip(live_lines, replayed, strict=True))


def test_replay_cli_writes_one_json_object_per_final_event_to_stdout(nights, capsys):
    assert main(["replay", str(nights / "night-0.edf"), "--classifier", "rules"]) == 0
    captured = capsys.readouterr()
    lines = [json.loads(line) for line in captured.out.splitlines()]
    assert lines and all(line.keys() >= REQUIRED for line in lines)
    assert all(line["final"] for line in lines)
    for line in lines:
        assert line["file"] == str(nights / "night-0.edf")
        assert 0.0 <= line["confidence"] <= 1.0
        assert 0.0 <= line["start_s"] <= line["end_s"] <= 180.0
        assert line["channel"] in ("EMG R Gastroc", "EMG R Tib Ant")
    assert "replayed 1 recording(s)" in captured.err
    assert "{" not in captured.err  # events never go to the log stream


@pytest.mark.slow
def test_folder_in_parallel_gives_the_serial_result_in_stable_order(nights, tmp_path):
    serial, parallel = tmp_path / "serial.jsonl", tmp_path / "parallel.jsonl"
    assert main(["replay", str(nights), "--events", str(serial), "--jobs", "1",
                 "--classifier", "rules"]) == 0
    assert main(["replay", str(nights), "--events", str(parallel), "--jobs", "2",
                 "--classifier", "rules"]) == 0
    assert serial.read_text() == parallel.read_text()
    files = [json.loads(line)["file"] for line in serial.read_text().splitlines()]
    assert files == sorted(files) and len(set(files)) == 2


def test_edf_out_carries_events_as_annotations(nights, tmp_path):
    events = tmp_path / "e.jsonl"
    assert main(["replay", str(nights / "night-1.edf"), "--events", str(events),
                 "--edf-out", str(tmp_path / "edf"), "--classifier", "rules"]) == 0
    lines = [json.loads(line) for line in events.read_text().splitlines()]
    with EdfRecording(tmp_path / "edf" / "night-1.events.edf") as rec:
        notes = rec.annotations()
        assert rec.emg_labels == ("EMG R Gastroc", "EMG R Tib Ant")
        assert rec.duration_s == pytest.approx(180.0)
    ours = [n for n in notes if n.text.startswith("crampwatch: ")]
    assert len(ours) == len(lines)
    for note, line in zip(sorted(ours, key=lambda n: n.onset_s),
                          sorted(lines, key=lambda x: x["start_s"]), strict=True):
        assert note.onset_s == pytest.approx(line["start_s"], abs=1e-3)
        assert note.text.split()[1] == line["kind"]
    assert any(n.text.startswith("truth: ") for n in notes)  # the source's own annotations kept


def test_replay_of_a_damaged_file_is_one_clear_message(tmp_path, capsys):
    bad = tmp_path / "bad.edf"
    bad.write_bytes(b"not an edf at all")
    assert main(["replay", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "bad.edf" in err and "Traceback" not in err
    assert "1 recording(s) not replayed" in err
