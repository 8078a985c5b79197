"""The prompt policy on the night's own clock, the same for a live night and a replay.

Events reach the policy at the session time they became known (``known_at_s``); in
between, time reaches it at each moment it has something due (a cramp reaching the
minimum age, an escalation, a red flag), never at the moments a ticker happens to run.
So a night gives the same prompts, at the same session times, played at any pace or
replayed as fast as the machine allows.
"""

from __future__ import annotations

import math
from typing import Any

from crampwatch.prompt.policy import AckResponse, PromptAction, PromptDecision, PromptPolicy
from sensor.records import Event


class NightPrompter:
    """Feeds one :class:`PromptPolicy` events and time in session-time order."""

    def __init__(self, policy: PromptPolicy, start_s: float = -math.inf) -> None:
        self.policy = policy
        self.now_s = start_s

    def advance(self, t_s: float) -> list[PromptDecision]:
        """Return the decisions time causes up to session time ``t_s``, each at its moment."""
        out: list[PromptDecision] = []
        while True:
            due = self.policy.next_due_s()
            if due is None or due > t_s:
                return out
            self.now_s = max(self.now_s, due)
            out += self.policy.on_tick(self.now_s)
            if (self.policy.next_due_s() or math.inf) <= self.now_s:
                return out  # nothing left to move time on for (defensive)

    def on_event(self, event: Event) -> list[PromptDecision]:
        """Return the decisions caused by ``event`` at the time it became known."""
        t_s = event.known_at_s if math.isfinite(event.known_at_s) else self.now_s
        out = self.advance(t_s)
        self.now_s = max(self.now_s, t_s)
        return out + self.policy.on_event(event, self.now_s)

    def acknowledge(self, t_s: float, response: AckResponse) -> list[PromptDecision]:
        """Return the decisions when the sleeper answers at session time ``t_s``."""
        out = self.advance(t_s)
        self.now_s = max(self.now_s, t_s)
        if self.policy.active_prompt_id is None:
            return out
        return out + self.policy.acknowledge(self.now_s, response)


def event_prompts(decisions: list[PromptDecision]) -> dict[str, dict[str, Any]]:
    """Return, per event id, what the night's prompts did about that episode (JSON-ready):
    ``prompted_at_s`` (the prompt it started), ``escalated_at_s``, ``red_flag_at_s``,
    ``stopped_at_s`` and ``suppressed`` (why a prompt it was worth was held back)."""
    out: dict[str, dict[str, Any]] = {}
    for d in decisions:
        entry = out.setdefault(d.event.event_id, no_prompt())
        if d.action is PromptAction.START:
            entry["prompted_at_s"] = d.at_s
            entry["prompt_id"] = d.prompt_id
        elif d.action is PromptAction.ESCALATE:
            entry["escalated_at_s"].append(d.at_s)
        elif d.action is PromptAction.RED_FLAG:
            entry["red_flag_at_s"] = d.at_s
        elif d.action is PromptAction.STOP:
            entry["stopped_at_s"] = d.at_s
        elif d.action is PromptAction.SUPPRESSED:
            entry["suppressed"] = d.reason
    return out


def no_prompt() -> dict[str, Any]:
    """Return the prompt record of an episode the policy did nothing about."""
    return {"prompted_at_s": None, "prompt_id": None, "escalated_at_s": [],
            "red_flag_at_s": None, "stopped_at_s": None, "suppressed": None}
