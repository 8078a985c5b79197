"""kill -9 in the middle of a night: nothing logged is lost, and the next run continues it."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from crampwatch.live.night import ENDED_BY_RESTART, read_night
from firmware_bridge.capture import iter_records


def _journal(night: Path) -> list[dict]:
    path = night / "journal.jsonl"
    if not path.is_file():
        return []
    lines = path.read_text().split("\n")
    out = []
    for line in lines:
        with contextlib.suppress(json.JSONDecodeError):  # a line being written right now
            out.append(json.loads(line))
    return out


def _start(home: Path, *extra: str) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "crampwatch", "run", "--source", "virtual", "--minutes", "8",
           "--pace", "20", "--data-dir", str(home), "--port", "0", "--no-sound", "--no-diary",
           *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


@pytest.mark.slow
def test_kill_9_loses_nothing_logged_and_next_run_continues(tmp_path: Path) -> None:
    home = tmp_path / "home"
    proc = _start(home)
    try:
        deadline = time.monotonic() + 120
        night = None
        while time.monotonic() < deadline:
            nights = list((home / "nights").glob("night-*")) if (home / "nights").exists() else []
            if nights:
                night = nights[0]
                recs = _journal(night)
                finals = {r["event"]["event_id"] for r in recs
                          if r["type"] == "event" and r["event"]["final"]}
                open_cramps = [r["event"]["event_id"] for r in recs if r["type"] == "event"
                               and r["event"]["kind"] in ("tonic", "clonic")
                               and r["event"]["event_id"] not in finals]
                if finals and open_cramps:
                    break
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            time.sleep(0.05)
        else:
            pytest.fail("the run never had a closed event and an open cramp at once")
        assert night is not None
        os.kill(proc.pid, signal.SIGKILL)
        killed_at = time.time()
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    # Everything the run had logged before the kill is still there, none of it torn.
    before = [r for r in _journal(night) if r["type"] == "event"]
    assert before
    state = read_night(night)
    assert not state.closed
    assert any(not ev.final and ev.is_cramp for ev in state.events.values())
    # The raw capture ends within a second of the kill.
    captures = sorted(night.glob("capture-*.cwcap"))
    assert captures
    last_us = max(rec.host_us for rec in iter_records(captures[-1]))
    assert killed_at - last_us / 1e6 <= 1.0

    # The next run continues the same night; Ctrl-C ends it cleanly.
    proc = _start(home)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if any(r["type"] == "progress" and r["run"] == 2 for r in _journal(night)):
                break
            time.sleep(0.1)
        time.sleep(2.0)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert f"continuing {night.name} (run 2" in out
    after = read_night(night)
    assert after.closed and after.runs == 2
    # every event of run 1 is still there, and none is left open: the one cut off by
    # the kill was closed at its last known time
    run1 = {r["event"]["event_id"] for r in before}
    assert run1 <= set(after.events)
    for eid in run1:
        ev = after.events[eid]
        assert ev.final
    assert any(ev.features.get(ENDED_BY_RESTART) == 1.0 for ev in after.events.values())
    # run 2's clock carries on after run 1 (its blocks are placed after the kill)
    run2 = [r for r in _journal(night) if r["run"] == 2 and r["type"] == "progress"]
    assert min(r["session_s"] for r in run2) >= state.last_session_s
    # the local store got all of run 1's events (the outbox of run 2 sent what run 1
    # could not), and a clinician reads them through the API
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.settings import Settings
    from crampwatch.live.localstore import clinician_token, prepare_local_store

    store = prepare_local_store(home)
    token = clinician_token(store.database_url, store.sleeper_id)
    with TestClient(create_app(Settings(database_url=store.database_url))) as client:
        r = client.get(f"/api/v1/sleepers/{store.sleeper_id}/events",
                       params={"limit": 1000}, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        stored = {e["event_id"]: e for e in r.json()["items"]}
    assert {eid for eid in run1} <= set(stored)
    assert all(stored[eid]["final"] for eid in run1)
