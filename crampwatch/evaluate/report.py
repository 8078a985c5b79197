"""The evaluation report: figures, per-file table, confusion matrix and a plot of every miss
and false alarm (truth, detections and prompts in lanes; each EMG channel band-passed with
its envelope; the accelerometer), as one self-contained HTML file."""

from __future__ import annotations

import base64
import html
import io
import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from scipy import signal

from crampwatch.evaluate.scoring import (
    NONE,
    REPORTED,
    CrampOutcome,
    DetectedEvent,
    FileScore,
    Summary,
    confusion_total,
)
from crampwatch.recordings.edf_reader import EdfRecording
from crampwatch.synth.truth import TruthEvent
from sensor.records import EventKind

log = logging.getLogger(__name__)

# Context shown around an event in its plot, seconds before its start and after its end
# (long events are cut to PLOT_MAX_S after their start).
PLOT_BEFORE_S = 20.0
PLOT_AFTER_S = 20.0
PLOT_MAX_S = 120.0
# A report with hundreds of plots is unreadable; the rest are listed without a plot.
MAX_PLOTS = 60
# Envelope: band-pass 20-450 Hz (DOMAIN.md) then RMS over 250 ms (decision window).
ENVELOPE_WINDOW_S = 0.25


def _fmt(value: float | None, unit: str = "", digits: int = 2) -> str:
    if value is None:
        return "n/a"
    return f"{value:.{digits}f}{unit}"


def summary_rows(summary: Summary) -> list[tuple[str, str]]:
    """Return (label, value) lines of the headline figures."""
    return [
        ("recordings", f"{summary.files} ({summary.hours:.1f} h)"),
        ("truth cramps", str(summary.truth_cramps)),
        ("cramp recall", _fmt(summary.recall, "", 3) + f" ({summary.found} found)"),
        ("  tonic / clonic recall", " / ".join(
            _fmt(summary.recall_by_kind.get(k), "", 3) for k in ("tonic", "clonic"))),
        ("  weak cramps recall", _fmt(summary.recall_weak, "", 3)),
        ("cramp precision", _fmt(summary.precision, "", 3)
         + f" ({summary.cramp_calls} calls: {summary.fragments} fragments, "
           f"{summary.false_calls} on no cramp)"),
        ("cramp F1", _fmt(summary.f1, "", 3)),
        ("cramp calls on no cramp", f"{summary.false_calls} "
                                    f"({_fmt(summary.false_calls_per_8h, ' per 8 h')})"),
        ("false wake-ups", f"{summary.false_wakeups} "
                           f"({_fmt(summary.false_wakeups_per_8h, ' per 8 h')}; "
                           f"{summary.prompts} prompts in all)"),
        ("tonic/clonic accuracy on found cramps", _fmt(summary.kind_accuracy, "", 3)),
        ("onset error |median| / p90 / max",
         f"{_fmt(summary.onset_abs_median_s, ' s', 3)} / "
         f"{_fmt(summary.onset_abs_p90_s, ' s', 3)} / {_fmt(summary.onset_abs_max_s, ' s', 3)}"),
        ("onset bias (median signed)", _fmt(summary.onset_bias_median_s, " s", 3)),
        ("wake-up latency median / p90 / max",
         f"{_fmt(summary.wakeup_latency_median_s, ' s')} / "
         f"{_fmt(summary.wakeup_latency_p90_s, ' s')} / "
         f"{_fmt(summary.wakeup_latency_max_s, ' s')}"),
        ("cramps prompt-worthy / woken", f"{summary.alerted_cramps} / {summary.woken_cramps} "
                                         f"of {summary.truth_cramps}"),
        _basis_row(summary.prompt_basis),
    ]


def _basis_row(basis: str) -> tuple[str, str]:
    """Return the figure row saying where the prompts come from."""
    if basis == REPORTED:
        return ("prompts", "as replay reported them with its events")
    return ("prompts replayed from", f"{basis} events")


