"""A night's files hold health data: journals, outboxes and raw captures are created 0600
in 0700 folders whatever the umask, and ones left readable by others are made owner-only."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from crampwatch.live.localstore import prepare_local_store
from crampwatch.live.night import NightJournal, read_night
from crampwatch.live.runner import make_pipeline_factory
from crampwatch.live.session import LiveSession
from crampwatch.live.sources import LinkSource
from crampwatch.outbox import Outbox, OutboxItem
from crampwatch.prompt.dispatcher import PromptDispatcher
from crampwatch.prompt.guidance import load_guidance
from crampwatch.prompt.log import PromptLog
from crampwatch.prompt.policy import PromptPolicy
from firmware_bridge.link import BandLink
from tests.firmware_bridge.band_helpers import make_band


def mode(path: Path) -> int:
    return os.stat(path).st_mode & 0o777


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """The usual umask, under which files were created 0644 and folders 0755."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


class InProcessBand(BandLink):
    """A BandLink wired straight to a virtual band on a hand-moved clock; the stream
    ends when the band has played its signal."""

    def __init__(self, seconds: float, **kwargs: Any) -> None:
        self.band, self.clock, *_ = make_band(seconds)
        super().__init__(host_clock_us=self.clock, **kwargs)
        self._pump: asyncio.Task[None] | None = None

    async def _open(self) -> None:
        self._pump = asyncio.create_task(self._play())

    async def _close_transport(self) -> None:
        if self._pump is not None:
            self._pump.cancel()

    async def _write_packet(self, packet: bytes) -> None:
        for out in self.band.handle(packet):
            self._packet_received(out.packet, self.clock.now_us)

    async def _play(self) -> None:
        while not self.streaming:
            await asyncio.sleep(0.001)
        while not self.band.exhausted:
            self.clock.now_us += 5000
            for out in self.band.due():
                self._packet_received(out.packet, self.clock.now_us)
            await asyncio.sleep(0)
        self._end()


def test_a_night_from_a_band_leaves_its_journal_outbox_and_capture_owner_only(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"  # a data folder the night creates, as --data-dir or $CRAMPWATCH_HOME
    journal, _ = NightJournal.start(home)
    box = Outbox(journal.dir / "outbox-local.sqlite")
    sent: list[OutboxItem] = []

    async def receive(item: OutboxItem) -> None:
        sent.append(item)

    dispatcher = PromptDispatcher(journal.session_id, load_guidance(), [],
                                  PromptLog(journal.dir / "prompts.jsonl"))
    session = LiveSession(LinkSource(lambda cap: InProcessBand(2.0, capture=cap), "band"),
                          make_pipeline_factory("rules"), journal, PromptPolicy(), dispatcher,
                          outboxes={"local": (box, receive)})
    box.put("probe", "event", {"i": 1})  # the outbox's WAL files exist while it is open
    try:
        report = asyncio.run(asyncio.wait_for(session.run(), 60))
        wal = [journal.dir / f"outbox-local.sqlite{s}" for s in ("-wal", "-shm")]
        assert all(p.exists() for p in wal)
        assert {p.name: mode(p) for p in wal} == {p.name: 0o600 for p in wal}
    finally:
        journal.close()
        box.close()
    assert report.ended_by == "source ended" and report.connections == 1
    captures = sorted(journal.dir.glob("capture-*.cwcap"))
    assert [p.name for p in captures] == ["capture-r1-c1.cwcap"]
    assert captures[0].stat().st_size > 1000
    files = [journal.path, journal.dir / "outbox-local.sqlite", *captures]
    assert {p.name: mode(p) for p in files} == {p.name: 0o600 for p in files}
    folders = [home, home / "nights", journal.dir]
    assert {str(p): mode(p) for p in folders} == {str(p): 0o700 for p in folders}


def test_a_resumed_night_appends_to_its_journal_and_closes_what_others_could_read(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    first, _ = NightJournal.start(home, now=datetime.now(UTC))
    first.write("progress", session_s=10.0)
    first.close()
    # as an older crampwatch left them
    first.path.chmod(0o644)
    first.dir.chmod(0o755)
    (home / "nights").chmod(0o755)
    second, state = NightJournal.start(home, now=datetime.now(UTC))
    try:
        second.write("progress", session_s=20.0)
    finally:
        second.close()
    assert state is not None and second.dir == first.dir and second.run == 2
    records = [json.loads(line) for line in second.path.read_text().splitlines()]
    assert [(r["run"], r["session_s"]) for r in records if r["type"] == "progress"] == [
        (1, 10.0), (2, 20.0)]
    assert read_night(second.dir).last_session_s == 20.0
    assert mode(second.path) == 0o600
    assert mode(second.dir) == 0o700 and mode(home / "nights") == 0o700


def test_an_existing_data_folder_keeps_its_mode_and_new_folders_in_it_are_owner_only(
    tmp_path: Path,
) -> None:
    home = tmp_path / "shared"  # the sleeper's own choice of --data-dir
    home.mkdir(mode=0o755)
    journal, _ = NightJournal.start(home)
    journal.close()
    assert mode(home) == 0o755
    assert mode(home / "nights") == 0o700 and mode(journal.dir) == 0o700
    assert mode(journal.path) == 0o600


def test_an_outbox_left_readable_by_others_is_made_owner_only_and_keeps_its_records(
    tmp_path: Path,
) -> None:
    path = tmp_path / "outboxes" / "outbox.sqlite"
    box = Outbox(path)
    box.put("ev-1", "event", {"i": 1})
    box.close()
    assert mode(path) == 0o600 and mode(path.parent) == 0o700
    # a crash left a WAL behind, and an older crampwatch's modes
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode=WAL")
    wal = path.with_name(path.name + "-wal")
    wal.touch()
    for p in (path, wal):
        p.chmod(0o644)
    box = Outbox(path)
    try:
        assert mode(path) == 0o600 and mode(wal) == 0o600
        assert [i.key for i in box.due()] == ["ev-1"]
    finally:
        box.close()


def test_the_local_store_folder_and_hub_token_are_owner_only(tmp_path: Path) -> None:
    home = tmp_path / "home"
    store = prepare_local_store(home)
    token_file = home / "hub-token"
    assert mode(home) == 0o700 and mode(token_file) == 0o600
    token_file.chmod(0o644)
    again = prepare_local_store(home)
    assert again.hub_token == store.hub_token
    assert mode(token_file) == 0o600


def test_the_prompt_log_and_calibration_are_owner_only(tmp_path: Path) -> None:
    from crampwatch.live.calibration import Calibration

    log = PromptLog(tmp_path / "night" / "prompts.jsonl")
    log.write({"type": "prompt", "kind": "tonic"})
    log.close()
    cal = Calibration(rest_rms_uv={"EMG R Gastroc": 3.0},
                      contraction_rms_uv={"EMG R Gastroc": 60.0},
                      created_at="2026-12-03T00:00:00Z")
    path = cal.save(tmp_path / "home")
    assert mode(log.path) == 0o600 and mode(log.path.parent) == 0o700
    assert mode(path) == 0o600 and mode(path.parent) == 0o700
