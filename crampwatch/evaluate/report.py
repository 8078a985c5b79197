"""The evaluation report: figures, per-file table, confusion matrix and a plot of every miss
and false alarm (truth, detections and prompts in lanes; each EMG channel band-passed with
its envelope; the accelerometer), as one self-contained HTML file."""

from __future__ import annotations

import base64
import html
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np

from crampwatch.evaluate.event_plots import (
    PLOT_AFTER_S as PLOT_AFTER_S,
)
from crampwatch.evaluate.event_plots import (
    PLOT_BEFORE_S as PLOT_BEFORE_S,
)
from crampwatch.evaluate.event_plots import (
    PLOT_DPI as PLOT_DPI,
)
from crampwatch.evaluate.event_plots import (
    PLOT_MAX_S as PLOT_MAX_S,
)
from crampwatch.evaluate.event_plots import (
    PLOT_WIDTH_IN as PLOT_WIDTH_IN,
)
from crampwatch.evaluate.event_plots import (
    Mark,
    _plot_window,
    plot_event,
)
from crampwatch.evaluate.event_plots import (
    _lane_rows as _lane_rows,
)
from crampwatch.evaluate.scoring import (
    NONE,
    REPORTED,
    CrampOutcome,
    DetectedEvent,
    FileScore,
    Summary,
    confusion_total,
)
from crampwatch.synth.truth import TruthEvent
from sensor.records import EventKind

log = logging.getLogger(__name__)

# A report with hundreds of plots is unreadable; the rest are listed without a plot.
MAX_PLOTS = 60



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
