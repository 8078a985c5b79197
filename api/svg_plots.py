"""Plots drawn as inline SVG on the server: no script, no CDN, readable at any zoom."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from html import escape

from api.schemas import EventOut, SnippetOut, WeekSummary

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
    left, right, top, row_h = 150, 20, 28, 34
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
        label = f"{side} {muscle}".replace("_", " ").strip()
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
            f"{event.kind.value} {event.start_at:%H:%M:%S}, "
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
        f'<text x="{left}" y="16" fill="#444">{night_start:%a %d %b %H:%M} – '
        f"{night_end:%H:%M} (sleeper's clock)</text>"
    )
    parts.append("</svg>")
    return "".join(parts)


def kind_legend_html() -> str:
    """Return an HTML legend of the kind colours used in the plots."""
    items = "".join(
        f'<span class="legend-item"><span class="swatch" style="background:{colour}"></span>'
        f"{kind}</span>"
        for kind, colour in KIND_COLOURS.items()
    )
    return f'<div class="legend">{items}</div>'


def snippet_svg(snippet: SnippetOut, event: EventOut, width_px: int = 960) -> str:
    """Return an SVG of the event's envelope snippet, one panel per channel, event span shaded."""
    panel_h, left, right, top = 120, 70, 20, 10
    height = top + panel_h * len(snippet.channels) + 30
    plot_w = width_px - left - right
    n = max(len(ch.values) for ch in snippet.channels)
    t0 = snippet.t0_s
    t1 = t0 + max(n - 1, 1) / snippet.rate_hz

    def x_of(t: float) -> float:
        return left + plot_w * (t - t0) / (t1 - t0)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width_px} {height}" '
        f'class="snippet" role="img" aria-label="Envelope around the event" {FONT}>'
    ]
    shade_x0 = x_of(max(event.start_s, t0))
    shade_x1 = x_of(min(event.end_s if event.end_s is not None else t1, t1))
    colour = KIND_COLOURS.get(event.kind.value, "#999")
    for i, channel in enumerate(snippet.channels):
        y0 = top + i * panel_h
        vmax = max(max(channel.values), 1e-9)
        vmin = min(0.0, min(channel.values))
        scale = (panel_h - 24) / (vmax - vmin)
        points = " ".join(
            f"{x_of(t0 + k / snippet.rate_hz):.1f},{y0 + panel_h - 12 - (v - vmin) * scale:.1f}"
            for k, v in enumerate(channel.values)
        )
        parts.append(
            f'<rect x="{shade_x0:.1f}" y="{y0}" width="{max(shade_x1 - shade_x0, 1):.1f}" '
            f'height="{panel_h - 8}" fill="{colour}" fill-opacity="0.12"/>'
            f'<polyline points="{points}" fill="none" stroke="#1a5276" stroke-width="1.3"/>'
            f'<text x="{left + 6}" y="{y0 + 14}" fill="#222" font-weight="600">'
            f"{escape(channel.label)}</text>"
            f'<text x="{left - 6}" y="{y0 + 18}" text-anchor="end" fill="#666">'
            f"{vmax:.3g} {escape(channel.unit)}</text>"
            f'<text x="{left - 6}" y="{y0 + panel_h - 12}" text-anchor="end" fill="#666">'
            f"{vmin:.3g}</text>"
        )
    for k in range(6):
        t = t0 + (t1 - t0) * k / 5
        parts.append(
            f'<text x="{x_of(t):.1f}" y="{height - 8}" text-anchor="middle" fill="#444">'
            f"{t - event.start_s:+.0f} s</text>"
        )
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
