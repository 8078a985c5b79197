"""The one night session: blocks -> pipeline -> sinks, prompts on the night's clock.

`replay` plays a recording through it directly; a live session wraps it (see
test_run_equals_replay.py for the two giving the same events and prompts).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from crampwatch.live.demo_night import make_demo_night
from crampwatch.live.pipeline_feed import NEW_STREAM, PipelineFeed
from crampwatch.live.session_report import SessionReport
from crampwatch.night_session import NightSession, NightSink
from crampwatch.pipeline import Pipeline, pipeline_factory
from crampwatch.prompt.night_clock import NightPrompter
from crampwatch.prompt.params import PromptParams
from crampwatch.prompt.policy import PromptAction, PromptDecision, PromptPolicy
from crampwatch.recordings import EdfRecording
from crampwatch.replay import RecordingBlocks, ReplayOptions, replay_file
from sensor.records import Event, SampleBlock, SignalGap, SignalGroup

PARAMS = PromptParams(red_flag_after_s=25.0)


class Recorder(NightSink):
    """Keeps everything the night hands its sinks, in order."""

    def __init__(self) -> None:
        self.seen: list[object] = []
        self.ended_at: float | None = None

    def on_block(self, block: SampleBlock) -> None:
        self.seen.append(block)

    def on_event(self, event: Event) -> None:
        self.seen.append(event)

    def on_gap(self, gap: SignalGap) -> None:
        self.seen.append(gap)

    def on_decisions(self, decisions: list[PromptDecision]) -> None:
        self.seen.extend(decisions)

    def finish(self, stream_end_s: float) -> None:
        self.ended_at = stream_end_s


def _night(session_id: str, sinks: list[NightSink]) -> NightSession:
    feed = PipelineFeed(pipeline_factory("rules"), session_id, SessionReport(session_id, 1))
    return NightSession(feed, NightPrompter(PromptPolicy(PARAMS)), sinks)


@pytest.fixture(scope="module")
def night_edf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_demo_night(tmp_path_factory.mktemp("night"), minutes=4, seed=3, cramps=2).edf


def test_a_night_hands_every_block_event_and_prompt_to_its_sinks(night_edf: Path) -> None:
    sink = Recorder()
    night = _night(night_edf.stem, [sink])
    with EdfRecording(night_edf) as rec:
        blocks = list(rec.blocks(10.0))
    decisions = night.play(blocks)

    assert [x for x in sink.seen if isinstance(x, SampleBlock)] == blocks
    assert [x for x in sink.seen if isinstance(x, PromptDecision)] == decisions
    assert sink.ended_at == max(b.t_end_s for b in blocks)
    events = [x for x in sink.seen if isinstance(x, Event)]
    assert any(ev.final and ev.is_cramp for ev in events)
    # A prompt follows the event that caused it, never comes before it.
    for i, x in enumerate(sink.seen):
        if isinstance(x, PromptDecision) and x.action is PromptAction.START:
            assert any(isinstance(y, Event) and y.event_id == x.event.event_id
                       for y in sink.seen[:i])


def test_replay_reports_what_the_night_session_decided(night_edf: Path) -> None:
    sink = Recorder()
    with EdfRecording(night_edf) as rec:
        decisions = _night(night_edf.stem, [sink]).play(rec.blocks(10.0))
    replayed = replay_file(night_edf, ReplayOptions(classifier="rules", prompt=PARAMS,
                                                    include_provisional=True))
    assert [(d.action, d.at_s, d.event.event_id) for d in replayed.decisions] == [
        (d.action, d.at_s, d.event.event_id) for d in decisions]
    events = [x for x in sink.seen if isinstance(x, Event)]
    assert [line["event_id"] for line in replayed.lines] == [ev.event_id for ev in events]
    assert [line["confidence"] for line in replayed.lines] == [ev.confidence for ev in events]


def _block(t0_s: float, fs_hz: float = 1000.0, labels: tuple[str, ...] = ("EMG R Gastroc",)
           ) -> SampleBlock:
    n = int(fs_hz)
    return SampleBlock(SignalGroup.EMG, fs_hz, t0_s, np.zeros((n, len(labels)), np.float32),
                       labels)


def test_a_recording_whose_layout_changes_starts_a_new_stream_and_says_so() -> None:
    blocks = [_block(0.0), _block(1.0), _block(2.0, fs_hz=2000.0), _block(3.0, fs_hz=2000.0)]
    source = RecordingBlocks(blocks)
    items = list(source)
    assert items == [blocks[0], blocks[1], NEW_STREAM, blocks[2], blocks[3]]
    assert len(source.warnings) == 1 and "restarted at 2.0 s" in source.warnings[0]

    made: list[str] = []
    factory = pipeline_factory("rules")

    def make(session_id: str) -> Pipeline:
        made.append(session_id)
        return factory(session_id)

    feed = PipelineFeed(make, "night", SessionReport("night", 1), retry_refused=False)
    NightSession(feed, NightPrompter(PromptPolicy(PARAMS))).play(items)
    assert made == ["night", "night.2"]


def test_a_replay_fails_on_a_block_the_pipeline_refuses_where_live_goes_on() -> None:
    first, later = _block(5.0), _block(0.0)  # the second goes back in time
    strict = PipelineFeed(pipeline_factory("rules"), "r", SessionReport("r", 1),
                          retry_refused=False)
    night = NightSession(strict, NightPrompter(PromptPolicy(PARAMS)))
    night.step(first)
    with pytest.raises(ValueError):
        night.step(later)

    report = SessionReport("l", 1)
    live = NightSession(PipelineFeed(pipeline_factory("rules"), "l", report),
                        NightPrompter(PromptPolicy(PARAMS)))
    live.step(first)
    live.step(later)
    assert live.feed.take_refusals()
