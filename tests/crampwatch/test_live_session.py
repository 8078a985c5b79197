"""Live-session parts: the night clock, signal quality, the journal, re-timing and a short
night through the real pipeline from a recording played as a band."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from api.schemas import EventIn
from crampwatch.live.clock import SessionClock
from crampwatch.live.demo_night import make_demo_night
from crampwatch.live.night import NightJournal, read_night
from crampwatch.live.quality import check_window
from crampwatch.live.runner import make_pipeline_factory
from crampwatch.live.scoring import score_prompts, to_session_time
from crampwatch.live.session import LiveSession, merge_contiguous
from crampwatch.live.sources import edf_source
from crampwatch.live.upload import event_body
from crampwatch.outbox import Outbox, OutboxItem
from crampwatch.prompt.channels.terminal import TerminalChannel
from crampwatch.prompt.dispatcher import PromptDispatcher
from crampwatch.prompt.guidance import load_guidance
from crampwatch.prompt.log import PromptLog
from crampwatch.prompt.policy import PromptAction, PromptParams, PromptPolicy
from crampwatch.synth.truth import NightTruth
from sensor.records import ChannelInfo, Muscle, Role, SampleBlock, Side, SignalGroup
from tests.crampwatch.prompt_helpers import event

FS = 2000.0
CHANNELS = (ChannelInfo("EMG R Gastroc", Muscle.GASTROCNEMIUS, Side.RIGHT, Role.CALF),
            ChannelInfo("EMG R Tib Ant", Muscle.TIBIALIS_ANTERIOR, Side.RIGHT, Role.SHIN))


class FakeMonotonic:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_clock_runs_at_pace_and_never_goes_back() -> None:
    mono = FakeMonotonic()
    clock = SessionClock(pace=20.0, monotonic=mono)
    mono.t += 1.0
    assert clock.now_s() == pytest.approx(20.0)
    clock.observe(15.0)  # a late block does not pull the clock back
    assert clock.now_s() == pytest.approx(20.0)
    clock.observe(30.0)
    assert clock.now_s() == pytest.approx(30.0)
    clock.restart_at(0.0)
    assert clock.now_s() == 0.0


def _rest(seconds: float, rms_uv: float, rng: np.random.Generator) -> np.ndarray:
    return rng.normal(0, rms_uv, (int(seconds * FS), 2))


def test_quality_good_rest_signal_is_ok() -> None:
    verdicts = check_window(_rest(2, 3.0, np.random.default_rng(0)), FS, CHANNELS, at_rest=True)
    assert all(v.ok for v in verdicts)


def test_quality_open_electrode_with_mains_says_calf_not_touching() -> None:
    x = _rest(2, 2.0, np.random.default_rng(1))
    t = np.arange(x.shape[0]) / FS
    x[:, 0] += 80.0 * np.sin(2 * np.pi * 50.0 * t)  # 57 uV RMS of mains on the calf
    calf, shin = check_window(x, FS, CHANNELS, at_rest=True)
    assert "not touching" in calf.problem and shin.ok
    assert calf.message().startswith("calf electrode")


def test_quality_flat_line_and_clipping() -> None:
    x = _rest(2, 3.0, np.random.default_rng(2))
    x[:, 0] = 0.01
    x[:, 1] = np.clip(x[:, 1] * 100, -150, 150)
    calf, shin = check_window(x, FS, CHANNELS)
    assert "flat line" in calf.problem
    assert "clipping" in shin.problem


def _block(group: SignalGroup, t0: float, n: int, fs: float, gap: bool = False) -> SampleBlock:
    labels = ("EMG R Gastroc", "EMG R Tib Ant") if group is SignalGroup.EMG else ("X", "Y", "Z")
    data = np.arange(n * len(labels), dtype=np.float32).reshape(n, len(labels)) + t0
    return SampleBlock(group, fs, t0, data, labels, gap_before=gap)


def test_merge_contiguous_joins_runs_and_splits_at_gaps() -> None:
    blocks = [_block(SignalGroup.EMG, 0.0, 40, FS), _block(SignalGroup.ACC, 0.0, 2, 100.0),
              _block(SignalGroup.EMG, 0.02, 40, FS), _block(SignalGroup.ACC, 0.02, 2, 100.0),
              _block(SignalGroup.EMG, 0.5, 40, FS, gap=True)]
    merged = merge_contiguous(blocks)
    emg = [b for b in merged if b.group is SignalGroup.EMG]
    assert [(b.t0_s, b.n_samples, b.gap_before) for b in emg] == [(0.0, 80, False),
                                                                  (0.5, 40, True)]
    np.testing.assert_array_equal(emg[0].samples[40:], blocks[2].samples)
    assert [b.n_samples for b in merged if b.group is SignalGroup.ACC] == [4]


def test_journal_resumes_an_open_night_and_not_a_closed_one(tmp_path: Path) -> None:
    t = datetime(2026, 1, 1, 23, 0, tzinfo=UTC)
    j1, state = NightJournal.start(tmp_path, now=t)
    assert state is None and j1.run == 1
    j1.write_event(event("a", 10.0, None))
    j1.write("progress", session_s=42.0)
    j1.close()
    j2, state = NightJournal.start(tmp_path, now=datetime.now(UTC))
    assert state is not None and j2.night_id == j1.night_id and j2.run == 2
    assert state.last_session_s == pytest.approx(42.0)
    assert j2.session_id.endswith("-r2")
    j2.write("night_end", ended_by="test")
    j2.close()
    j3, state = NightJournal.start(tmp_path, now=datetime.now(UTC) + timedelta(seconds=1))
    assert state is None and j3.night_id != j1.night_id


def test_journal_with_torn_last_line_still_reads(tmp_path: Path) -> None:
    j, _ = NightJournal.start(tmp_path)
    j.write_event(event("a", 10.0, 20.0))
    j.close()
    with j.path.open("a") as f:
        f.write('{"type": "event", "event": {"event_id"')
    state = read_night(j.dir)
    assert list(state.events) == ["a"]


def test_event_body_is_what_the_api_accepts() -> None:
    ev = event("night-1-r1:7", 10.0, 25.0)  # the pipeline's "<session>:<episode>" id
    body = event_body(ev, red_flag=True)
    parsed = EventIn.model_validate(body)
    assert parsed.event_id == ev.event_id
    assert parsed.features["red_flag_over_10_min"] == 1.0


def test_truth_times_shift_by_reconnect_pauses() -> None:
    gaps = [(100.0, 30.0)]
    assert to_session_time(50.0, gaps) == 50.0
    assert to_session_time(120.0, gaps) == 150.0


def test_short_night_from_a_recording_prompts_on_the_cramp_and_journals_everything(
    tmp_path: Path,
) -> None:
    files = make_demo_night(tmp_path / "synthetic", minutes=4, seed=3, cramps=2)
    truth = NightTruth.read(files.truth)
    source = edf_source(str(files.edf), pace=60.0)
    journal, _ = NightJournal.start(tmp_path / "home")
    out = io.StringIO()
    dispatcher = PromptDispatcher(journal.session_id, load_guidance(), [TerminalChannel(out)],
                                  PromptLog(journal.dir / "prompts.jsonl"))
    session = LiveSession(source, make_pipeline_factory("rules"), journal, PromptPolicy(),
                          dispatcher)
    report = asyncio.run(session.run())
    journal.close()
    assert report.ended_by == "source ended"
    score = score_prompts(truth.events, report.decisions)
    assert score.missed == 0 and not score.false_prompts, score.describe()
    assert {c.truth.kind.value for c in score.cramps} == {"tonic", "clonic"}
    for c in score.cramps:
        assert c.latency_s is not None
        if c.truth.kind.value == "tonic":
            # DESIGN.md: within ~3 s of a tonic onset, in sample time, at any pace
            assert c.latency_s <= 3.0, score.describe()
        else:
            # a clonic cramp shows itself by its repeated bursts: woken while it runs
            assert c.start_s + c.latency_s < c.end_s, score.describe()
    assert any(d.action is PromptAction.STOP for d in report.decisions)
    finals = {e.event_id for e in report.events if e.final}
    assert finals <= set(read_night(journal.dir).events)
    assert "CALF CRAMP" in out.getvalue()
    records = [json.loads(x) for x in (journal.dir / "prompts.jsonl").read_text().splitlines()]
    assert next(r["action"] for r in records if r["type"] == "decision") == "start"


def test_cramp_past_the_red_flag_age_is_flagged_in_journal_and_upload(tmp_path: Path) -> None:
    files = make_demo_night(tmp_path / "synthetic", minutes=4, seed=3, cramps=2)
    journal, _ = NightJournal.start(tmp_path / "home")
    box = Outbox(tmp_path / "outbox.sqlite")
    sent: list[OutboxItem] = []

    async def receive(item: OutboxItem) -> None:
        sent.append(item)

    dispatcher = PromptDispatcher(journal.session_id, load_guidance(), [],
                                  PromptLog(journal.dir / "prompts.jsonl"))
    # The red-flag age shortened to 10 s so a 40 s synthetic cramp reaches it.
    policy = PromptPolicy(PromptParams(red_flag_after_s=10.0))
    session = LiveSession(edf_source(str(files.edf), pace=60.0), make_pipeline_factory("rules"),
                          journal, policy, dispatcher, outboxes={"local": (box, receive)})
    report = asyncio.run(session.run())
    journal.close()
    flags = [d for d in report.decisions if d.action is PromptAction.RED_FLAG]
    assert flags
    flagged = {d.event.event_id for d in flags}
    records = [json.loads(x) for x in journal.path.read_text().splitlines()]
    assert {r["event_id"] for r in records if r["type"] == "red_flag"} == flagged
    uploaded = {it.payload["event_id"]: it.payload for it in sent if it.kind == "event"}
    for eid in flagged:
        assert uploaded[eid]["features"]["red_flag_over_10_min"] == 1.0
