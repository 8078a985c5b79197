"""Evaluation reads the prompts replay reports with its events (each final line's ``prompt``)
instead of deriving them; events without them keep the derivation or the estimate."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from crampwatch.cli import main
from crampwatch.evaluate import evaluate, load_events, load_truth
from crampwatch.evaluate.events import DetectedEvent, ReportedPrompt
from crampwatch.evaluate.scoring import score_file, summarize
from crampwatch.evaluate.wakeups import FINAL_ONLY, PROVISIONAL, REPORTED
from crampwatch.live.demo_night import make_demo_night
from crampwatch.prompt.policy import PromptParams
from crampwatch.synth import TruthEvent
from sensor.records import EventKind

POLICY = PromptParams(min_confidence=0.6, min_duration_s=2.0, min_interval_s=30.0,
                      max_prompts_per_hour=6)
EIGHT_H = 8 * 3600.0


def _truth(start: float, end: float) -> TruthEvent:
    return TruthEvent(start, end, EventKind.TONIC, "tonic", "EMG R Gastroc")


def _calls(event_id: str, start: float, end: float, kind: str = "tonic",
           prompt: ReportedPrompt | None = None) -> list[DetectedEvent]:
    """A confident cramp call 0.5 s after ``start`` and the final event (with ``prompt``)."""
    open_ = DetectedEvent("n.edf", event_id, start, None, kind, "EMG R Gastroc", 0.9, False,
                          start + 0.5, start + 0.5)
    final = DetectedEvent("n.edf", event_id, start, end, kind, "EMG R Gastroc", 0.9, True,
                          start + 0.5, end, prompt)
    return [open_, final]


TRUTH = [_truth(100, 200), _truth(1000, 1030)]


def _night(prompts: dict[str, ReportedPrompt] | None) -> list[DetectedEvent]:
    prompts = prompts or {}
    return [
        *_calls("n/1", 100.0, 199.0, prompt=prompts.get("n/1")),  # on the cramp at 100
        *_calls("n/2", 700.0, 710.0, prompt=prompts.get("n/2")),  # on no cramp
        *_calls("n/3", 1000.0, 1029.0, prompt=prompts.get("n/3")),  # on the cramp at 1000
    ]


# What a replay reported: n/1 prompted, n/2 prompted (a false wake-up), n/3 held back
# (say the sleeper had set quiet mode), which the calls alone would not show.
REPORTED_PROMPTS = {
    "n/1": ReportedPrompt(prompted_at_s=102.0, stopped_at_s=199.0),
    "n/2": ReportedPrompt(prompted_at_s=702.0, stopped_at_s=710.0),
    "n/3": ReportedPrompt(suppressed="quiet mode"),
}


def test_the_prompts_replay_reported_are_the_night_s_prompts() -> None:
    derived = score_file("n", EIGHT_H, TRUTH, _night(None), prompt=POLICY)
    assert derived.basis == PROVISIONAL and derived.prompts == 3

    score = score_file("n", EIGHT_H, TRUTH, _night(REPORTED_PROMPTS), prompt=POLICY)
    assert score.basis == REPORTED
    assert (score.prompts, score.false_wakeups) == (2, 1)
    assert score.false_wakeup_at_s == [702.0]
    by_start = {o.truth.start_s: o for o in score.outcomes}
    assert by_start[100].woken and by_start[100].wakeup_latency_s == pytest.approx(2.0)
    # Prompt-worthy at 1002 by its calls, but no prompt ran then: not woken.
    assert not by_start[1000].woken
    assert by_start[1000].wakeup_latency_s == pytest.approx(2.0)
    assert summarize([score]).prompt_basis == REPORTED

    again = score_file("n", EIGHT_H, TRUTH, _night(REPORTED_PROMPTS), prompt=POLICY,
                       use_reported=False)
    assert (again.basis, again.prompts) == (PROVISIONAL, 3)


def test_final_lines_with_replay_s_prompts_need_no_estimate() -> None:
    finals = [d for d in _night(REPORTED_PROMPTS) if d.final]
    score = score_file("n", EIGHT_H, TRUTH, finals, prompt=POLICY)
    assert score.basis == REPORTED
    assert (score.prompts, score.false_wakeups) == (2, 1)
    by_start = {o.truth.start_s: o for o in score.outcomes}
    # A prompted episode was prompt-worthy when its prompt started.
    assert by_start[100].wakeup_latency_s == pytest.approx(2.0) and by_start[100].woken


def test_final_lines_without_replay_s_prompts_keep_the_estimate() -> None:
    finals = [d for d in _night(REPORTED_PROMPTS) if d.final]
    # One line without its prompt: the file is not replay's JSON lines as a whole.
    finals[1] = dataclasses.replace(finals[1], prompt=None)
    score = score_file("n", EIGHT_H, TRUTH, finals, prompt=POLICY)
    assert score.basis == FINAL_ONLY
    assert score.prompts == 3  # the estimate errs towards waking


def test_load_events_reads_the_prompt_of_a_replay_line(tmp_path: Path) -> None:
    events = tmp_path / "e.jsonl"
    events.write_text(json.dumps({
        "file": "n.edf", "event_id": "n:1", "start_s": 1.0, "end_s": 9.0, "kind": "tonic",
        "confidence": 0.9, "final": True,
        "prompt": {"prompted_at_s": 3.5, "prompt_id": "prompt-0001", "escalated_at_s": [],
                   "red_flag_at_s": None, "stopped_at_s": 9.0, "suppressed": None},
    }) + "\n")
    (event,) = load_events(events)["n"]
    assert event.prompt == ReportedPrompt(prompted_at_s=3.5, stopped_at_s=9.0)


@pytest.mark.slow
def test_evaluate_scores_a_replay_on_the_prompts_it_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    night = make_demo_night(tmp_path / "night", minutes=4, seed=3, cramps=2)
    finals, provisional = tmp_path / "finals.jsonl", tmp_path / "all.jsonl"
    assert main(["replay", str(night.edf), "--classifier", "rules", "--events",
                 str(finals)]) == 0
    assert main(["replay", str(night.edf), "--classifier", "rules", "--provisional",
                 "--events", str(provisional)]) == 0
    capsys.readouterr()
    summary_json = tmp_path / "summary.json"
    assert main(["evaluate", "--truth", str(night.truth), "--events", str(finals),
                 "--json", str(summary_json)]) == 0
    err = capsys.readouterr().err
    assert "only final events" not in err
    summary = json.loads(summary_json.read_text())
    lines = [json.loads(line) for line in finals.read_text().splitlines()]
    prompted = [line for line in lines if line["prompt"]["prompted_at_s"] is not None]
    assert prompted and summary["prompts"] == len(prompted)
    assert summary["prompt_basis"] == REPORTED

    # Replay's prompts are what the policy derives from the provisional calls.
    truth = load_truth([night.truth])
    reported = evaluate(truth, load_events(finals), prompt=PromptParams()).scores[0]
    derived = evaluate(truth, load_events(provisional), prompt=PromptParams(),
                       use_reported=False).scores[0]
    assert derived.basis == PROVISIONAL
    assert (reported.prompts, reported.false_wakeups) == (derived.prompts,
                                                          derived.false_wakeups)
    assert ([o.wakeup_latency_s for o in reported.outcomes]
            == pytest.approx([o.wakeup_latency_s for o in derived.outcomes]))

    # Other policy settings than replay's: derived afresh, and said so.
    assert main(["evaluate", "--truth", str(night.truth), "--events", str(finals),
                 "--min-duration", "5", "--json", str(summary_json)]) == 0
    assert "derived afresh" in capsys.readouterr().err
    assert json.loads(summary_json.read_text())["prompt_basis"] == FINAL_ONLY
