"""Per-night and per-week summaries for a sleeper."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from sqlalchemy import select

from api.deps import DB, ReadableSleeper
from api.errors import problem_responses
from api.models import Night
from api.routers.nights import ClientIdPath, night_by_id
from api.schemas import IsoDate, NightSummary, WeekSummary
from api.summaries import summarize_night, summarize_weeks
from api.timeutil import night_date

router = APIRouter(prefix="/api/v1/sleepers/{sleeper_id}", tags=["summaries"])

#: Two years of weeks is the longest trend asked for at once.
MAX_WEEKS = 106
DEFAULT_WEEKS = 12


@router.get(
    "/nights/{night_id}/summary",
    response_model=NightSummary,
    summary="A night's counts, durations, clock-hour histogram and red flags",
    responses=problem_responses(401, 404, 422),
)
def night_summary(night_id: ClientIdPath, sleeper: ReadableSleeper, db: DB) -> NightSummary:
    """Return the night summary."""
    return summarize_night(db, night_by_id(db, sleeper.id, night_id))


def default_last_day(db: DB, sleeper_id: int) -> dt.date:
    """Return the date of the sleeper's latest night, or today if none."""
    last = db.scalars(
        select(Night).where(Night.sleeper_id == sleeper_id).order_by(Night.started_at.desc())
    ).first()
    if last is None:
        return dt.datetime.now(dt.UTC).date()
    return night_date(last.started_at, last.utc_offset_min)


@router.get(
    "/weeks",
    response_model=list[WeekSummary],
    summary="Week-by-week summaries (trend)",
    responses=problem_responses(401, 404, 422),
)
def week_summaries(
    sleeper: ReadableSleeper,
    db: DB,
    since: Annotated[
        IsoDate | None, Query(description="First night date; default 12 weeks before `until`.")
    ] = None,
    until: Annotated[
        IsoDate | None, Query(description="Last night date; default the latest night's.")
    ] = None,
) -> list[WeekSummary]:
    """Return one summary per ISO week (Monday start) in the range, empty weeks included."""
    for value in (since, until):
        if value is not None and not 1900 <= value.year <= 9000:
            raise HTTPException(422, "since and until must be between the years 1900 and 9000")
    last = until or default_last_day(db, sleeper.id)
    first = since or (last - dt.timedelta(weeks=DEFAULT_WEEKS - 1))
    if last < first:
        raise HTTPException(422, "until is before since")
    if (last - first).days > MAX_WEEKS * 7:
        raise HTTPException(422, f"ask for at most {MAX_WEEKS} weeks at once")
    return summarize_weeks(db, sleeper.id, first, last)
