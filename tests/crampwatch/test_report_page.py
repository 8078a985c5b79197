"""The evaluate report as a person sees it: plots at their own size, lanes, fitted axes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crampwatch.cli import main
from crampwatch.evaluate.report import (
    PLOT_AFTER_S,
    PLOT_BEFORE_S,
    PLOT_DPI,
    PLOT_MAX_S,
    PLOT_WIDTH_IN,
    Mark,
    _lane_rows,
    _plot_window,
)
from crampwatch.synth import NightConfig, NightTruth, generate_night

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update"]


def test_a_long_detection_does_not_stretch_the_axis():
    # A 400 s call: the axis shows context, the call's first PLOT_MAX_S, then context.
    assert _plot_window(100.0, 500.0) == (100.0 - PLOT_BEFORE_S,
                                          100.0 + PLOT_MAX_S + PLOT_AFTER_S)
    placed = _lane_rows([Mark("detected", "tonic 0.90", 100.0, 500.0)], *_plot_window(100, 500))
    assert placed[0].label == "tonic 0.90 (to 500 s)"  # says where it really ends


def test_labels_in_a_lane_never_meet_and_truth_and_detection_keep_their_lanes():
    marks = [Mark("truth", "tonic cramp", 10.0, 60.0), Mark("detected", "tonic 0.95", 12.0, 58.0),
             Mark("detected", "plm 0.60", 13.0, 14.0), Mark("detected", "plm 0.61", 15.0, 16.0),
             Mark("detected", "walking 0.58", 158.0, 240.0)]
    placed = _lane_rows(marks, 0.0, 160.0)
    assert {p.mark.lane for p in placed if p.row == 0} == {"truth", "detected"}
    rows = [p.row for p in placed if p.mark.lane == "detected"]
    assert len(set(rows[:3])) == 3  # three overlapping starts: three rows
    late = next(p for p in placed if p.mark.label.startswith("walking"))
    assert late.text_right and late.text_x <= 160.0  # written inside the window


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    """A report with one missed cramp and one long false wake-up, plotted from the EDF."""
    folder = tmp_path_factory.mktemp("report")
    night = generate_night(NightConfig(duration_s=300.0, emg_fs_hz=1000.0, every_kind=False,
                                       cramps_min=1, cramps_max=1, rates_per_hour={}),
                           5, folder, "tiny")
    (cramp,) = [e for e in NightTruth.read(night.truth).events if e.is_cramp]
    start = cramp.end_s + 10.0
    events = folder / "events.jsonl"
    events.write_text("".join(json.dumps(line) + "\n" for line in [
        {"file": str(night.edf), "start_s": start, "end_s": None, "kind": "tonic",
         "confidence": 0.9, "final": False, "event_id": "tiny/1", "known_at_s": start + 0.5,
         "first_cramp_call_s": start + 0.5},
        {"file": str(night.edf), "start_s": start, "end_s": start + 400.0, "kind": "tonic",
         "channel": "EMG R Gastroc", "confidence": 0.9, "final": True, "event_id": "tiny/1",
         "known_at_s": start + 400.0, "first_cramp_call_s": start + 0.5},
    ]))
    page = folder / "report.html"
    assert main(["evaluate", "--truth", str(night.truth), "--events", str(events),
                 "--report", str(page)]) == 0
    return page


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="run scripts/debian-packages chromium:chromium")
def test_the_report_shows_its_plots_at_their_own_size(report, artifacts_dir):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto(report.as_uri())
        images = page.locator("img")
        assert images.count() == 2
        for i in range(2):
            natural, shown = images.nth(i).evaluate(
                "img => [img.naturalWidth, img.getBoundingClientRect().width]")
            # Drawn for the page's width: shown at 100 %, neither shrunk nor blown up.
            assert natural == round(PLOT_WIDTH_IN * PLOT_DPI)
            assert shown == pytest.approx(natural, abs=2)
        page.screenshot(path=str(artifacts_dir / "evaluate-report.png"), full_page=True)
        browser.close()
