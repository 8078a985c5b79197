"""The morning summary and the diary prompt."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from crampwatch.summary import (
    DiaryEntry,
    ask_diary,
    parse_score,
    plot_summary,
    render_summary,
    summarize_night,
)
from sensor.records import EventKind
from tests.crampwatch.prompt_helpers import event

EVENTS = [
    event("c1", 600.0, None),
    event("c1", 600.0, 690.0),  # its final version
    event("p1", 900.0, 901.5, EventKind.PLM),
    event("p2", 930.0, 931.0, EventKind.PLM),
    event("c2", 3600.0, 3600.0 + 700.0, EventKind.CLONIC),
    event("m1", 5000.0, 5010.0, EventKind.MOVEMENT),
]
PROMPTS = [
    {"type": "decision", "action": "start", "prompt_id": "p-1", "event_id": "c1",
     "session_s": 602.0},
    {"type": "delivery", "action": "start", "prompt_id": "p-1", "event_id": "c1",
     "channel": "band", "ok": True},
    {"type": "decision", "action": "acknowledged", "prompt_id": "p-1", "event_id": "c1",
     "session_s": 614.0},
    {"type": "decision", "action": "stop", "prompt_id": "p-1", "event_id": "c1",
     "session_s": 690.0},
    {"type": "decision", "action": "suppressed", "prompt_id": None, "event_id": "c2",
     "session_s": 3602.0},
]


def test_summary_counts_cramps_durations_and_answers() -> None:
    s = summarize_night("night-1", EVENTS, PROMPTS, duration_s=8 * 3600)
    assert [c.event_id for c in s.cramps] == ["c1", "c2"]
    assert s.total_cramp_s == pytest.approx(790.0)
    assert s.longest_cramp_s == pytest.approx(700.0)
    assert s.look_alikes == {"plm": 2, "movement": 1}
    assert s.prompts == 1 and s.acknowledged == 1 and s.suppressed == 1
    assert s.median_ack_s == pytest.approx(12.0)
    assert s.cramps[0].acknowledged and not s.cramps[1].prompted
    assert s.red_flags == 1 and s.cramps[1].red_flag  # 700 s > 10 min


def test_summary_text_names_red_flag_and_several_cramps() -> None:
    text = render_summary(summarize_night("night-1", EVENTS, PROMPTS, 8 * 3600))
    assert "cramps: 2 (total 790 s, longest 700 s)" in text
    assert "RED FLAG" in text and "doctor" in text
    assert "plm 2" in text


def test_woken_for_activity_finally_called_a_look_alike_is_listed() -> None:
    events = [event("w1", 100.0, None), event("w1", 100.0, 130.0, EventKind.STRETCH)]
    prompts = [{"type": "decision", "action": "start", "prompt_id": "p-1", "event_id": "w1",
                "session_s": 102.0}]
    s = summarize_night("n", events, prompts, 3600)
    assert s.cramps == () and len(s.woken_for_other) == 1
    assert "finally called stretch" in render_summary(s)


def test_summary_of_a_quiet_night() -> None:
    text = render_summary(summarize_night("n", [], [], 3600))
    assert "cramps: 0" in text and "RED FLAG" not in text


def test_plot_is_a_png(tmp_path: Path, artifacts_dir: Path) -> None:
    s = summarize_night("night-1", EVENTS, PROMPTS, 8 * 3600)
    path = plot_summary(s, EVENTS, tmp_path / "night.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 5000
    (artifacts_dir / "summary-night.png").write_bytes(path.read_bytes())


def test_diary_asks_again_after_a_bad_score() -> None:
    answers = iter(["7", "eleven", "4", "woke twice"])
    out = io.StringIO()
    entry = ask_diary(lambda q: next(answers), out)
    assert entry == DiaryEntry(7, 4, "woke twice")
    assert "whole number" in out.getvalue()


def test_diary_skipped_with_empty_answer() -> None:
    assert ask_diary(lambda q: "", io.StringIO()) is None


def test_scores_out_of_range_refused() -> None:
    with pytest.raises(ValueError, match="outside 0 to 10"):
        parse_score("12", "pain")
    with pytest.raises(ValueError, match="0 to 10"):
        DiaryEntry(-1, 3)
