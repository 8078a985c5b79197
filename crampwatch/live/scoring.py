"""Prompt scoring against a synthetic night's ground truth: who was woken, and how fast.

Used by the demo's closing table, the end-to-end test and ``bench/bench_live.py``.
Latency is measured from the true onset in the ground truth to the prompt's start, in
session seconds (sample time), so it does not depend on the playback pace.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from crampwatch.prompt.policy import PromptAction, PromptDecision
from crampwatch.synth.truth import TruthEvent


@dataclass(frozen=True)
class CrampOutcome:
    """One true cramp: when it started (session time) and when (if) it was prompted."""

    truth: TruthEvent
    start_s: float
    end_s: float
    prompted_at_s: float | None

    @property
    def latency_s(self) -> float | None:
        return None if self.prompted_at_s is None else self.prompted_at_s - self.start_s


@dataclass(frozen=True)
class PromptScore:
    """Every true cramp's outcome and the prompts that matched no cramp."""

    cramps: tuple[CrampOutcome, ...]
    false_prompts: tuple[PromptDecision, ...]

    @property
    def latencies_s(self) -> list[float]:
        return [c.latency_s for c in self.cramps if c.latency_s is not None]

    @property
    def missed(self) -> int:
        return sum(c.prompted_at_s is None for c in self.cramps)

    def describe(self) -> str:
        """Return a short table of the outcome."""
        lines = ["true cramp (session time)      prompted after onset"]
        for c in self.cramps:
            when = "NOT PROMPTED" if c.latency_s is None else f"{c.latency_s:5.1f} s"
            lines.append(f"  {c.truth.kind.value:<6} {c.start_s:7.1f}-{c.end_s:7.1f} s   {when}")
        lat = self.latencies_s
        if lat:
            lines.append(f"latency median {statistics.median(lat):.1f} s, max {max(lat):.1f} s")
        lines.append(f"false wake-ups: {len(self.false_prompts)}")
        return "\n".join(lines)


def to_session_time(t_s: float, reconnect_gaps: Sequence[tuple[float, float]]) -> float:
    """Return where a time of the played recording landed on the session clock.

    The virtual band pauses while disconnected, so its signal after a reconnection is
    shifted by every gap that began before it.
    """
    shift = 0.0
    for start_s, length_s in sorted(reconnect_gaps):
        if t_s + shift >= start_s:
            shift += length_s
    return t_s + shift


def score_prompts(
    truth: Sequence[TruthEvent],
    decisions: Sequence[PromptDecision],
    reconnect_gaps: Sequence[tuple[float, float]] = (),
    tolerance_s: float = 1.0,
) -> PromptScore:
    """Return each true cramp's first prompt and the prompts that fell on no cramp."""
    starts = [d for d in decisions if d.action is PromptAction.START]
    cramps = [t for t in truth if t.kind.is_cramp]
    outcomes = []
    matched: set[int] = set()
    for t in cramps:
        s = to_session_time(t.start_s, reconnect_gaps)
        e = to_session_time(t.end_s, reconnect_gaps)
        hit = None
        for i, d in enumerate(starts):
            if s - tolerance_s <= d.at_s <= e + tolerance_s:
                hit = d.at_s if hit is None else min(hit, d.at_s)
                matched.add(i)
        outcomes.append(CrampOutcome(t, s, e, hit))
    false = tuple(d for i, d in enumerate(starts) if i not in matched)
    return PromptScore(tuple(outcomes), false)
