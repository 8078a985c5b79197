"""Turns policy decisions into notices, hands them to the channels and logs everything."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from crampwatch.prompt.channels.base import ChannelError, PromptChannel
from crampwatch.prompt.guidance import GuidanceBook
from crampwatch.prompt.log import PromptLog
from crampwatch.prompt.notice import PromptNotice
from crampwatch.prompt.policy import PromptDecision

log = logging.getLogger(__name__)

WallClock = Callable[[], datetime]


@dataclass(frozen=True)
class Dispatched:
    """One decision as delivered: its notice and the channels that really carried it."""

    notice: PromptNotice
    # Names of the channels that delivered it, those that can wake the sleeper first.
    reached: tuple[str, ...]


def utc_now() -> datetime:
    """Return the current wall time in UTC."""
    return datetime.now(UTC)


class PromptDispatcher:
    """Delivers each decision to the channels that want it, in parallel, with a time limit.

    A failed channel does not hold back the others: its failure is written to the prompt
    log (and the log listeners) next to the successful deliveries, so the night's record
    says exactly which channel reached the sleeper and which did not.
    """

    def __init__(
        self,
        session_id: str,
        book: GuidanceBook,
        channels: Sequence[PromptChannel],
        log_: PromptLog,
        *,
        channel_timeout_s: float = 5.0,
        clock: WallClock = utc_now,
    ) -> None:
        names = [c.name for c in channels]
        if len(set(names)) != len(names):
            raise ValueError(f"prompt channel names must be unique, got {names}")
        self.session_id = session_id
        self.book = book
        self.channels = list(channels)
        self.log = log_
        self._timeout_s = channel_timeout_s
        self._clock = clock
        self.failures = 0

    def notice_for(self, decision: PromptDecision) -> PromptNotice:
        """Return the notice for ``decision`` with the guidance of its cramp's muscle and kind."""
        ev = decision.event
        return PromptNotice(
            session_id=self.session_id,
            decision=decision,
            guidance=self.book.for_cramp(ev.channel.muscle, ev.kind),
            book=self.book,
            wall_time=self._clock(),
        )

    async def dispatch(self, decisions: Sequence[PromptDecision]) -> list[Dispatched]:
        """Deliver ``decisions`` in order; return each one's notice (all logged) and the
        channels that delivered it."""
        notices = []
        for decision in decisions:
            notice = self.notice_for(decision)
            self.log.write(_decision_record(notice))
            targets = [c for c in self.channels if c.wants(notice)]
            results = await asyncio.gather(
                *(self._deliver(c, notice) for c in targets), return_exceptions=False
            )
            reached = [c for c, (ok, _) in zip(targets, results, strict=True) if ok]
            reached.sort(key=lambda c: not c.wakes)  # stable: channel order within each
            for channel, (ok, detail) in zip(targets, results, strict=True):
                self.log.write(
                    {
                        "type": "delivery",
                        "session_id": self.session_id,
                        "prompt_id": decision.prompt_id,
                        "event_id": decision.event.event_id,
                        "action": decision.action.value,
                        "level": decision.level,
                        "channel": channel.name,
                        "ok": ok,
                        "detail": detail,
                        "session_s": round(decision.at_s, 3),
                        "wall_time": self._clock(),
                    }
                )
            notices.append(Dispatched(notice, tuple(c.name for c in reached)))
        return notices

    async def _deliver(self, channel: PromptChannel, notice: PromptNotice) -> tuple[bool, str]:
        try:
            detail = await asyncio.wait_for(channel.deliver(notice), self._timeout_s)
        except TimeoutError:
            self.failures += 1
            log.warning("prompt channel %s timed out after %.1f s", channel.name, self._timeout_s)
            return False, f"timed out after {self._timeout_s:.1f} s"
        except ChannelError as exc:
            self.failures += 1
            log.warning("prompt channel %s failed: %s", channel.name, exc)
            return False, str(exc)
        return True, detail

    async def close(self) -> None:
        """Close every channel (stop sounds, close HTTP clients)."""
        for channel in self.channels:
            try:
                await channel.close()
            except ChannelError as exc:
                log.warning("closing prompt channel %s: %s", channel.name, exc)


def _decision_record(notice: PromptNotice) -> dict[str, object]:
    d = notice.decision
    ev = d.event
    return {
        "type": "decision",
        "session_id": notice.session_id,
        "action": d.action.value,
        "prompt_id": d.prompt_id,
        "event_id": ev.event_id,
        "kind": ev.kind.value,
        "muscle": ev.channel.muscle.value,
        "side": ev.channel.side.value,
        "event_start_s": round(ev.start_s, 3),
        "level": d.level,
        "reason": d.reason,
        "wake": d.wake,
        "response": None if d.response is None else d.response.value,
        "session_s": round(d.at_s, 3),
        "wall_time": notice.wall_time,
    }
