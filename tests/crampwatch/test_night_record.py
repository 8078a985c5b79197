"""A night played from a file is stored on the file's own clock, with its versions and the
prompt channels really used (a run with --no-sound and no band says neither)."""

from __future__ import annotations

import asyncio
import io
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from crampwatch.frames import recording_start
from crampwatch.live.demo_night import make_demo_night
from crampwatch.live.localstore import clinician_token
from crampwatch.live.night import NightJournal
from crampwatch.live.runner import RunOptions, run_live
from crampwatch.live.sources import edf_source
from crampwatch.live.timeline import night_time, wall_time
from crampwatch.pipeline import pipeline_factory


def test_wall_time_is_the_night_start_plus_session_seconds() -> None:
    start = datetime.fromisoformat("2026-03-02T22:41:05+01:00")
    assert wall_time(start, 600.0) == start + timedelta(minutes=10)
    assert night_time(start, 0.5) == "2026-03-02T21:41:05.500000+00:00"


def test_a_recording_source_knows_its_start_and_the_journal_starts_there(
        tmp_path: Path) -> None:
    files = make_demo_night(tmp_path / "synthetic", minutes=2, seed=4, cramps=1)
    source = edf_source(str(files.edf), pace=50.0)
    header = recording_start(files.edf)
    assert header is not None and source.recorded_start == header.astimezone()
    journal, resumed = NightJournal.start(tmp_path / "home", new_night=True,
                                          started_at=source.recorded_start)
    assert resumed is None and journal.started_at == source.recorded_start
    assert journal.night_id == "night-" + header.strftime("%Y%m%d-%H%M%S")


def test_a_placeholder_start_date_is_not_taken_for_the_night(tmp_path: Path) -> None:
    files = make_demo_night(tmp_path / "synthetic", minutes=2, seed=4, cramps=1)
    anonymised = tmp_path / "anonymised.edf"
    header = bytearray(files.edf.read_bytes())
    header[168:176] = b"01.01.85"  # what anonymised EDF files often say
    anonymised.write_bytes(bytes(header))
    assert recording_start(anonymised) is not None
    assert edf_source(str(anonymised)).recorded_start is None


@pytest.mark.slow
def test_a_fast_played_file_is_stored_on_its_own_clock(tmp_path: Path) -> None:
    files = make_demo_night(tmp_path / "synthetic", minutes=4, seed=3, cramps=2)
    source = edf_source(str(files.edf), pace=120.0)
    options = RunOptions(data_dir=tmp_path / "home", new_night=True, sound=False, port=0,
                         classifier="rules")
    seen = {}

    def ready(base_url, token, store, session) -> None:  # type: ignore[no-untyped-def]
        seen["store"] = store

    result = asyncio.run(run_live(source, options, on_ready=ready, out=io.StringIO()))
    assert any(d.action.value == "start" for d in result.report.decisions)
    store = seen["store"]
    token = clinician_token(store.database_url, store.sleeper_id)
    from api.app import create_app
    from api.settings import Settings

    auth = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(Settings(database_url=store.database_url))) as client:
        (night,) = client.get(f"/api/v1/sleepers/{store.sleeper_id}/nights",
                              headers=auth).json()
        prompts = client.get(f"/api/v1/sleepers/{store.sleeper_id}/prompts",
                             headers=auth).json()
    started = datetime.fromisoformat(night["started_at"])
    ended = datetime.fromisoformat(night["ended_at"])
    assert started == source.recorded_start
    # Four minutes of night, though it played in two seconds.
    assert (ended - started).total_seconds() == pytest.approx(240.0, abs=1.0)
    factory = pipeline_factory("rules")
    assert night["detector_version"] == factory.detector_version
    assert night["model_version"] == factory.model_version
    items = prompts["items"] if isinstance(prompts, dict) else prompts
    assert items, "the night's prompts are stored"
    used = {p["channel"] for p in items} | {p.get("escalated_channel") for p in items}
    assert not used & {"band", "sound"}
    for p in items:
        assert started <= datetime.fromisoformat(p["sent_at"]) <= ended
