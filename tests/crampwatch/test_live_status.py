"""The status line speaks plain words: the band, its electrodes, the night so far."""

from __future__ import annotations

import re

from crampwatch.live.status import SessionStatus, electrode_names

TWO = {"EMG R Gastroc": "ok", "EMG R Tib Ant": "ok"}


def status(**kw: object) -> SessionStatus:
    s = SessionStatus(source="serial:/dev/ttyACM0", connection="streaming", session_s=3725.0)
    for k, v in kw.items():
        setattr(s, k, v)
    return s


def test_a_good_night_reads_band_connected_signal_good() -> None:
    line = status(electrodes=dict(TWO), battery_pct=80, cramps=1, other_events=4).line()
    assert line == ("1:02:05 | band connected, signal good | battery 80% | "
                    "1 cramp, 4 other movements")
    assert len(line) <= 100


def test_electrode_trouble_names_the_muscle_not_the_channel_label() -> None:
    off = status(electrodes={"EMG R Gastroc": "OFF", "EMG R Tib Ant": "ok"}).line()
    assert "band connected, calf electrode: no contact" in off
    bad = status(electrodes={"EMG R Gastroc": "ok", "EMG R Tib Ant": "BAD"}).line()
    assert "shin electrode: poor signal" in bad
    assert "signal good" not in off + bad
    assert "EMG" not in off + bad


def test_before_the_first_check_the_line_says_it_is_checking() -> None:
    line = status(electrodes={label: "?" for label in TWO}).line()
    assert "band connected, checking the signal" in line and "?" not in line


def test_two_calves_are_told_apart_by_side() -> None:
    names = electrode_names(["EMG L Gastroc", "EMG R Gastroc"])
    assert names == {"EMG L Gastroc": "left calf electrode",
                     "EMG R Gastroc": "right calf electrode"}
    assert electrode_names(["EMG1", "EMG2"]) == {"EMG1": "calf electrode",
                                                  "EMG2": "shin electrode"}


def test_connection_in_words_without_the_error_text() -> None:
    line = status(connection="reconnecting ([Errno 5] Input/output error)",
                  electrodes={"EMG R Gastroc": "OFF"}).line()
    assert "band out of reach, reconnecting" in line
    assert "Errno" not in line and "no contact" not in line  # stale while away
    assert "connecting to the band" in status(connection="connecting").line()
    assert "band disconnected" in status(connection="lost").line()


def test_counts_and_troubles_in_words() -> None:
    line = status(outbox_pending=2, lost_samples=3200, lost_s=3.2, battery_pct=12,
                  channel_failures=1, prompting=True).line()
    assert "2 records waiting to upload" in line
    assert "3.2 s of signal lost" in line
    assert "battery 12%, low: charge the band" in line
    assert "1 prompt message could not be sent" in line
    assert "PROMPT RUNNING" in line
    assert "1 record waiting" in status(outbox_pending=1).line()


def test_no_jargon_in_any_line() -> None:
    lines = [
        status().line(),
        status(electrodes={label: "?" for label in TWO}).line(),
        status(connection="connecting", electrodes=dict(TWO)).line(),
    ]
    for line in lines:
        assert not re.search(r"\?|upload waiting|lost 0 samples|cramps \d|other \d", line), line
        assert "battery" not in line  # unknown battery: nothing to say


def test_page_json_carries_the_line_and_the_numbers() -> None:
    data = status(electrodes=dict(TWO), battery_pct=55, cramps=2).to_json()
    assert data["type"] == "status" and data["line"].startswith("1:02:05 | band connected")
    assert data["electrodes"] == TWO and data["battery_pct"] == 55 and data["cramps"] == 2
