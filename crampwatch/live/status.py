"""The one-line session status: connection, battery, signal quality, lost samples, events."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SessionStatus:
    """What the sleeper (and the log) should know about the session right now."""

    source: str = ""
    connection: str = "connecting"  # connecting | streaming | reconnecting | ended
    battery_pct: int | None = None
    electrodes: dict[str, str] = field(default_factory=dict)  # label -> "ok" / problem
    lost_samples: int = 0
    gaps: int = 0
    lost_s: float = 0.0
    session_s: float = 0.0
    cramps: int = 0
    other_events: int = 0
    prompting: bool = False
    outbox_pending: int | None = None
    channel_failures: int = 0

    def line(self) -> str:
        """Return the status as one line (fits 100 columns for two electrodes)."""
        hours = int(self.session_s // 3600)
        minutes = int(self.session_s % 3600 // 60)
        seconds = int(self.session_s % 60)
        parts = [f"{hours}:{minutes:02d}:{seconds:02d}", self.connection]
        parts.append("battery ?" if self.battery_pct is None else f"battery {self.battery_pct}%")
        if self.electrodes:
            parts.append(
                "electrodes " + ", ".join(f"{k} {v}" for k, v in self.electrodes.items())
            )
        parts.append(f"lost {self.lost_samples} samples" + (f" ({self.lost_s:.1f} s)"
                                                           if self.lost_samples else ""))
        parts.append(f"cramps {self.cramps}, other {self.other_events}")
        if self.prompting:
            parts.append("PROMPTING")
        if self.outbox_pending:
            parts.append(f"upload waiting {self.outbox_pending}")
        if self.channel_failures:
            parts.append(f"prompt channel failures {self.channel_failures}")
        return " | ".join(parts)

    def to_json(self) -> dict[str, object]:
        """Return the status for the bedside page."""
        return {"type": "status", "line": self.line(), "connection": self.connection,
                "battery_pct": self.battery_pct, "electrodes": dict(self.electrodes),
                "lost_samples": self.lost_samples, "cramps": self.cramps}
