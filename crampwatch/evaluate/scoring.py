"""Scores detected events against ground truth, per file and over a set of nights.

Matching rule
-------------
Only cramps are scored for detection; look-alikes enter the confusion matrix.

- A detected event *overlaps* a truth event when their intervals, each widened by
  ``tolerance_s`` (default 1 s) on both sides, intersect. Open (provisional) events
  without an end are taken to end at their start.
- **Found cramp**: a truth cramp (tonic or clonic) overlapped by at least one
  final event whose kind is a cramp. Recall = found / truth cramps.
- **Correct cramp call**: a final cramp event that overlaps some truth cramp.
  Precision = correct calls / all final cramp calls; a long cramp split into
  several calls gives several correct calls (counted apart as ``split_calls``).
- **False wake-up**: an episode (event id) that was called a cramp at any time,
  provisionally or finally (``first_cramp_call_s`` set, or a final cramp kind),
  and overlaps no truth cramp: the live session would have woken the sleeper for
  nothing. Reported per 8 hours of recording.
- **Matched event** of a found cramp: among its overlapping final cramp events,
  the one that starts first. Tonic/clonic accuracy compares its kind to the
  truth; **onset error** = its start_s - truth start_s (median and p90 of the
  absolute value, plus the signed median as bias).
- **Alert latency**: earliest ``first_cramp_call_s`` among the events overlapping
  a truth cramp, minus the truth start (how long after onset the sleeper is told).
- **Confusion matrix**: each truth event (any kind) against the kind of the final
  event that overlaps it most ("none" when none does); final events that overlap no
  truth event at all are counted in the "none" truth row.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from crampwatch.synth.truth import TruthEvent
from sensor.records import EventKind

DEFAULT_TOLERANCE_S = 1.0
NONE = "none"
HOURS_PER_NIGHT = 8.0


@dataclass(frozen=True)
class DetectedEvent:
    """One line of replay output, as evaluation needs it."""

    file: str
    event_id: str
    start_s: float
    end_s: float | None
    kind: str
    channel: str
    confidence: float
    final: bool = True
    first_cramp_call_s: float | None = None

    @property
    def is_cramp(self) -> bool:
        return self.kind in (EventKind.TONIC, EventKind.CLONIC)

    @property
    def was_called_cramp(self) -> bool:
        return self.is_cramp or (
            self.first_cramp_call_s is not None and math.isfinite(self.first_cramp_call_s)
        )


@dataclass(frozen=True)
class CrampOutcome:
    """What happened to one truth cramp."""

    file: str
    truth: TruthEvent
    found: bool
    matched_kind: str | None = None
    onset_error_s: float | None = None
    alert_latency_s: float | None = None


@dataclass
class FileScore:
    """Counts and errors for one recording."""

    file: str
    duration_s: float
    truth_cramps: int = 0
    found: int = 0
    cramp_calls: int = 0
    correct_calls: int = 0
    split_calls: int = 0
    false_wakeups: int = 0
    type_correct: int = 0
    outcomes: list[CrampOutcome] = field(default_factory=list)
    false_alarms: list[DetectedEvent] = field(default_factory=list)
    confusion: Counter[tuple[str, str]] = field(default_factory=Counter)

    @property
    def misses(self) -> list[CrampOutcome]:
        return [o for o in self.outcomes if not o.found]


def _overlap_s(a0: float, a1: float, b0: float, b1: float, tolerance_s: float) -> float:
    """Return the overlap (s) of two intervals each widened by tolerance; < 0 means apart."""
    return min(a1, b1) - max(a0, b0) + 2 * tolerance_s


def _end(event: DetectedEvent) -> float:
    return event.end_s if event.end_s is not None else event.start_s


def score_file(
    file: str,
    duration_s: float,
    truth: Sequence[TruthEvent],
    detected: Sequence[DetectedEvent],
    tolerance_s: float = DEFAULT_TOLERANCE_S,
) -> FileScore:
    """Return the scores of one recording's detected events against its truth."""
    score = FileScore(file=file, duration_s=duration_s)
    finals = [d for d in detected if d.final]
    cramp_truth = sorted((t for t in truth if t.is_cramp), key=lambda t: t.start_s)
    score.truth_cramps = len(cramp_truth)

    def overlaps(t: TruthEvent, d: DetectedEvent) -> bool:
        return _overlap_s(t.start_s, t.end_s, d.start_s, _end(d), tolerance_s) >= 0

    # Cramp detection.
    cramp_calls = [d for d in finals if d.is_cramp]
    score.cramp_calls = len(cramp_calls)
    for d in cramp_calls:
        if any(overlaps(t, d) for t in cramp_truth):
            score.correct_calls += 1
    for t in cramp_truth:
        hits = sorted((d for d in cramp_calls if overlaps(t, d)), key=lambda d: d.start_s)
        calls = [
            d.first_cramp_call_s for d in detected
            if overlaps(t, d) and d.first_cramp_call_s is not None
            and math.isfinite(d.first_cramp_call_s)
        ]
        latency = min(calls) - t.start_s if calls else None
        if hits:
            first = hits[0]
            score.found += 1
            score.split_calls += len(hits) - 1
            if first.kind == str(t.kind):
                score.type_correct += 1
            score.outcomes.append(CrampOutcome(
                file, t, True, first.kind, first.start_s - t.start_s, latency
            ))
        else:
            score.outcomes.append(CrampOutcome(file, t, False, alert_latency_s=latency))

    # False wake-ups: one per episode called a cramp outside every truth cramp.
    episodes: dict[str, DetectedEvent] = {}
    for d in detected:
        # The final event of an episode stands for it; a provisional one when no final exists.
        if d.was_called_cramp and (d.final or d.event_id not in episodes):
            episodes[d.event_id] = d
    for d in episodes.values():
        if not any(overlaps(t, d) for t in cramp_truth):
            score.false_wakeups += 1
            score.false_alarms.append(d)

    # Confusion matrix over all kinds.
    claimed: set[int] = set()
    for t in truth:
        best, best_overlap = None, -math.inf
        for i, d in enumerate(finals):
            ov = _overlap_s(t.start_s, t.end_s, d.start_s, _end(d), tolerance_s)
            if ov >= 0 and ov > best_overlap:
                best, best_overlap = i, ov
        if best is None:
            score.confusion[(str(t.kind), NONE)] += 1
        else:
            claimed.add(best)
            score.confusion[(str(t.kind), finals[best].kind)] += 1
    for i, d in enumerate(finals):
        if i not in claimed and not any(
            _overlap_s(t.start_s, t.end_s, d.start_s, _end(d), tolerance_s) >= 0 for t in truth
        ):
            score.confusion[(NONE, d.kind)] += 1
    return score


