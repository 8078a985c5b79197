"""Events: idempotent upload by the hub, filtered and paginated reading, detail with envelope."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from pydantic import AwareDatetime
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from api.deps import DB, ReadableSleeper, WritableSleeper
from api.errors import problem_responses
from api.event_log import EventFilter, ingest_events, query_events
from api.models import DiaryEntry, EventRow, Prompt
from api.routers.nights import ClientIdPath, night_by_id
from api.schemas import EventBatchIn, EventDetail, EventPage, IngestResult, NoNul
from api.views import diary_out, envelope_out, event_out, prompt_out
from sensor.records import EventKind

router = APIRouter(prefix="/api/v1/sleepers/{sleeper_id}", tags=["events"])


class EventQuery:
    """The filters of an events listing, as query parameters."""

    def __init__(
        self,
        start: Annotated[
            AwareDatetime | None,
            Query(description="Events starting at or after this time (ISO 8601 with offset)."),
        ] = None,
        end: Annotated[
            AwareDatetime | None, Query(description="Events starting before this time.")
        ] = None,
        kind: Annotated[
            list[EventKind] | None,
            Query(description="Only these kinds (repeat the parameter for several)."),
        ] = None,
        cramps_only: Annotated[bool, Query(description="Only tonic and clonic cramps.")] = False,
        min_duration_s: Annotated[
            float | None, Query(ge=0, le=172_800, description="Only events lasting >= this (s).")
        ] = None,
        min_confidence: Annotated[
            float | None, Query(ge=0, le=1, description="Only events with confidence >= this.")
        ] = None,
        night_id: Annotated[
            str | None,
            Query(
                min_length=1,
                max_length=64,
                pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$",
                description="Only this night's events.",
            ),
            NoNul(),
        ] = None,
        final_only: Annotated[bool, Query(description="Hide provisional events.")] = False,
    ) -> None:
        if start is not None and end is not None and end <= start:
            raise HTTPException(422, "end must be after start")
        for value in (start, end):
            # Checked on the written year: converting year 1 or 9999 to UTC can overflow.
            if value is not None and not 1900 <= value.year <= 9000:
                raise HTTPException(422, "start and end must be between the years 1900 and 9000")
        kinds = set(kind or ())
        if cramps_only:
            kinds = {k for k in (kinds or set(EventKind)) if k.is_cramp}
            if not kinds:
                raise HTTPException(422, "cramps_only with only non-cramp kinds selects nothing")
        self.filter = EventFilter(
            start=start,
            end=end,
            kinds=tuple(sorted(k.value for k in kinds)),
            min_duration_s=min_duration_s,
            min_confidence=min_confidence,
            final_only=final_only,
        )
        self.night_id = night_id


@router.post(
    "/nights/{night_id}/events",
    response_model=IngestResult,
    summary="Upload events of a night (idempotent)",
    responses=problem_responses(401, 403, 404, 409, 422),
)
def upload_events(
    night_id: ClientIdPath, body: EventBatchIn, sleeper: WritableSleeper, db: DB
) -> IngestResult:
    """Store up to 1000 events; ids already stored are updated in place, never duplicated.

    Retrying an upload after a network failure is safe. A provisional event sent again as
    final (same id) is updated; a provisional version never overwrites a stored final one.
    """
    night = night_by_id(db, sleeper.id, night_id)
    try:
        return ingest_events(db, night, body.events)
    except IntegrityError:
        # A concurrent retry of the same upload inserted some ids first: now they are
        # stored, so doing it again updates or leaves them (idempotent), never duplicates.
        db.rollback()
        return ingest_events(db, night, body.events)


@router.get(
    "/events",
    response_model=EventPage,
    summary="The sleeper's events, filtered, in start order",
    responses=problem_responses(401, 404, 422),
)
def list_events(
    sleeper: ReadableSleeper,
    db: DB,
    query: Annotated[EventQuery, Depends()],
    limit: Annotated[int, Query(ge=1, le=1000, description="Page size.")] = 100,
    cursor: Annotated[
        str | None,
        Query(max_length=200, description="next_cursor of the previous page."),
        NoNul(),
    ] = None,
) -> Response:
    """Return one page of events and the cursor of the next."""
    flt = query.filter
    if query.night_id is not None:
        night = night_by_id(db, sleeper.id, query.night_id)
        flt = EventFilter(**{**flt.__dict__, "night_pk": night.id})
    rows, next_cursor = query_events(db, sleeper.id, flt, limit, cursor)
    page = EventPage(items=[event_out(e, n) for e, n in rows], next_cursor=next_cursor)
    # Already validated while built: serialise once instead of FastAPI validating it again.
    return Response(page.model_dump_json(), media_type="application/json")


@router.get(
    "/events/{event_id}",
    response_model=EventDetail,
    summary="One event with its muscles' envelopes, prompts and diary entries",
    responses=problem_responses(401, 404, 422),
)
def read_event(event_id: ClientIdPath, sleeper: ReadableSleeper, db: DB) -> EventDetail:
    """Return the event in full."""
    row = db.scalars(
        select(EventRow)
        .where(EventRow.sleeper_id == sleeper.id, EventRow.event_id == event_id)
        .options(selectinload(EventRow.envelope), selectinload(EventRow.night))
    ).first()
    if row is None:
        raise HTTPException(404, f"no event {event_id!r} for sleeper {sleeper.id}")
    prompts = db.scalars(
        select(Prompt)
        .where(Prompt.sleeper_id == sleeper.id, Prompt.event_id == event_id)
        .order_by(Prompt.sent_at)
    )
    diary = db.scalars(
        select(DiaryEntry)
        .where(DiaryEntry.sleeper_id == sleeper.id, DiaryEntry.event_id == event_id)
        .order_by(DiaryEntry.entry_date)
    )
    base = event_out(row, row.night)
    return EventDetail(
        **base.model_dump(),
        envelope=envelope_out(row),
        prompts=[prompt_out(p, row.night.utc_offset_min) for p in prompts],
        diary=[diary_out(d) for d in diary],
    )
