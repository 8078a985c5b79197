"""Reading a source through the night: connect, stream, and reconnect after a loss.

A band that drops off (out of range, a dead link) is connected again with a backoff
(``reconnect_first_s`` doubling to ``reconnect_max_s``) until it returns or has been
away for ``give_up_after_s`` of night time; a recording, or a source that does not
reconnect, ends the night when it ends. Every connection and loss is journaled.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from crampwatch.errors import UserError
from crampwatch.live.clock import SessionClock
from crampwatch.live.night import NightJournal
from crampwatch.live.session_report import SessionParams, SessionReport
from crampwatch.live.sources import LiveSource
from crampwatch.live.status import SessionStatus
from firmware_bridge.events import (
    ClockStepped,
    Disconnected,
    FramesDropped,
    Reconnected,
    SequenceIgnored,
    StreamRestarted,
)
from firmware_bridge.link import BandLinkError

# What the link says about itself mid-stream: counted and journaled, never an end.
LINK_EVENTS = (Disconnected, Reconnected, FramesDropped, StreamRestarted, SequenceIgnored,
               ClockStepped)
LinkEvent = (Disconnected | Reconnected | FramesDropped | StreamRestarted | SequenceIgnored
             | ClockStepped)


def note_link_event(item: LinkEvent, journal: NightJournal, report: SessionReport,
                    status: SessionStatus, session_s: float) -> None:
    """Count and journal one thing the link reported about itself."""
    if isinstance(item, Disconnected):
        status.connection = "reconnecting" if item.will_reconnect else "lost"
        journal.write("link", what="disconnected", reason=item.reason, session_s=session_s)
        return
    if isinstance(item, Reconnected):
        status.connection = "streaming"
        journal.write("link", what="reconnected", down_s=item.down_s, session_s=session_s)
        return
    if isinstance(item, FramesDropped):
        report.corrupt_packets += item.count
    elif isinstance(item, StreamRestarted):
        report.stream_restarts += 1
    elif isinstance(item, ClockStepped):
        report.clock_steps += 1
    else:
        report.sequence_ignored += 1
    journal.write("link", what=type(item).__name__, detail=str(item), session_s=session_s)


class SourceReader:
    """Hands every item of every connection of ``source`` to ``on_item`` until the end."""

    def __init__(self, source: LiveSource, params: SessionParams, journal: NightJournal,
                 report: SessionReport, status: SessionStatus, clock: SessionClock,
                 stop: asyncio.Event, *, capture: bool,
                 on_connect: Callable[[], None],
                 on_item: Callable[[object], Awaitable[None]]) -> None:
        self.source = source
        self.params = params
        self.journal = journal
        self.report = report
        self.status = status
        self.clock = clock
        self.stop = stop
        self.capture = capture
        self.on_connect = on_connect
        self.on_item = on_item
        self._attempts = 0

    async def run(self) -> None:
        """Return when the source has ended, the band stayed away too long, or on stop."""
        p = self.params
        delay = p.reconnect_first_s
        lost_since: float | None = None
        while not self.stop.is_set():
            capture_path = None
            self._attempts += 1
            if self.capture and self.source.can_buzz:
                n = self._attempts
                capture_path = self.journal.dir / f"capture-r{self.journal.run}-c{n}.cwcap"
            try:
                items = await self.source.connect(capture_path)
            except (BandLinkError, OSError) as exc:
                first_attempt = self.report.connections == 0 and lost_since is None
                if not self.source.reconnects or first_attempt:
                    raise UserError(
                        f"cannot connect to the {self.source.description}: {exc}"
                    ) from exc
                self.status.connection = f"reconnecting ({exc})"
                if lost_since is not None and self.clock.now_s() - lost_since > p.give_up_after_s:
                    self.report.ended_by = f"band gone for {p.give_up_after_s:.0f} s"
                    return
                await self.sleep_or_stop(delay)
                delay = min(delay * 2, p.reconnect_max_s)
                continue
            self.report.connections += 1
            self.status.connection = "streaming"
            self.journal.write("connected", n=self.report.connections,
                               session_s=self.clock.now_s(),
                               capture=None if capture_path is None else capture_path.name)
            self.on_connect()
            delay = p.reconnect_first_s
            ended = await self._consume(items)
            await self.source.disconnect()
            if ended == "stop":
                return
            if ended == "end" or not self.source.reconnects:
                self.report.ended_by = self.report.ended_by or "source ended"
                return
            self.report.disconnects += 1
            lost_since = self.clock.now_s()
            self.status.connection = "reconnecting"
            self.journal.write("disconnected", session_s=lost_since, reason=ended)

    async def _consume(self, items: object) -> str:
        """Return why the stream ended: 'end', 'stop', or the loss reason.

        Items already waiting are taken in a row, other tasks getting a turn every
        ``consume_batch`` items. On a busy machine each loop turn is slow (the BLE stack,
        the DSP thread holding the GIL): a reader spending turns on every item falls
        behind the band until the link's bounded queue overruns (LinkOverrun), and the
        band takes no buzz until the session has reconnected.
        """
        batch = max(1, self.params.consume_batch)

        async def pump() -> str:
            taken = 0
            try:
                async for item in items:  # type: ignore[attr-defined]
                    if self.stop.is_set():
                        return "stop"
                    await self.on_item(item)
                    taken += 1
                    if taken % batch == 0:
                        await asyncio.sleep(0)
            except BandLinkError as exc:
                return str(exc) or type(exc).__name__
            return "end"

        reader = asyncio.ensure_future(pump())
        stop_wait = asyncio.ensure_future(self.stop.wait())
        try:
            done, _ = await asyncio.wait({reader, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
            if reader in done:
                return reader.result()
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            return "stop"
        finally:
            stop_wait.cancel()
            reader.cancel()

    async def sleep_or_stop(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), seconds)
