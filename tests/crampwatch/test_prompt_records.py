"""The prompt record sent with the night states the channels that really carried it."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime
from pathlib import Path

from api.schemas import NightIn, PromptIn
from crampwatch.live.upload import PromptRecordBuilder
from crampwatch.pipeline import pipeline_factory
from crampwatch.prompt.channels.base import ChannelError, PromptChannel
from crampwatch.prompt.channels.terminal import TerminalChannel
from crampwatch.prompt.dispatcher import PromptDispatcher
from crampwatch.prompt.guidance import load_guidance
from crampwatch.prompt.log import PromptLog
from crampwatch.prompt.notice import PromptNotice
from crampwatch.prompt.policy import PromptPolicy
from models.rules import RuleClassifier
from tests.crampwatch.prompt_helpers import event


class _Band(PromptChannel):
    name = "band"
    wakes = True

    def __init__(self, works: bool) -> None:
        self.works = works

    async def deliver(self, notice: PromptNotice) -> str:
        if not self.works:
            raise ChannelError("band out of range")
        return "buzzed"


def _records(tmp_path: Path, channels: list[PromptChannel]) -> list[dict]:
    dispatcher = PromptDispatcher("night-1", load_guidance(), channels,
                                  PromptLog(tmp_path / "prompts.jsonl"))
    policy = PromptPolicy()
    decisions = policy.on_event(event(), 102.0) + policy.on_tick(150.0)
    dispatched = asyncio.run(dispatcher.dispatch(decisions))
    builder = PromptRecordBuilder("night-1", datetime(2026, 3, 2, 22, 0, tzinfo=UTC))
    bodies = [builder.apply(d, sent.reached) for d, sent in zip(decisions, dispatched,
                                                                 strict=True)]
    for body in bodies:
        if body is not None:
            PromptIn.model_validate(body)
    return [b for b in bodies if b is not None]


def test_a_night_without_band_or_sound_records_the_screen_that_showed_it(
        tmp_path: Path) -> None:
    bodies = _records(tmp_path, [TerminalChannel(io.StringIO())])
    assert bodies[0]["channel"] == "terminal"
    assert bodies[-1]["escalated_channel"] == "terminal" and bodies[-1]["level"] >= 1
    assert not {"band", "sound"} & {b["channel"] for b in bodies}


def test_a_waking_channel_is_recorded_first_and_only_when_it_worked(tmp_path: Path) -> None:
    working = _records(tmp_path, [TerminalChannel(io.StringIO()), _Band(works=True)])
    assert working[0]["channel"] == "band"
    failing = _records(tmp_path, [TerminalChannel(io.StringIO()), _Band(works=False)])
    assert failing[0]["channel"] == "terminal"


def test_the_night_carries_the_versions_of_its_pipeline() -> None:
    factory = pipeline_factory("rules")
    assert factory.model_version == RuleClassifier().version
    assert factory("night-1").detector_version == factory.detector_version
    NightIn.model_validate({"started_at": "2026-03-02T22:00:00+00:00",
                            "detector_version": factory.detector_version,
                            "model_version": factory.model_version})
