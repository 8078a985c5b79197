"""Prompt channel: the bedside web page, fed live over server-sent events.

:class:`BedsideHub` keeps the page's current state and fans notices out to every open
page; the page's "I'm OK" / "I stretched" buttons come back through :meth:`acknowledge`,
which hands them to the live session. The HTTP side is ``crampwatch.live.bedside``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from crampwatch.prompt.channels.base import PromptChannel
from crampwatch.prompt.notice import PromptNotice
from crampwatch.prompt.policy import AckResponse, PromptAction

# Returns True when the answer acknowledged a running prompt.
AckHandler = Callable[[AckResponse, str], Awaitable[bool]]

_QUEUE_LIMIT = 64  # a stalled page drops its oldest notices, never blocks the session


class BedsideHub:
    """The bedside page's state: the latest notice, live subscribers, the acknowledge path."""

    def __init__(self) -> None:
        self._current: dict[str, object] | None = None
        self._subscribers: set[asyncio.Queue[dict[str, object] | None]] = set()
        self._ack: AckHandler | None = None
        self._status: dict[str, object] = {}

    @property
    def current(self) -> dict[str, object] | None:
        """Return the notice the page should show now (None: nothing is happening)."""
        return self._current

    @property
    def page_count(self) -> int:
        """Return how many bedside pages are listening now."""
        return len(self._subscribers)

    def set_ack_handler(self, handler: AckHandler) -> None:
        """Route the page's buttons to ``handler`` (the live session's acknowledge)."""
        self._ack = handler

    async def acknowledge(self, response: AckResponse, source: str) -> bool:
        """Return True when the answer reached a running prompt; False if none was running."""
        if self._ack is None:
            return False
        return await self._ack(response, source)

    def publish(self, message: dict[str, object]) -> None:
        """Send ``message`` to every open page; remember prompt state for pages opened later."""
        if message.get("type") == "notice":
            action = message.get("action")
            if action in (PromptAction.STOP.value,):
                self._current = None
            elif action != PromptAction.SUPPRESSED.value:
                self._current = message
        elif message.get("type") == "status":
            self._status = message
        for queue in list(self._subscribers):
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(message)

    async def subscribe(self) -> AsyncIterator[dict[str, object]]:
        """Yield the current state, then every message until the hub closes."""
        queue: asyncio.Queue[dict[str, object] | None] = asyncio.Queue(_QUEUE_LIMIT)
        self._subscribers.add(queue)
        try:
            if self._status:
                yield self._status
            if self._current is not None:
                yield self._current
            while True:
                message = await queue.get()
                if message is None:
                    return
                yield message
        finally:
            self._subscribers.discard(queue)

    def close(self) -> None:
        """End every subscription (the session is over)."""
        for queue in list(self._subscribers):
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(None)


class BedsideChannel(PromptChannel):
    """Publishes every notice to the bedside page (it never wakes: it shows)."""

    name = "bedside"

    def __init__(self, hub: BedsideHub) -> None:
        self._hub = hub

    async def deliver(self, notice: PromptNotice) -> str:
        message = {"type": "notice", **notice.to_json()}
        self._hub.publish(message)
        return f"published to {self._hub.page_count} open page(s)"
