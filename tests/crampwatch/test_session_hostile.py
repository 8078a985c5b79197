"""Only the source ends a night: what the band sends mid-stream is counted, never fatal.

Each test plays a capture (or a recording) through the whole live session, the real
pipeline included, and checks the night ran to the end of its stream with every
delivered sample processed and every lost one reported.
"""

from __future__ import annotations

import asyncio
import json
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from crampwatch.cli import main
from crampwatch.live.night import NightJournal
from crampwatch.live.runner import make_pipeline_factory
from crampwatch.live.session import LiveSession, SessionReport
from crampwatch.live.sources import LinkSource, LiveSource, PacedBlocks, capture_source
from crampwatch.pipeline import Pipeline
from crampwatch.prompt.dispatcher import PromptDispatcher
from crampwatch.prompt.guidance import load_guidance
from crampwatch.prompt.log import PromptLog
from crampwatch.prompt.policy import PromptPolicy
from crampwatch.replay import load_classifier
from sensor.emg_frontend import TimelineError
from sensor.records import SampleBlock, SignalGroup
from tests.firmware_bridge.hostile import EMG_RATES_MHZ, HostileStream, Op, write_hostile_capture

EMG, ACC = SignalGroup.EMG, SignalGroup.ACC
FAST = 1e9  # pace: as fast as the machine allows


def run_session(source: LiveSource, home: Path) -> tuple[SessionReport, Path]:
    """Return the report of one whole live night from ``source``, and its journal."""
    journal, _ = NightJournal.start(home)
    dispatcher = PromptDispatcher(journal.session_id, load_guidance(), [],
                                  PromptLog(journal.dir / "prompts.jsonl"))
    session = LiveSession(source, make_pipeline_factory("rules"), journal, PromptPolicy(),
                          dispatcher)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # damaged captures warn; the report counts
            report = asyncio.run(session.run())
    finally:
        journal.close()
    return report, journal.path


def assert_whole_night(report: SessionReport, truth: HostileStream) -> None:
    """The night ended with its stream, every sample processed or reported lost."""
    assert report.ended_by == "source ended"
    assert report.samples == {g: n for g, n in truth.delivered.items() if n}
    assert {g: report.lost_samples.get(g, 0) for g in (EMG, ACC)} == truth.lost
    assert report.refused_blocks == 0


