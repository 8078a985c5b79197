"""Plots drawn as inline SVG on the server: no script, no CDN, readable at any zoom."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from api.schemas import EventDetail, EventOut, WeekSummary
from api.wording import kind_words, muscle_words

#: Colour per event kind: cramps warm and strong, look-alikes muted (colour-blind safe pairs).
KIND_COLOURS = {
    "tonic": "#c0392b",
    "clonic": "#e67e22",
    "plm": "#5d6d7e",
    "movement": "#85929e",
    "jerk": "#7d3c98",
    "tremor": "#2e86c1",
    "walking": "#17a589",
    "stretch": "#b7950b",
    "artifact": "#bdc3c7",
}
#: Colour per muscle role in the envelope plot: the calf dark, the shin a distinct green.
TRACE_COLOURS = {"calf": "#1a5276", "shin": "#117a65", "other": "#7d6608"}
FONT = 'font-family="system-ui, sans-serif" font-size="14"'
#: The 24 clock hours of a time-of-night histogram, from the evening on.
NIGHT_HOURS = (*range(18, 24), *range(0, 18))


def format_duration(seconds: float | None) -> str:
    """Return a duration in s as '42 s' or '3 min 05 s' ('running' if not ended)."""
    if seconds is None:
        return "running"
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"


def night_timeline_svg(
    events: Sequence[EventOut],
    night_start: dt.datetime,
    night_end: dt.datetime,
    event_href: str,
    width_px: int = 960,
) -> str:
    """Return an SVG timeline of a night: one row per channel, one bar per event at clock time.

    ``event_href`` is a format string with ``{event_id}`` for each bar's link.
    """
    rows = sorted({(e.channel.side.value, e.channel.muscle.value) for e in events}) or [
        ("", "no events")
    ]
    left, right, top, row_h = 230, 20, 28, 34
    height = top + row_h * len(rows) + 40
    span_s = max((night_end - night_start).total_seconds(), 60.0)
    plot_w = width_px - left - right

    def x_of(t: dt.datetime) -> float:
        return left + plot_w * min(max((t - night_start).total_seconds() / span_s, 0.0), 1.0)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width_px} {height}" '
        f'class="timeline" role="img" aria-label="Events of the night by clock time" {FONT}>'
    ]
    # Hour grid at the sleeper's clock hours.
    tick = night_start.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
    while tick < night_end:
        x = x_of(tick)
        parts.append(
            f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{height - 34}" stroke="#ddd"/>'
            f'<text x="{x:.1f}" y="{height - 18}" text-anchor="middle" fill="#444">'
            f"{tick:%H:%M}</text>"
        )
        tick += dt.timedelta(hours=1)
    for i, (side, muscle) in enumerate(rows):
        y = top + i * row_h
        label = muscle_words(muscle, side) if muscle != "no events" else muscle
        parts.append(
            f'<rect x="{left}" y="{y}" width="{plot_w}" height="{row_h - 6}" fill="#f7f7f7"/>'
            f'<text x="{left - 8}" y="{y + row_h / 2}" text-anchor="end" fill="#222">'
            f"{escape(label)}</text>"
        )
    for event in events:
        i = rows.index((event.channel.side.value, event.channel.muscle.value))
        y = top + i * row_h
        x0 = x_of(event.start_at)
        end = event.end_at or night_end
        x1 = max(x_of(end), x0 + 3.0)  # a 2 s twitch stays visible on an 8 h axis
        colour = KIND_COLOURS.get(event.kind.value, "#999")
        inset = 2 if event.is_cramp else 9
        tip = (
            f"{kind_words(event.kind)} {event.start_at:%H:%M:%S}, "
            f"{format_duration(event.duration_s)}, confidence {event.confidence:.2f}"
            + ("" if event.final else " (provisional)")
        )
        href = escape(event_href.format(event_id=event.event_id), quote=True)
        parts.append(
            f'<a href="{href}"><rect class="event event-{event.kind.value}" '
            f'data-event-id="{escape(event.event_id, quote=True)}" x="{x0:.1f}" '
            f'y="{y + inset}" width="{x1 - x0:.1f}" height="{row_h - 6 - 2 * inset}" '
            f'fill="{colour}" fill-opacity="{0.45 + 0.55 * event.confidence:.2f}" rx="2">'
            f"<title>{escape(tip)}</title></rect></a>"
        )
    parts.append(
        f'<text x="{left}" y="16" fill="#444">Recorded {night_start:%H:%M} – '
        f"{night_end:%H:%M}, the sleeper's clock</text>"
    )
    parts.append("</svg>")
    return "".join(parts)


def kind_legend_html() -> str:
    """Return an HTML legend of the kind colours used in the plots."""
    items = "".join(
        f'<span class="legend-item"><span class="swatch" style="background:{colour}"></span>'
        f"{escape(kind_words(kind))}</span>"
        for kind, colour in KIND_COLOURS.items()
    )
    return f'<div class="legend">{items}</div>'


@dataclass(frozen=True)
class TimeMark:
    """A moment drawn across the envelope plot: session seconds and a short label."""

    at_s: float
    label: str


def prompt_marks(event: EventDetail) -> list[TimeMark]:
    """Return the event's prompts (sent, escalated, acknowledged) as session-time marks."""

    def session_s(at: dt.datetime) -> float:
        return event.start_s + (at - event.start_at).total_seconds()

    marks = []
    for number, prompt in enumerate(event.prompts, start=1):
        name = "prompt" if len(event.prompts) == 1 else f"prompt {number}"
        marks.append(TimeMark(session_s(prompt.sent_at), f"{name} ({prompt.channel})"))
        if prompt.escalated_at is not None:
            marks.append(
                TimeMark(session_s(prompt.escalated_at), f"louder ({prompt.escalated_channel})")
            )
        if prompt.acknowledged_at is not None:
            marks.append(TimeMark(session_s(prompt.acknowledged_at), "acknowledged"))
    return marks


