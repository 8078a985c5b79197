"""The evaluation report: figures, per-file table, confusion matrix and a plot of every miss
and false alarm (EMG envelope + accelerometer around it), as one self-contained HTML file."""

from __future__ import annotations

import base64
import html
import io
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from scipy import signal

from crampwatch.evaluate.scoring import (
    NONE,
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
        ("prompts replayed from", f"{summary.prompt_basis} events"),
    ]


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


def _envelope(emg: np.ndarray, fs_hz: float) -> np.ndarray:
    high = min(450.0, 0.45 * fs_hz)
    sos = signal.butter(4, [20.0, high], btype="bandpass", fs=fs_hz, output="sos")
    filtered = signal.sosfiltfilt(sos, emg, axis=0) if emg.shape[0] > 64 else emg
    width = max(1, int(ENVELOPE_WINDOW_S * fs_hz))
    kernel = np.ones(width) / width
    return np.sqrt(np.column_stack([
        np.convolve(filtered[:, c] ** 2, kernel, mode="same") for c in range(emg.shape[1])
    ]))


def plot_event(edf: Path, title: str, start_s: float, end_s: float,
               marks: Mapping[str, tuple[float, float]]) -> bytes:
    """Return a PNG: EMG envelopes (uV) and accelerometer (g) around [start_s, end_s]."""
    t0 = max(0.0, start_s - PLOT_BEFORE_S)
    t1 = min(end_s, start_s + PLOT_MAX_S) + PLOT_AFTER_S
    with EdfRecording(edf) as rec:
        emg, acc = rec.window(t0, t1)
        env = _envelope(emg, rec.emg_fs_hz)
        labels, acc_labels = rec.emg_labels, rec.acc_labels
        t_emg = t0 + np.arange(emg.shape[0]) / rec.emg_fs_hz
        t_acc = t0 + np.arange(acc.shape[0]) / rec.acc_fs_hz if acc is not None else None
    # A bare Figure renders with Agg and keeps no global pyplot state (safe in workers).
    fig = Figure(figsize=(9, 4.2))
    axes = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [2, 1]})
    step = max(1, emg.shape[0] // 4000)
    for c, label in enumerate(labels):
        axes[0].plot(t_emg[::step], env[::step, c], lw=0.8, label=label)
    axes[0].set_yscale("log")
    axes[0].set_ylabel("envelope (uV RMS)")
    axes[0].legend(fontsize=7, loc="upper right")
    colours = {"truth": "tab:green", "detected": "tab:red"}
    for i, (name, (m0, m1)) in enumerate(marks.items()):
        for ax in axes:
            ax.axvspan(m0, max(m1, m0 + 0.2), color=colours.get(name.split()[0], "grey"),
                       alpha=0.15, label=None)
        # Labels stacked down from the top so overlapping spans stay readable.
        axes[0].text(m0, 0.97 - 0.09 * (i % 8), name, fontsize=7, va="top",
                     transform=axes[0].get_xaxis_transform(),
                     color=colours.get(name.split()[0], "black"))
    if acc is not None and t_acc is not None:
        for c, label in enumerate(acc_labels):
            axes[1].plot(t_acc, acc[:, c], lw=0.8, label=label)
        axes[1].legend(fontsize=7, loc="upper right")
    axes[1].set_ylabel("acceleration (g)")
    axes[1].set_xlabel("time from recording start (s)")
    axes[0].set_title(title, fontsize=9)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
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
        "<style>body{font-family:sans-serif;max-width:1000px;margin:auto}"
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
    cases: list[tuple[str, str, float, float, dict[str, tuple[float, float]]]] = []
    for s in scores:
        for miss in s.misses:
            cases.append(_miss_case(s.file, miss))
        for fa, at_s in zip(s.false_alarms, s.false_wakeup_at_s, strict=True):
            end = fa.end_s if fa.end_s is not None else fa.start_s
            cases.append((s.file, f"false wake-up at {at_s:.1f} s: {fa.kind} on {fa.channel} "
                                  f"(confidence {fa.confidence:.2f})", fa.start_s, end,
                          {f"detected {fa.kind}": (fa.start_s, end),
                           "prompt": (at_s, at_s)}))
    parts.append(f"<h2>Misses and false wake-ups ({len(cases)})</h2>")
    for file, title, start, end, marks in cases:
        edf = edfs.get(file)
        header = f"{file} @ {start:.1f} s: {title}"
        parts.append(f"<h3>{html.escape(header)}</h3>")
        for d in detected.get(file, []):
            if d.final and d.start_s <= end + 5 and (d.end_s or d.start_s) >= start - 5:
                marks.setdefault(f"detected {d.kind}", (d.start_s, d.end_s or d.start_s))
        # What was really there: truth events of any kind near the case.
        for t in (truth or {}).get(file, []):
            if t.start_s <= end + 5 and t.end_s >= start - 5:
                marks.setdefault(f"truth {t.subtype}", (t.start_s, t.end_s))
        if edf is None or plotted >= MAX_PLOTS:
            reason = "recording not found" if edf is None else f"plot limit {MAX_PLOTS} reached"
            parts.append(f"<p>(no plot: {reason})</p>")
            continue
        try:
            png = plot_event(edf, header, start, end, marks)
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


def _miss_case(file: str, miss: CrampOutcome) -> tuple[
        str, str, float, float, dict[str, tuple[float, float]]]:
    t = miss.truth
    strength = f", {t.strength_uv:.0f} uV RMS" if t.strength_uv is not None else ""
    rel = f" ({t.strength_rel:.1f}x rest)" if t.strength_rel is not None else ""
    title = (f"missed {t.kind} cramp on {t.channel or 'leg'}, "
             f"{t.end_s - t.start_s:.1f} s{strength}{rel}")
    return file, title, t.start_s, t.end_s, {f"truth {t.kind}": (t.start_s, t.end_s)}
