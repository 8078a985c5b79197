"""The sleeper's diary: pain and sleep-disturbance scores and notes, per night or per event."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response
from sqlalchemy import select

from api.deps import DB, ReadableSleeper, WritableSleeper
from api.errors import problem_responses
from api.models import DiaryEntry, utcnow
from api.routers.nights import ClientIdPath
from api.schemas import DiaryIn, DiaryOut, IsoDate
from api.upsert import claim
from api.views import diary_out

router = APIRouter(prefix="/api/v1/sleepers/{sleeper_id}/diary", tags=["diary"])


@router.put(
    "/{entry_id}",
    response_model=DiaryOut,
    summary="Add or correct a diary entry (idempotent)",
    responses={
        201: {"model": DiaryOut, "description": "The entry was new."},
        **problem_responses(401, 403, 404, 409, 422),
    },
)
def put_entry(
    entry_id: ClientIdPath, body: DiaryIn, sleeper: WritableSleeper, db: DB, response: Response
) -> DiaryOut:
    """Return the entry as stored."""
    row, created = claim(
        db, DiaryEntry, {"sleeper_id": sleeper.id, "entry_id": entry_id},
        {"entry_date": body.entry_date},
    )
    row.entry_date, row.night_id, row.event_id = body.entry_date, body.night_id, body.event_id
    row.pain_0_10, row.sleep_disturbance_0_10 = body.pain_0_10, body.sleep_disturbance_0_10
    row.note, row.recorded_at = body.note, utcnow()
    db.commit()
    response.status_code = 201 if created else 200
    return diary_out(row)


@router.get(
    "",
    response_model=list[DiaryOut],
    summary="The sleeper's diary entries, newest first",
    responses=problem_responses(401, 404, 422),
)
def list_entries(
    sleeper: ReadableSleeper,
    db: DB,
    since: Annotated[IsoDate | None, Query(description="Entries on or after this date.")] = None,
    until: Annotated[IsoDate | None, Query(description="Entries on or before this date.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[DiaryOut]:
    """Return diary entries in a date range."""
    if since is not None and until is not None and until < since:
        raise HTTPException(422, "until is before since")
    stmt = select(DiaryEntry).where(DiaryEntry.sleeper_id == sleeper.id)
    if since is not None:
        stmt = stmt.where(DiaryEntry.entry_date >= since)
    if until is not None:
        stmt = stmt.where(DiaryEntry.entry_date <= until)
    rows = db.scalars(
        stmt.order_by(DiaryEntry.entry_date.desc(), DiaryEntry.id.desc()).limit(limit)
    )
    return [diary_out(row) for row in rows]
