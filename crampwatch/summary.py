"""The morning summary for the sleeper (events, durations, a small plot) and the diary prompt.

The diary follows cramp trials (Sebo 2019): pain 0-10 and sleep disturbance 0-10 for the
night, with an optional note.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from crampwatch.prompt.log import PromptRecord
from crampwatch.prompt.params import RED_FLAG_AFTER_S
from sensor.records import Event, EventKind


@dataclass(frozen=True)
class CrampLine:
    """One cramp of the night as the sleeper reads it."""

    event_id: str
    start_s: float
    duration_s: float | None
    kind: EventKind
    muscle: str
    side: str
    prompted: bool
    acknowledged: bool
    red_flag: bool


@dataclass(frozen=True)
class NightSummary:
    """Counts and durations of one night, in seconds of session time."""

    session_id: str
    duration_s: float
    cramps: tuple[CrampLine, ...]
    look_alikes: dict[str, int]
    prompts: int
    acknowledged: int
    suppressed: int
    median_ack_s: float | None
    lost_signal_s: float
    # Prompted as a cramp while running, finally called a look-alike.
    woken_for_other: tuple[CrampLine, ...] = ()

    @property
    def total_cramp_s(self) -> float:
        return sum(c.duration_s or 0.0 for c in self.cramps)

    @property
    def longest_cramp_s(self) -> float:
        return max((c.duration_s or 0.0 for c in self.cramps), default=0.0)

    @property
    def red_flags(self) -> int:
        return sum(c.red_flag for c in self.cramps)


def summarize_night(
    session_id: str,
    events: Sequence[Event],
    prompt_records: Sequence[PromptRecord],
    duration_s: float,
    lost_signal_s: float = 0.0,
) -> NightSummary:
    """Return the night's summary from its final events and its prompt log."""
    latest: dict[str, Event] = {}
    for ev in events:
        latest[ev.event_id] = ev  # later versions (final) win
    decisions = [r for r in prompt_records if r.get("type") == "decision"]
    prompted_ids = {r["event_id"] for r in decisions if r["action"] == "start"}
    prompt_of = {r["prompt_id"]: r["event_id"] for r in decisions if r["action"] == "start"}
    start_at = {r["prompt_id"]: r["session_s"] for r in decisions if r["action"] == "start"}
    acks = [r for r in decisions if r["action"] == "acknowledged"]
    acked_ids = {prompt_of.get(r["prompt_id"], r["event_id"]) for r in acks}
    flagged = {r["event_id"] for r in decisions if r["action"] == "red_flag"}
    ack_delays = [
        r["session_s"] - start_at[r["prompt_id"]] for r in acks if r["prompt_id"] in start_at
    ]
    cramps = []
    woken_other = []
    look_alikes: Counter[str] = Counter()
    for ev in sorted(latest.values(), key=lambda e: e.start_s):
        dur = ev.duration_s
        if not ev.is_cramp:
            look_alikes[ev.kind.value] += 1
            if ev.event_id not in prompted_ids:
                continue
        (cramps if ev.is_cramp else woken_other).append(
            CrampLine(
                event_id=ev.event_id,
                start_s=ev.start_s,
                duration_s=dur,
                kind=ev.kind,
                muscle=ev.channel.muscle.value,
                side=ev.channel.side.value,
                prompted=ev.event_id in prompted_ids,
                acknowledged=ev.event_id in acked_ids,
                red_flag=ev.event_id in flagged or (dur is not None and dur >= RED_FLAG_AFTER_S),
            )
        )
    return NightSummary(
        session_id=session_id,
        duration_s=duration_s,
        cramps=tuple(cramps),
        look_alikes=dict(look_alikes),
        prompts=len(prompted_ids),
        acknowledged=len(acks),
        suppressed=sum(1 for r in decisions if r["action"] == "suppressed"),
        median_ack_s=statistics.median(ack_delays) if ack_delays else None,
        lost_signal_s=lost_signal_s,
        woken_for_other=tuple(woken_other),
    )


def _clock(s: float) -> str:
    s = max(0.0, s)
    return f"{int(s // 3600):d}:{int(s % 3600 // 60):02d}:{int(s % 60):02d}"


