"""A crash-safe, retrying outbox: records wait in a SQLite file until the clinic API has them.

Every record is committed (WAL, synchronous=FULL) before :meth:`Outbox.put` returns, so
neither a network failure nor a kill -9 loses it. Records have a key (the event id and
its version kind): a newer version of a record not yet sent replaces the older one, so
a provisional event superseded by its final call is sent once, as final. The clinic
API's ingest is idempotent on client-supplied ids, which makes a resend after a crash
between "sent" and "marked sent" harmless. The file holds health data: it is created
owner-only (0600, in a 0700 folder when the folder is new), as are SQLite's -wal and -shm.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from api.db import make_private_file

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    key TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_unix REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_unix REAL NOT NULL,
    last_error TEXT,
    sent_unix REAL,
    rejected INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (sent_unix, rejected, next_attempt_unix, seq);
"""


class RetryLater(Exception):
    """The receiver is unreachable or busy (network error, 5xx, 429): try again later."""


class Rejected(Exception):
    """The receiver refused the record for good (4xx): keep it, report it, do not resend."""


@dataclass(frozen=True)
class OutboxItem:
    """One record waiting to be sent."""

    key: str
    seq: int
    kind: str
    payload: dict[str, Any]
    attempts: int


@dataclass(frozen=True)
class OutboxCounts:
    """How many records are waiting, sent, and refused by the receiver."""

    pending: int
    sent: int
    rejected: int


@dataclass(frozen=True)
class RetryParams:
    """Exponential backoff between attempts, in seconds."""

    first_retry_s: float = 2.0
    max_retry_s: float = 300.0
    poll_s: float = 1.0  # how often the sender looks for due records when idle


Sender = Callable[[OutboxItem], Awaitable[None]]


class Outbox:
    """The outbox file; use from one thread (the session's event loop)."""

    def __init__(
        self,
        path: Path,
        *,
        retry: RetryParams | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        make_private_file(self.path)
        for leftover in (self.path.with_name(self.path.name + "-wal"),
                         self.path.with_name(self.path.name + "-shm")):
            if leftover.exists():  # left by a crash; SQLite keeps its mode
                make_private_file(leftover)
        self.retry = retry or RetryParams()
        self._clock = clock
        # After a RetryLater the whole receiver is taken as down until this time, so
        # records keep their order instead of a later one overtaking a backed-off one.
        self._hold_until = float("-inf")
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise OSError(
                f"{self.path} is not a usable outbox database ({exc}); move it aside and rerun"
            ) from exc

    def put(self, key: str, kind: str, payload: dict[str, Any]) -> None:
        """Store ``payload`` under ``key`` durably; a pending record with that key is replaced."""
        now = self._clock()
        body = json.dumps(payload, sort_keys=True)
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            seq = self._db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM outbox").fetchone()[0]
            self._db.execute(
                """
                INSERT INTO outbox (key, seq, kind, payload, created_unix, next_attempt_unix)
                VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT(key) DO UPDATE SET
                    seq = excluded.seq, kind = excluded.kind, payload = excluded.payload,
                    attempts = 0, next_attempt_unix = excluded.next_attempt_unix,
                    last_error = NULL, sent_unix = NULL, rejected = 0
                WHERE outbox.payload != excluded.payload OR outbox.rejected = 1
                """,
                (key, seq, kind, body, now, now),
            )

    def due(self, limit: int = 50) -> list[OutboxItem]:
        """Return up to ``limit`` unsent records whose next attempt is due, oldest first."""
        if self._clock() < self._hold_until:
            return []
        rows = self._db.execute(
            """
            SELECT key, seq, kind, payload, attempts FROM outbox
            WHERE sent_unix IS NULL AND rejected = 0 AND next_attempt_unix <= ?
            ORDER BY seq LIMIT ?
            """,
            (self._clock(), limit),
        ).fetchall()
        return [OutboxItem(k, s, kind, json.loads(p), a) for k, s, kind, p, a in rows]

    def mark_sent(self, item: OutboxItem) -> None:
        """Record that ``item`` (this version of it) reached the receiver."""
        self._db.execute(
            "UPDATE outbox SET sent_unix = ?, last_error = NULL WHERE key = ? AND seq = ?",
            (self._clock(), item.key, item.seq),
        )

    def mark_failed(self, item: OutboxItem, error: str) -> float:
        """Record a failed attempt; return the delay in seconds before the next one."""
        attempts = item.attempts + 1
        delay_s = min(self.retry.first_retry_s * 2 ** (attempts - 1), self.retry.max_retry_s)
        self._db.execute(
            """
            UPDATE outbox SET attempts = ?, next_attempt_unix = ?, last_error = ?
            WHERE key = ? AND seq = ?
            """,
            (attempts, self._clock() + delay_s, error, item.key, item.seq),
        )
        return delay_s

    def mark_rejected(self, item: OutboxItem, error: str) -> None:
        """Record that the receiver refused ``item``; it stays in the file for inspection."""
        self._db.execute(
            "UPDATE outbox SET rejected = 1, last_error = ? WHERE key = ? AND seq = ?",
            (error, item.key, item.seq),
        )

    def counts(self) -> OutboxCounts:
        """Return how many records are pending, sent and rejected."""
        pending, sent, rejected = self._db.execute(
            """
            SELECT
              COALESCE(SUM(sent_unix IS NULL AND rejected = 0), 0),
              COALESCE(SUM(sent_unix IS NOT NULL), 0),
              COALESCE(SUM(rejected), 0)
            FROM outbox
            """
        ).fetchone()
        return OutboxCounts(int(pending), int(sent), int(rejected))

    def last_error(self) -> str | None:
        """Return the most recent delivery error of a record still pending, if any."""
        row = self._db.execute(
            "SELECT last_error FROM outbox WHERE sent_unix IS NULL AND last_error IS NOT NULL "
            "ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        return None if row is None else str(row[0])

    async def send_due(self, send: Sender) -> int:
        """Try every due record once, in order; return how many were delivered.

        Stops at the first RetryLater: the receiver is down, the rest would fail too.
        """
        delivered = 0
        for item in self.due():
            try:
                await send(item)
            except RetryLater as exc:
                delay = self.mark_failed(item, str(exc))
                self._hold_until = self._clock() + delay
                log.info("outbox: %s not delivered (%s); retry in %.0f s", item.key, exc, delay)
                break
            except Rejected as exc:
                self.mark_rejected(item, str(exc))
                log.warning("outbox: receiver refused %s: %s", item.key, exc)
                continue
            self.mark_sent(item)
            delivered += 1
        return delivered

    async def run(self, send: Sender, stop: asyncio.Event) -> None:
        """Send due records until ``stop`` is set, then make one last attempt."""
        while not stop.is_set():
            await self.send_due(send)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.retry.poll_s)
        await self.send_due(send)

    def close(self) -> None:
        self._db.close()
