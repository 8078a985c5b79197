"""The hub's own event store: a SQLite file served by the clinic API app on 127.0.0.1.

The live session writes to it exactly as to a clinic server (hub token, HTTP, outbox),
so the sleeper's own log and a clinic's copy are written by the same code. The first
run creates the sleeper and a hub user; the hub token is kept in a 0600 file, and a data
folder the first run creates is 0700.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from api import hub_store
from api.db import make_private_file
from api.store import Store
from crampwatch.live.night import make_private_dir

HUB_USER = "bedside-hub"


@dataclass(frozen=True)
class LocalStore:
    """Where the local store is and the hub token that writes the sleeper's log."""

    database_url: str
    sleeper_id: int
    sleeper_label: str
    hub_token: str


def prepare_local_store(data_dir: Path, sleeper_label: str = "me") -> LocalStore:
    """Return the local store (created and migrated on first use) and its hub token."""
    data_dir = Path(data_dir)
    if not data_dir.exists():
        make_private_dir(data_dir)
    url = f"sqlite:///{(data_dir / 'crampwatch.db').resolve()}"
    token_file = data_dir / "hub-token"
    store = Store.open(url)
    try:
        with store.sessions() as db:
            sleeper = hub_store.ensure_sleeper(db, sleeper_label, note="this hub's sleeper")
            hub_name = f"{HUB_USER}-{sleeper.sleeper_id}"
            if not hub_store.user_exists(db, hub_name):
                hub_store.add_user(db, hub_name, "hub", sleeper.sleeper_id)
            make_private_file(token_file)
            token = token_file.read_text().strip()
            if not token:
                token = hub_store.issue_token(db, hub_name, "bedside hub")
                fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w") as fh:
                    fh.write(token + "\n")
            return LocalStore(url, sleeper.sleeper_id, sleeper.label, token)
    finally:
        store.close()


def clinician_token(database_url: str, sleeper_id: int, name: str = "clinician") -> str:
    """Return a new token for a clinician who may read the sleeper (created if missing)."""
    store = Store.open(database_url)
    try:
        with store.sessions() as db:
            if not hub_store.user_exists(db, name):
                hub_store.add_user(db, name, "clinician")
            hub_store.set_assignment(db, name, sleeper_id, assign=True)
            return hub_store.issue_token(db, name, "demo")
    finally:
        store.close()
