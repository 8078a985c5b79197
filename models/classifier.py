"""The contract every episode classifier meets: an episode update in, a kind and confidence out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sensor.records import EpisodeUpdate, EventKind


@dataclass(frozen=True)
class Classification:
    """A call on one episode: its kind and a calibrated confidence in 0..1."""

    kind: EventKind
    confidence: float

    def __post_init__(self) -> None:
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence must be within 0..1, got {self.confidence}")


class EpisodeClassifier(Protocol):
    """Classifies an episode from its features; called for every update, open or closed.

    A call on an OPENED/UPDATED episode is provisional (the episode is still running);
    a call on a CLOSED one is final. Implementations are pure: same update, same call.
    """

    @property
    def version(self) -> str: ...

    def classify(self, update: EpisodeUpdate) -> Classification: ...