def _journal(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_band_back_with_another_rate_restarts_the_stream_and_the_night_goes_on(
    tmp_path: Path,
):
    ops = [Op.OK] * 600 + [Op.NEW_DESCRIPTOR] + [Op.OK] * 600  # 12 s, then 12 s at 1 kHz
    truth = write_hostile_capture(tmp_path / "night.cwcap", ops)
    report, journal = run_session(capture_source(str(truth.path), FAST), tmp_path / "home")
    assert_whole_night(report, truth)
    assert report.layout_changes == 1 and report.stream_restarts == 1
    boundary = [g for g in report.gaps if g.group is EMG]
    assert len(boundary) == 1 and boundary[0].lost_samples == 0
    assert boundary[0].end_s > boundary[0].start_s  # the time the band was away
    # Episodes on both sides of the change, and no event id given twice.
    finals = [e for e in report.events if e.final]
    sessions = {e.session_id for e in finals}
    assert len(sessions) == 2 and any(s.endswith(".2") for s in sessions)
    assert len({e.event_id for e in finals}) == len(finals)
    records = _journal(journal)
    assert [r["rate_hz"] for r in records if r["type"] == "stream_layout"] == [
        EMG_RATES_MHZ[1] / 1000, 100.0]
    assert any(r["type"] == "link" and r["what"] == "DescriptorChanged" for r in records)


def test_new_channel_labels_mid_night_get_a_fresh_pipeline(tmp_path: Path):
    # Two descriptor changes: 1 kHz first, then back to 2 kHz with left-leg labels.
    ops = [Op.OK] * 200 + [Op.NEW_DESCRIPTOR] + [Op.OK] * 200 + [Op.NEW_DESCRIPTOR] + [
        Op.OK] * 200
    truth = write_hostile_capture(tmp_path / "night.cwcap", ops)
    report, _ = run_session(capture_source(str(truth.path), FAST), tmp_path / "home")
    assert_whole_night(report, truth)
    assert report.layout_changes == 2


def test_a_device_time_near_2_63_is_one_quarantined_packet_not_a_longer_night(tmp_path: Path):
    ops = [Op.OK] * 1500 + [Op.WILD_TIME] + [Op.OK] * 1500  # 60 s
    truth = write_hostile_capture(tmp_path / "night.cwcap", ops, seed=1)
    report, _ = run_session(capture_source(str(truth.path), FAST), tmp_path / "home")
    assert_whole_night(report, truth)
    assert truth.lost == {EMG: 40, ACC: 2}
    assert report.corrupt_packets == 1
    assert max(g.end_s for g in report.gaps) < 61.0


def test_an_index_jump_of_2_31_is_one_quarantined_packet(tmp_path: Path):
    ops = [Op.OK] * 300 + [Op.WILD_INDEX] + [Op.OK] * 300
    truth = write_hostile_capture(tmp_path / "night.cwcap", ops, seed=2)
    report, _ = run_session(capture_source(str(truth.path), FAST), tmp_path / "home")
    assert_whole_night(report, truth)
    assert report.corrupt_packets == 1


def test_one_wild_sequence_number_loses_no_samples(tmp_path: Path):
    ops = [Op.OK] * 300 + [Op.WILD_SEQ] + [Op.OK] * 300
    truth = write_hostile_capture(tmp_path / "night.cwcap", ops, seed=3)
    report, _ = run_session(capture_source(str(truth.path), FAST), tmp_path / "home")
    assert_whole_night(report, truth)
    assert truth.lost == {EMG: 0, ACC: 0}
    assert report.sequence_ignored == 1 and not report.gaps


def test_a_corrupt_capture_record_costs_one_packet_not_the_rest_of_the_night(tmp_path: Path):
    ops = [Op.OK] * 300 + [Op.CORRUPT] + [Op.OK] * 300
    truth = write_hostile_capture(tmp_path / "night.cwcap", ops, seed=4)
    report, _ = run_session(capture_source(str(truth.path), FAST), tmp_path / "home")
    assert_whole_night(report, truth)
    assert truth.lost == {EMG: 40, ACC: 2}


def _blocks(n: int, poisoned: int | None = None) -> Iterator[SampleBlock]:
    rng = np.random.default_rng(0)
    labels = ("EMG R Gastroc", "EMG R Tib Ant")
    for k in range(n):
        x = rng.normal(0, 4.0, (40, 2)).astype(np.float32)
        if k == poisoned:
            x[3, 1] = np.nan
        yield SampleBlock(EMG, 2000.0, k * 0.02, x, labels)


def test_a_block_of_nan_is_refused_as_a_gap_and_the_night_goes_on(tmp_path: Path):
    source = PacedBlocks(lambda: _blocks(500, poisoned=250), "recording with NaN", FAST)
    report, journal = run_session(source, tmp_path / "home")
    assert report.ended_by == "source ended"
    assert report.refused_blocks == 1 and report.refused_samples == 40
    assert report.samples == {EMG: 499 * 40} and report.lost_samples == {EMG: 40}
    assert [r["type"] for r in _journal(journal)].count("block_refused") == 1


class _RefusingDetector:
    """A Detector that refuses blocks starting at given times (as TimelineError does)."""

    def __init__(self, refuse_t0: set[float]) -> None:
        self.refuse_t0 = refuse_t0

    def process(self, block: SampleBlock) -> list:
        if any(block.t0_s <= t < block.t_end_s for t in self.refuse_t0):
            raise TimelineError(f"block at {block.t0_s:.3f} s refused")
        return []

    def finish(self) -> list:
        return []


def test_a_block_the_pipeline_refuses_is_dropped_counted_and_the_night_goes_on(
    tmp_path: Path,
):
    made: list[str] = []
    clf = load_classifier("rules")

    def make(session_id: str) -> Pipeline:
        made.append(session_id)
        return Pipeline(_RefusingDetector({5.0}), clf, session_id)

    journal, _ = NightJournal.start(tmp_path / "home")
    dispatcher = PromptDispatcher(journal.session_id, load_guidance(), [],
                                  PromptLog(journal.dir / "prompts.jsonl"))
    session = LiveSession(PacedBlocks(lambda: _blocks(500), "recording", FAST), make, journal,
                          PromptPolicy(), dispatcher)
    report = asyncio.run(session.run())
    journal.close()
    assert report.ended_by == "source ended"
    assert report.refused_blocks == 1 and report.refused_samples == 40
    assert report.samples == {EMG: 499 * 40}
    refusals = [r for r in _journal(journal.path) if r["type"] == "pipeline_refused"]
    assert len(refusals) >= 2 and all("refused" in r["reason"] for r in refusals)
    # A fresh pipeline per refusal, each with its own event-id prefix.
    assert made[0] == journal.session_id and len(set(made)) == len(made) >= 3


@pytest.mark.slow
def test_crampwatch_run_on_a_capture_with_a_new_descriptor_exits_0(tmp_path: Path, capsys):
    ops = [Op.OK] * 300 + [Op.NEW_DESCRIPTOR] + [Op.OK] * 300 + [Op.WILD_TIME] + [Op.OK] * 10
    truth = write_hostile_capture(tmp_path / "night.cwcap", ops)
    code = main(["run", "--source", f"capture:{truth.path}", "--pace", "1000", "--no-serve",
                 "--no-sound", "--no-diary", "--quiet", "--classifier", "rules",
                 "--data-dir", str(tmp_path / "home")])
    assert code == 0
    said = capsys.readouterr().out
    assert "band stream: 1 stream restart(s); 1 new stream layout(s)" in said
    assert "1 corrupt packet(s)" in said


@pytest.mark.slow
def test_a_band_rebooting_into_another_rate_on_the_serial_link_does_not_end_the_night(
    tmp_path: Path,
):
    """The real path: virtual band on a pseudo-terminal, pyserial link, capture, session."""
    from firmware_bridge.capture import CaptureReader
    from firmware_bridge.clock import ClockParams
    from firmware_bridge.events import DescriptorChanged
    from firmware_bridge.pty_band import PtyBand
    from firmware_bridge.serial_link import SerialLink
    from firmware_bridge.virtual_band import ArraySource, VirtualBand
    from tests.firmware_bridge.band_helpers import EMG_LABELS, signal

    speed = 10.0
    emg, acc = signal(40.0, seed=5)  # bursts of activity every 2 s
    band = VirtualBand(ArraySource(emg, 2000.0, EMG_LABELS, acc, 100.0), speed=speed)
    links: list[SerialLink] = []

    def make_link(capture):
        links.append(SerialLink(pty.port, capture=capture,
                                clock=ClockParams(device_speed=speed)))
        return links[-1]

    journal, _ = NightJournal.start(tmp_path / "home")
    dispatcher = PromptDispatcher(journal.session_id, load_guidance(), [],
                                  PromptLog(journal.dir / "prompts.jsonl"))
    session = LiveSession(LinkSource(make_link, "virtual band on a pty"),
                          make_pipeline_factory("rules"), journal, PromptPolicy(), dispatcher)

    async def night() -> SessionReport:
        running = asyncio.create_task(session.run())
        while band.samples_taken(EMG) < 20 * 2000 and not running.done():
            await asyncio.sleep(0.02)
        band.reboot({EMG: 1000.0})  # back after a brown-out, sampling at 1 kHz
        while not band.exhausted and not running.done():
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.5)  # the last packets cross the link
        session.request_stop("the band played its whole signal")
        return await running

    with PtyBand(band) as pty:
        report = asyncio.run(night())
    journal.close()
    assert report.ended_by == "the band played its whole signal"
    assert report.layout_changes == 1 and report.stream_restarts == 1
    stats = links[0].assembler.stats
    assert report.samples[EMG] == stats.samples[EMG]
    assert report.lost_samples.get(EMG, 0) == stats.samples_lost.get(EMG, 0)
    assert any(e.session_id.endswith(".2") for e in report.events)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        replayed = list(CaptureReader(journal.dir / "capture-r1-c1.cwcap").items())
    assert any(isinstance(i, DescriptorChanged) for i in replayed)
    rates = {i.fs_hz for i in replayed if isinstance(i, SampleBlock) and i.group is EMG}
    assert rates == {2000.0, 1000.0}
