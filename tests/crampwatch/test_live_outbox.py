"""The outbox keeps every record until the clinic API has it, across outages and crashes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from crampwatch.outbox import Outbox, OutboxItem, Rejected, RetryLater, RetryParams


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class Receiver:
    """A receiver that can be down; idempotent on key like the clinic API's ingest."""

    def __init__(self) -> None:
        self.up = False
        self.got: dict[str, dict[str, object]] = {}
        self.calls = 0

    async def __call__(self, item: OutboxItem) -> None:
        self.calls += 1
        if not self.up:
            raise RetryLater("connection refused")
        if item.payload.get("bad"):
            raise Rejected("HTTP 422: confidence out of range")
        self.got[item.key] = item.payload


def test_records_wait_through_an_outage_and_are_delivered_in_order(tmp_path: Path) -> None:
    clock = FakeClock()
    box = Outbox(tmp_path / "outbox.sqlite", clock=clock)
    rx = Receiver()
    for i in range(3):
        box.put(f"ev-{i}", "event", {"i": i})
    assert asyncio.run(box.send_due(rx)) == 0
    assert rx.calls == 1  # stops at the first failure: the API is down
    assert box.counts().pending == 3
    assert box.last_error() == "connection refused"
    assert asyncio.run(box.send_due(rx)) == 0 and rx.calls == 1  # backing off
    clock.t += 2.0
    rx.up = True
    assert asyncio.run(box.send_due(rx)) == 3
    assert list(rx.got) == ["ev-0", "ev-1", "ev-2"]
    assert box.counts().pending == 0 and box.counts().sent == 3


def test_backoff_doubles_up_to_the_cap(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite", retry=RetryParams(first_retry_s=2, max_retry_s=10),
                 clock=FakeClock())
    box.put("k", "event", {})
    item = box.due()[0]
    delays = []
    for _ in range(5):
        delays.append(box.mark_failed(item, "down"))
        item = OutboxItem(item.key, item.seq, item.kind, item.payload, item.attempts + 1)
    assert delays == [2, 4, 8, 10, 10]


def test_final_version_replaces_unsent_provisional(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite", clock=FakeClock())
    box.put("ev-1", "event", {"final": False, "end_s": None})
    box.put("ev-1", "event", {"final": True, "end_s": 40.0})
    items = box.due()
    assert len(items) == 1 and items[0].payload["final"] is True


def test_new_version_of_sent_record_is_sent_again(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite", clock=FakeClock())
    rx = Receiver()
    rx.up = True
    box.put("ev-1", "event", {"final": False})
    asyncio.run(box.send_due(rx))
    box.put("ev-1", "event", {"final": False})  # same content: nothing new to send
    assert box.due() == []
    box.put("ev-1", "event", {"final": True})
    asyncio.run(box.send_due(rx))
    assert rx.got["ev-1"] == {"final": True}


def test_rejected_record_is_kept_and_does_not_block_others(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite", clock=FakeClock())
    rx = Receiver()
    rx.up = True
    box.put("bad", "event", {"bad": True})
    box.put("good", "event", {"ok": True})
    assert asyncio.run(box.send_due(rx)) == 1
    assert box.counts().rejected == 1 and "good" in rx.got


def test_killed_process_loses_no_committed_record(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    script = textwrap.dedent(
        f"""
        import os, signal
        from crampwatch.outbox import Outbox
        box = Outbox({str(path)!r})
        for i in range(50):
            box.put(f"ev-{{i}}", "event", {{"i": i}})
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=os.getcwd(), check=False)
    assert proc.returncode == -9
    box = Outbox(path)
    assert box.counts().pending == 50
    assert [it.payload["i"] for it in box.due(limit=100)] == list(range(50))


def test_not_a_database_gives_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(OSError, match="move it aside"):
        Outbox(path)


def test_run_sends_until_stopped_then_flushes(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite", retry=RetryParams(poll_s=0.05))
    rx = Receiver()
    rx.up = True

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(box.run(rx, stop))
        box.put("a", "event", {})
        await asyncio.sleep(0.2)
        assert "a" in rx.got
        box.put("b", "event", {})
        stop.set()
        await task

    asyncio.run(scenario())
    assert set(rx.got) == {"a", "b"}
