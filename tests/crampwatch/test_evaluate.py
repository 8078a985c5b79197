"""Evaluation: the matching rule on hand-made truth and events, the command and its report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crampwatch.cli import main
from crampwatch.evaluate.scoring import DetectedEvent, score_file, summarize
from crampwatch.synth import NightConfig, NightTruth, TruthEvent, generate_night
from sensor.records import EventKind

EIGHT_H = 8 * 3600.0


def _truth(start: float, end: float, kind: EventKind, rel: float | None = None) -> TruthEvent:
    return TruthEvent(start, end, kind, str(kind), "EMG R Gastroc", strength_rel=rel)


def _det(event_id: str, start: float, end: float | None, kind: str, first_call: float | None = None,
         final: bool = True, file: str = "a.edf") -> DetectedEvent:
    return DetectedEvent(file, event_id, start, end, kind, "EMG R Gastroc", 0.8, final, first_call)


TRUTH_A = [
    _truth(100, 200, EventKind.TONIC, rel=20),
    _truth(1000, 1030, EventKind.CLONIC, rel=5),
    _truth(3000, 3002, EventKind.PLM),
    _truth(5000, 5040, EventKind.WALKING),
]
EVENTS_A = [
    _det("a/1", 100.3, 199, "tonic", 102.5),
    _det("a/2", 201, 205, "tonic", 201.5),  # the same cramp, split: correct but not a new find
    _det("a/3", 1000.8, 1029, "tonic", 1003.0),  # found, wrong type
    _det("a/4", 3000.1, 3002, "plm"),
    _det("a/5", 5000, 5040, "movement", 5010.0),  # called cramp while open: a wake-up
    _det("a/6", 7000, None, "clonic", 7004.0, final=False),
    _det("a/6", 7000, 7010, "clonic", 7004.0),  # false alarm
]


def test_scoring_follows_the_matching_rule():
    score = score_file("a", EIGHT_H, TRUTH_A, EVENTS_A)
    assert (score.truth_cramps, score.found, score.cramp_calls) == (2, 2, 4)
    assert (score.correct_calls, score.split_calls, score.type_correct) == (3, 1, 1)
    assert score.false_wakeups == 2
    assert sorted(d.event_id for d in score.false_alarms) == ["a/5", "a/6"]
    assert [round(o.onset_error_s, 3) for o in score.outcomes] == [0.3, 0.8]
    assert [round(o.alert_latency_s, 3) for o in score.outcomes] == [2.5, 3.0]
    assert score.confusion == {
        ("tonic", "tonic"): 1, ("clonic", "tonic"): 1, ("plm", "plm"): 1,
        ("walking", "movement"): 1, ("none", "clonic"): 1,
    }


def test_summary_over_files_counts_misses_and_rates_per_8_hours():
    a = score_file("a", EIGHT_H, TRUTH_A, EVENTS_A)
    b = score_file("b", 2 * 3600.0, [_truth(500, 700, EventKind.TONIC, rel=3)], [])
    s = summarize([a, b])
    assert s.truth_cramps == 3 and s.found == 2
    assert s.recall == pytest.approx(2 / 3)
    assert s.precision == pytest.approx(0.75)
    assert s.f1 == pytest.approx(2 * (2 / 3) * 0.75 / (2 / 3 + 0.75))
    assert s.false_wakeups_per_8h == pytest.approx(2 / 10 * 8)
    assert s.type_accuracy == pytest.approx(0.5)
    assert s.onset_abs_median_s == pytest.approx(0.55)
    assert s.recall_by_kind == {"tonic": 0.5, "clonic": 1.0}
    assert s.recall_weak == pytest.approx(0.5)  # weak: the 5x and the missed 3x cramp
    assert [m.truth.start_s for m in b.misses] == [500]


def test_onset_outside_tolerance_is_not_a_match():
    truth = [_truth(100, 110, EventKind.TONIC)]
    late = score_file("c", 3600, truth, [_det("c/1", 112.5, 130, "tonic", 113.0, file="c.edf")])
    assert late.found == 0 and late.false_wakeups == 1


def test_evaluate_command_prints_figures_and_writes_report_with_plots(tmp_path, capsys):
    night = generate_night(NightConfig(duration_s=240.0, emg_fs_hz=1000.0, every_kind=False,
                                       cramps_min=1, cramps_max=1, rates_per_hour={}),
                           5, tmp_path, "tiny")
    truth = NightTruth.read(night.truth)
    (cramp,) = [e for e in truth.events if e.is_cramp]
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(json.dumps(line) for line in [
        {"file": str(night.edf), "start_s": 20.0, "end_s": 25.0, "kind": "tonic",
         "channel": "EMG R Gastroc", "confidence": 0.7, "final": True, "event_id": "tiny/1"},
    ]) + "\n")
    report = tmp_path / "report.html"
    summary_json = tmp_path / "summary.json"
    code = main(["evaluate", "--truth", str(tmp_path), "--events", str(events),
                 "--report", str(report), "--json", str(summary_json)])
    assert code == 0
    out = capsys.readouterr().out
    assert "cramp recall" in out and "tiny" in out
    summary = json.loads(summary_json.read_text())
    overlapping = cramp.start_s - 1 <= 25.0 and cramp.end_s + 1 >= 20.0
    assert summary["found"] == (1 if overlapping else 0)
    assert summary["false_wakeups"] == (0 if overlapping else 1)
    page = report.read_text()
    # One miss and one false wake-up, each plotted from the recording.
    assert page.count("data:image/png;base64,") == 2
    assert "missed tonic cramp" in page or "missed clonic cramp" in page


def test_evaluate_rejects_events_that_are_not_replay_output(tmp_path, capsys):
    truth = tmp_path / "x.truth.json"
    NightTruth("x.edf", 60.0, [_truth(1, 20, EventKind.TONIC)]).write(truth)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"start": 1}\n')
    assert main(["evaluate", "--truth", str(truth), "--events", str(bad)]) == 2
    assert "line 1: not a replay event" in capsys.readouterr().err


def test_truth_from_edf_annotations(tmp_path):
    from crampwatch.evaluate.inputs import load_truth

    night = generate_night(NightConfig(duration_s=120.0, emg_fs_hz=1000.0, every_kind=False,
                                       cramps_min=1, cramps_max=1, rates_per_hour={}),
                           9, tmp_path, "ann")
    json_truth = NightTruth.read(night.truth)
    (from_edf,) = load_truth([night.edf])
    assert [(e.kind, round(e.start_s, 3)) for e in from_edf.events] == [
        (e.kind, round(e.start_s, 3)) for e in json_truth.events
    ]
    assert Path(from_edf.edf) == night.edf


@pytest.mark.slow
def test_evaluate_replays_the_shipped_synthetic_nights(capsys, tmp_path):
    dataset = Path(__file__).resolve().parents[2] / "datasets" / "synthetic-nights"
    summary_json = tmp_path / "s.json"
    assert main(["evaluate", "--truth", str(dataset), "--replay", "--classifier", "rules",
                 "--jobs", "1", "--json", str(summary_json)]) == 0
    summary = json.loads(summary_json.read_text())
    truth_cramps = sum(
        sum(e.is_cramp for e in NightTruth.read(p).events)
        for p in dataset.glob("*.truth.json")
    )
    assert summary["files"] == 3 and summary["truth_cramps"] == truth_cramps
    assert summary["model_versions"] and "night-b-000" in capsys.readouterr().out
