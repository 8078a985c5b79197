"""What a prompt channel is handed: one policy decision with its guidance texts and wall time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from crampwatch.prompt.guidance import Guidance, GuidanceBook
from crampwatch.prompt.policy import PromptAction, PromptDecision


@dataclass(frozen=True)
class PromptNotice:
    """A decision ready to show: ``wall_time`` is UTC, ``decision.at_s`` the session time."""

    session_id: str
    decision: PromptDecision
    guidance: Guidance
    book: GuidanceBook
    wall_time: datetime

    @property
    def action(self) -> PromptAction:
        return self.decision.action

    @property
    def level(self) -> int:
        return self.decision.level

    def headline(self) -> str:
        """Return the one line that says what is happening, in the sleeper's language."""
        d = self.decision
        side = d.event.channel.side.value
        where = f" ({side} leg)" if side in ("left", "right") else ""
        if d.action is PromptAction.RED_FLAG:
            return self.book.red_flag_title
        return f"{self.guidance.title}{where}"

    def to_json(self) -> dict[str, object]:
        """Return the notice as a JSON-ready dict (for the bedside page and the webhook)."""
        d = self.decision
        ev = d.event
        return {
            "session_id": self.session_id,
            "action": d.action.value,
            "prompt_id": d.prompt_id,
            "level": d.level,
            "reason": d.reason,
            "response": None if d.response is None else d.response.value,
            "session_s": round(d.at_s, 3),
            "wall_time": self.wall_time.isoformat(),
            "event": {
                "event_id": ev.event_id,
                "kind": ev.kind.value,
                "muscle": ev.channel.muscle.value,
                "side": ev.channel.side.value,
                "label": ev.channel.label,
                "start_s": round(ev.start_s, 3),
                "end_s": None if ev.end_s is None else round(ev.end_s, 3),
                "confidence": round(ev.confidence, 3),
            },
            "headline": self.headline(),
            "now": list(self.guidance.now),
            "after": list(self.guidance.after),
            "red_flag": list(self.book.red_flag_text),
            "see_a_doctor": list(self.book.see_a_doctor),
            "disclaimer": self.book.disclaimer,
            "ack_labels": {"ok": self.book.ack_ok, "stretched": self.book.ack_stretched},
        }
