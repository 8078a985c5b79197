"""The morning diary reaches the night's journal and the stores' outbox."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest

from crampwatch.live import runner
from crampwatch.live.night import NightJournal, iter_journal
from crampwatch.outbox import Outbox, OutboxItem


def test_diary_is_journaled_and_sent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter(["6", "8", "woke at 3"])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(answers))
    journal, _ = NightJournal.start(tmp_path)
    box = Outbox(tmp_path / "o.sqlite")
    sent: list[OutboxItem] = []

    async def send(item: OutboxItem) -> None:
        sent.append(item)

    out = io.StringIO()
    asyncio.run(runner._ask_diary(journal, {"local": (box, send)}, out, 5.0))
    journal.close()
    diary = [r for r in iter_journal(journal.path) if r["type"] == "diary"]
    assert diary and diary[0]["pain_0_10"] == 6 and diary[0]["sleep_disturbance_0_10"] == 8
    assert sent[0].kind == "diary"
    assert sent[0].payload["night_id"] == journal.night_id
    assert sent[0].payload["note"] == "woke at 3"
    assert "diary saved" in out.getvalue()
