"""The one interface every prompt channel implements."""

from __future__ import annotations

import abc

from crampwatch.prompt.notice import PromptNotice
from crampwatch.prompt.policy import PromptAction


class ChannelError(RuntimeError):
    """A channel could not deliver a notice (device gone, HTTP error, no audio player)."""


class PromptChannel(abc.ABC):
    """Shows, sounds or sends prompt notices; one instance per session.

    ``wakes`` channels (band buzz, sound) are the ones that can wake a sleeper: they are
    held back in quiet mode and start only at ``min_level`` of the escalation.
    """

    name: str = "channel"
    wakes: bool = False
    min_level: int = 0

    def wants(self, notice: PromptNotice) -> bool:
        """Return True when this channel should deliver ``notice``."""
        action = notice.action
        if action in (PromptAction.START, PromptAction.ESCALATE):
            return notice.level >= self.min_level and (notice.decision.wake or not self.wakes)
        if self.wakes:
            # Waking channels only need to hear when to fall silent, and the red flag.
            return action in (PromptAction.STOP, PromptAction.ACKNOWLEDGED) or (
                action is PromptAction.RED_FLAG and notice.decision.wake
            )
        return True

    @abc.abstractmethod
    async def deliver(self, notice: PromptNotice) -> str:
        """Deliver ``notice``; return a short description of what was done.

        Raises ChannelError when it could not be delivered.
        """

    async def close(self) -> None:  # noqa: B027 - optional hook; most channels hold nothing
        """Release what the channel holds (players, HTTP clients)."""
