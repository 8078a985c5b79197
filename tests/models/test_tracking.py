"""Calls across an episode's life: held once a cramp, never made one only at the end."""

from __future__ import annotations

from dataclasses import dataclass, field

from models.classifier import Classification
from models.tracking import EpisodeCalls
from sensor.records import EpisodePhase, EpisodeUpdate, EventKind
from tests.models.cases import CALF


@dataclass
class Scripted:
    """A classifier that answers each update with the next call of its script."""

    calls: list[EventKind]
    seen: list[EpisodeUpdate] = field(default_factory=list)
    version: str = "scripted-1"

    def classify(self, update: EpisodeUpdate) -> Classification:
        self.seen.append(update)
        return Classification(self.calls[len(self.seen) - 1], 0.9)

    def cramp_kind(self, update: EpisodeUpdate) -> EventKind | None:
        return EventKind.TONIC


def _course(n: int, alone_until: int = 99) -> list[EpisodeUpdate]:
    """Return n updates of one calf episode, the last closing it, alone up to an index."""
    ups = []
    for i in range(n):
        closed = i == n - 1
        ups.append(EpisodeUpdate(
            phase=EpisodePhase.CLOSED if closed else EpisodePhase.UPDATED, episode_id=7,
            channel=CALF, start_s=100.0, end_s=100.0 + i if closed else None,
            known_at_s=100.0 + i,
            features={"alone_now_s": float(i) if i <= alone_until else 0.0}))
    return ups


def _run(calls: list[EventKind], ups: list[EpisodeUpdate]) -> list[EventKind]:
    tracker = EpisodeCalls(Scripted(calls))
    return [tracker.classify(u).kind for u in ups]


def test_a_cramp_call_is_held_through_the_sleepers_response() -> None:
    k = EventKind
    got = _run([k.MOVEMENT, k.TONIC, k.STRETCH, k.WALKING, k.STRETCH], _course(5, 2))
    assert got == [k.MOVEMENT, k.TONIC, k.TONIC, k.TONIC, k.TONIC]


def test_an_episode_never_called_a_cramp_while_it_ran_is_none_at_its_end() -> None:
    k = EventKind
    got = _run([k.STRETCH, k.STRETCH, k.MOVEMENT, k.TONIC], _course(4))
    assert got == [k.STRETCH, k.STRETCH, k.MOVEMENT, k.MOVEMENT]


def test_an_episode_that_closes_at_once_is_judged_as_a_running_one() -> None:
    classifier = Scripted([EventKind.TONIC, EventKind.JERK])
    call = EpisodeCalls(classifier).classify(_course(1)[0])
    assert call.kind is EventKind.JERK
    assert classifier.seen[-1].phase is EpisodePhase.UPDATED
