"""Exports of a sleeper's events: CSV and a FHIR R4 Bundle."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, Response

from api.deps import DB, ReadableSleeper
from api.errors import problem_responses
from api.event_log import EventFilter, query_events
from api.exports import events_csv, events_fhir_bundle
from api.routers.events import EventQuery
from api.routers.nights import night_by_id
from api.schemas import EventOut
from api.views import event_out

router = APIRouter(prefix="/api/v1/sleepers/{sleeper_id}/export", tags=["exports"])

#: An export is one file; beyond this many events, narrow the time range.
MAX_EXPORT_EVENTS = 50_000


def _events(db: DB, sleeper_id: int, query: EventQuery) -> list[EventOut]:
    flt = query.filter
    if query.night_id is not None:
        flt = EventFilter(
            **{**flt.__dict__, "night_pk": night_by_id(db, sleeper_id, query.night_id).id}
        )
    rows, _next = query_events(db, sleeper_id, flt, MAX_EXPORT_EVENTS)
    return [event_out(e, n) for e, n in rows]


@router.get(
    "/events.csv",
    summary="Events as CSV",
    response_class=Response,
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "CSV"},
        **problem_responses(401, 404, 422),
    },
)
def export_csv(
    sleeper: ReadableSleeper, db: DB, query: Annotated[EventQuery, Depends()]
) -> Response:
    """Return the filtered events as CSV (first 50 000), one row per event."""
    text = events_csv(_events(db, sleeper.id, query))
    name = f"crampwatch-{sleeper.label}-events.csv".replace(" ", "_")
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get(
    "/events.fhir.json",
    summary="Events as a FHIR R4 Bundle of Observations",
    response_class=JSONResponse,
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
    sleeper: ReadableSleeper,
    db: DB,
    query: Annotated[EventQuery, Depends()],
    download: Annotated[bool, Query(description="Ask the browser to save the file.")] = False,
) -> JSONResponse:
    """Return the filtered events as a FHIR R4 Bundle (first 50 000)."""
    bundle: dict[str, Any] = events_fhir_bundle(_events(db, sleeper.id, query), sleeper.label)
    headers = {}
    if download:
        name = f"crampwatch-{sleeper.label}-events.fhir.json".replace(" ", "_")
        headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return JSONResponse(bundle, media_type="application/fhir+json", headers=headers)
