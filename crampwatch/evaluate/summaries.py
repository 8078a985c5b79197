"""Figures over a set of recordings, and per group of one attribute (``--by KEY``; the
group rule is in :mod:`crampwatch.evaluate.scoring`)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from crampwatch.evaluate.file_scores import NONE, FileScore
from crampwatch.evaluate.wakeups import PROVISIONAL
from sensor.records import EventKind

MISSING = "n/a"  # group of a cramp or night that does not carry the grouping key
HOURS_PER_NIGHT = 8.0
MIXED = "mixed"


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
    """Return one Summary per value of ``key``, sorted by value.

    The group rule is in the module doc of crampwatch.evaluate.scoring.
    """
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
