"""Which detected episodes would have woken the sleeper: the live prompt policy, replayed.

The events of one recording are fed, in the order they became known (``known_at_s``),
to the same :class:`crampwatch.prompt.policy.PromptPolicy` a live ``crampwatch run``
uses, with its :class:`~crampwatch.prompt.policy.PromptParams` (confidence, minimum
cramp age, rate limits). Between events the policy is ticked at the moments an open
cramp call reaches the minimum age, so a prompt starts at the earliest time the live
session could start it (the live ticker may add up to one tick).

Two answers per recording:

- **prompts**: every prompt the night's policy starts (rate limits and a running
  prompt included), with the episode that started it;
- **prompt-worthy time** of each episode: when a policy that had not prompted before
  would have started a prompt for it (the confidence and age rule without the rate
  limit), and whether a prompt was running at that moment in the night's replay
  (the sleeper was woken for it, by its own prompt or one already running).

The policy sees provisional calls; a recording whose events hold only final lines
(``crampwatch replay`` without ``--provisional``) is replayed from an estimate: each
episode ever called a cramp is taken as called one from its ``first_cramp_call_s``
(else its start) until its end, with its final confidence when it ended a cramp and
as confident enough otherwise (the estimate errs towards waking).

A recording whose final lines carry replay's ``prompt`` object (``crampwatch replay``
JSON lines: what the policy, run on the night's own clock, did about each episode) is
not re-derived: its prompts are the ones replay reports, a prompt runs from its
``prompted_at_s`` to its ``stopped_at_s``, and an episode that started a prompt was
prompt-worthy when it did. Only the prompt-worthy time of the other episodes (those that
joined a running prompt or were held back) comes from their calls as above.
:attr:`WakeupReplay.basis` says which.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from crampwatch.evaluate.events import DetectedEvent, ReportedPrompt
from crampwatch.prompt.policy import PromptAction, PromptDecision, PromptParams, PromptPolicy
from sensor.records import ChannelInfo, Event, EventKind

PROVISIONAL = "provisional"
FINAL_ONLY = "final only"
REPORTED = "replay's reported"


@dataclass
class WakeupReplay:
    """Prompts the live policy would have started over one recording."""

    # PROVISIONAL: the policy saw the provisional calls; FINAL_ONLY: estimated;
    # REPORTED: the prompts replay reported with the events.
    basis: str
    prompts: list[tuple[float, str]] = field(default_factory=list)  # (start s, event id)
    worthy_at_s: dict[str, float] = field(default_factory=dict)  # event id -> s
    woken: dict[str, bool] = field(default_factory=dict)  # event id -> prompt was running


def _kind(value: str) -> EventKind:
    try:
        return EventKind(value)
    except ValueError:
        return EventKind.ARTIFACT  # an unknown kind is no cramp: it never prompts


def _confidence(value: float) -> float:
    # Event files without confidences count every cramp call as sure enough to wake.
    return min(1.0, max(0.0, value)) if math.isfinite(value) else 1.0


def _as_event(d: DetectedEvent, kind: str | None = None, confidence: float | None = None,
              open_: bool | None = None) -> Event:
    is_open = (not d.final) if open_ is None else open_
    return Event(
        event_id=d.event_id,
        session_id="evaluate",
        channel=ChannelInfo(d.channel),
        start_s=d.start_s,
        end_s=None if is_open else (d.end_s if d.end_s is not None else d.start_s),
        kind=_kind(kind if kind is not None else d.kind),
        confidence=_confidence(d.confidence if confidence is None else confidence),
        features={},
        detector_version="",
        model_version="",
        final=not is_open,
    )


def _known_at(d: DetectedEvent) -> float:
    if d.known_at_s is not None and math.isfinite(d.known_at_s):
        return d.known_at_s
    if d.final:
        return d.end_s if d.end_s is not None else d.start_s
    if d.first_cramp_call_s is not None and math.isfinite(d.first_cramp_call_s):
        return d.first_cramp_call_s
    return d.start_s


def policy_feed(detected: Sequence[DetectedEvent]) -> tuple[str, list[tuple[float, Event]]]:
    """Return the basis and the (session time s, event) pairs the policy is fed, in order."""
    # No events at all is nothing to estimate: the policy has seen all there is.
    has_provisional = not detected or any(not d.final for d in detected)
    fed: list[tuple[float, int, Event]] = []
    if has_provisional:
        # An episode never called a cramp is never tracked by the policy: left out.
        called = {d.event_id for d in detected if d.is_cramp}
        for i, d in enumerate(detected):
            if d.event_id in called:
                fed.append((_known_at(d), i, _as_event(d)))
        basis = PROVISIONAL
    else:
        basis = FINAL_ONLY
        for i, d in enumerate(detected):
            first = d.first_cramp_call_s
            called = first is not None and math.isfinite(first)
            if called or d.is_cramp:
                at = first if called else d.start_s
                assert at is not None
                kind = d.kind if d.is_cramp else str(EventKind.TONIC)
                confidence = d.confidence if d.is_cramp else 1.0
                fed.append((at, 2 * i, _as_event(d, kind, confidence, open_=True)))
            fed.append((_known_at(d), 2 * i + 1, _as_event(d)))
    fed.sort(key=lambda item: (item[0], item[1]))
    return basis, [(t, ev) for t, _, ev in fed]


def _drive(policy: PromptPolicy, feed: Sequence[tuple[float, Event]],
           step: Callable[[float, list[PromptDecision]], None]) -> None:
    """Feed events and the ticks between them to ``policy``; call ``step`` after each."""
    min_age_s = policy.params.min_duration_s
    ticks: list[float] = []
    now = -math.inf

    def tick_until(limit: float) -> None:
        nonlocal now
        while ticks and ticks[0] <= limit:
            t = max(now, heapq.heappop(ticks))
            now = t
            step(t, policy.on_tick(t))

    for t_known, ev in feed:
        tick_until(t_known)
        now = max(now, t_known)
        step(now, policy.on_event(ev, now))
        if ev.is_cramp and ev.end_s is None and ev.start_s + min_age_s > now:
            heapq.heappush(ticks, ev.start_s + min_age_s)
    tick_until(math.inf)


def reported_prompts(detected: Sequence[DetectedEvent]) -> dict[str, ReportedPrompt] | None:
    """Return replay's prompt record of each final event, by event id; None unless every
    final event of the recording carries one."""
    finals = [d for d in detected if d.final]
    if not finals or any(d.prompt is None for d in finals):
        return None
    return {d.event_id: d.prompt for d in finals if d.prompt is not None}


def replay_prompts(detected: Sequence[DetectedEvent], params: PromptParams | None = None,
                   use_reported: bool = True) -> WakeupReplay:
    """Return the prompts and prompt-worthy times of one recording's events (see module doc).

    ``use_reported`` False re-derives the prompts even when the events carry replay's
    (e.g. to try other policy settings than those replay ran with).
    """
    params = params or PromptParams()
    basis, feed = policy_feed(detected)
    reported = reported_prompts(detected) if use_reported else None
    result = WakeupReplay(basis if reported is None else REPORTED)

    # Prompt-worthy time of each episode: its own events through a fresh policy that
    # has never prompted (so no rate limit applies) and is not in quiet mode.
    by_episode: dict[str, list[tuple[float, Event]]] = defaultdict(list)
    for t, ev in feed:
        by_episode[ev.event_id].append((t, ev))
    alone = replace(params, quiet=False)
    for event_id, own in by_episode.items():
        if not any(ev.is_cramp for _, ev in own):
            continue
        started: list[float] = []

        def first_start(t: float, decisions: list[PromptDecision], started: list[float] = started
                        ) -> None:
            if not started and any(d.action is PromptAction.START for d in decisions):
                started.append(t)

        _drive(PromptPolicy(alone), own, first_start)
        if started:
            result.worthy_at_s[event_id] = started[0]

    if reported is not None:
        _take_reported(result, reported)
        return result

    policy = PromptPolicy(params)
    times: list[float] = []
    running: list[bool] = []

    def night_step(t: float, decisions: list[PromptDecision]) -> None:
        for d in decisions:
            if d.action is PromptAction.START and d.wake:
                result.prompts.append((t, d.event.event_id))
        times.append(t)
        running.append(policy.active_prompt_id is not None)

    _drive(policy, feed, night_step)
    for key, t in result.worthy_at_s.items():
        # The state after the last step at that time: a prompt started then counts.
        i = bisect.bisect_right(times, t) - 1
        result.woken[key] = i >= 0 and running[i]
    return result


def _take_reported(result: WakeupReplay, reported: dict[str, ReportedPrompt]) -> None:
    """Fill ``result`` from replay's prompt records: its prompts, who they woke."""
    spans: list[tuple[float, float]] = []
    for event_id, p in reported.items():
        if p.prompted_at_s is None:
            continue
        result.prompts.append((p.prompted_at_s, event_id))
        # The policy's rule was met the moment this episode started its prompt.
        result.worthy_at_s[event_id] = p.prompted_at_s
        spans.append((p.prompted_at_s,
                      math.inf if p.stopped_at_s is None else p.stopped_at_s))
    result.prompts.sort()
    for key, t in result.worthy_at_s.items():
        # Running from its start (a prompt started then counts) until it stopped.
        result.woken[key] = any(start <= t < stop for start, stop in spans)
