"""From per-kind scores to one call: when an episode is called a cramp, provisional or final.

Evaluation and the live session count an episode as a wake-up the first time it is
called a cramp at all (``crampwatch.pipeline``: ``first_cramp_call_s``), so a cramp
call on an open episode is only made when the cramp is likely enough to wake for;
otherwise the call is the most likely look-alike, and the episode can still be called
a cramp at a later update.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from models.classifier import Classification
from sensor.records import EpisodePhase, EpisodeUpdate, EventKind

_CRAMPS = (EventKind.TONIC, EventKind.CLONIC)


@dataclass(frozen=True)
class DecisionParams:
    """Least probability of "a cramp, either kind" for a cramp call (0..1)."""

    # Same as the prompt's floor (crampwatch.prompt.policy.PromptParams.min_confidence):
    # a provisional cramp call is a wake-up. (inference)
    provisional_min_cramp: float = 0.6
    # A closed episode is a cramp when that is more likely than not.
    final_min_cramp: float = 0.5
    # No provisional cramp call before the muscle has been active this long (burst time,
    # not time since onset: a 0.1 s jerk followed by quiet is not a 1 s old cramp): a
    # hypnic jerk lasts 75-250 ms, fragmentary myoclonus <= 150 ms (DOMAIN.md), and at
    # that age a cramp's first second looks the same; waiting costs under a second of the
    # ~3 s alert budget.
    provisional_min_age_s: float = 1.0
    # No final cramp call on an episode shorter than this: a clonic cramp is >= 3-4 bursts
    # with relaxation between them, a tonic one lasts > ~10 s (DOMAIN.md) (inference).
    final_min_duration_s: float = 3.0

    def __post_init__(self) -> None:
        for name in ("provisional_min_cramp", "final_min_cramp"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within 0..1, got {value}")
        for name in ("provisional_min_age_s", "final_min_duration_s"):
            if not getattr(self, name) >= 0.0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")


def decision_age_s(update: EpisodeUpdate) -> float:
    """Return the age (s) a cramp call is judged by: duration when closed, active time when open.

    For an open episode this is the muscle's burst time so far (``duration_s`` x
    ``duty_cycle``, sensor.features); the time since onset when those are missing.
    """
    if update.phase == EpisodePhase.CLOSED and update.end_s is not None:
        return update.end_s - update.start_s
    elapsed_s = update.known_at_s - update.start_s
    if update.phase == EpisodePhase.CLOSED:
        return elapsed_s
    duration_s = update.features.get("duration_s", math.nan)
    duty = update.features.get("duty_cycle", math.nan)
    if math.isfinite(duration_s) and math.isfinite(duty):
        return min(elapsed_s, duration_s * duty)
    return elapsed_s


def decide(
    probabilities: Mapping[EventKind, float],
    final: bool,
    params: DecisionParams,
    age_s: float = float("inf"),
) -> Classification:
    """Return the call from per-kind probabilities; ``age_s``: see :func:`decision_age_s`.

    A cramp call carries the probability that the episode is a cramp of either kind
    (what waking depends on); a look-alike call carries its own kind's probability.
    """
    p_cramp = sum(probabilities.get(k, 0.0) for k in _CRAMPS)
    floor = params.final_min_cramp if final else params.provisional_min_cramp
    if final:
        old_enough = age_s >= params.final_min_duration_s
    else:
        old_enough = age_s >= params.provisional_min_age_s
    if old_enough and p_cramp >= floor and p_cramp > 0:
        kind = max(_CRAMPS, key=lambda k: probabilities.get(k, 0.0))
        return Classification(kind, min(1.0, p_cramp))
    others = {k: p for k, p in probabilities.items() if k not in _CRAMPS}
    if not others:
        raise ValueError("no look-alike kind to call: the model knows only cramps")
    kind = max(others, key=others.__getitem__)
    return Classification(kind, min(1.0, max(0.0, others[kind])))