def _nice_step(span: float, ticks: int) -> float:
    raw = max(span / ticks, 1e-9)
    magnitude = 10 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)


def envelope_svg(event: EventDetail, width_px: int = 960) -> str:
    """Return an SVG of the muscles' envelopes (uV) around the event: one panel per muscle on
    one time axis (seconds from the onset), the event shaded, onset, end and prompts marked."""
    envelope = event.envelope
    if envelope is None:
        raise ValueError("the event has no envelope to plot")
    # Each panel has a title row above it; the marks' labels sit above the first title.
    panel_h, left, right, top, gap, title_h = 150, 80, 24, 40, 12, 24
    height = top + (title_h + panel_h + gap) * len(envelope.channels) + 34
    plot_w = width_px - left - right
    n = max(len(ch.values_uv) for ch in envelope.channels)
    t0 = envelope.start_s
    t1 = t0 + max(n - 1, 1) * envelope.step_s

    def x_of(t: float) -> float:
        return left + plot_w * (min(max(t, t0), t1) - t0) / (t1 - t0)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width_px} {height}" '
        f'class="envelope" role="img" aria-label="Muscle activity around the event" {FONT}>'
    ]
    end_s = event.end_s if event.end_s is not None else t1
    colour = KIND_COLOURS.get(event.kind.value, "#999")
    bottom = top + (title_h + panel_h + gap) * len(envelope.channels) - gap
    parts.append(
        f'<rect class="event-span" x="{x_of(event.start_s):.1f}" y="{top}" '
        f'width="{max(x_of(end_s) - x_of(event.start_s), 1):.1f}" height="{bottom - top}" '
        f'fill="{colour}" fill-opacity="0.10"/>'
    )
    # One amplitude scale for every muscle, so a quiet shin beside a cramping calf looks quiet.
    vmax = max(max(max(channel.values_uv) for channel in envelope.channels), 1e-9)
    step = _nice_step(vmax, 3)
    y_top = step * math.ceil(vmax / step)
    scale = (panel_h - 8) / y_top
    for i, channel in enumerate(envelope.channels):
        y0 = top + i * (title_h + panel_h + gap) + title_h

        def y_of(v: float, y0: float = y0, scale: float = scale) -> float:
            return y0 + panel_h - v * scale

        parts.append(
            f'<rect x="{left}" y="{y0}" width="{plot_w}" height="{panel_h}" fill="none" '
            'stroke="#ccc"/>'
        )
        tick = 0.0
        while tick <= y_top + 1e-9:
            parts.append(
                f'<line x1="{left - 4}" y1="{y_of(tick):.1f}" x2="{left + plot_w}" '
                f'y2="{y_of(tick):.1f}" stroke="#eee"/>'
                f'<text x="{left - 8}" y="{y_of(tick) + 5:.1f}" text-anchor="end" fill="#555">'
                f"{tick:g}</text>"
            )
            tick += step
        trace = TRACE_COLOURS.get(channel.role.value, "#1a5276")
        points = " ".join(
            f"{x_of(t0 + k * envelope.step_s):.1f},{y_of(v):.1f}"
            for k, v in enumerate(channel.values_uv)
        )
        name = muscle_words(channel.muscle, channel.side, channel.role)
        parts.append(
            f'<polyline class="trace trace-{channel.role.value}" points="{points}" fill="none" '
            f'stroke="{trace}" stroke-width="1.6"><title>{escape(name)}</title></polyline>'
            f'<rect x="{left}" y="{y0 - title_h + 2}" width="{plot_w}" height="{title_h - 4}" '
            'fill="#fff"/>'
            f'<text x="{left + 2}" y="{y0 - 7}" fill="{trace}" font-weight="600">'
            f"{escape(name[:1].upper() + name[1:])}"
            f'<tspan fill="#555" font-weight="400"> · channel {escape(channel.label)}, '
            "RMS amplitude in µV</tspan></text>"
        )
    marks = [
        ("onset", TimeMark(event.start_s, "onset"), "#111", ""),
        ("end", TimeMark(end_s, "end" if event.end_s is not None else "running"), "#111", ""),
        *(("prompt", mark, "#6c3483", 'stroke-dasharray="5 4"') for mark in prompt_marks(event)),
    ]
    label_rows: list[float] = []
    for cls, mark, stroke, dash in marks:
        if not t0 <= mark.at_s <= t1:
            continue
        x = x_of(mark.at_s)
        # Labels that would overlap the one before go one row lower.
        row = 0 if not label_rows or x - label_rows[-1] > 90 else 1
        label_rows.append(x)
        anchor = "end" if x > left + plot_w - 60 else "start"
        dx = -4 if anchor == "end" else 4
        # The mark runs through every panel but leaves the panel titles clear.
        spans = [(top - 4, top + title_h - 18)] + [
            (top + i * (title_h + panel_h + gap) + title_h, None)
            for i in range(len(envelope.channels))
        ]
        path = " ".join(
            f"M{x:.1f},{y_a} V{y_b if y_b is not None else y_a + panel_h}" for y_a, y_b in spans
        )
        parts.append(
            f'<path class="mark mark-{cls}" d="{path}" stroke="{stroke}" stroke-width="1.5" '
            f'fill="none" {dash}/>'
            f'<text x="{x + dx:.1f}" y="{top - 22 + 14 * row}" text-anchor="{anchor}" '
            f'fill="{stroke}" font-size="13">{escape(mark.label)}</text>'
        )
    step = _nice_step(t1 - t0, 8)
    tick = step * math.ceil((t0 - event.start_s) / step)
    while tick <= t1 - event.start_s + 1e-9:
        x = x_of(event.start_s + tick)
        parts.append(
            f'<text x="{x:.1f}" y="{height - 16}" text-anchor="middle" fill="#444">'
            f"{tick:+g} s</text>".replace("+0 s", "0 s")
        )
        tick += step
    parts.append("</svg>")
    return "".join(parts)


