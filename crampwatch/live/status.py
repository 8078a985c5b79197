"""The one-line session status in plain words: the band, the signal, the night so far.

The sleeper reads it on the terminal and the bedside page ("band connected, signal
good | battery 80% | 1 cramp, 4 other movements"); the numbers behind it go to the
page as JSON and to the night's journal elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TextIO

from sensor.channels import assign_roles
from sensor.records import ChannelInfo, Muscle, Role, Side

# Below this the band may not last the night: the line says so. (rule of thumb)
LOW_BATTERY_PCT = 20

# What the session writes per electrode (``SessionStatus.electrodes``), in words.
_ELECTRODE_WORDS = {
    "OFF": "no contact",  # the band's lead-off flag
    "BAD": "poor signal",  # the quality check failed (flat, mains hum, clipping, noise)
}

_CONNECTION_WORDS = {
    "connecting": "connecting to the band",
    "streaming": "band connected",
    "reconnecting": "band out of reach, reconnecting",
    "lost": "band disconnected",
    "ended": "night ended",
}


@dataclass
class SessionStatus:
    """What the sleeper (and the log) should know about the session right now."""

    source: str = ""
    connection: str = "connecting"  # connecting | streaming | reconnecting[ (why)] | lost | ended
    battery_pct: int | None = None
    # label -> "?" (not checked yet), "ok", "BAD" (quality check failed), "OFF" (lead-off)
    electrodes: dict[str, str] = field(default_factory=dict)
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
        """Return the status as one line of plain words (fits 100 columns for two electrodes)."""
        hours = int(self.session_s // 3600)
        minutes = int(self.session_s % 3600 // 60)
        seconds = int(self.session_s % 60)
        parts = [f"{hours}:{minutes:02d}:{seconds:02d}", self.band_words()]
        if self.battery_pct is not None:
            low = self.battery_pct < LOW_BATTERY_PCT
            parts.append(f"battery {self.battery_pct}%" + (", low: charge the band" if low else ""))
        if self.lost_samples:
            parts.append(f"{self.lost_s:.1f} s of signal lost")
        parts.append(_count(self.cramps, "cramp") + ", "
                     + _count(self.other_events, "other movement"))
        if self.prompting:
            parts.append("PROMPT RUNNING")
        if self.outbox_pending:
            parts.append(_count(self.outbox_pending, "record") + " waiting to upload")
        if self.channel_failures:
            parts.append(_count(self.channel_failures, "prompt message")
                         + " could not be sent (see the prompt log)")
        return " | ".join(parts)

    def band_words(self) -> str:
        """Return the band's connection and electrode contact in words.

        For example 'band connected, signal good' or 'band connected, calf electrode: no
        contact'; the electrodes are left out while the band is not connected.
        """
        state = self.connection.split(" (", 1)[0]
        words = _CONNECTION_WORDS.get(state, state)
        if state != "streaming" or not self.electrodes:
            return words
        names = electrode_names(list(self.electrodes))
        trouble = [f"{names[label]}: {_ELECTRODE_WORDS[v]}"
                   for label, v in self.electrodes.items() if v in _ELECTRODE_WORDS]
        if trouble:
            return ", ".join([words, *trouble])
        if any(v != "ok" for v in self.electrodes.values()):
            return f"{words}, checking the signal"
        return f"{words}, signal good"

    def to_json(self) -> dict[str, object]:
        """Return the status for the bedside page."""
        return {"type": "status", "line": self.line(), "connection": self.connection,
                "battery_pct": self.battery_pct, "electrodes": dict(self.electrodes),
                "lost_samples": self.lost_samples, "cramps": self.cramps}


def electrode_names(labels: list[str]) -> dict[str, str]:
    """Return what to call each EMG channel's electrode, by label ('calf electrode').

    The side is named only where two electrodes would share a name ('left calf
    electrode'); without a side, the label tells them apart.
    """
    infos = assign_roles(labels)
    base = {info.label: _where(info) for info in infos}
    names = {}
    for info in infos:
        shared = sum(1 for b in base.values() if b == base[info.label]) > 1
        side = f"{info.side.value} " if shared and info.side is not Side.UNKNOWN else ""
        names[info.label] = f"{side}{base[info.label]} electrode"
        if shared and not side:
            names[info.label] += f" ({info.label})"
    return names


def _where(info: ChannelInfo) -> str:
    if info.role is Role.CALF:
        return "calf"
    if info.role is Role.SHIN:
        return "shin"
    if info.muscle in (Muscle.FOOT, Muscle.THIGH):
        return info.muscle.value
    return info.label


def _count(n: int, thing: str) -> str:
    return f"{n} {thing}" + ("" if n == 1 else "s")


def print_status(status: SessionStatus, out: TextIO | None, final: bool = False) -> None:
    """Write the status line: redrawn in place on a terminal, once at the end otherwise."""
    if out is None:
        return
    line = status.line()
    if bool(getattr(out, "isatty", lambda: False)()):
        out.write("\r\033[K" + line + ("\n" if final else ""))
    elif final:
        out.write(line + "\n")
    out.flush()
