"""The bedside page: live notices in, acknowledgement out, behind its token."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import socket
import struct
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from crampwatch.live.bedside import bedside_router, new_bedside_token
from crampwatch.live.status import SessionStatus
from crampwatch.prompt.channels.base import PromptChannel
from crampwatch.prompt.channels.bedside import BedsideChannel, BedsideHub
from crampwatch.prompt.channels.terminal import TerminalChannel
from crampwatch.prompt.dispatcher import PromptDispatcher
from crampwatch.prompt.guidance import load_guidance
from crampwatch.prompt.log import PromptLog
from crampwatch.prompt.notice import PromptNotice
from crampwatch.prompt.policy import AckResponse, PromptAction, PromptDecision
from tests.crampwatch.prompt_helpers import event

BOOK = load_guidance()


def notice(action: PromptAction) -> PromptNotice:
    d = PromptDecision(action, "prompt-0001", 102.0, 0, event())
    return PromptNotice("night-1", d, BOOK.for_cramp(d.event.channel.muscle, d.event.kind),
                        BOOK, datetime(2026, 1, 1, tzinfo=UTC))


def make_app(hub: BedsideHub, token: str) -> FastAPI:
    app = FastAPI()
    app.include_router(bedside_router(hub, token))
    return app


def test_token_is_required() -> None:
    token = new_bedside_token()
    client = TestClient(make_app(BedsideHub(), token))
    assert client.get("/bedside").status_code == 422  # no token at all
    assert client.get("/bedside", params={"token": "x" * 22}).status_code == 401
    assert client.post("/bedside/ack", params={"token": "nope"},
                       json={"response": "ok"}).status_code == 401
    assert client.get("/bedside", params={"token": token}).status_code == 200


def test_ack_reaches_the_session_and_bad_answer_is_refused() -> None:
    token = new_bedside_token()
    hub = BedsideHub()
    got: list[AckResponse] = []

    async def on_ack(response: AckResponse, source: str) -> bool:
        got.append(response)
        return True

    hub.set_ack_handler(on_ack)
    client = TestClient(make_app(hub, token))
    r = client.post("/bedside/ack", params={"token": token}, json={"response": "stretched"})
    assert r.status_code == 200 and r.json()["acknowledged"] is True
    assert got == [AckResponse.STRETCHED]
    bad = client.post("/bedside/ack", params={"token": token}, json={"response": "maybe"})
    assert bad.status_code == 422


def test_short_token_refused() -> None:
    with pytest.raises(ValueError, match="16"):
        bedside_router(BedsideHub(), "short")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def _serving(app: FastAPI, hub: BedsideHub) -> AsyncIterator[int]:
    """Serve ``app`` with uvicorn on 127.0.0.1; yield its port; end the night and stop."""
    port = _free_port()
    # log_config=None: uvicorn's records reach the root logger, where caplog sees them.
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_config=None, log_level="info"))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    try:
        yield port
    finally:
        hub.close()
        server.should_exit = True
        await serving


@pytest.mark.browser
def test_page_shows_prompt_live_and_button_acknowledges(artifacts_dir: Path) -> None:
    from playwright.async_api import async_playwright

    token = new_bedside_token()
    hub = BedsideHub()
    answers: list[tuple[AckResponse, str]] = []

    async def on_ack(response: AckResponse, source: str) -> bool:
        answers.append((response, source))
        return True

    hub.set_ack_handler(on_ack)

    async def scenario() -> None:
        async with _serving(make_app(hub, token), hub) as port:
            async with async_playwright() as pw:
                browser = await pw.chromium.launch(executable_path="/usr/bin/chromium")
                page = await browser.new_page()
                await page.goto(f"http://127.0.0.1:{port}/bedside?token={token}")
                while hub.page_count == 0:
                    await asyncio.sleep(0.05)
                await BedsideChannel(hub).deliver(notice(PromptAction.START))
                await page.wait_for_selector("text=Calf cramp (right leg)", timeout=5000)
                assert "Straighten your knee." in await page.inner_text("#steps")
                await page.screenshot(path=str(artifacts_dir / "bedside-prompt.png"))
                await page.click("#stretched")
                await page.wait_for_selector("#buttons", state="hidden", timeout=5000)
                await BedsideChannel(hub).deliver(notice(PromptAction.STOP))
                await page.wait_for_selector("text=The cramp is over", timeout=5000)
                await browser.close()
            # the page's state also reads back over plain HTTP
            async with httpx.AsyncClient() as client:
                r = await client.get(f"http://127.0.0.1:{port}/bedside/state",
                                     params={"token": token})
                assert r.json() == {"current": None}

    asyncio.run(scenario())
    assert answers == [(AckResponse.STRETCHED, "bedside page")]


class _Recorder(PromptChannel):
    """A channel that keeps every notice it is handed (stands in for sound, band, webhook)."""

    name = "recorder"

    def __init__(self) -> None:
        self.actions: list[str] = []

    async def deliver(self, notice: PromptNotice) -> str:
        self.actions.append(notice.action.value)
        return "recorded"


def _decision(action: PromptAction, level: int) -> PromptDecision:
    return PromptDecision(action, "prompt-0001", 102.0 + level, level, event(), reason="test")


def _raw_drop(port: int, token: str) -> None:
    """Open the stream on a bare socket, read its first bytes, then reset the connection."""
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(f"GET /bedside/stream?token={token} HTTP/1.1\r\nHost: bedside\r\n\r\n".encode())
        assert s.recv(1024).startswith(b"HTTP/1.1 200")
        # SO_LINGER 0: close() sends RST, as a phone that loses Wi-Fi would look at best.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def test_closing_the_page_during_a_prompt_never_raises_and_prompt_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    token = new_bedside_token()
    hub = BedsideHub()
    terminal_out = io.StringIO()
    recorder = _Recorder()
    dispatcher = PromptDispatcher(
        "night-1", BOOK, [TerminalChannel(terminal_out), BedsideChannel(hub), recorder],
        PromptLog(tmp_path / "prompts.jsonl"),
    )
    loop_errors: list[dict[str, object]] = []
    caplog.set_level(logging.INFO)

    async def scenario() -> list[str]:
        asyncio.get_running_loop().set_exception_handler(
            lambda loop, context: loop_errors.append(context))
        seen: list[str] = []
        async with _serving(make_app(hub, token), hub) as port:
            url = f"http://127.0.0.1:{port}/bedside/stream"
            hub.publish(SessionStatus(connection="streaming").to_json())
            await dispatcher.dispatch([_decision(PromptAction.START, 0)])
            async with httpx.AsyncClient(timeout=10.0) as client:
                for i in range(20):
                    async with client.stream("GET", url, params={"token": token}) as r:
                        assert r.status_code == 200
                        if i % 5 == 4:  # a reminder goes out while this page is open
                            await dispatcher.dispatch([_decision(PromptAction.ESCALATE,
                                                                 i // 5 + 1)])
                        if i % 2:  # read up to the prompt; else close before any event
                            async for line in r.aiter_lines():
                                if line.startswith("data:"):
                                    seen.append(json.loads(line[5:])["type"])
                                    if seen[-1] == "notice":
                                        break
                    # leaving the block closes the connection mid-stream
                for _ in range(3):
                    await asyncio.to_thread(_raw_drop, port, token)
            async with asyncio.timeout(10):
                while hub.page_count:  # every closed page has been noticed and let go
                    await asyncio.sleep(0.05)
            await dispatcher.dispatch([_decision(PromptAction.STOP, 4)])
        await dispatcher.close()
        return seen

    seen = asyncio.run(scenario())
    dispatcher.log.close()
    # every page that read on got the band's status, then the running prompt
    assert seen == ["status", "notice"] * 10
    assert recorder.actions == ["start", "escalate", "escalate", "escalate", "escalate", "stop"]
    assert terminal_out.getvalue().count("STILL CRAMPING?") == 4
    assert "The cramp is over" in terminal_out.getvalue()
    deliveries = [r for r in dispatcher.log.read() if r["type"] == "delivery"]
    assert all(r["ok"] for r in deliveries) and len(deliveries) == 18
    assert loop_errors == []
    troubles = [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
    assert troubles == [], [r.getMessage() for r in troubles]
    err = capfd.readouterr().err
    assert "Traceback" not in err and "Exception" not in err, err
