"""Prompt channels and the dispatcher: what each channel does, and that everything is logged."""

from __future__ import annotations

import asyncio
import http.server
import io
import json
import threading
import wave
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from crampwatch.prompt.channels.band import LEVEL_BUZZ, BandBuzzChannel, BuzzPattern
from crampwatch.prompt.channels.base import ChannelError, PromptChannel
from crampwatch.prompt.channels.bedside import BedsideChannel, BedsideHub
from crampwatch.prompt.channels.sound import LEVEL_TONES, SoundChannel, tone_samples
from crampwatch.prompt.channels.terminal import TerminalChannel
from crampwatch.prompt.channels.webhook import WebhookChannel
from crampwatch.prompt.dispatcher import PromptDispatcher
from crampwatch.prompt.guidance import load_guidance
from crampwatch.prompt.log import PromptLog, read_prompt_log
from crampwatch.prompt.notice import PromptNotice
from crampwatch.prompt.policy import AckResponse, PromptAction, PromptDecision, PromptPolicy
from tests.crampwatch.prompt_helpers import event

BOOK = load_guidance()
NOON = datetime(2026, 1, 1, 3, 0, tzinfo=UTC)


def notice(action: PromptAction, level: int = 0, wake: bool = True) -> PromptNotice:
    d = PromptDecision(action, "prompt-0001", 102.0, level, event(), reason="r", wake=wake)
    return PromptNotice("night-1", d, BOOK.for_cramp(d.event.channel.muscle, d.event.kind),
                        BOOK, NOON)


def test_terminal_shows_headline_side_and_numbered_steps() -> None:
    out = io.StringIO()
    asyncio.run(TerminalChannel(out, width=90).deliver(notice(PromptAction.START)))
    text = out.getvalue()
    assert "CALF CRAMP (RIGHT LEG)" in text
    assert "1. Straighten your knee." in text
    assert "I'm OK" in text
    assert "\033[" not in text  # not a terminal: no escape codes in a log file


def test_terminal_after_care_when_the_cramp_ends() -> None:
    out = io.StringIO()
    asyncio.run(TerminalChannel(out).deliver(notice(PromptAction.STOP)))
    assert "Massage the calf." in out.getvalue()


def test_tone_louder_and_longer_at_higher_level() -> None:
    soft, loud = tone_samples(LEVEL_TONES[1]), tone_samples(LEVEL_TONES[2])
    assert loud.size > soft.size
    assert np.abs(loud).max() > 2 * np.abs(soft).max()
    assert soft.size / 22050 == pytest.approx(LEVEL_TONES[1].duration_s, abs=0.001)


def test_sound_without_player_writes_a_playable_wav(tmp_path: Path) -> None:
    channel = SoundChannel(tmp_path, play=False, speak=False)
    assert not channel.wants(notice(PromptAction.START, level=0))
    detail = asyncio.run(channel.deliver(notice(PromptAction.ESCALATE, level=2)))
    wavs = sorted(tmp_path.glob("*.wav"))
    assert len(wavs) == 1 and str(wavs[0]) in detail
    with wave.open(str(wavs[0])) as w:
        assert w.getframerate() == 22050 and w.getnchannels() == 1
        assert w.getnframes() / w.getframerate() == pytest.approx(LEVEL_TONES[2].duration_s, 0.01)


def test_sound_plays_through_a_player_and_stops_on_acknowledge(tmp_path: Path) -> None:
    # A real subprocess standing in for aplay: it sleeps like a long sound would.
    player = tmp_path / "player.sh"
    player.write_text("#!/bin/sh\necho \"$1\" >> \"$(dirname \"$0\")/played.txt\"\nsleep 30\n")
    player.chmod(0o755)
    channel = SoundChannel(tmp_path, player=[str(player)], speak=False)

    async def scenario() -> str:
        await channel.deliver(notice(PromptAction.ESCALATE, level=1))
        await asyncio.sleep(0.3)
        return await channel.deliver(notice(PromptAction.ACKNOWLEDGED, wake=False))

    assert asyncio.run(scenario()) == "stopped playback"
    assert "tone.wav" in (tmp_path / "played.txt").read_text()


def test_band_buzz_escalates_and_cancels_on_acknowledge() -> None:
    sent: list[BuzzPattern] = []

    async def send(p: BuzzPattern) -> None:
        sent.append(p)

    channel = BandBuzzChannel(send)
    for level in (0, 1, 2):
        asyncio.run(channel.deliver(notice(PromptAction.ESCALATE, level=level)))
    asyncio.run(channel.deliver(notice(PromptAction.ACKNOWLEDGED, wake=False)))
    assert sent[:3] == [LEVEL_BUZZ[0], LEVEL_BUZZ[1], LEVEL_BUZZ[2]]
    assert sent[0].intensity_pct < sent[2].intensity_pct
    assert sent[3].pulses == 0


