"""The same recording through `run` (a live session, paced) and through `replay` (as fast as
the machine allows): identical events and identical prompts, on the night's own clock."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest

from crampwatch.live.demo_night import make_demo_night
from crampwatch.live.night import NightJournal
from crampwatch.live.session import LiveSession
from crampwatch.live.sources import edf_source
from crampwatch.pipeline import pipeline_factory
from crampwatch.prompt.channels.terminal import TerminalChannel
from crampwatch.prompt.dispatcher import PromptDispatcher
from crampwatch.prompt.guidance import load_guidance
from crampwatch.prompt.log import PromptLog
from crampwatch.prompt.params import PromptParams
from crampwatch.prompt.policy import PromptAction, PromptDecision, PromptPolicy
from crampwatch.replay import ReplayOptions, replay_file
from sensor.records import Event

# The red flag brought within a synthetic cramp's length, so every kind of decision shows.
PARAMS = PromptParams(red_flag_after_s=25.0)


def _episode(event_id: str) -> str:
    return event_id.rpartition(":")[2]


def _event_key(ev: Event) -> tuple:
    return (_episode(ev.event_id), ev.final, ev.kind.value, round(ev.start_s, 6),
            None if ev.end_s is None else round(ev.end_s, 6), round(ev.confidence, 9),
            round(ev.known_at_s, 6))


def _decision_key(d: PromptDecision) -> tuple:
    return (d.action.value, d.prompt_id, round(d.at_s, 6), d.level, _episode(d.event.event_id))


def _run(path: Path, home: Path, pace: float) -> tuple[list[Event], list[PromptDecision]]:
    journal, _ = NightJournal.start(home, new_night=True)
    dispatcher = PromptDispatcher(journal.session_id, load_guidance(),
                                  [TerminalChannel(io.StringIO())],
                                  PromptLog(journal.dir / "prompts.jsonl"))
    session = LiveSession(edf_source(str(path), pace=pace), pipeline_factory("rules"),
                          journal, PromptPolicy(PARAMS), dispatcher)
    report = asyncio.run(session.run())
    journal.close()
    return report.events, report.decisions


@pytest.mark.slow
def test_run_and_replay_give_the_same_events_and_prompts(tmp_path: Path) -> None:
    files = make_demo_night(tmp_path / "synthetic", minutes=4, seed=3, cramps=2)
    replayed = replay_file(files.edf, ReplayOptions(classifier="rules", include_provisional=True,
                                                    prompt=PARAMS))
    live_events, live_decisions = _run(files.edf, tmp_path / "home", pace=40.0)

    replay_finals = [line for line in replayed.lines if line["final"]]
    live_finals = [ev for ev in live_events if ev.final]
    assert replay_finals and len(live_finals) == len(replay_finals)
    assert ({_event_key(ev) for ev in live_finals}
            == {(_episode(line["event_id"]), True, line["kind"], round(line["start_s"], 6),
                 round(line["end_s"], 6), round(line["confidence"], 9),
                 round(line["known_at_s"], 6)) for line in replay_finals})

    assert [_decision_key(d) for d in live_decisions] == [
        _decision_key(d) for d in replayed.decisions]
    actions = {d.action for d in replayed.decisions}
    assert {PromptAction.START, PromptAction.ESCALATE, PromptAction.RED_FLAG} <= actions
    # Each final line says what the night's prompts did about its episode.
    started = {d.event.event_id: d.at_s for d in replayed.decisions
               if d.action is PromptAction.START}
    for line in replay_finals:
        assert line["prompt"]["prompted_at_s"] == started.get(line["event_id"])
