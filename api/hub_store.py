"""Store functions the hub and the `crampwatch users` command call: no ORM outside api/.

Each function takes an open database session (``Store.sessions()``), does its queries
and returns plain values; :class:`HubStoreError` says, in one line, what is missing or
refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.models import ClinicianAssignment, Role, Sleeper, User, utcnow
from api.security import new_token
from api.users import UserAdminError, create_user, user_out


class HubStoreError(ValueError):
    """A user, sleeper or token cannot be found or changed as asked."""


@dataclass(frozen=True)
class SleeperRef:
    sleeper_id: int
    label: str


@dataclass(frozen=True)
class UserLine:
    """One user as `crampwatch users list` shows it."""

    name: str
    role: str
    writes: str | None  # a hub's sleeper label
    reads: tuple[str, ...]  # a clinician's sleeper labels
    live_token_prefixes: tuple[str, ...]
    disabled: bool


@dataclass(frozen=True)
class SleeperLine:
    """One sleeper with who may read and write its log."""

    sleeper_id: int
    label: str
    clinicians: tuple[str, ...]
    hubs: tuple[str, ...]


def _user(db: Session, name: str) -> User:
    user = db.scalars(select(User).where(User.name == name)).first()
    if user is None:
        raise HubStoreError(f"no user named {name!r}")
    return user


def find_sleeper(db: Session, *, sleeper_id: int | None = None,
                 label: str | None = None) -> SleeperRef | None:
    """Return the sleeper with this id (else this label), or None if there is none."""
    if sleeper_id is not None:
        sleeper = db.get(Sleeper, sleeper_id) if 0 < sleeper_id < 2**31 else None
    else:
        sleeper = db.scalars(select(Sleeper).where(Sleeper.label == label)).first()
    return None if sleeper is None else SleeperRef(sleeper.id, sleeper.label)


def add_sleeper(db: Session, label: str, note: str = "") -> SleeperRef:
    """Return a new sleeper; a label that exists already raises HubStoreError."""
    sleeper = Sleeper(label=label, note=note)
    db.add(sleeper)
    try:
        db.commit()
    except IntegrityError as exc:
        db.rollback()
        raise HubStoreError(f"a sleeper labelled {label!r} exists already") from exc
    return SleeperRef(sleeper.id, sleeper.label)


def ensure_sleeper(db: Session, label: str, note: str = "") -> SleeperRef:
    """Return the sleeper labelled ``label``, created if missing."""
    return find_sleeper(db, label=label) or add_sleeper(db, label, note)


def user_exists(db: Session, name: str) -> bool:
    return db.scalars(select(User.id).where(User.name == name)).first() is not None


def add_user(db: Session, name: str, role: str, sleeper_id: int | None = None) -> int:
    """Add a user (a hub bound to ``sleeper_id``); return its id."""
    try:
        return create_user(db, name, Role(role), sleeper_id).id
    except UserAdminError as exc:
        raise HubStoreError(str(exc)) from exc


def issue_token(db: Session, name: str, label: str) -> str:
    """Return a new token for user ``name`` (shown once; stored as a hash)."""
    user = _user(db, name)
    if user.disabled:
        raise HubStoreError(f"user {name!r} is disabled")
    token, _row = new_token(db, user, label)
    db.commit()
    return token


def revoke_tokens(db: Session, name: str, prefix: str | None = None) -> int:
    """Revoke the live tokens of ``name`` (only those starting ``prefix``); return how many."""
    user = _user(db, name)
    live = [t for t in user.tokens if t.revoked_at is None]
    if prefix:
        live = [t for t in live if t.prefix.startswith(prefix.rstrip("…"))]
        if not live:
            raise HubStoreError(f"{name!r} has no live token starting {prefix!r}")
    for row in live:
        row.revoked_at = utcnow()
    db.commit()
    return len(live)


def disable_user(db: Session, name: str) -> None:
    _user(db, name).disabled = True
    db.commit()


def set_assignment(db: Session, clinician: str, sleeper_id: int, assign: bool) -> None:
    """Let clinician ``clinician`` read the sleeper's log (``assign``), or no longer."""
    user = _user(db, clinician)
    if user.role != Role.CLINICIAN.value:
        raise HubStoreError(f"{clinician!r} is a {user.role}, not a clinician")
    row = db.get(ClinicianAssignment, (user.id, sleeper_id))
    if assign and row is None:
        db.add(ClinicianAssignment(user_id=user.id, sleeper_id=sleeper_id))
    elif not assign and row is not None:
        db.delete(row)
    db.commit()


def user_lines(db: Session) -> list[UserLine]:
    """Return every user by name, with the sleepers they write or read and live tokens."""
    labels = {s.id: s.label for s in db.scalars(select(Sleeper))}
    lines = []
    for user in db.scalars(select(User).order_by(User.name)).all():
        view = user_out(db, user)
        lines.append(UserLine(
            name=user.name,
            role=user.role,
            writes=None if user.sleeper_id is None else labels[user.sleeper_id],
            reads=tuple(labels[i] for i in view.assigned_sleeper_ids),
            live_token_prefixes=tuple(t.prefix for t in user.tokens if t.revoked_at is None),
            disabled=user.disabled,
        ))
    return lines


def sleeper_lines(db: Session) -> list[SleeperLine]:
    """Return every sleeper by label with its clinicians and hubs."""
    lines = []
    for sleeper in db.scalars(select(Sleeper).order_by(Sleeper.label)):
        readers = db.scalars(
            select(User.name)
            .join(ClinicianAssignment, ClinicianAssignment.user_id == User.id)
            .where(ClinicianAssignment.sleeper_id == sleeper.id)
        ).all()
        hubs = db.scalars(select(User.name).where(User.sleeper_id == sleeper.id)).all()
        lines.append(SleeperLine(sleeper.id, sleeper.label, tuple(readers), tuple(hubs)))
    return lines