def bar_chart_svg(
    labels: Sequence[str],
    values: Sequence[float],
    title: str,
    unit: str = "",
    highlight: Sequence[bool] | None = None,
    width_px: int = 960,
    height_px: int = 180,
) -> str:
    """Return a labelled SVG bar chart; highlighted bars are drawn in the red-flag colour."""
    left, right, top, bottom = 40, 10, 24, 36
    plot_w, plot_h = width_px - left - right, height_px - top - bottom
    vmax = max(max(values, default=0.0), 1e-9)
    n = max(len(values), 1)
    bar_w = plot_w / n
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width_px} {height_px}" '
        f'class="bars" role="img" aria-label="{escape(title, quote=True)}" {FONT}>',
        f'<text x="{left}" y="14" fill="#222">{escape(title)}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'stroke="#999"/>',
    ]
    label_every = max(1, n // 16)
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        h = plot_h * value / vmax
        x = left + i * bar_w
        red = highlight is not None and highlight[i]
        parts.append(
            f'<rect x="{x + 1:.1f}" y="{top + plot_h - h:.1f}" width="{max(bar_w - 2, 1):.1f}" '
            f'height="{h:.1f}" fill="{"#c0392b" if red else "#2e86c1"}">'
            f"<title>{escape(label)}: {value:g} {escape(unit)}</title></rect>"
        )
        if value:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h - h - 3:.1f}" '
                f'text-anchor="middle" fill="#222">{value:g}</text>'
            )
        if i % label_every == 0:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{height_px - 18}" text-anchor="middle" '
                f'fill="#444">{escape(label)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def weekly_trend_svgs(weeks: Sequence[WeekSummary]) -> list[str]:
    """Return the trend charts for a run of weeks: cramps per week, longest cramp in minutes."""
    labels = [f"{w.week_start:%d %b}" for w in weeks]
    return [
        bar_chart_svg(
            labels,
            [w.cramp_count for w in weeks],
            "Cramps per week (red: a night with 2 or more, or one over 10 min)",
            "cramps",
            highlight=[w.nights_with_2plus_cramps > 0 or w.long_episode_count > 0 for w in weeks],
        ),
        bar_chart_svg(
            labels,
            [round(w.longest_cramp_s / 60, 1) for w in weeks],
            "Longest cramp per week (min)",
            "min",
            highlight=[w.long_episode_count > 0 for w in weeks],
        ),
    ]


def hour_histogram_svg(histogram: Sequence[int], title: str) -> str:
    """Return a bar chart of cramps per local clock hour, evening to morning."""
    return bar_chart_svg(
        [f"{h:02d}" for h in NIGHT_HOURS],
        [histogram[h] for h in NIGHT_HOURS],
        title,
        "cramps",
        height_px=150,
    )
