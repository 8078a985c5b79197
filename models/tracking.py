"""Calls across an episode's life: once a cramp is called, the sleeper's response cannot undo it.

A cramp wakes the sleeper within seconds to tens of seconds; they pull the toes up
(the shin fires), knead the calf (the leg moves), stand and walk, all while the calf
still cramps (DOMAIN.md, "During a cramp"). Judged on the whole episode, that response
looks like a stretch, a movement or walking. So a cramp's kind is decided while its
course is still its own: :class:`EpisodeCalls` wraps any
:class:`~models.classifier.EpisodeClassifier` and, once an episode has been called a
cramp (provisionally or finally), keeps it a cramp until it ends:

- a later cramp call refines the kind (a clonic cramp shows its bursts over time);
- a later look-alike call is replaced by the last cramp call (kind and confidence);
- when it closes, the kind is read from its course up to the last update at which the
  calf was still active alone (``alone_now_s`` > 0: before the response), where the
  classifier can say (``cramp_kind``), so kneading or walking does not make a tonic
  cramp look clonic.

An episode never called a cramp while it ran is no cramp at its end either: it keeps
the call of its last running update, so the log and the wake-ups tell the same story
(a cramp is recognised as it runs, DESIGN.md). Only an episode that closes at its first
update is judged at its end, and then as a running one, as sure as a wake-up would
need. State is per episode id and dropped when the episode closes.
"""

from __future__ import annotations

from dataclasses import replace

from models.classifier import Classification, EpisodeClassifier
from sensor.records import EpisodePhase, EpisodeUpdate


class EpisodeCalls:
    """A stateful caller for one session: the classifier's call, held once it is a cramp."""

    def __init__(self, classifier: EpisodeClassifier) -> None:
        self.classifier = classifier
        self._cramp: dict[int, Classification] = {}
        self._calm: dict[int, EpisodeUpdate] = {}
        self._running: dict[int, Classification] = {}  # last call while open, no cramp

    @property
    def version(self) -> str:
        return str(self.classifier.version)

    def classify(self, update: EpisodeUpdate) -> Classification:
        """Return the call on this update, a cramp if the episode was ever called one."""
        eid = update.episode_id
        if update.features.get("alone_now_s", 1.0) != 0.0:
            self._calm[eid] = update  # the muscle alone, no response (yet)
        call = self.classifier.classify(update)
        held = self._cramp.get(eid)
        closed = update.phase is EpisodePhase.CLOSED
        if call.kind.is_cramp and held is None and closed:
            # Never a cramp while it ran: none at its end either.
            running = self._running.get(eid)
            call = running if running is not None else self.classifier.classify(
                replace(update, phase=EpisodePhase.UPDATED, end_s=None))
        if call.kind.is_cramp:
            self._cramp[eid] = held = call
        elif held is not None:
            call = held
        elif not closed:
            self._running[eid] = call
        if closed:
            calm = self._calm.pop(eid, None)
            self._cramp.pop(eid, None)
            self._running.pop(eid, None)
            if held is not None:
                call = self._final_kind(call, calm or update)
        return call

    def _final_kind(self, call: Classification, course: EpisodeUpdate) -> Classification:
        """Return the cramp call with its kind read from the course before any response."""
        cramp_kind = getattr(self.classifier, "cramp_kind", None)
        kind = cramp_kind(course) if cramp_kind is not None else None
        return call if kind is None else Classification(kind, call.confidence)

