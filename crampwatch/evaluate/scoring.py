"""Scores detected events against ground truth, per file, over a set of nights, and per group.

Matching rule
-------------
Only cramps are scored for detection; look-alikes enter the confusion matrix. Found
cramps, fragments, false calls, precision, F1, kinds and onset are counted as the
project's outside scorer counts them; false wake-ups and latency add the prompt policy.

- A detected event *overlaps* a truth event when their intervals, each widened by
  ``tolerance_s`` on both sides (default 0: any overlap), share more than an instant.
  Provisional events (``final`` False) never count as calls.
- **Cramp call**: a final event whose kind is tonic or clonic.
- **Found cramp**: a truth cramp overlapped by at least one cramp call. Among those,
  the call that overlaps it most is its *match*: tonic/clonic accuracy compares the
  match's kind with the truth, and **onset error** is the match's start minus the
  truth start. Recall = found / truth cramps.
- **Fragments**: the other cramp calls on a found cramp (a cramp cut into three calls
  gives two). They are wrong calls: one call per true cramp is right.
- **False call**: a cramp call that overlaps no truth cramp.
  Precision = (cramp calls - false calls - fragments) / cramp calls.
- **False wake-up**: a prompt the live prompt policy would have started (see
  :mod:`crampwatch.evaluate.wakeups`: its confidence and minimum-age rule and its rate
  limits, fed the provisional calls in the order they were made) at a moment when no
  truth cramp runs (its interval widened by the tolerance). An episode that overlaps a
  cramp but prompted before it began (a noise-floor step called a cramp minutes
  earlier) or after it ended woke the sleeper for nothing. Reported per 8 hours.
- **Wake-up latency** of a truth cramp: the earliest prompt-worthy time (the moment the
  policy's rule would prompt) of an episode overlapping it, taken while the cramp runs,
  minus the truth start. A cramp is *woken* when a prompt was running at that moment;
  cramps with no such moment are counted as not alerted.
- **Confusion matrix**: each truth event (any kind) against the kind of the final
  event that overlaps it most ("none" when none does); final events that overlap no
  truth event at all are counted in the "none" truth row.

Groups (``--by KEY``): each truth cramp takes the value of KEY from its own attributes,
else from its night's (``variation`` and top-level truth fields), else "n/a"; a night
without cramps takes its night value. A group's figures count its cramps (recall,
kinds, fragments, onset, latency) and, in every night holding one of them, the false
calls, false wake-ups and hours. For a night-level key (``emg_fs_hz``) that is simply
the nights of that value; for a cramp-level key (``response``) a night with cramps of
two values lends its false alarms and hours to both.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from crampwatch.evaluate.events import DetectedEvent
from crampwatch.evaluate.wakeups import FINAL_ONLY, PROVISIONAL, REPORTED, replay_prompts
from crampwatch.prompt.policy import PromptParams
from crampwatch.synth.truth import TruthEvent
from sensor.records import EventKind

DEFAULT_TOLERANCE_S = 0.0
NONE = "none"
MISSING = "n/a"  # group of a cramp or night that does not carry the grouping key
HOURS_PER_NIGHT = 8.0
MIXED = "mixed"

__all__ = [
    "DEFAULT_TOLERANCE_S", "FINAL_ONLY", "MISSING", "PROVISIONAL", "REPORTED", "CrampOutcome",
    "DetectedEvent", "FileScore", "Summary", "confusion_total", "group_value",
    "score_file", "summarize", "summarize_by",
]


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
    false_calls: int
    false_calls_per_8h: float | None  # what the outside scorer calls false alarms per 8 h
    fragments: int
    false_wakeups: int
    false_wakeups_per_8h: float | None
    prompts: int
    kind_accuracy: float | None
    onset_abs_median_s: float | None
    onset_abs_p90_s: float | None
    onset_abs_max_s: float | None
    onset_bias_median_s: float | None
    wakeup_latency_median_s: float | None
    wakeup_latency_p90_s: float | None
    wakeup_latency_max_s: float | None
    alerted_cramps: int  # truth cramps with a prompt-worthy call on them
    woken_cramps: int  # ... and a prompt running at that moment
    recall_by_kind: dict[str, float | None]
    recall_weak: float | None  # cramps under WEAK_CRAMP_REL x resting RMS
    prompt_basis: str  # PROVISIONAL, FINAL_ONLY, REPORTED or MIXED over the files

    @property
    def type_accuracy(self) -> float | None:
        return self.kind_accuracy

    @property
    def split_calls(self) -> int:
        return self.fragments

    @property
    def alert_latency_median_s(self) -> float | None:
        return self.wakeup_latency_median_s

    @property
    def alert_latency_p90_s(self) -> float | None:
        return self.wakeup_latency_p90_s


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
    false_calls = sum(s.false_calls for s in scores)
    fragments = sum(s.fragments for s in scores)
    recall = _ratio(found, truth_cramps)
    precision = _ratio(calls - false_calls - fragments, calls)
    if recall == 0.0:
        f1: float | None = 0.0  # cramps, none found (with or without calls)
    elif recall is None or precision is None:
        f1 = None
    else:
        f1 = 2 * recall * precision / (recall + precision) if recall + precision > 0 else 0.0
    outcomes = [o for s in scores for o in s.outcomes]
    onset = [abs(o.onset_error_s) for o in outcomes if o.onset_error_s is not None]
    signed = [o.onset_error_s for o in outcomes if o.onset_error_s is not None]
    latency = [o.wakeup_latency_s for o in outcomes if o.wakeup_latency_s is not None]
    wakeups = sum(s.false_wakeups for s in scores)
    by_kind: dict[str, float | None] = {}
    for kind in (EventKind.TONIC, EventKind.CLONIC):
        of_kind = [o for o in outcomes if o.truth.kind == kind]
        by_kind[str(kind)] = _ratio(sum(o.found for o in of_kind), len(of_kind))
    weak = [
        o for o in outcomes
        if o.truth.strength_rel is not None and o.truth.strength_rel <= WEAK_CRAMP_REL
    ]
    bases = {s.basis for s in scores}
    return Summary(
        files=len(scores),
        hours=hours,
        truth_cramps=truth_cramps,
        found=found,
        recall=recall,
        precision=precision,
        f1=f1,
        cramp_calls=calls,
        false_calls=false_calls,
        false_calls_per_8h=false_calls / hours * HOURS_PER_NIGHT if hours > 0 else None,
        fragments=fragments,
        false_wakeups=wakeups,
        false_wakeups_per_8h=wakeups / hours * HOURS_PER_NIGHT if hours > 0 else None,
        prompts=sum(s.prompts for s in scores),
        kind_accuracy=_ratio(sum(s.type_correct for s in scores), found),
        onset_abs_median_s=_quantile(onset, 0.5),
        onset_abs_p90_s=_quantile(onset, 0.9),
        onset_abs_max_s=max(onset) if onset else None,
        onset_bias_median_s=_quantile(signed, 0.5),
        wakeup_latency_median_s=_quantile(latency, 0.5),
        wakeup_latency_p90_s=_quantile(latency, 0.9),
        wakeup_latency_max_s=max(latency) if latency else None,
        alerted_cramps=len(latency),
        woken_cramps=sum(o.woken for o in outcomes),
        recall_by_kind=by_kind,
        recall_weak=_ratio(sum(o.found for o in weak), len(weak)),
        prompt_basis=bases.pop() if len(bases) == 1 else (MIXED if bases else PROVISIONAL),
    )


def _label(value: object) -> str:
    if value is None:
        return NONE
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def group_value(key: str, cramp: Mapping[str, object] | None,
                night: Mapping[str, object]) -> str:
    """Return the group label of KEY for a cramp (its own value, else its night's), "n/a" if none.

    An explicit null (e.g. ``acc_fs_hz`` of a night without accelerometer) is "none".
    """
    for source in (cramp or {}, night):
        if key in source:
            return _label(source[key])
    return MISSING


def _restrict(score: FileScore, keep: Sequence[int]) -> FileScore:
    """Return the file's score counting only the truth cramps at ``keep`` (outcome indices)."""
    wanted = set(keep)
    outcomes = [score.outcomes[i] for i in keep]
    calls = [c for c in score.call_cramps if not c or wanted.intersection(c)]
    return FileScore(
        file=score.file,
        duration_s=score.duration_s,
        truth_cramps=len(outcomes),
        found=sum(o.found for o in outcomes),
        cramp_calls=len(calls),
        false_calls=score.false_calls,
        fragments=sum(o.fragments for o in outcomes),
        false_wakeups=score.false_wakeups,
        prompts=score.prompts,
        type_correct=sum(o.kind_right for o in outcomes),
        basis=score.basis,
        outcomes=outcomes,
        false_alarms=score.false_alarms,
        false_wakeup_at_s=score.false_wakeup_at_s,
        false_call_events=score.false_call_events,
        call_cramps=calls,
        attributes=score.attributes,
        confusion=score.confusion,
    )


def summarize_by(scores: Sequence[FileScore], key: str) -> dict[str, Summary]:
    """Return one Summary per value of ``key`` (group rule in the module doc), sorted by value."""
    parts: dict[str, list[FileScore]] = {}
    for s in scores:
        groups: dict[str, list[int]] = {}
        for i, o in enumerate(s.outcomes):
            groups.setdefault(group_value(key, o.attributes, s.attributes), []).append(i)
        if not groups:
            groups[group_value(key, None, s.attributes)] = []
        for label, keep in groups.items():
            parts.setdefault(label, []).append(_restrict(s, keep))
    return {label: summarize(parts[label]) for label in sorted(parts, key=_sort_key)}


def _sort_key(label: str) -> tuple[int, float, str]:
    try:
        return (0, float(label), label)
    except ValueError:
        return (1 if label != MISSING else 2, 0.0, label)


def confusion_total(scores: Sequence[FileScore]) -> Counter[tuple[str, str]]:
    """Return the confusion counts summed over files: (truth kind, detected kind) -> n."""
    total: Counter[tuple[str, str]] = Counter()
    for s in scores:
        total.update(s.confusion)
    return total
