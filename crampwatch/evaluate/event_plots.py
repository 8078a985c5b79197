"""Plot of one event for the evaluation report: truth, detections and prompts in lanes
above each EMG channel band-passed with its envelope, then the accelerometer, as PNG."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from scipy import signal

from crampwatch.recordings.edf_reader import EdfRecording

# Context shown around an event in its plot, seconds before its start and after its end
# (long events are cut to PLOT_MAX_S after their start).
PLOT_BEFORE_S = 20.0
PLOT_AFTER_S = 20.0
PLOT_MAX_S = 120.0
# Envelope: band-pass 20-450 Hz (DOMAIN.md) then RMS over 250 ms (decision window).
ENVELOPE_WINDOW_S = 0.25


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