@dataclass(frozen=True)
class Summary:
    """Figures over a set of recordings (None where nothing could be measured)."""

    files: int
    hours: float
    truth_cramps: int
    found: int
    recall: float | None
    precision: float | None
    f1: float | None
    cramp_calls: int
    split_calls: int
    false_wakeups: int
    false_wakeups_per_8h: float | None
    type_accuracy: float | None
    onset_abs_median_s: float | None
    onset_abs_p90_s: float | None
    onset_bias_median_s: float | None
    alert_latency_median_s: float | None
    alert_latency_p90_s: float | None
    alerted_cramps: int
    recall_by_kind: dict[str, float | None]
    recall_weak: float | None  # cramps under WEAK_CRAMP_REL x resting RMS


# Cramps at most this many times the resting RMS are reported apart as "weak" (inference).
WEAK_CRAMP_REL = 10.0


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def _quantile(values: Sequence[float], q: float) -> float | None:
    return float(np.quantile(np.asarray(values), q)) if len(values) else None


def summarize(scores: Sequence[FileScore]) -> Summary:
    """Return the set-level figures from per-file scores."""
    hours = sum(s.duration_s for s in scores) / 3600.0
    truth_cramps = sum(s.truth_cramps for s in scores)
    found = sum(s.found for s in scores)
    calls = sum(s.cramp_calls for s in scores)
    correct = sum(s.correct_calls for s in scores)
    recall = _ratio(found, truth_cramps)
    precision = _ratio(correct, calls)
    f1 = (
        2 * recall * precision / (recall + precision)
        if recall is not None and precision is not None and recall + precision > 0
        else (0.0 if recall is not None and precision is not None else None)
    )
    outcomes = [o for s in scores for o in s.outcomes]
    onset = [abs(o.onset_error_s) for o in outcomes if o.onset_error_s is not None]
    signed = [o.onset_error_s for o in outcomes if o.onset_error_s is not None]
    latency = [o.alert_latency_s for o in outcomes if o.alert_latency_s is not None]
    wakeups = sum(s.false_wakeups for s in scores)
    by_kind: dict[str, float | None] = {}
    for kind in (EventKind.TONIC, EventKind.CLONIC):
        of_kind = [o for o in outcomes if o.truth.kind == kind]
        by_kind[str(kind)] = _ratio(sum(o.found for o in of_kind), len(of_kind))
    weak = [
        o for o in outcomes
        if o.truth.strength_rel is not None and o.truth.strength_rel <= WEAK_CRAMP_REL
    ]
    return Summary(
        files=len(scores),
        hours=hours,
        truth_cramps=truth_cramps,
        found=found,
        recall=recall,
        precision=precision,
        f1=f1,
        cramp_calls=calls,
        split_calls=sum(s.split_calls for s in scores),
        false_wakeups=wakeups,
        false_wakeups_per_8h=wakeups / hours * HOURS_PER_NIGHT if hours > 0 else None,
        type_accuracy=_ratio(sum(s.type_correct for s in scores), found),
        onset_abs_median_s=_quantile(onset, 0.5),
        onset_abs_p90_s=_quantile(onset, 0.9),
        onset_bias_median_s=_quantile(signed, 0.5),
        alert_latency_median_s=_quantile(latency, 0.5),
        alert_latency_p90_s=_quantile(latency, 0.9),
        alerted_cramps=len(latency),
        recall_by_kind=by_kind,
        recall_weak=_ratio(sum(o.found for o in weak), len(weak)),
    )


def confusion_total(scores: Sequence[FileScore]) -> Counter[tuple[str, str]]:
    """Return the confusion counts summed over files: (truth kind, detected kind) -> n."""
    total: Counter[tuple[str, str]] = Counter()
    for s in scores:
        total.update(s.confusion)
    return total
