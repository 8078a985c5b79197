"""The bedside page: live notices in, acknowledgement out, behind its token."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from crampwatch.live.bedside import bedside_router, new_bedside_token
from crampwatch.prompt.channels.bedside import BedsideChannel, BedsideHub
from crampwatch.prompt.guidance import load_guidance
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
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(make_app(hub, token), host="127.0.0.1", port=port, log_level="warning")
    )

    async def scenario() -> None:
        serving = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.05)
        try:
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
        finally:
            hub.close()
            server.should_exit = True
            await serving

    asyncio.run(scenario())
    assert answers == [(AckResponse.STRETCHED, "bedside page")]
