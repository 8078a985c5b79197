"""A detected event as evaluation reads it: one line of ``crampwatch replay`` output."""

from __future__ import annotations

import math
from dataclasses import dataclass

from sensor.records import EventKind


@dataclass(frozen=True)
class ReportedPrompt:
    """What replay's prompt policy, on the night's own clock, did about one episode: the
    ``prompt`` object of its final line (times in s from the recording start, None when
    it did not happen)."""

    prompted_at_s: float | None = None  # the prompt this episode started
    stopped_at_s: float | None = None  # when that prompt stopped
    red_flag_at_s: float | None = None
    suppressed: str | None = None  # why a prompt it was worth was held back

    @classmethod
    def from_line(cls, value: object) -> ReportedPrompt | None:
        """Return the ``prompt`` object of a replay line (None when the line has none)."""
        if not isinstance(value, dict):
            return None
        suppressed = value.get("suppressed")
        return cls(_seconds(value.get("prompted_at_s")), _seconds(value.get("stopped_at_s")),
                   _seconds(value.get("red_flag_at_s")),
                   None if suppressed is None else str(suppressed))


@dataclass(frozen=True)
class DetectedEvent:
    """One line of replay output, as evaluation needs it (times in s from the recording start).

    ``final`` is False for a provisional call made while the episode ran (``end_s`` then
    None); ``known_at_s`` is when the call was made, ``first_cramp_call_s`` when the
    episode was first called a cramp (None when never, or when the file does not say);
    ``prompt`` is what replay's prompt policy did about the episode (final lines of
    ``crampwatch replay`` JSON; None when the file does not say).
    """

    file: str
    event_id: str
    start_s: float
    end_s: float | None
    kind: str
    channel: str
    confidence: float
    final: bool = True
    first_cramp_call_s: float | None = None
    known_at_s: float | None = None
    prompt: ReportedPrompt | None = None

    @property
    def is_cramp(self) -> bool:
        return self.kind in (EventKind.TONIC, EventKind.CLONIC)

    @property
    def was_called_cramp(self) -> bool:
        return self.is_cramp or (
            self.first_cramp_call_s is not None and math.isfinite(self.first_cramp_call_s)
        )


def _seconds(value: object) -> float | None:
    if value is None:
        return None
    seconds = float(value)  # type: ignore[arg-type]
    return seconds if math.isfinite(seconds) else None
