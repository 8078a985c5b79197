"""Evaluation: the matching rule, the prompt-policy wake-ups, truth formats, warnings and
groups, on small hand-made truth and event files; the command and its report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crampwatch.cli import main
from crampwatch.evaluate import evaluate, load_events, load_truth, summarize_by
from crampwatch.evaluate.scoring import DetectedEvent, score_file, summarize
from crampwatch.evaluate.wakeups import FINAL_ONLY, PROVISIONAL, REPORTED, replay_prompts
from crampwatch.prompt.policy import PromptParams
from crampwatch.synth import NightConfig, NightTruth, TruthEvent, generate_night
from sensor.records import EventKind

EIGHT_H = 8 * 3600.0
# Spelled out so the expected numbers below do not move when the defaults do.
POLICY = PromptParams(min_confidence=0.6, min_duration_s=2.0, min_interval_s=30.0,
                      max_prompts_per_hour=6)


def _truth(start: float, end: float, kind: EventKind, rel: float | None = None) -> TruthEvent:
    return TruthEvent(start, end, kind, str(kind), "EMG R Gastroc", strength_rel=rel)


def _det(event_id: str, start: float, end: float | None, kind: str, first_call: float | None = None,
         final: bool = True, file: str = "a.edf", confidence: float = 0.8,
         known_at: float | None = None) -> DetectedEvent:
    return DetectedEvent(file, event_id, start, end, kind, "EMG R Gastroc", confidence, final,
                         first_call, known_at)


def _episode(event_id: str, start: float, calls: list[tuple[float, str, float]],
             end: float, final_kind: str, file: str = "a.edf") -> list[DetectedEvent]:
    """Return the provisional calls (known at s, kind, confidence) and the final event."""
    first = next((t for t, k, _ in calls if k in ("tonic", "clonic")), None)
    out = [_det(event_id, start, None, k, first, False, file, c, t) for t, k, c in calls]
    last_conf = calls[-1][2] if calls else 0.9
    out.append(_det(event_id, start, end, final_kind, first, True, file, last_conf, end))
    return out


# -- one call per true cramp --------------------------------------------------------------

TRUTH_A = [
    _truth(100, 200, EventKind.TONIC, rel=20),
    _truth(1000, 1030, EventKind.CLONIC, rel=5),
    _truth(3000, 3002, EventKind.PLM),
]
CALLS_A = [
    _det("a/1", 100.5, 150, "tonic"),  # overlaps 49.5 s: the match
    _det("a/2", 151, 199, "clonic"),  # the same cramp again: a fragment
    _det("a/3", 1000.8, 1029, "tonic"),  # found, wrong kind
    _det("a/4", 3000.1, 3002, "plm"),
    _det("a/5", 4000, 4010, "clonic"),  # a cramp call on no cramp
]


def test_extra_calls_on_one_cramp_are_fragments_against_precision():
    score = score_file("a", EIGHT_H, TRUTH_A, CALLS_A, prompt=POLICY)
    assert (score.truth_cramps, score.found, score.cramp_calls) == (2, 2, 4)
    assert (score.fragments, score.false_calls, score.type_correct) == (1, 1, 1)
    assert [o.matched_kind for o in score.outcomes] == ["tonic", "tonic"]
    assert [round(o.onset_error_s, 3) for o in score.outcomes] == [0.5, 0.8]
    s = summarize([score])
    assert s.recall == 1.0
    assert s.precision == pytest.approx(0.5)  # (4 calls - 1 false - 1 fragment) / 4
    assert s.f1 == pytest.approx(2 / 3)
    assert s.kind_accuracy == pytest.approx(0.5)
    assert s.onset_abs_median_s == pytest.approx(0.65)
    assert s.onset_abs_max_s == pytest.approx(0.8)
    assert s.false_calls_per_8h == pytest.approx(1.0)
    assert score.confusion == {
        ("tonic", "tonic"): 1, ("clonic", "tonic"): 1, ("plm", "plm"): 1,
        ("none", "clonic"): 1,
    }


def test_any_overlap_matches_by_default_and_tolerance_widens_it():
    truth = [_truth(100, 110, EventKind.TONIC)]
    late = [_det("c/1", 110.5, 130, "tonic", file="c.edf")]
    assert score_file("c", 3600, truth, late).found == 0
    assert score_file("c", 3600, truth, late, tolerance_s=0.5).found == 1
    touching = [_det("c/2", 110.0, 130, "tonic", file="c.edf")]
    assert score_file("c", 3600, truth, touching).found == 0


# -- false wake-ups: the live prompt policy ---------------------------------------------

def _night_b() -> tuple[list[TruthEvent], list[DetectedEvent]]:
    truth = [
        _truth(100, 200, EventKind.TONIC),
        _truth(1000, 1030, EventKind.CLONIC),
        _truth(720, 760, EventKind.TONIC),
    ]
    events = [
        # True cramp at 100: weak clonic call, then confident tonic calls.
        *_episode("b/1", 100.4, [(100.9, "clonic", 0.5), (101.4, "tonic", 0.7),
                                 (101.9, "tonic", 0.7)], 199, "tonic"),
        # True cramp at 1000: the policy ticks at start + 2 s between sparse calls.
        *_episode("b/2", 1001.0, [(1001.5, "clonic", 0.8), (1002.0, "clonic", 0.8),
                                  (1003.5, "clonic", 0.8)], 1029, "clonic"),
        # Called a cramp while open, but never confidently: no prompt.
        *_episode("b/3", 500.0, [(500.5, "clonic", 0.5), (501.5, "clonic", 0.55)], 503,
                  "movement"),
        # Confident, but over before it ran 2 s: no prompt.
        *_episode("b/4", 600.0, [(600.5, "tonic", 0.9)], 601.2, "movement"),
        # Confident and running: a prompt at 702 on no cramp, a false wake-up.
        *_episode("b/5", 700.0, [(700.5, "tonic", 0.9), (701.0, "tonic", 0.9)], 710,
                  "stretch"),
        # The true cramp at 720, prompt-worthy at 722.2 but held back by the rate limit.
        *_episode("b/6", 720.2, [(720.7, "tonic", 0.9)], 759, "tonic"),
        # A look-alike never called a cramp.
        *_episode("b/7", 900.0, [(900.5, "plm", 0.9)], 905, "plm"),
    ]
    return truth, events


def test_a_false_wake_up_is_a_prompt_the_live_policy_would_start_on_no_cramp():
    truth, events = _night_b()
    score = score_file("b", EIGHT_H, truth, events, prompt=POLICY)
    assert score.basis == PROVISIONAL
    assert score.prompts == 3  # at 102.4 (b/1), 702.0 (b/5), 1003.0 (b/2)
    assert score.false_wakeups == 1
    assert [d.event_id for d in score.false_alarms] == ["b/5"]
    assert score.false_calls == 0  # b/5 ended as a stretch: no final cramp call
    # The old rule (any cramp call, any confidence) would have counted b/3, b/4, b/5.
    assert sum(1 for d in events if d.final and d.was_called_cramp
               and d.event_id in ("b/3", "b/4", "b/5")) == 3


def test_wake_up_latency_is_the_first_prompt_worthy_call_after_true_onset():
    truth, events = _night_b()
    score = score_file("b", EIGHT_H, truth, events, prompt=POLICY)
    by_start = {o.truth.start_s: o for o in score.outcomes}
    assert by_start[100].wakeup_latency_s == pytest.approx(2.4)
    assert by_start[1000].wakeup_latency_s == pytest.approx(3.0)
    assert by_start[720].wakeup_latency_s == pytest.approx(2.2)
    assert [by_start[t].woken for t in (100, 720, 1000)] == [True, False, True]
    s = summarize([score])
    assert s.wakeup_latency_median_s == pytest.approx(2.4)
    assert s.wakeup_latency_p90_s == pytest.approx(2.88)
    assert s.wakeup_latency_max_s == pytest.approx(3.0)
    assert (s.alerted_cramps, s.woken_cramps) == (3, 2)
    assert s.false_wakeups_per_8h == pytest.approx(1.0)


def test_a_prompt_before_the_cramp_began_is_a_false_wake_up_though_its_episode_overlaps():
    truth = [_truth(400, 460, EventKind.TONIC)]
    # A floor step read as one long episode from 100 s, called a cramp at once.
    events = _episode("s/1", 100.0, [(100.5, "tonic", 0.9), (300.0, "tonic", 0.9)], 470,
                      "tonic")
    score = score_file("s", EIGHT_H, truth, events, prompt=POLICY)
    assert score.found == 1  # the final call overlaps the cramp: found, as the scorer says
    assert (score.prompts, score.false_wakeups) == (1, 1)  # but the prompt came at 102 s
    (outcome,) = score.outcomes
    assert outcome.wakeup_latency_s is None and not outcome.woken
    assert summarize([score]).alerted_cramps == 0


def test_the_policy_settings_are_those_of_run_and_can_be_changed():
    truth, events = _night_b()
    default = score_file("b", EIGHT_H, truth, events)  # PromptParams() as `crampwatch run`
    assert default.false_wakeups == score_file("b", EIGHT_H, truth, events,
                                               prompt=PromptParams()).false_wakeups
    lenient = PromptParams(min_confidence=0.5, min_duration_s=1.0)
    relaxed = score_file("b", EIGHT_H, truth, events, prompt=lenient)
    # b/3 (confidence 0.5, ran 1.5 s before its last call) and b/4 now prompt too.
    assert relaxed.false_wakeups == 3
    assert {d.event_id for d in relaxed.false_alarms} == {"b/3", "b/4", "b/5"}


def test_evaluate_command_takes_the_policy_options_of_run(tmp_path):
    truth, events = _night_b()
    truth_path = tmp_path / "a.json"
    truth_path.write_text(json.dumps({"duration_s": EIGHT_H, "events": [
        {"kind": str(t.kind), "start_s": t.start_s, "end_s": t.end_s} for t in truth]}))
    events_path = tmp_path / "events.jsonl"
    events_path.write_text("".join(json.dumps(d.__dict__) + "\n" for d in events))
    out = tmp_path / "s.json"
    base = ["evaluate", "--truth", str(truth_path), "--events", str(events_path),
            "--json", str(out)]
    assert main(base) == 0
    expected = score_file("a", EIGHT_H, truth, events, prompt=PromptParams())
    assert json.loads(out.read_text())["false_wakeups"] == expected.false_wakeups
    assert main([*base, "--min-confidence", "0.5", "--min-duration", "1"]) == 0
    saved = json.loads(out.read_text())
    assert (saved["false_wakeups"], saved["prompts"]) == (3, 5)
    assert saved["wakeup_latency_max_s"] == pytest.approx(2.0)  # b/2: 1001.0 + 1 s - 1000


def test_final_only_events_are_replayed_from_an_estimate_and_say_so():
    truth, events = _night_b()
    finals = [d for d in events if d.final]
    replayed = replay_prompts(finals, POLICY)
    assert replayed.basis == FINAL_ONLY
    score = score_file("b", EIGHT_H, truth, finals, prompt=POLICY)
    # b/3 (final confidence 0.55 after a non-cramp final call) counts as confident:
    # the estimate errs towards waking; b/4 ran 1.2 s from its first call: no prompt.
    assert {d.event_id for d in score.false_alarms} == {"b/3", "b/5"}
    by_start = {o.truth.start_s: o for o in score.outcomes}
    assert by_start[100].wakeup_latency_s == pytest.approx(2.4)  # its start 100.4 + 2 s
    assert summarize([score]).prompt_basis == FINAL_ONLY


# -- truth formats --------------------------------------------------------------------------

TRUTH_ROWS = [("tonic", 100.0, 200.0), ("clonic", 1000.0, 1030.0), ("plm", 3000.0, 3002.0)]


def _events_file(tmp_path: Path, file: str) -> Path:
    path = tmp_path / "events.jsonl"
    lines = [{**json.loads(json.dumps(d.__dict__)), "file": file} for d in CALLS_A]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def _figures(truth_path: Path, events: Path) -> tuple:
    result = evaluate(load_truth([truth_path]), load_events(events), prompt=POLICY)
    s = result.summary
    return (s.files, round(s.hours, 3), s.truth_cramps, s.found, s.fragments, s.false_calls,
            round(s.precision, 3), round(s.kind_accuracy, 3))


def test_plain_json_truth(tmp_path):
    truth = tmp_path / "night-7.json"
    truth.write_text(json.dumps({"file": "night-7.edf", "minutes": 480, "events": [
        {"kind": k, "start_s": s, "end_s": e} for k, s, e in TRUTH_ROWS]}))
    assert _figures(truth, _events_file(tmp_path, "/data/night-7.edf")) == (
        1, 8.0, 2, 2, 1, 1, 0.5, 0.5)


def test_bids_events_tsv_pairs_with_its_recording_and_sidecar(tmp_path):
    tsv = tmp_path / "sub-01_task-sleep_events.tsv"
    tsv.write_text("onset\tduration\ttrial_type\tresponse\n"
                   + "".join(f"{s}\t{e - s}\t{k}{'_cramp' if k != 'plm' else ''}\tstand\n"
                             for k, s, e in TRUTH_ROWS)
                   + "4500\tn/a\tlights_on\tn/a\n")
    (tmp_path / "sub-01_task-sleep_emg.json").write_text(json.dumps({"RecordingDuration": 28800}))
    (truth,) = load_truth([tsv])
    assert truth.name == "sub-01_task-sleep"
    assert [(str(e.kind), e.start_s, e.end_s) for e in truth.events] == [
        (k, s, e) for k, s, e in TRUTH_ROWS]
    assert truth.attributes[0] == {"response": "stand"}
    assert any("lights_on" in w for w in truth.warnings)
    events = _events_file(tmp_path, "sub-01_task-sleep_emg.edf")
    assert _figures(tsv, events) == (1, 8.0, 2, 2, 1, 1, 0.5, 0.5)


def test_bids_events_tsv_needs_its_columns(tmp_path, capsys):
    tsv = tmp_path / "x_events.tsv"
    tsv.write_text("onset\tlabel\n1\ttonic\n")
    events = tmp_path / "e.jsonl"
    events.write_text("")
    assert main(["evaluate", "--truth", str(tsv), "--events", str(events)]) == 2
    assert "missing ['duration', 'trial_type']" in capsys.readouterr().err


def test_truth_from_edf_annotations(tmp_path):
    night = generate_night(NightConfig(duration_s=120.0, emg_fs_hz=1000.0, every_kind=False,
                                       cramps_min=1, cramps_max=1, rates_per_hour={}),
                           9, tmp_path, "ann")
    json_truth = NightTruth.read(night.truth)
    (from_edf,) = load_truth([night.edf])
    assert [(e.kind, round(e.start_s, 3)) for e in from_edf.events] == [
        (e.kind, round(e.start_s, 3)) for e in json_truth.events
    ]
    assert Path(from_edf.edf) == night.edf
    assert from_edf.duration_s == pytest.approx(120.0)


# -- warnings -------------------------------------------------------------------------------

def test_a_truth_file_without_events_is_a_warning_not_a_silent_zero(tmp_path, capsys):
    truth = tmp_path / "quiet.json"
    truth.write_text(json.dumps({"recording": "quiet.edf", "duration_s": 3600, "events": []}))
    events = tmp_path / "e.jsonl"
    events.write_text(json.dumps({"file": "quiet.edf", "start_s": 10, "end_s": 20,
                                  "kind": "plm", "confidence": 0.9}) + "\n")
    summary_json = tmp_path / "s.json"
    assert main(["evaluate", "--truth", str(truth), "--events", str(events),
                 "--json", str(summary_json)]) == 0
    err = capsys.readouterr().err
    assert "warning:" in err and "no events in this truth file" in err
    assert any("no events in this truth file" in w
               for w in json.loads(summary_json.read_text())["warnings"])


def test_events_matching_no_recording_are_a_warning(tmp_path, capsys):
    truth = tmp_path / "night-1.json"
    truth.write_text(json.dumps({"duration_s": 3600, "events": [
        {"kind": "tonic", "start_s": 100, "end_s": 160}]}))
    events = tmp_path / "e.jsonl"
    events.write_text(json.dumps({"file": "night-01.edf", "start_s": 100, "end_s": 160,
                                  "kind": "tonic", "confidence": 0.9}) + "\n")
    assert main(["evaluate", "--truth", str(truth), "--events", str(events)]) == 0
    err = capsys.readouterr().err
    assert "events for recordings without truth ignored: ['night-01']" in err
    assert "no detected event matches any truth recording" in err
    assert "only final events" not in err  # nothing paired, nothing estimated
    result = evaluate(load_truth([truth]), load_events(events))
    assert result.summary.prompt_basis == PROVISIONAL and result.summary.recall == 0.0


def test_only_final_events_are_a_warning(tmp_path, capsys):
    truth = tmp_path / "n.json"
    truth.write_text(json.dumps({"duration_s": 3600, "events": [
        {"kind": "tonic", "start_s": 100, "end_s": 160}]}))
    events = tmp_path / "e.jsonl"
    events.write_text(json.dumps({"file": "n.edf", "start_s": 100.5, "end_s": 160,
                                  "kind": "tonic", "confidence": 0.9}) + "\n")
    assert main(["evaluate", "--truth", str(truth), "--events", str(events)]) == 0
    captured = capsys.readouterr()
    assert "only final events given" in captured.err and "--provisional" in captured.err
    assert "final only events" in captured.out


def test_unknown_length_is_a_warning(tmp_path):
    truth = tmp_path / "n.json"
    truth.write_text(json.dumps({"events": [{"kind": "tonic", "start_s": 100, "end_s": 160}]}))
    (loaded,) = load_truth([truth])
    assert loaded.duration_s == 160
    assert any("recording length unknown" in w for w in loaded.warnings)


def test_truth_events_after_the_recording_end_are_a_warning(tmp_path):
    truth = tmp_path / "n.json"
    truth.write_text(json.dumps({"duration_s": 600, "events": [
        {"kind": "tonic", "start_s": 100, "end_s": 160},
        {"kind": "clonic", "start_s": 700000, "end_s": 700060}]}))
    result = evaluate(load_truth([truth]), {})
    assert any("1 truth events start after the recording's end (600 s)" in w
               for w in result.warnings)
    assert result.summary.truth_cramps == 2 and result.summary.recall == 0.0


# -- groups ---------------------------------------------------------------------------------

def _family_nights(tmp_path: Path) -> tuple[Path, Path]:
    nights = {
        "n500": ({"emg_fs_hz": 500.0, "acc_fs_hz": None}, [
            {"kind": "tonic", "start_s": 100, "end_s": 200, "response": "stand_walk"},
            {"kind": "clonic", "start_s": 1000, "end_s": 1030, "response": "none"},
        ]),
        "n1000": ({"emg_fs_hz": 1000.0, "acc_fs_hz": 100.0}, [
            {"kind": "tonic", "start_s": 100, "end_s": 200, "response": "stand_walk"},
            {"kind": "tonic", "start_s": 2000, "end_s": 2100},
        ]),
    }
    folder = tmp_path / "truth"
    folder.mkdir()
    for name, (variation, events) in nights.items():
        (folder / f"{name}.truth.json").write_text(json.dumps({
            "format": "crampwatch-truth/1", "recording": f"{name}.edf", "duration_s": 4 * 3600,
            "variation": variation, "events": events}))
    detected = [
        # n500: the standing cramp found twice (a fragment), the clonic one missed.
        *_episode("n500/1", 100.5, [(101.0, "tonic", 0.9)], 140, "tonic", "n500.edf"),
        *_episode("n500/2", 150.0, [(150.5, "tonic", 0.9)], 199, "tonic", "n500.edf"),
        # n1000: both found; one false wake-up.
        *_episode("n1000/1", 100.2, [(100.7, "tonic", 0.9)], 199, "tonic", "n1000.edf"),
        *_episode("n1000/2", 2000.3, [(2000.8, "tonic", 0.9)], 2099, "tonic", "n1000.edf"),
        *_episode("n1000/3", 5000.0, [(5000.5, "clonic", 0.9)], 5010, "clonic", "n1000.edf"),
    ]
    events = tmp_path / "events.jsonl"
    events.write_text("".join(json.dumps(d.__dict__) + "\n" for d in detected))
    return folder, events


def test_groups_by_a_night_variation_and_by_a_cramp_attribute(tmp_path):
    folder, events = _family_nights(tmp_path)
    result = evaluate(load_truth([folder]), load_events(events), prompt=POLICY)
    by_fs = result.by("emg_fs_hz")
    assert list(by_fs) == ["500", "1000"]
    assert (by_fs["500"].truth_cramps, by_fs["500"].found, by_fs["500"].fragments) == (2, 1, 1)
    assert by_fs["500"].recall == pytest.approx(0.5)
    assert by_fs["500"].precision == pytest.approx(0.5)  # 2 calls, 1 fragment
    assert by_fs["500"].false_wakeups_per_8h == pytest.approx(0.0)
    assert by_fs["1000"].recall == 1.0 and by_fs["1000"].precision == pytest.approx(2 / 3)
    assert by_fs["1000"].false_wakeups_per_8h == pytest.approx(2.0)  # 1 in 4 h
    assert list(result.by("acc_fs_hz")) == ["100", "none"]
    by_response = summarize_by(result.scores, "response")
    assert list(by_response) == ["none", "stand_walk", "n/a"]
    stand = by_response["stand_walk"]
    assert (stand.files, stand.truth_cramps, stand.found, stand.fragments) == (2, 2, 2, 1)
    # Calls on its cramps plus the calls on no cramp of both nights: 4 calls, 1 false, 1 frag.
    assert stand.precision == pytest.approx(0.5)
    assert stand.false_wakeups_per_8h == pytest.approx(1.0)  # 1 in 8 h
    assert stand.kind_accuracy == 1.0
    assert by_response["none"].recall == 0.0 and by_response["none"].f1 == 0.0
    assert by_response["n/a"].truth_cramps == 1 and by_response["n/a"].recall == 1.0
    assert list(result.by("no_such_key")) == ["n/a"]


def test_evaluate_command_prints_a_table_per_by_key(tmp_path, capsys):
    folder, events = _family_nights(tmp_path)
    summary_json = tmp_path / "s.json"
    assert main(["evaluate", "--truth", str(folder), "--events", str(events),
                 "--by", "emg_fs_hz", "--by", "response", "--json", str(summary_json)]) == 0
    out = capsys.readouterr().out
    assert "by emg_fs_hz" in out and "by response" in out and "stand_walk" in out
    saved = json.loads(summary_json.read_text())
    assert saved["by"]["emg_fs_hz"]["500"]["recall"] == pytest.approx(0.5)
    assert saved["by"]["response"]["stand_walk"]["fragments"] == 1
    assert saved["false_wakeups"] == 1 and saved["fragments"] == 1


# -- the command and its report --------------------------------------------------------------

def test_evaluate_command_prints_figures_and_writes_report_with_plots(tmp_path, capsys):
    night = generate_night(NightConfig(duration_s=240.0, emg_fs_hz=1000.0, every_kind=False,
                                       cramps_min=1, cramps_max=1, rates_per_hour={}),
                           5, tmp_path, "tiny")
    truth = NightTruth.read(night.truth)
    (cramp,) = [e for e in truth.events if e.is_cramp]
    # A confident cramp call 10 s after the true cramp ends: a miss and a false wake-up.
    start = cramp.end_s + 10.0
    events = tmp_path / "events.jsonl"
    events.write_text("".join(json.dumps(line) + "\n" for line in [
        {"file": str(night.edf), "start_s": start, "end_s": None, "kind": "tonic",
         "confidence": 0.9, "final": False, "event_id": "tiny/1", "known_at_s": start + 0.5,
         "first_cramp_call_s": start + 0.5},
        {"file": str(night.edf), "start_s": start, "end_s": start + 5.0, "kind": "tonic",
         "channel": "EMG R Gastroc", "confidence": 0.9, "final": True, "event_id": "tiny/1",
         "known_at_s": start + 5.0, "first_cramp_call_s": start + 0.5},
    ]))
    report = tmp_path / "report.html"
    summary_json = tmp_path / "summary.json"
    code = main(["evaluate", "--truth", str(tmp_path), "--events", str(events),
                 "--report", str(report), "--json", str(summary_json), "--by", "leg"])
    assert code == 0
    out = capsys.readouterr().out
    assert "cramp recall" in out and "tiny" in out and "wake-up latency" in out
    summary = json.loads(summary_json.read_text())
    assert (summary["found"], summary["false_calls"], summary["false_wakeups"]) == (0, 1, 1)
    assert summary["prompt_basis"] == "provisional"
    page = report.read_text()
    # One miss and one false wake-up, each plotted from the recording.
    assert page.count("data:image/png;base64,") == 2
    assert "missed tonic cramp" in page or "missed clonic cramp" in page
    assert "By leg" in page
    assert f"false wake-up at {start + 2.0:.1f} s" in page


def test_evaluate_rejects_events_that_are_not_replay_output(tmp_path, capsys):
    truth = tmp_path / "x.truth.json"
    NightTruth("x.edf", 60.0, [_truth(1, 20, EventKind.TONIC)]).write(truth)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"start": 1}\n')
    assert main(["evaluate", "--truth", str(truth), "--events", str(bad)]) == 2
    assert "line 1: not a replay event" in capsys.readouterr().err


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
    # Replay reports its prompts with the events: the scores take them as they are.
    assert summary["prompt_basis"] == REPORTED
    assert summary["model_versions"] and "night-b-000" in capsys.readouterr().out
