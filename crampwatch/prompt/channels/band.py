"""Prompt channel: the band's buzz command, sent through the firmware bridge's link."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from crampwatch.prompt.channels.base import ChannelError, PromptChannel
from crampwatch.prompt.notice import PromptNotice
from crampwatch.prompt.policy import PromptAction


@dataclass(frozen=True)
class BuzzPattern:
    """A vibration train: ``pulses`` of ``on_ms`` separated by ``off_ms`` at ``intensity_pct``."""

    pulses: int
    on_ms: int
    off_ms: int
    intensity_pct: int


# Gentle first, then stronger and longer while unanswered. (inference)
LEVEL_BUZZ: dict[int, BuzzPattern] = {
    0: BuzzPattern(pulses=3, on_ms=200, off_ms=300, intensity_pct=40),
    1: BuzzPattern(pulses=5, on_ms=300, off_ms=200, intensity_pct=70),
    2: BuzzPattern(pulses=10, on_ms=400, off_ms=150, intensity_pct=100),
}
RED_FLAG_BUZZ = BuzzPattern(pulses=4, on_ms=600, off_ms=600, intensity_pct=100)
SILENCE = BuzzPattern(pulses=0, on_ms=0, off_ms=0, intensity_pct=0)

BuzzSender = Callable[[BuzzPattern], Awaitable[None]]


class BandBuzzChannel(PromptChannel):
    """Buzzes the band from level 0 (the gentlest wake); a zero-pulse pattern cancels a buzz."""

    name = "band"
    wakes = True
    min_level = 0

    def __init__(self, send: BuzzSender) -> None:
        self._send = send

    async def deliver(self, notice: PromptNotice) -> str:
        d = notice.decision
        if d.action in (PromptAction.STOP, PromptAction.ACKNOWLEDGED):
            pattern = SILENCE
        elif d.action is PromptAction.RED_FLAG:
            pattern = RED_FLAG_BUZZ
        else:
            pattern = LEVEL_BUZZ[min(d.level, max(LEVEL_BUZZ))]
        try:
            await self._send(pattern)
        except ChannelError:
            raise
        except (OSError, ConnectionError, TimeoutError) as exc:
            raise ChannelError(f"band did not take the buzz command: {exc}") from exc
        return (
            f"buzz {pattern.pulses}x{pattern.on_ms} ms at {pattern.intensity_pct}%"
            if pattern.pulses
            else "buzz cancelled"
        )
