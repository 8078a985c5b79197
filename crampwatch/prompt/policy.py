"""When to wake the sleeper: a pure, clock-injected state machine over classified events.

The policy sees every :class:`~sensor.records.Event` (provisional and final) and the
session time; it answers with :class:`PromptDecision` records (start a prompt, escalate
it, stop it, raise the 10-minute red flag, or say why a cramp did not wake anyone).
It does no I/O and reads no clock: the live session passes ``now_s`` (seconds on the
session clock, the same clock as ``Event.start_s``), so a night replayed at 20x pace
escalates exactly as it would in real time, and tests drive it step by step.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass, field, replace

from crampwatch.prompt.params import PromptParams
from sensor.records import Event


class PromptAction(enum.StrEnum):
    START = "start"  # a new prompt at level 0
    ESCALATE = "escalate"  # not acknowledged: next level (band buzz -> sound -> louder/longer)
    ACKNOWLEDGED = "acknowledged"  # the sleeper answered: escalation stops
    STOP = "stop"  # the cramp ended (or was reclassified): prompting ends, after-care follows
    RED_FLAG = "red_flag"  # a cramp still running at the red-flag age (RED_FLAG_AFTER_S)
    SUPPRESSED = "suppressed"  # a cramp that would have prompted, held back (quiet, rate limit)


class AckResponse(enum.StrEnum):
    """What the sleeper answered ("I'm OK" / "I stretched")."""

    OK = "ok"
    STRETCHED = "stretched"


@dataclass(frozen=True)
class PromptDecision:
    """One thing the policy decided at ``at_s``; ``event`` is the cramp it is about."""

    action: PromptAction
    prompt_id: str | None
    at_s: float
    level: int
    event: Event
    reason: str = ""
    # Whether channels may wake the sleeper for this decision (False in quiet mode).
    wake: bool = True
    response: AckResponse | None = None


@dataclass
class _Prompt:
    prompt_id: str
    started_at_s: float
    event: Event  # the cramp that started it (latest version)
    open_ids: set[str]
    level: int = 0
    next_at_s: float | None = None
    acknowledged_at_s: float | None = None


@dataclass
class _Tracked:
    event: Event
    suppressed: bool = False
    red_flagged: bool = False


@dataclass
class PromptPolicy:
    """Decides prompts from events and time; feed it in time order, never from two threads."""

    params: PromptParams = field(default_factory=PromptParams)
    _cramps: dict[str, _Tracked] = field(default_factory=dict, init=False)
    _prompt: _Prompt | None = field(default=None, init=False)
    _starts: deque[float] = field(default_factory=deque, init=False)
    _last_ack_s: float | None = field(default=None, init=False)
    _count: int = field(default=0, init=False)
    _now_s: float = field(default=float("-inf"), init=False)

    @property
    def active_prompt_id(self) -> str | None:
        """Return the id of the prompt currently running (acknowledged or not), else None."""
        return None if self._prompt is None else self._prompt.prompt_id

    @property
    def escalating(self) -> bool:
        """Return True while a prompt runs that the sleeper has not acknowledged."""
        return self._prompt is not None and self._prompt.acknowledged_at_s is None

    def set_quiet(self, quiet: bool) -> None:
        """Switch quiet mode (no buzz/sound) on or off from now on."""
        self.params = replace(self.params, quiet=quiet)

    def on_event(self, event: Event, now_s: float) -> list[PromptDecision]:
        """Return the decisions caused by a new or updated event seen at ``now_s``."""
        self._advance(now_s)
        out: list[PromptDecision] = []
        key = event.event_id
        tracked = self._cramps.get(key)
        is_candidate = event.is_cramp and event.confidence >= self.params.min_confidence
        if tracked is None and not is_candidate:
            return out
        if tracked is None:
            if event.end_s is not None:
                # Called a cramp only once it was over: nothing left to stretch.
                return out
            tracked = self._cramps[key] = _Tracked(event)
        else:
            tracked.event = event
        prompt = self._prompt
        if not event.is_cramp:
            prompted = prompt is not None and key in prompt.open_ids
            if prompted and not event.final:
                # A provisional call wavering on a running prompt: the muscle is still
                # active and the sleeper already woken; the prompt runs until the
                # episode ends or is finally called a look-alike.
                return out
            del self._cramps[key]
            if prompt is not None and prompted:
                prompt.open_ids.discard(key)
                if not prompt.open_ids:
                    out.append(self._stop(now_s, f"reclassified as {event.kind.value}"))
            return out
        if event.end_s is not None:
            self._cramps.pop(key, None)
            if prompt is not None and key in prompt.open_ids:
                prompt.event = event if key == prompt.event.event_id else prompt.event
                prompt.open_ids.discard(key)
                if not prompt.open_ids:
                    out.append(self._stop(now_s, "cramp ended"))
            return out
        if prompt is not None and key in prompt.open_ids and key == prompt.event.event_id:
            prompt.event = event
        out.extend(self._evaluate(now_s))
        return out

    def next_due_s(self) -> float | None:
        """Return the next session time at which time alone changes something: a cramp
        reaching the minimum age (a prompt starts, or it joins the running one), an
        escalation, a red flag; None when nothing is pending."""
        p = self.params
        due: list[float] = []
        prompt = self._prompt
        for key, tracked in self._cramps.items():
            start = tracked.event.start_s
            if not tracked.red_flagged:
                due.append(start + p.red_flag_after_s)
            if prompt is not None:
                if key not in prompt.open_ids:
                    due.append(start + p.min_duration_s)
            elif not tracked.suppressed and tracked.event.confidence >= p.min_confidence:
                due.append(start + p.min_duration_s)
        if prompt is not None and prompt.next_at_s is not None:
            due.append(prompt.next_at_s)
        later = [t for t in due if t > self._now_s]
        return min(later) if later else None

    def on_tick(self, now_s: float) -> list[PromptDecision]:
        """Return the decisions that time alone causes at ``now_s`` (escalation, red flag)."""
        self._advance(now_s)
        return self._evaluate(now_s)

    def acknowledge(
        self, now_s: float, response: AckResponse = AckResponse.OK
    ) -> list[PromptDecision]:
        """Return the decisions after the sleeper answers; empty when nothing was prompting."""
        self._advance(now_s)
        prompt = self._prompt
        if prompt is None or prompt.acknowledged_at_s is not None:
            return []
        prompt.acknowledged_at_s = now_s
        prompt.next_at_s = None
        self._last_ack_s = now_s
        return [
            PromptDecision(
                PromptAction.ACKNOWLEDGED,
                prompt.prompt_id,
                now_s,
                prompt.level,
                prompt.event,
                reason=f"sleeper answered {response.value!r}",
                wake=False,
                response=response,
            )
        ]

    # -- internals -------------------------------------------------------------------

    def _advance(self, now_s: float) -> None:
        if now_s < self._now_s:
            raise ValueError(
                f"time went backwards: {now_s:.3f} s after {self._now_s:.3f} s; "
                "feed the policy in session-time order"
            )
        self._now_s = now_s

    def _evaluate(self, now_s: float) -> list[PromptDecision]:
        p = self.params
        out: list[PromptDecision] = []
        for key, tracked in list(self._cramps.items()):
            ev = tracked.event
            age_s = now_s - ev.start_s
            if not tracked.red_flagged and age_s >= p.red_flag_after_s:
                tracked.red_flagged = True
                pid = self._prompt.prompt_id if self._prompt is not None else None
                out.append(
                    PromptDecision(
                        PromptAction.RED_FLAG,
                        pid,
                        now_s,
                        self._prompt.level if self._prompt is not None else 0,
                        ev,
                        reason=f"cramp still running after {age_s / 60:.1f} min",
                        wake=not p.quiet,
                    )
                )
            if self._prompt is not None:
                if key not in self._prompt.open_ids and age_s >= p.min_duration_s:
                    # Another channel or a new bout during a running prompt joins it.
                    self._prompt.open_ids.add(key)
                continue
            if tracked.suppressed or age_s < p.min_duration_s:
                continue
            if ev.confidence < p.min_confidence:
                continue
            reason = self._why_not(now_s)
            if reason:
                tracked.suppressed = True
                out.append(
                    PromptDecision(
                        PromptAction.SUPPRESSED, None, now_s, 0, ev, reason=reason, wake=False
                    )
                )
                continue
            self._count += 1
            pid = f"prompt-{self._count:04d}"
            self._prompt = _Prompt(pid, now_s, ev, {key}, level=0)
            self._starts.append(now_s)
            self._schedule_next(self._prompt)
            out.append(PromptDecision(PromptAction.START, pid, now_s, 0, ev, wake=True))
        prompt = self._prompt
        while prompt is not None and prompt.next_at_s is not None and now_s >= prompt.next_at_s:
            prompt.level = min(prompt.level + 1, p.top_level)
            at_s = prompt.next_at_s
            self._schedule_next(prompt)
            out.append(
                PromptDecision(
                    PromptAction.ESCALATE,
                    prompt.prompt_id,
                    now_s,
                    prompt.level,
                    prompt.event,
                    reason=f"not acknowledged {at_s - prompt.started_at_s:.0f} s after the prompt",
                )
            )
        return out

    def _why_not(self, now_s: float) -> str:
        p = self.params
        if p.quiet:
            return "quiet mode"
        if self._last_ack_s is not None and now_s - self._last_ack_s < p.cooldown_after_ack_s:
            return (
                f"acknowledged {now_s - self._last_ack_s:.0f} s ago "
                f"(cooldown {p.cooldown_after_ack_s:.0f} s)"
            )
        while self._starts and now_s - self._starts[0] >= 3600.0:
            self._starts.popleft()
        if self._starts and now_s - self._starts[-1] < p.min_interval_s:
            return (
                f"last prompt {now_s - self._starts[-1]:.0f} s ago "
                f"(minimum interval {p.min_interval_s:.0f} s)"
            )
        if len(self._starts) >= p.max_prompts_per_hour:
            return f"{len(self._starts)} prompts in the last hour (limit {p.max_prompts_per_hour})"
        return ""

    def _schedule_next(self, prompt: _Prompt) -> None:
        p = self.params
        if prompt.level < p.top_level:
            prompt.next_at_s = prompt.started_at_s + p.escalation_after_s[prompt.level + 1]
        else:
            last = prompt.next_at_s
            if last is None:
                last = prompt.started_at_s + p.escalation_after_s[-1]
            prompt.next_at_s = last + p.repeat_top_level_s

    def _stop(self, now_s: float, reason: str) -> PromptDecision:
        prompt = self._prompt
        assert prompt is not None
        self._prompt = None
        return PromptDecision(
            PromptAction.STOP,
            prompt.prompt_id,
            now_s,
            prompt.level,
            prompt.event,
            reason=reason,
            wake=False,
        )

