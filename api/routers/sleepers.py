"""Sleepers: list the visible ones; admins create them and assign clinicians."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Response
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from api.deps import (
    DB,
    MAX_ID,
    AdminCaller,
    CurrentCaller,
    ReadableSleeper,
    SleeperId,
    visible_sleeper_ids,
)
from api.errors import problem_responses
from api.models import ClinicianAssignment, Night, Role, Sleeper, User
from api.schemas import SleeperIn, SleeperOut
from api.views import sleeper_out

router = APIRouter(prefix="/api/v1/sleepers", tags=["sleepers"])


def sleeper_summaries(db: DB, ids: list[int] | None) -> list[SleeperOut]:
    """Return the sleepers with the given ids (all if None) with night counts, by label."""
    stmt = select(Sleeper).order_by(Sleeper.label)
    if ids is not None:
        stmt = stmt.where(Sleeper.id.in_(ids))
    sleepers = db.scalars(stmt).all()
    counts = dict(
        db.execute(select(Night.sleeper_id, func.count()).group_by(Night.sleeper_id)).all()
    )
    out = []
    for sleeper in sleepers:
        last = db.scalars(
            select(Night).where(Night.sleeper_id == sleeper.id).order_by(Night.started_at.desc())
        ).first()
        out.append(sleeper_out(sleeper, counts.get(sleeper.id, 0), last))
    return out


@router.get(
    "",
    response_model=list[SleeperOut],
    summary="Sleepers you can see",
    responses=problem_responses(401),
)
def list_sleepers(db: DB, caller: CurrentCaller) -> list[SleeperOut]:
    """Return the sleepers the caller may read: assigned ones for a clinician, its own for a hub,
    all for an admin."""
    return sleeper_summaries(db, visible_sleeper_ids(db, caller))


@router.post(
    "",
    response_model=SleeperOut,
    status_code=201,
    summary="Create a sleeper (admin)",
    responses=problem_responses(401, 403, 409, 422),
)
def create_sleeper(body: SleeperIn, db: DB, _admin: AdminCaller) -> SleeperOut:
    """Return the new sleeper; the label must be unique."""
    sleeper = Sleeper(label=body.label, note=body.note)
    db.add(sleeper)
    try:
        db.commit()
    except IntegrityError as exc:
        db.rollback()
        raise HTTPException(409, f"a sleeper labelled {body.label!r} exists already") from exc
    return sleeper_out(sleeper, 0, None)


@router.get(
    "/{sleeper_id}",
    response_model=SleeperOut,
    summary="One sleeper",
    responses=problem_responses(401, 404, 422),
)
def read_sleeper(sleeper: ReadableSleeper, db: DB) -> SleeperOut:
    """Return the sleeper with its night count, if the caller may see it."""
    return sleeper_summaries(db, [sleeper.id])[0]


UserId = Annotated[int, Path(ge=1, le=MAX_ID, description="A clinician's user id.")]


def _clinician(db: DB, user_id: int) -> User:
    user = db.get(User, user_id)
    if user is None or user.role != Role.CLINICIAN.value:
        raise HTTPException(404, f"no clinician with user id {user_id}")
    return user


@router.put(
    "/{sleeper_id}/clinicians/{user_id}",
    status_code=204,
    summary="Assign a clinician (admin)",
    responses=problem_responses(401, 403, 404, 422),
)
def assign_clinician(
    sleeper_id: SleeperId, user_id: UserId, db: DB, _admin: AdminCaller
) -> Response:
    """Let the clinician read this sleeper's log (idempotent)."""
    if db.get(Sleeper, sleeper_id) is None:
        raise HTTPException(404, f"no sleeper {sleeper_id}")
    _clinician(db, user_id)
    if db.get(ClinicianAssignment, (user_id, sleeper_id)) is None:
        db.add(ClinicianAssignment(user_id=user_id, sleeper_id=sleeper_id))
        db.commit()
    return Response(status_code=204)


@router.delete(
    "/{sleeper_id}/clinicians/{user_id}",
    status_code=204,
    summary="Unassign a clinician (admin)",
    responses=problem_responses(401, 403, 404, 422),
)
def unassign_clinician(
    sleeper_id: SleeperId, user_id: UserId, db: DB, _admin: AdminCaller
) -> Response:
    """Stop the clinician reading this sleeper's log (idempotent)."""
    if db.get(Sleeper, sleeper_id) is None:
        raise HTTPException(404, f"no sleeper {sleeper_id}")
    _clinician(db, user_id)
    row = db.get(ClinicianAssignment, (user_id, sleeper_id))
    if row is not None:
        db.delete(row)
        db.commit()
    return Response(status_code=204)
