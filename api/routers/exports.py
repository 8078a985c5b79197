"""Exports of a sleeper's events: CSV and a FHIR R4 Bundle, streamed as they are read."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from api.deps import DB, ReadableSleeper
from api.errors import problem_responses
from api.event_log import EventFilter, query_events
from api.exports import events_csv_chunks, events_fhir_chunks
from api.routers.events import EventQuery
from api.routers.nights import night_by_id
from api.schemas import EventOut
from api.store import Store
from api.views import event_out

router = APIRouter(prefix="/api/v1/sleepers/{sleeper_id}/export", tags=["exports"])

#: Events read and written per step: memory stays that of one page, whatever the export's size.
EXPORT_PAGE_EVENTS = 1000


def _filter(db: DB, sleeper_id: int, query: EventQuery) -> EventFilter:
    flt = query.filter
    if query.night_id is not None:
        flt = EventFilter(
            **{**flt.__dict__, "night_pk": night_by_id(db, sleeper_id, query.night_id).id}
        )
    return flt


def event_pages(store: Store, sleeper_id: int, flt: EventFilter) -> Iterator[list[EventOut]]:
    """Yield the sleeper's filtered events in start order, one page at a time, from a
    session of its own (the request's session ends before a streamed body does)."""
    cursor: str | None = None
    with store.sessions() as db:
        while True:
            rows, cursor = query_events(db, sleeper_id, flt, EXPORT_PAGE_EVENTS, cursor)
            page = [event_out(event, night) for event, night in rows]
            db.expunge_all()
            yield page
            if cursor is None:
                return


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name.replace(" ", "_")}"'}


@router.get(
    "/events.csv",
    summary="Events as CSV",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "CSV"},
        **problem_responses(401, 404, 422),
    },
)
def export_csv(
    request: Request, sleeper: ReadableSleeper, db: DB, query: Annotated[EventQuery, Depends()]
) -> StreamingResponse:
    """Return every filtered event as CSV, one row per event, streamed as it is read.

    Cells that a spreadsheet would run as a formula (starting with = + - @, tab or CR)
    are written with a leading apostrophe.
    """
    pages = event_pages(request.app.state.store, sleeper.id, _filter(db, sleeper.id, query))
    return StreamingResponse(
        events_csv_chunks(pages),
        media_type="text/csv; charset=utf-8",
        headers=_attachment(f"crampwatch-{sleeper.label}-events.csv"),
    )


@router.get(
    "/events.fhir.json",
    summary="Events as a FHIR R4 Bundle of Observations",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {
                "application/fhir+json": {
                    "schema": {"type": "object", "required": ["resourceType", "type", "entry"]}
                }
            },
            "description": "A Bundle (type collection), one Observation per event.",
        },
        **problem_responses(401, 404, 422),
    },
)
def export_fhir(
    request: Request,
    sleeper: ReadableSleeper,
    db: DB,
    query: Annotated[EventQuery, Depends()],
    download: Annotated[bool, Query(description="Ask the browser to save the file.")] = False,
) -> StreamingResponse:
    """Return every filtered event as a FHIR R4 Bundle, streamed as it is read."""
    pages = event_pages(request.app.state.store, sleeper.id, _filter(db, sleeper.id, query))
    headers = {}
    if download:
        headers = _attachment(f"crampwatch-{sleeper.label}-events.fhir.json")
    return StreamingResponse(
        events_fhir_chunks(pages, sleeper.label),
        media_type="application/fhir+json",
        headers=headers,
    )
