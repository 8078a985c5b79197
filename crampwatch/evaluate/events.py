"""A detected event as evaluation reads it: one line of ``crampwatch replay`` output."""

from __future__ import annotations

import math
from dataclasses import dataclass

from sensor.records import EventKind


@dataclass(frozen=True)
class DetectedEvent:
    """One line of replay output, as evaluation needs it (times in s from the recording start).

    ``final`` is False for a provisional call made while the episode ran (``end_s`` then
    None); ``known_at_s`` is when the call was made, ``first_cramp_call_s`` when the
    episode was first called a cramp (None when never, or when the file does not say).
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

    @property
    def is_cramp(self) -> bool:
        return self.kind in (EventKind.TONIC, EventKind.CLONIC)

    @property
    def was_called_cramp(self) -> bool:
        return self.is_cramp or (
            self.first_cramp_call_s is not None and math.isfinite(self.first_cramp_call_s)
        )
