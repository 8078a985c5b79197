"""Scores of one recording: its truth events against its detected events and the prompts
they would have caused (the matching rule is in :mod:`crampwatch.evaluate.scoring`)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from crampwatch.evaluate.events import DetectedEvent
from crampwatch.evaluate.wakeups import PROVISIONAL, replay_prompts
from crampwatch.prompt.policy import PromptParams
from crampwatch.synth.truth import TruthEvent

DEFAULT_TOLERANCE_S = 0.0
NONE = "none"


@dataclass(frozen=True)
class CrampOutcome:
    """What happened to one truth cramp."""

    file: str
    truth: TruthEvent
    found: bool
    matched_kind: str | None = None
    onset_error_s: float | None = None
    wakeup_latency_s: float | None = None  # first prompt-worthy call - truth start
    woken: bool = False  # a prompt was running when it became prompt-worthy
    calls: int = 0  # cramp calls overlapping it (1 + fragments when found)
    attributes: Mapping[str, object] = field(default_factory=dict)

    @property
    def fragments(self) -> int:
        return max(0, self.calls - 1)

    @property
    def kind_right(self) -> bool:
        return self.found and self.matched_kind == str(self.truth.kind)

    @property
    def alert_latency_s(self) -> float | None:
        return self.wakeup_latency_s


@dataclass
class FileScore:
    """Counts and errors for one recording."""

    file: str
    duration_s: float
    truth_cramps: int = 0
    found: int = 0
    cramp_calls: int = 0
    false_calls: int = 0
    fragments: int = 0
    false_wakeups: int = 0
    prompts: int = 0  # prompts the policy started in all
    type_correct: int = 0
    basis: str = PROVISIONAL  # what the prompt replay saw (see crampwatch.evaluate.wakeups)
    outcomes: list[CrampOutcome] = field(default_factory=list)
    false_alarms: list[DetectedEvent] = field(default_factory=list)  # false wake-ups
    false_wakeup_at_s: list[float] = field(default_factory=list)  # their prompts' times
    false_call_events: list[DetectedEvent] = field(default_factory=list)
    # For each cramp call, the indices (into outcomes) of the truth cramps it overlaps.
    call_cramps: list[tuple[int, ...]] = field(default_factory=list)
    attributes: Mapping[str, object] = field(default_factory=dict)  # the night's
    confusion: Counter[tuple[str, str]] = field(default_factory=Counter)

    @property
    def misses(self) -> list[CrampOutcome]:
        return [o for o in self.outcomes if not o.found]

    @property
    def correct_calls(self) -> int:
        return self.cramp_calls - self.false_calls

    @property
    def split_calls(self) -> int:
        return self.fragments


def _overlap_s(a0: float, a1: float, b0: float, b1: float, tolerance_s: float) -> float:
    """Return the overlap (s) of two intervals each widened by tolerance; <= 0 means apart."""
    return min(a1, b1) - max(a0, b0) + 2 * tolerance_s


def _end(event: DetectedEvent) -> float:
    return event.end_s if event.end_s is not None else event.start_s


def _episodes(detected: Sequence[DetectedEvent]) -> dict[str, tuple[float, float, DetectedEvent]]:
    """Return event id -> (start s, end s, representative event): the final one if any."""
    out: dict[str, tuple[float, float, DetectedEvent]] = {}
    for d in detected:
        known = d.known_at_s if d.known_at_s is not None else d.start_s
        end = _end(d) if d.final else max(d.start_s, known)
        seen = out.get(d.event_id)
        if seen is None or d.final:
            out[d.event_id] = (d.start_s, end, d)
        elif not seen[2].final:
            out[d.event_id] = (seen[0], max(seen[1], end), seen[2])
    return out


def score_file(
    file: str,
    duration_s: float,
    truth: Sequence[TruthEvent],
    detected: Sequence[DetectedEvent],
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    prompt: PromptParams | None = None,
    cramp_attributes: Sequence[Mapping[str, object]] | None = None,
    night_attributes: Mapping[str, object] | None = None,
    use_reported: bool = True,
) -> FileScore:
    """Return the scores of one recording's detected events against its truth.

    ``cramp_attributes`` (one mapping per truth event, in ``truth`` order) and
    ``night_attributes`` feed :func:`summarize_by`; ``prompt`` is the live policy's
    settings (default: those of ``crampwatch run``). Events that carry replay's prompts
    are scored on them unless ``use_reported`` is False (see
    :func:`crampwatch.evaluate.wakeups.replay_prompts`).
    """
    score = FileScore(file=file, duration_s=duration_s, attributes=dict(night_attributes or {}))
    attrs = list(cramp_attributes) if cramp_attributes is not None else [{}] * len(truth)
    if len(attrs) != len(truth):
        raise ValueError(f"{len(attrs)} attribute sets for {len(truth)} truth events")
    finals = [d for d in detected if d.final]
    cramp_truth = sorted(((t, a) for t, a in zip(truth, attrs, strict=True) if t.is_cramp),
                         key=lambda ta: ta[0].start_s)
    score.truth_cramps = len(cramp_truth)

    def ov(t: TruthEvent, start: float, end: float) -> float:
        return _overlap_s(t.start_s, t.end_s, start, end, tolerance_s)

    def running(t: TruthEvent, at_s: float) -> bool:
        return t.start_s - tolerance_s <= at_s <= t.end_s + tolerance_s

    calls = [d for d in finals if d.is_cramp]
    score.cramp_calls = len(calls)
    for d in calls:
        hit = tuple(i for i, (t, _) in enumerate(cramp_truth) if ov(t, d.start_s, _end(d)) > 0)
        score.call_cramps.append(hit)
        if not hit:
            score.false_calls += 1
            score.false_call_events.append(d)

    wake = replay_prompts(detected, prompt, use_reported)
    score.basis = wake.basis
    episodes = _episodes(detected)
    for i, (t, a) in enumerate(cramp_truth):
        hits = [d for d, cramps in zip(calls, score.call_cramps, strict=True) if i in cramps]
        overlapping = [key for key, (s0, s1, _) in episodes.items() if ov(t, s0, s1) > 0]
        worthy = [(wake.worthy_at_s[k], k) for k in overlapping if k in wake.worthy_at_s
                  and running(t, wake.worthy_at_s[k])]
        latency = min(worthy)[0] - t.start_s if worthy else None
        woken = any(wake.woken.get(k, False) for _, k in worthy)
        if hits:
            best = max(hits, key=lambda d: ov(t, d.start_s, _end(d)))
            score.found += 1
            score.fragments += len(hits) - 1
            score.type_correct += best.kind == str(t.kind)
            score.outcomes.append(CrampOutcome(file, t, True, best.kind, best.start_s - t.start_s,
                                               latency, woken, len(hits), dict(a)))
        else:
            score.outcomes.append(CrampOutcome(file, t, False, wakeup_latency_s=latency,
                                               woken=woken, attributes=dict(a)))

    score.prompts = len(wake.prompts)
    for at_s, key in wake.prompts:
        rep = episodes[key][2]
        if not any(running(t, at_s) for t, _ in cramp_truth):
            score.false_wakeups += 1
            score.false_alarms.append(rep)
            score.false_wakeup_at_s.append(at_s)

    # Confusion matrix over all kinds.
    claimed: set[int] = set()
    for t in truth:
        best_i, best_overlap = None, -math.inf
        for j, d in enumerate(finals):
            o = ov(t, d.start_s, _end(d))
            if o > 0 and o > best_overlap:
                best_i, best_overlap = j, o
        if best_i is None:
            score.confusion[(str(t.kind), NONE)] += 1
        else:
            claimed.add(best_i)
            score.confusion[(str(t.kind), finals[best_i].kind)] += 1
    for j, d in enumerate(finals):
        if j not in claimed and not any(ov(t, d.start_s, _end(d)) > 0 for t in truth):
            score.confusion[(NONE, d.kind)] += 1
    return score