GROUP_HEADER = ("group", "nights", "hours", "cramps", "F1", "recall", "precision",
                "kind acc", "false wake/8h", "latency med s")


def group_rows(groups: Mapping[str, Summary]) -> list[list[str]]:
    """Return one table row per group: its figures as GROUP_HEADER names them."""
    return [
        [label, str(s.files), f"{s.hours:.1f}", str(s.truth_cramps), _fmt(s.f1, "", 3),
         _fmt(s.recall, "", 3), _fmt(s.precision, "", 3), _fmt(s.kind_accuracy, "", 3),
         _fmt(s.false_wakeups_per_8h), _fmt(s.wakeup_latency_median_s)]
        for label, s in groups.items()
    ]


def group_table(key: str, groups: Mapping[str, Summary]) -> str:
    """Return the per-group figures of one grouping key as plain text."""
    rows = [list(GROUP_HEADER), *group_rows(groups)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(GROUP_HEADER))]
    lines = [f"by {key}"]
    for row in rows:
        lines.append("  ".join(v.rjust(w) if i else v.ljust(w)
                               for i, (v, w) in enumerate(zip(row, widths, strict=True))))
    return "\n".join(lines)


def text_report(summary: Summary, scores: Sequence[FileScore],
                groups: Mapping[str, Mapping[str, Summary]] | None = None) -> str:
    """Return the figures, per-file table, confusion matrix and group tables as plain text."""
    lines = [f"{label:<42} {value}" for label, value in summary_rows(summary)]
    lines.append("")
    lines.append(f"{'file':<28} {'hours':>6} {'cramps':>6} {'found':>5} {'calls':>5} "
                 f"{'frags':>5} {'false calls':>11} {'false wake':>10} {'onset med s':>11}")
    for s in scores:
        errs = [abs(o.onset_error_s) for o in s.outcomes if o.onset_error_s is not None]
        med = f"{np.median(errs):.3f}" if errs else "n/a"
        lines.append(f"{s.file:<28} {s.duration_s / 3600:>6.2f} {s.truth_cramps:>6} "
                     f"{s.found:>5} {s.cramp_calls:>5} {s.fragments:>5} {s.false_calls:>11} "
                     f"{s.false_wakeups:>10} {med:>11}")
    lines.append("")
    lines.append("confusion (rows: truth, columns: detected final kind)")
    kinds, matrix = confusion_matrix(scores)
    lines.append(" " * 10 + "".join(f"{k[:8]:>9}" for k in kinds))
    for k, row in zip(kinds, matrix, strict=True):
        lines.append(f"{k[:10]:<10}" + "".join(f"{v:>9}" for v in row))
    for key, by_value in (groups or {}).items():
        lines.append("")
        lines.append(group_table(key, by_value))
    return "\n".join(lines)


def confusion_matrix(scores: Sequence[FileScore]) -> tuple[list[str], list[list[int]]]:
    """Return the kinds (EventKind values then "none") and the count matrix, truth x detected."""
    counts = confusion_total(scores)
    kinds = [str(k) for k in EventKind] + [NONE]
    seen = {k for pair in counts for k in pair}
    kinds = [k for k in kinds if k in seen] or kinds
    return kinds, [[counts.get((t, d), 0) for d in kinds] for t in kinds]


def _bandpass(emg: np.ndarray, fs_hz: float) -> np.ndarray:
    """Return EMG band-passed 20-450 Hz (upper corner <= 0.45 fs), zero phase, in uV."""
    high = min(450.0, 0.45 * fs_hz)
    sos = signal.butter(4, [20.0, high], btype="bandpass", fs=fs_hz, output="sos")
    return signal.sosfiltfilt(sos, emg, axis=0) if emg.shape[0] > 64 else emg


def _envelope(filtered: np.ndarray, fs_hz: float) -> np.ndarray:
    """Return the RMS envelope (uV) of band-passed EMG over ENVELOPE_WINDOW_S."""
    width = max(1, int(ENVELOPE_WINDOW_S * fs_hz))
    kernel = np.ones(width) / width
    return np.sqrt(np.column_stack([
        np.convolve(filtered[:, c] ** 2, kernel, mode="same")
        for c in range(filtered.shape[1])
    ]))


