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

from sqlalchemy import select

from api.db import make_private_file
from api.models import ClinicianAssignment, Role, Sleeper, User
from api.security import new_token
from api.store import Store
from api.users import create_user
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
            sleeper = db.scalars(select(Sleeper).where(Sleeper.label == sleeper_label)).first()
            if sleeper is None:
                sleeper = Sleeper(label=sleeper_label, note="this hub's sleeper")
                db.add(sleeper)
                db.commit()
            hub_name = f"{HUB_USER}-{sleeper.id}"
            user = db.scalars(select(User).where(User.name == hub_name)).first()
            if user is None:
                user = create_user(db, hub_name, Role.HUB, sleeper.id)
            make_private_file(token_file)
            token = token_file.read_text().strip()
            if not token:
                token, _ = new_token(db, user, "bedside hub")
                db.commit()
                fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w") as fh:
                    fh.write(token + "\n")
            return LocalStore(url, sleeper.id, sleeper.label, token)
    finally:
        store.close()


def clinician_token(database_url: str, sleeper_id: int, name: str = "clinician") -> str:
    """Return a new token for a clinician who may read the sleeper (created if missing)."""
    store = Store.open(database_url)
    try:
        with store.sessions() as db:
            user = db.scalars(select(User).where(User.name == name)).first()
            if user is None:
                user = create_user(db, name, Role.CLINICIAN)
            assigned = db.scalars(
                select(ClinicianAssignment).where(
                    ClinicianAssignment.user_id == user.id,
                    ClinicianAssignment.sleeper_id == sleeper_id,
                )
            ).first()
            if assigned is None:
                db.add(ClinicianAssignment(user_id=user.id, sleeper_id=sleeper_id))
            token, _ = new_token(db, user, "demo")
            db.commit()
            return token
    finally:
        store.close()
