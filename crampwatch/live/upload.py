"""Sending the night to an event store over HTTP (api.client), through the outbox.

Records are queued in the outbox as API bodies (night, events, prompts, diary) keyed
by their client ids, so a resend after a crash or an outage is idempotent on the
server. The hub client is synchronous (httpx), so each call runs on a worker thread
and never holds up the event loop that reads the band.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from api.client import HubClient, TransientUploadError, UploadRejectedError
from crampwatch.event_json import event_to_json
from crampwatch.live.timeline import night_time
from crampwatch.outbox import Outbox, OutboxItem, Rejected, RetryLater
from crampwatch.prompt.policy import PromptAction, PromptDecision
from sensor.records import Event

# The prompt record's channel when no channel delivered the prompt (all failed).
NO_CHANNEL = "none"


def event_body(
    event: Event, red_flag: bool = False, extra: dict[str, float] | None = None
) -> dict[str, Any]:
    """Return the API's EventIn body for ``event``: its shared JSON (crampwatch.event_json)
    with ``extra`` features, the red flag, and times before the night's start at 0."""
    body = event_to_json(event)
    body["features"].update(
        {k: (float(v) if math.isfinite(v) else None) for k, v in (extra or {}).items()})
    if red_flag:
        body["features"]["red_flag_over_10_min"] = 1.0
    for name in ("start_s", "end_s"):
        if body[name] is not None:
            body[name] = max(0.0, body[name])
    body["detector_version"] = event.detector_version[:64]  # the API keeps 64 characters
    body["model_version"] = event.model_version[:64]
    return body


@dataclass
class PromptRecordBuilder:
    """Folds a prompt's decisions into the API's PromptIn body (sent, escalated, acked)."""

    night_id: str
    started_at: datetime
    bodies: dict[str, dict[str, Any]] = field(default_factory=dict)

    def _wall(self, session_s: float) -> str:
        return night_time(self.started_at, session_s)

    def apply(self, decision: PromptDecision, reached: Sequence[str] = (),
              channel: str = "bedside") -> dict[str, Any] | None:
        """Return the updated body of the decision's prompt, or None if it has no prompt.

        ``reached`` names the channels that delivered the decision, waking ones first:
        a start or escalation is recorded on the first of them (``none`` if none did);
        ``channel`` is where an acknowledgement came from.
        """
        used = reached[0] if reached else NO_CHANNEL
        pid = decision.prompt_id
        if pid is None:
            return None
        if decision.action is PromptAction.START:
            self.bodies[pid] = {
                "event_id": decision.event.event_id,
                "night_id": self.night_id,
                "sent_at": self._wall(decision.at_s),
                "channel": used,
                "level": 0,
            }
        body = self.bodies.get(pid)
        if body is None:
            return None
        if decision.action is PromptAction.ESCALATE:
            body["level"] = decision.level
            body["escalated_at"] = self._wall(decision.at_s)
            body["escalated_channel"] = used
        elif decision.action is PromptAction.ACKNOWLEDGED:
            body["acknowledged_at"] = self._wall(decision.at_s)
            body["acknowledged_channel"] = channel
        return dict(body)


class HubUploader:
    """Sends outbox items to one store with a hub token; use as the outbox's sender."""

    def __init__(self, client: HubClient, night_id: str) -> None:
        self.client = client
        self.night_id = night_id

    async def __call__(self, item: OutboxItem) -> None:
        try:
            await asyncio.to_thread(self._send, item)
        except TransientUploadError as exc:
            raise RetryLater(str(exc)) from exc
        except UploadRejectedError as exc:
            raise Rejected(str(exc)) from exc

    def _send(self, item: OutboxItem) -> None:
        p = item.payload
        if item.kind == "night":
            self.client.put_night(
                self.night_id,
                datetime.fromisoformat(p["started_at"]),
                ended_at=None if p.get("ended_at") is None else datetime.fromisoformat(
                    p["ended_at"]),
                detector_version=p.get("detector_version", ""),
                model_version=p.get("model_version", ""),
                note=p.get("note", ""),
            )
        elif item.kind == "event":
            self.client.upload_events(self.night_id, [p])
        elif item.kind == "prompt":
            self.client.put_prompt(item.key.removeprefix("prompt:"), p)
        elif item.kind == "diary":
            self.client.put_diary_entry(item.key.removeprefix("diary:"), p)
        else:
            raise Rejected(f"unknown outbox record kind {item.kind!r}")


def queue_night(outbox: Outbox, night_id: str, started_at: datetime, **fields: Any) -> None:
    """Queue the night record (sent before its events: the outbox keeps order)."""
    outbox.put(f"night:{night_id}", "night", {"started_at": started_at.isoformat(), **fields})