def render_summary(summary: NightSummary) -> str:
    """Return the summary as plain text for the terminal."""
    n = len(summary.cramps)
    lines = [
        f"Night {summary.session_id}: {_clock(summary.duration_s)} recorded",
        f"  cramps: {n}"
        + (
            f" (total {summary.total_cramp_s:.0f} s, longest {summary.longest_cramp_s:.0f} s)"
            if n
            else ""
        ),
    ]
    for c in summary.cramps:
        dur = "still running" if c.duration_s is None else f"{c.duration_s:.0f} s"
        side = "" if c.side == "unknown" else f"{c.side} "
        woke = "woken, answered" if c.acknowledged else "woken" if c.prompted else "not woken"
        flag = "  RED FLAG: over 10 min, see a doctor" if c.red_flag else ""
        lines.append(
            f"    at {_clock(c.start_s)}  {c.kind.value:<6} {side}{c.muscle:<22} {dur:>13}"
            f"  {woke}{flag}"
        )
    for c in summary.woken_for_other:
        dur = "still running" if c.duration_s is None else f"{c.duration_s:.0f} s"
        lines.append(
            f"    at {_clock(c.start_s)}  woken for activity of {dur} first taken for a cramp, "
            f"finally called {c.kind.value}"
        )
    if summary.look_alikes:
        ignored = ", ".join(f"{k} {v}" for k, v in sorted(summary.look_alikes.items()))
        lines.append(f"  other leg activity, not woken for: {ignored}")
    lines.append(
        f"  prompts: {summary.prompts}, answered: {summary.acknowledged}"
        + (
            f" (median {summary.median_ack_s:.0f} s after the prompt)"
            if summary.median_ack_s is not None
            else ""
        )
        + (f", held back: {summary.suppressed}" if summary.suppressed else "")
    )
    if summary.lost_signal_s >= 0.05:
        lines.append(f"  signal lost for {summary.lost_signal_s:.1f} s in total")
    if n >= 2:
        lines.append("  Several cramps in one night: mention it to your doctor.")
    return "\n".join(lines)


def plot_summary(summary: NightSummary, events: Sequence[Event], path: Path) -> Path:
    """Write a PNG timeline of the night (cramps as bars, look-alikes as ticks); return its path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    latest = {ev.event_id: ev for ev in events}
    fig, ax = plt.subplots(figsize=(8, 2.6), dpi=100)
    hours = summary.duration_s / 3600.0
    colours = {EventKind.TONIC: "#c0392b", EventKind.CLONIC: "#e67e22"}
    for c in summary.cramps:
        end_s = c.start_s + (c.duration_s if c.duration_s is not None else 0.0)
        ax.barh(
            1, (end_s - c.start_s) / 3600.0 or 1 / 3600.0, left=c.start_s / 3600.0, height=0.6,
            color=colours[c.kind], edgecolor="black" if c.red_flag else "none",
        )
        if c.prompted:
            ax.plot(c.start_s / 3600.0, 1.45, marker="v", color="#2c3e50", markersize=6)
    others = [ev for ev in latest.values() if not ev.is_cramp]
    if others:
        ax.vlines([ev.start_s / 3600.0 for ev in others], -0.3, 0.3, color="#7f8c8d", lw=1)
    ax.set_yticks([0, 1], ["other activity", "cramps"])
    ax.set_ylim(-0.7, 1.8)
    ax.set_xlim(0, max(hours, 1 / 60))
    ax.set_xlabel("hours since the start of the night")
    handles = [
        plt.Rectangle((0, 0), 1, 1, color=colours[EventKind.TONIC], label="tonic cramp"),
        plt.Rectangle((0, 0), 1, 1, color=colours[EventKind.CLONIC], label="clonic cramp"),
        plt.Line2D([], [], marker="v", ls="", color="#2c3e50", label="woken"),
    ]
    ax.legend(handles=handles, loc="upper right", fontsize=7, ncols=3, frameon=False)
    ax.set_title(f"{summary.session_id}: {len(summary.cramps)} cramp(s)", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


@dataclass(frozen=True)
class DiaryEntry:
    """The sleeper's own scores for the night (Sebo 2019 trial diary)."""

    pain_0_10: int
    sleep_disturbance_0_10: int
    note: str = ""

    def __post_init__(self) -> None:
        for name in ("pain_0_10", "sleep_disturbance_0_10"):
            value = getattr(self, name)
            if not isinstance(value, int) or not 0 <= value <= 10:
                raise ValueError(f"{name} must be a whole number from 0 to 10, got {value!r}")


def parse_score(text: str, what: str) -> int:
    """Return a 0-10 score typed by the sleeper; ValueError says what to type instead."""
    try:
        value = int(text.strip())
    except ValueError:
        typed = text.strip()
        raise ValueError(f"{what}: type a whole number from 0 to 10, not {typed!r}") from None
    if not 0 <= value <= 10:
        raise ValueError(f"{what}: {value} is outside 0 to 10")
    return value


def ask_diary(
    ask: Callable[[str], str] = input, out: TextIO | None = None, attempts: int = 3
) -> DiaryEntry | None:
    """Return the sleeper's diary entry asked interactively; None when they skip it (empty)."""
    import sys

    stream = out if out is not None else sys.stdout
    questions = (
        ("pain", "How bad was the pain from cramps last night? 0 (none) to 10 (worst): "),
        ("sleep disturbance", "How much did cramps disturb your sleep? 0 (not at all) to 10: "),
    )
    scores: list[int] = []
    for what, question in questions:
        for attempt in range(attempts):
            answer = ask(question)
            if not answer.strip() and not scores:
                return None
            try:
                scores.append(parse_score(answer, what))
                break
            except ValueError as exc:
                if attempt == attempts - 1:
                    raise
                stream.write(f"{exc}\n")
    note = ask("Anything else to note (optional, Enter to skip): ").strip()
    return DiaryEntry(scores[0], scores[1], note)