def _min_max(t: np.ndarray, x: np.ndarray, bins: int) -> tuple[np.ndarray, ...]:
    """Return (t, low, high) per bin: a dense trace drawn as its extent, with no aliasing."""
    n = x.shape[0] // bins
    if n < 2:
        return t, x, x
    used = n * bins
    shaped = x[:used].reshape(bins, n)
    return t[:used:n], shaped.min(axis=1), shaped.max(axis=1)


@dataclass(frozen=True)
class Mark:
    """One interval drawn in a lane above the signal: truth, a detection or a prompt."""

    lane: str  # one of LANES
    label: str
    start_s: float
    end_s: float


LANES = ("truth", "detected", "prompt")
LANE_COLOURS = {"truth": "#1b7f3b", "detected": "#c0392b", "prompt": "#6c3483"}
# Drawn at 100 dpi and shown at its own size (the page is 1000 px wide): 10 pt text.
PLOT_DPI = 100
PLOT_WIDTH_IN = 9.8
FONT_PT = 10
# Pixels of one character of FONT_PT text, to keep lane labels from running into each other.
CHAR_PX = 6.4
AXES_LEFT, AXES_RIGHT = 0.11, 0.82


def _plot_window(start_s: float, end_s: float) -> tuple[float, float]:
    """Return the seconds shown for an event: context before, the event (capped), context after."""
    return max(0.0, start_s - PLOT_BEFORE_S), min(end_s, start_s + PLOT_MAX_S) + PLOT_AFTER_S


@dataclass(frozen=True)
class _Placed:
    mark: Mark
    label: str
    row: int  # within its lane
    text_x: float  # where the label is drawn
    text_right: bool  # drawn ending at text_x (near the window's right edge)


def _lane_rows(marks: Sequence[Mark], t0: float, t1: float) -> list[_Placed]:
    """Return each mark with its label, its row inside its lane and where its label goes,
    so that no two labels meet and none runs out of the window."""
    s_per_char = (t1 - t0) / ((AXES_RIGHT - AXES_LEFT) * PLOT_WIDTH_IN * PLOT_DPI) * CHAR_PX
    placed: list[_Placed] = []
    ends: dict[tuple[str, int], float] = {}
    for mark in sorted(marks, key=lambda m: (LANES.index(m.lane), m.start_s)):
        left = max(mark.start_s, t0)
        label = mark.label
        if mark.end_s > t1:  # cut by the window: say where it really ends
            label += f" (to {mark.end_s:.0f} s)"
        if mark.start_s < t0:
            label = f"(from {mark.start_s:.0f} s) " + label
        width = (len(label) + 2) * s_per_char
        text_x, text_right = left, left + width > t1
        right = max(min(mark.end_s, t1), left + width)
        if text_right:  # no room after its start: the label ends where the bar starts
            text_x = left if left - width >= t0 else t1
            right = max(min(mark.end_s, t1), text_x)
            left = text_x - width
        row = 0
        while ends.get((mark.lane, row), -np.inf) > left:
            row += 1
        ends[(mark.lane, row)] = right
        placed.append(_Placed(mark, label, row, text_x, text_right))
    return placed


def _symlog_ticks(linthresh: float, top: float) -> tuple[list[float], list[str]]:
    """Return ticks for a symmetric log axis: 0 and the powers of ten clear of the linear part."""
    first = math.ceil(math.log10(1.5 * linthresh))
    powers = [10.0**k for k in range(first, math.floor(math.log10(top)) + 1)]
    ticks = [-p for p in reversed(powers)] + [0.0] + powers
    return ticks, [f"{t:g}" for t in ticks]


