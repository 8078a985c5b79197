"""Database engine and sessions: SQLite in WAL mode with foreign keys on, or PostgreSQL
(psycopg 3), or any SQLAlchemy URL."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker

#: The store holds health data: only its owner may read the file or list its folder.
PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700


def make_engine(database_url: str) -> Engine:
    """Return an engine for ``database_url``; SQLite files get WAL and enforced foreign keys,
    and are created owner-only (0600, in a 0700 folder when the folder is new)."""
    url = make_url(database_url)
    if url.drivername in ("postgresql", "postgres"):
        # The driver this project installs ('postgres' extra); SQLAlchemy's default is psycopg2.
        url = url.set(drivername="postgresql+psycopg")
    is_sqlite = url.drivername.startswith("sqlite")
    if is_sqlite:
        path = sqlite_path(database_url)
        if path is not None:
            make_private_file(path)
    connect_args = {"check_same_thread": False, "timeout": 30} if is_sqlite else {}
    engine = create_engine(url, connect_args=connect_args, pool_pre_ping=not is_sqlite)
    if is_sqlite:
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def sqlite_path(database_url: str) -> Path | None:
    """Return the file of a SQLite URL, or None for an in-memory or URI-style database."""
    database = make_url(database_url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def make_private_file(path: Path) -> None:
    """Create ``path`` empty and owner-only (0600) unless it exists, missing folders 0700;
    an existing file readable by others is made owner-only. SQLite gives its -wal and -shm
    files the database file's mode."""
    missing = []
    folder = path.parent
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        folder.mkdir(mode=PRIVATE_DIR_MODE, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE_MODE)
    try:
        if stat.S_IMODE(os.fstat(fd).st_mode) & 0o077:
            os.fchmod(fd, PRIVATE_FILE_MODE)
    finally:
        os.close(fd)


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    # WAL lets the clinician pages read while the hub writes; SQLite leaves foreign keys off
    # unless asked on every connection; NORMAL sync is durable at each WAL checkpoint.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Return a session factory bound to ``engine`` that keeps objects readable after commit."""
    return sessionmaker(engine, expire_on_commit=False)
