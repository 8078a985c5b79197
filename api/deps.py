"""Request dependencies: the database session, the caller, and which sleepers they may see.

Access rules: an admin manages users and sleepers and may read and write every log; a
clinician reads only the sleepers assigned to them; a hub token reads and writes only
its own sleeper. A sleeper the caller may not see answers 404 exactly like one that does
not exist, so nobody learns which sleeper ids are taken.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models import ClinicianAssignment, Role, Sleeper, User
from api.security import user_for_session, user_for_token

SESSION_COOKIE = "crampwatch_session"

bearer_scheme = HTTPBearer(
    auto_error=False,
    description="A token from `crampwatch users token NAME` (hub, clinician or admin).",
)
cookie_scheme = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    description="Browser session from the login page; accepted for GET requests only.",
)


class LoginRequiredError(Exception):
    """A page was asked for without a valid browser session."""


def get_db(request: Request) -> Iterator[Session]:
    """Yield a database session for one request, closed afterwards."""
    with request.app.state.store.sessions() as db:
        yield db


DB = Annotated[Session, Depends(get_db)]

#: Sleeper ids are 32-bit in every backend; larger ones cannot exist, so they are refused early.
MAX_ID = 2_147_483_647
SleeperId = Annotated[int, Path(ge=1, le=MAX_ID, description="The sleeper's id.", examples=[1])]


@dataclass(frozen=True)
class Caller:
    """Who is asking: user id, name, role and, for a hub, its one sleeper."""

    user_id: int
    name: str
    role: Role
    sleeper_id: int | None

    @classmethod
    def of(cls, user: User) -> Caller:
        return cls(user.id, user.name, Role(user.role), user.sleeper_id)


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


def get_caller(
    request: Request,
    db: DB,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    cookie: Annotated[str | None, Depends(cookie_scheme)],
) -> Caller:
    """Return the authenticated caller, or raise 401 saying what credential was missing."""
    if credentials is not None:
        user = user_for_token(db, credentials.credentials)
        if user is None:
            raise _unauthorized("the bearer token is unknown or revoked: ask an admin for one")
        return Caller.of(user)
    if cookie is not None:
        # Cookies ride along on cross-site requests, so they may only read (no CSRF writes).
        if request.method not in ("GET", "HEAD"):
            raise _unauthorized("writes need an Authorization: Bearer token, not a cookie")
        user = user_for_session(db, cookie)
        if user is None:
            raise _unauthorized("the browser session has expired: log in again")
        return Caller.of(user)
    raise _unauthorized("send Authorization: Bearer <token> (or log in through /login)")


CurrentCaller = Annotated[Caller, Depends(get_caller)]


def require_admin(caller: CurrentCaller) -> Caller:
    """Return the caller if an admin, else raise 403."""
    if caller.role is not Role.ADMIN:
        raise HTTPException(403, "only an admin may manage users, sleepers and assignments")
    return caller


AdminCaller = Annotated[Caller, Depends(require_admin)]


def visible_sleeper_ids(db: Session, caller: Caller) -> list[int] | None:
    """Return the sleeper ids the caller may read, or None for all (admin)."""
    if caller.role is Role.ADMIN:
        return None
    if caller.role is Role.HUB:
        return [] if caller.sleeper_id is None else [caller.sleeper_id]
    return list(
        db.scalars(
            select(ClinicianAssignment.sleeper_id).where(
                ClinicianAssignment.user_id == caller.user_id
            )
        )
    )


def can_see(db: Session, caller: Caller, sleeper_id: int) -> bool:
    """Return True if the caller may read this sleeper's log."""
    ids = visible_sleeper_ids(db, caller)
    return ids is None or sleeper_id in ids


def sleeper_for_reading(db: Session, caller: Caller, sleeper_id: int) -> Sleeper:
    """Return the sleeper if the caller may read it; 404 (never 403) otherwise."""
    sleeper = db.get(Sleeper, sleeper_id) if can_see(db, caller, sleeper_id) else None
    if sleeper is None:
        raise HTTPException(404, f"no sleeper {sleeper_id} among those you can see")
    return sleeper


def sleeper_for_writing(db: Session, caller: Caller, sleeper_id: int) -> Sleeper:
    """Return the sleeper if the caller may write its log; 404 if unseen, 403 if read-only."""
    sleeper = sleeper_for_reading(db, caller, sleeper_id)
    if caller.role is Role.CLINICIAN:
        raise HTTPException(
            403, "clinicians read the log; only the sleeper's hub or an admin writes it"
        )
    return sleeper


def readable_sleeper(sleeper_id: SleeperId, db: DB, caller: CurrentCaller) -> Sleeper:
    """Dependency: the path's sleeper, readable by the caller."""
    return sleeper_for_reading(db, caller, sleeper_id)


def writable_sleeper(sleeper_id: SleeperId, db: DB, caller: CurrentCaller) -> Sleeper:
    """Dependency: the path's sleeper, writable by the caller."""
    return sleeper_for_writing(db, caller, sleeper_id)


ReadableSleeper = Annotated[Sleeper, Depends(readable_sleeper)]
WritableSleeper = Annotated[Sleeper, Depends(writable_sleeper)]


def page_caller(request: Request, db: DB) -> Caller:
    """Return the logged-in caller of a page; raises LoginRequiredError to redirect to /login."""
    value = request.cookies.get(SESSION_COOKIE)
    user = user_for_session(db, value) if value else None
    if user is None:
        raise LoginRequiredError()
    return Caller.of(user)


PageCaller = Annotated[Caller, Depends(page_caller)]