def plot_event(edf: Path, start_s: float, end_s: float, marks: Sequence[Mark]) -> bytes:
    """Return a PNG of an event in context: lanes of truth, detections and prompts, then each
    EMG channel band-passed (uV) with its RMS envelope, then the accelerometer (g)."""
    t0, t1 = _plot_window(start_s, end_s)
    with EdfRecording(edf) as rec:
        emg, acc = rec.window(t0, t1)
        filtered = _bandpass(emg, rec.emg_fs_hz)
        env = _envelope(filtered, rec.emg_fs_hz)
        labels, acc_labels = rec.emg_labels, rec.acc_labels
        t_emg = t0 + np.arange(emg.shape[0]) / rec.emg_fs_hz
        t_acc = t0 + np.arange(acc.shape[0]) / rec.acc_fs_hz if acc is not None else None
    t1 = min(t1, t0 + emg.shape[0] / rec.emg_fs_hz)  # the axis ends where the signal does
    placed = _lane_rows(marks, t0, t1)
    rows = {lane: 1 + max((p.row for p in placed if p.mark.lane == lane), default=-1)
            for lane in LANES}
    lanes = [lane for lane in LANES if rows[lane] or lane != "prompt"]
    lane_rows = sum(max(rows[lane], 1) for lane in lanes)
    heights = [0.32 * lane_rows + 0.1] + [1.45] * len(labels) + ([1.3] if acc is not None
                                                                   else [])
    # A bare Figure renders with Agg and keeps no global pyplot state (safe in workers).
    fig = Figure(figsize=(PLOT_WIDTH_IN, sum(heights) + 0.75), dpi=PLOT_DPI)
    fig.subplots_adjust(left=AXES_LEFT, right=AXES_RIGHT, top=0.98, bottom=0.55 / (
        sum(heights) + 0.75), hspace=0.12)
    axes = fig.subplots(len(heights), 1, sharex=True, gridspec_kw={"height_ratios": heights})
    lane_ax, signal_axes = axes[0], axes[1:]

    # Lanes: one row band per lane, each mark a bar with its label beside it (never on a trace).
    base, ticks = 0, []
    for lane in lanes:
        n = max(rows[lane], 1)
        ticks.append((base + n / 2, lane))
        colour = LANE_COLOURS[lane]
        for item in placed:
            mark = item.mark
            if mark.lane != lane:
                continue
            y = base + item.row + 0.5
            left, right = max(mark.start_s, t0), min(mark.end_s, t1)
            if right > left and mark.lane != "prompt":
                lane_ax.broken_barh([(left, right - left)], (y - 0.3, 0.6), color=colour,
                                    alpha=0.35, linewidth=0)
            lane_ax.plot([left], [y], marker="v" if lane == "prompt" else "|", color=colour,
                         markersize=9, markeredgewidth=2)
            text = item.label + "  " if item.text_right else "  " + item.label
            lane_ax.text(item.text_x, y, text, va="center", fontsize=FONT_PT - 1,
                         ha="right" if item.text_right else "left", color=colour)
        base += n
        lane_ax.axhline(base, color="#ccc", linewidth=0.8)
    lane_ax.set_ylim(base, 0)
    lane_ax.set_yticks([y for y, _ in ticks], [name for _, name in ticks], fontsize=FONT_PT)
    lane_ax.tick_params(axis="y", length=0)
    for side in ("top", "right", "left"):
        lane_ax.spines[side].set_visible(False)

    truth_spans = [(m.start_s, m.end_s) for m in marks if m.lane == "truth"]
    detected_edges = [(m.start_s, m.end_s) for m in marks if m.lane == "detected"]
    bins = 1600
    for c, label in enumerate(labels):
        ax = signal_axes[c]
        tb, lo, hi = _min_max(t_emg, filtered[:, c], bins)
        ax.fill_between(tb, lo, hi, color="#9aa7b8", linewidth=0, label="band-passed")
        te, _, env_hi = _min_max(t_emg, env[:, c], bins)
        ax.plot(te, env_hi, color="#14365d", linewidth=1.3, label="envelope")
        # Scale to the envelope's range, not a single spike of the raw trace; when a
        # strong burst (walking) shares the window with a faint cramp, a symmetric log
        # scale keeps both in sight: linear up to a few times the resting level.
        top = max(float(np.percentile(np.abs(filtered[:, c]), 99.8)) if len(filtered) else 1.0,
                  float(env[:, c].max()) if len(env) else 1.0, 1.0) * 1.15
        rest = float(np.median(env[:, c])) if len(env) else 1.0
        ax.set_ylim(-top, top)
        if top > 8 * 4 * rest:
            ax.set_yscale("symlog", linthresh=4 * rest, linscale=1.5)
            ax.set_yticks(*_symlog_ticks(4 * rest, top))
            ax.minorticks_off()
        ax.set_ylabel(f"{label}\nuV", fontsize=FONT_PT)
        if c == 0:
            ax.legend(fontsize=FONT_PT - 1, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                      frameon=False)
    if acc is not None and t_acc is not None:
        ax = signal_axes[-1]
        for c, label in enumerate(acc_labels):
            ax.plot(t_acc, acc[:, c], linewidth=1.0, label=label)
        ax.set_ylabel("accel.\ng", fontsize=FONT_PT)
        ax.legend(fontsize=FONT_PT - 1, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                  frameon=False)
    for ax in signal_axes:
        for m0, m1 in truth_spans:
            ax.axvspan(m0, m1, color=LANE_COLOURS["truth"], alpha=0.08, linewidth=0)
        for m0, m1 in detected_edges:
            for x in (m0, m1):
                ax.axvline(x, color=LANE_COLOURS["detected"], linewidth=0.9, linestyle="--",
                           alpha=0.7)
        ax.tick_params(labelsize=FONT_PT)
        ax.margins(x=0)
    signal_axes[-1].set_xlabel("seconds from the recording's start", fontsize=FONT_PT)
    lane_ax.set_xlim(t0, t1)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=PLOT_DPI)
    return buffer.getvalue()


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def write_html(
    path: Path,
    summary: Summary,
    scores: Sequence[FileScore],
    edfs: Mapping[str, Path | None],
    detected: Mapping[str, Sequence[DetectedEvent]],
    notes: Sequence[str] = (),
    truth: Mapping[str, Sequence[TruthEvent]] | None = None,
    groups: Mapping[str, Mapping[str, Summary]] | None = None,
) -> None:
    """Write the self-contained HTML report (plots embedded as PNG)."""
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>crampwatch evaluation</title>",
        "<style>body{font-family:sans-serif;max-width:1000px;margin:auto;padding:0 10px}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;"
        "padding:2px 6px;font-size:13px;text-align:right}th{background:#eee}"
        "img{max-width:100%}</style></head><body>",
        "<h1>crampwatch evaluation</h1>",
    ]
    parts += [f"<p>{html.escape(n)}</p>" for n in notes]
    parts.append("<h2>Figures</h2>")
    parts.append(_table(["figure", "value"], summary_rows(summary)))
    parts.append("<h2>Per file</h2>")
    rows = []
    for s in scores:
        errs = [abs(o.onset_error_s) for o in s.outcomes if o.onset_error_s is not None]
        rows.append([s.file, f"{s.duration_s / 3600:.2f}", s.truth_cramps, s.found,
                     s.cramp_calls, s.fragments, s.false_calls, s.false_wakeups, s.type_correct,
                     f"{np.median(errs):.3f}" if errs else "n/a"])
    parts.append(_table(["file", "hours", "truth cramps", "found", "cramp calls", "fragments",
                         "calls on no cramp", "false wake-ups", "type right",
                         "|onset err| median s"], rows))
    for key, by_value in (groups or {}).items():
        parts.append(f"<h2>By {html.escape(key)}</h2>")
        parts.append(_table(GROUP_HEADER, group_rows(by_value)))
    parts.append("<h2>Confusion matrix</h2><p>Rows: truth; columns: final detected kind; "
                 "'none': no event / no truth.</p>")
    kinds, matrix = confusion_matrix(scores)
    parts.append(_table(["truth \\ detected", *kinds],
                        [[k, *row] for k, row in zip(kinds, matrix, strict=True)]))

    plotted = 0
    cases: list[tuple[str, str, float, float, list[Mark]]] = []
    for s in scores:
        for miss in s.misses:
            cases.append(_miss_case(s.file, miss))
        for fa, at_s in zip(s.false_alarms, s.false_wakeup_at_s, strict=True):
            end = fa.end_s if fa.end_s is not None else fa.start_s
            cases.append((s.file, f"false wake-up at {at_s:.1f} s: {fa.kind} on {fa.channel} "
                                  f"(confidence {fa.confidence:.2f})", fa.start_s, end,
                          [Mark("prompt", "prompt", at_s, at_s),
                           Mark("detected", f"{fa.kind} {fa.confidence:.2f}", fa.start_s, end)]))
    parts.append(f"<h2>Misses and false wake-ups ({len(cases)})</h2>")
    if cases:
        parts.append("<p>Each plot: what was really there (truth) and what was called "
                     "(detected, with its confidence) in lanes of their own, then every EMG "
                     "channel band-passed 20-450 Hz (grey) with its 250 ms RMS envelope "
                     "(blue), then the accelerometer. Truth is shaded green on the signal, "
                     "detections are bounded by dashed red lines.</p>")
    for file, title, start, end, marks in cases:
        edf = edfs.get(file)
        header = f"{file} @ {start:.1f} s: {title}"
        parts.append(f"<h3>{html.escape(header)}</h3>")
        t0, t1 = _plot_window(start, end)
        for d in detected.get(file, []):
            d_end = d.end_s if d.end_s is not None else d.start_s
            if d.final and d.start_s <= t1 and d_end >= t0:
                marks.append(Mark("detected", f"{d.kind} {d.confidence:.2f}", d.start_s, d_end))
        # What was really there: truth events of any kind in the window.
        for t in (truth or {}).get(file, []):
            if t.start_s <= t1 and t.end_s >= t0:
                marks.append(Mark("truth", _truth_label(t), t.start_s, t.end_s))
        if edf is None or plotted >= MAX_PLOTS:
            reason = "recording not found" if edf is None else f"plot limit {MAX_PLOTS} reached"
            parts.append(f"<p>(no plot: {reason})</p>")
            continue
        try:
            png = plot_event(edf, start, end, _unique(marks))
        except Exception as exc:  # a broken recording must not lose the whole report
            log.warning("could not plot %s: %s", header, exc)
            parts.append(f"<p>(no plot: {html.escape(str(exc))})</p>")
            continue
        plotted += 1
        parts.append(f"<img alt='{html.escape(header)}' "
                     f"src='data:image/png;base64,{base64.b64encode(png).decode()}'>")
    parts.append("<h2>Summary as JSON</h2><pre>"
                 + html.escape(json.dumps(asdict(summary), indent=1)) + "</pre>")
    parts.append("</body></html>")
    path.write_text("\n".join(parts))


def _truth_label(t: TruthEvent) -> str:
    kind = str(t.kind)
    subtype = t.subtype.replace("_", " ")
    return subtype if subtype.startswith(kind) else f"{kind} ({subtype})"


def _unique(marks: Sequence[Mark]) -> list[Mark]:
    """Return the marks without repeats (the case's own event is also met among the others)."""
    return list(dict.fromkeys(marks))


def _miss_case(file: str, miss: CrampOutcome) -> tuple[str, str, float, float, list[Mark]]:
    t = miss.truth
    strength = f", {t.strength_uv:.0f} uV RMS" if t.strength_uv is not None else ""
    rel = f" ({t.strength_rel:.1f}x rest)" if t.strength_rel is not None else ""
    title = (f"missed {t.kind} cramp on {t.channel or 'leg'}, "
             f"{t.end_s - t.start_s:.1f} s{strength}{rel}")
    return file, title, t.start_s, t.end_s, [Mark("truth", _truth_label(t), t.start_s, t.end_s)]
