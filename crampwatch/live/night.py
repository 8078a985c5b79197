"""The night's journal on disk: every event, gap, quality finding and run, crash-safe.

A night lives in ``<data_dir>/nights/<night_id>/``: ``journal.jsonl`` (one JSON object
per line, fsynced as written), ``prompts.jsonl`` (the prompt log), the outboxes, the raw
captures and the summary. A run that dies (kill -9, power cut) leaves the night open;
the next run continues it: same night id, session time carried on from where the
journal stopped, event ids kept apart by run number, and events that were still open
when the run died are closed at their last known time.
"""

from __future__ import annotations

import json
import math
import os
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from api.db import PRIVATE_DIR_MODE, make_private_file
from crampwatch.event_json import event_from_json, event_to_json
from sensor.records import Event

# A night whose journal was last written longer ago than this is over: a new run
# starts a new night. Long enough for a crash, a restart and a trip to the bathroom.
DEFAULT_RESUME_WITHIN_S = 2 * 3600.0
# Power-cut exposure of records written without sync (as the raw capture: 1 s).
SYNC_INTERVAL_S = 1.0
# Feature set on an event closed because its run died while it was open.
ENDED_BY_RESTART = "ended_by_restart"


class JournalError(OSError):
    """A night's journal cannot be read or written."""


def default_data_dir() -> Path:
    """Return where nights are kept: $CRAMPWATCH_HOME, else ~/.local/share/crampwatch."""
    env = os.environ.get("CRAMPWATCH_HOME")
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "crampwatch"


def make_private_dir(path: Path) -> None:
    """Create folder ``path`` and any missing parent owner-only (0700); an existing ``path``
    that others may read or enter is made owner-only."""
    path = Path(path)
    missing = []
    folder = path
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        folder.mkdir(mode=PRIVATE_DIR_MODE, exist_ok=True)
    if not missing and stat.S_IMODE(path.stat().st_mode) & 0o077:
        path.chmod(PRIVATE_DIR_MODE)


@dataclass
class NightState:
    """What the journal says about a night so far."""

    night_id: str
    started_at: datetime
    runs: int
    last_session_s: float
    last_write_unix: float
    closed: bool
    events: dict[str, Event]
    lost_s: float


class NightJournal:
    """The journal file of one night; writes are durable when ``write`` returns.

    The night's folder is owner-only (0700) and the journal 0600: they hold health data.
    """

    def __init__(self, directory: Path, night_id: str, started_at: datetime, run: int) -> None:
        self.dir = Path(directory)
        self.night_id = night_id
        self.started_at = started_at
        self.run = run
        make_private_dir(self.dir)
        self.path = self.dir / "journal.jsonl"
        make_private_file(self.path)
        self._file = self.path.open("a", encoding="utf-8")
        self._synced = time.monotonic()

    @property
    def session_id(self) -> str:
        """Return the pipeline session id of this run (prefixes its event ids)."""
        return f"{self.night_id}-r{self.run}"

    def write(self, record_type: str, sync: bool = True, **fields: Any) -> None:
        """Append one record (with wall time and run number).

        Every record is handed to the operating system at once, so killing the process
        loses nothing; ``sync`` records are also fsynced (safe from a power cut), the
        others at most ``SYNC_INTERVAL_S`` later.
        """
        record = {"type": record_type, "run": self.run, "unix": time.time(), **fields}
        self._file.write(json.dumps(record, sort_keys=True, allow_nan=False) + "\n")
        self._file.flush()
        now = time.monotonic()
        if sync or now - self._synced >= SYNC_INTERVAL_S:
            os.fsync(self._file.fileno())
            self._synced = now

    def write_event(self, event: Event) -> None:
        """Journal one version of an event; final versions are fsynced at once."""
        self.write("event", sync=event.final, event=event_to_json(event))

    def close(self) -> None:
        self._file.close()

    # -- opening -------------------------------------------------------------------------

    @classmethod
    def start(
        cls,
        data_dir: Path,
        *,
        new_night: bool = False,
        resume_within_s: float = DEFAULT_RESUME_WITHIN_S,
        now: datetime | None = None,
        started_at: datetime | None = None,
    ) -> tuple[NightJournal, NightState | None]:
        """Return the journal for this run and, when continuing a night, its state so far.

        A new night starts at ``started_at`` (the wall time of session second 0: a
        recording's own start), else now.
        """
        now = now or datetime.now(UTC)
        nights = Path(data_dir) / "nights"
        make_private_dir(nights)
        if not new_night:
            latest = _latest_night(nights)
            if latest is not None:
                state = read_night(latest)
                if not state.closed and now.timestamp() - state.last_write_unix < resume_within_s:
                    journal = cls(latest, state.night_id, state.started_at, state.runs + 1)
                    return journal, state
        start = started_at or now
        night_id = "night-" + start.astimezone().strftime("%Y%m%d-%H%M%S")
        directory = nights / night_id
        suffix = 1
        while directory.exists():
            suffix += 1
            directory = nights / f"{night_id}-{suffix}"
        journal = cls(directory, directory.name, start, 1)
        journal.write("night", night_id=directory.name, started_at=start.isoformat())
        return journal, None


def _latest_night(nights: Path) -> Path | None:
    candidates = [p for p in nights.iterdir() if (p / "journal.jsonl").is_file()]
    if not candidates:
        return None
    return max(candidates, key=lambda p: (p / "journal.jsonl").stat().st_mtime)


def iter_journal(path: Path) -> Iterator[dict[str, Any]]:
    """Yield the journal's records; a torn last line (the writer died mid-line) is skipped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise JournalError(f"cannot read {path}: {exc}") from exc
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except json.JSONDecodeError as exc:
            if i == len(lines) - 1:
                return
            raise JournalError(f"{path}:{i + 1} is damaged ({exc}); move the night aside") from exc


def read_night(directory: Path) -> NightState:
    """Return the state of the night whose journal is in ``directory``."""
    path = Path(directory) / "journal.jsonl"
    night_id, started_at = Path(directory).name, None
    runs, last_s, last_unix, closed, lost_s = 0, 0.0, 0.0, False, 0.0
    events: dict[str, Event] = {}
    for rec in iter_journal(path):
        last_unix = max(last_unix, float(rec.get("unix", 0.0)))
        runs = max(runs, int(rec.get("run", 0)))
        kind = rec["type"]
        if kind == "night":
            night_id = rec["night_id"]
            started_at = datetime.fromisoformat(rec["started_at"])
        elif kind == "event":
            ev = event_from_json(rec["event"])
            events[ev.event_id] = ev
            known = ev.known_at_s
            last_s = max(last_s, ev.start_s, ev.end_s or 0.0, known if math.isfinite(known) else 0)
        elif kind in ("progress", "gap"):
            last_s = max(last_s, float(rec.get("session_s", rec.get("end_s", 0.0))))
            if kind == "gap" and rec.get("group", "emg") == "emg":
                lost_s += float(rec["end_s"]) - float(rec["start_s"])
        elif kind == "night_end":
            closed = True
    if started_at is None:
        raise JournalError(f"{path} has no night record: it is not a crampwatch night journal")
    return NightState(night_id, started_at, runs, last_s, last_unix, closed, events, lost_s)