def test_waking_channels_hold_back_in_quiet_mode() -> None:
    channel = BandBuzzChannel(lambda p: asyncio.sleep(0))
    assert channel.wants(notice(PromptAction.START))
    assert not channel.wants(notice(PromptAction.START, wake=False))
    assert TerminalChannel(io.StringIO()).wants(notice(PromptAction.SUPPRESSED, wake=False))


def test_band_link_error_becomes_channel_error() -> None:
    async def send(p: BuzzPattern) -> None:
        raise ConnectionError("link down")

    with pytest.raises(ChannelError, match="link down"):
        asyncio.run(BandBuzzChannel(send).deliver(notice(PromptAction.START)))


@pytest.fixture()
def http_sink() -> Iterator[tuple[str, list[dict[str, object]], list[int]]]:
    received: list[dict[str, object]] = []
    status = [204]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(json.loads(body))
            self.send_response(status[0])
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received, status
    server.shutdown()


def test_webhook_posts_the_notice_as_json(http_sink) -> None:
    url, received, _ = http_sink

    async def go() -> str:
        channel = WebhookChannel(url)
        try:
            return await channel.deliver(notice(PromptAction.START))
        finally:
            await channel.close()

    assert asyncio.run(go()) == "HTTP 204"
    assert received[0]["action"] == "start"
    assert received[0]["event"]["side"] == "right"
    assert received[0]["now"][0] == "Straighten your knee."


def test_webhook_error_status_is_a_failed_delivery(http_sink) -> None:
    url, _, status = http_sink
    status[0] = 503

    async def go() -> None:
        channel = WebhookChannel(url)
        try:
            await channel.deliver(notice(PromptAction.START))
        finally:
            await channel.close()

    with pytest.raises(ChannelError, match="503"):
        asyncio.run(go())


def test_bedside_hub_fans_out_and_routes_acknowledgement() -> None:
    hub = BedsideHub()
    answers: list[tuple[AckResponse, str]] = []

    async def on_ack(response: AckResponse, source: str) -> bool:
        answers.append((response, source))
        return True

    hub.set_ack_handler(on_ack)

    async def scenario() -> list[dict[str, object]]:
        got: list[dict[str, object]] = []

        async def reader() -> None:
            async for msg in hub.subscribe():
                got.append(msg)

        task = asyncio.create_task(reader())
        await asyncio.sleep(0)
        await BedsideChannel(hub).deliver(notice(PromptAction.START))
        assert hub.current is not None and hub.current["action"] == "start"
        assert await hub.acknowledge(AckResponse.STRETCHED, "page")
        await BedsideChannel(hub).deliver(notice(PromptAction.STOP))
        hub.close()
        await task
        return got

    got = asyncio.run(scenario())
    assert [m["action"] for m in got] == ["start", "stop"]
    assert answers == [(AckResponse.STRETCHED, "page")]
    assert hub.current is None


class _Broken(PromptChannel):
    name = "broken"

    async def deliver(self, notice: PromptNotice) -> str:
        raise ChannelError("speaker unplugged")


class _Slow(PromptChannel):
    name = "slow"

    async def deliver(self, notice: PromptNotice) -> str:
        await asyncio.sleep(10)
        return "late"


def test_dispatcher_logs_every_decision_and_each_channel_outcome(tmp_path: Path) -> None:
    out = io.StringIO()
    log = PromptLog(tmp_path / "prompts.jsonl")
    dispatcher = PromptDispatcher(
        "night-1", BOOK, [TerminalChannel(out), _Broken(), _Slow()], log, channel_timeout_s=0.2
    )
    policy = PromptPolicy()
    decisions = policy.on_event(event(), 102.0) + policy.acknowledge(108.0)
    asyncio.run(dispatcher.dispatch(decisions))
    log.close()
    records = read_prompt_log(tmp_path / "prompts.jsonl")
    decided = [(r["action"], r["session_s"]) for r in records if r["type"] == "decision"]
    assert decided == [("start", 102.0), ("acknowledged", 108.0)]
    outcome = {(r["action"], r["channel"]): r["ok"] for r in records if r["type"] == "delivery"}
    assert outcome[("start", "terminal")] is True
    assert outcome[("start", "broken")] is False
    assert outcome[("start", "slow")] is False
    assert all("wall_time" in r for r in records)
    assert "CALF CRAMP" in out.getvalue()
    assert dispatcher.failures == 4


def test_prompt_log_skips_a_torn_last_line_only(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text('{"a": 1}\n{"b": 2}\n{"c": ')
    assert read_prompt_log(path) == [{"a": 1}, {"b": 2}]
    path.write_text('{"a": 1}\nnot json\n{"c": 3}\n')
    with pytest.raises(ValueError, match=":2:"):
        read_prompt_log(path)
