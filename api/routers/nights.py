"""Bands and nights (recording sessions) of one sleeper."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from api.deps import DB, ReadableSleeper, WritableSleeper
from api.errors import problem_responses
from api.event_log import restamp_night_events
from api.models import Band, EventRow, Night
from api.schemas import BandIn, BandOut, NightIn, NightOut, NoNul
from api.summaries import CRAMP_KINDS
from api.timeutil import from_store, offset_minutes, to_store
from api.upsert import claim
from api.views import night_out

router = APIRouter(prefix="/api/v1/sleepers/{sleeper_id}", tags=["nights"])

ClientIdPath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$",
        description="Client-chosen id (letters, digits, . _ : -), unique per sleeper.",
        examples=["n0302"],
    ),
    NoNul(),
]


def night_by_id(db: Session, sleeper_id: int, night_id: str) -> Night:
    """Return the sleeper's night with this id, or raise 404."""
    night = db.scalars(
        select(Night).where(Night.sleeper_id == sleeper_id, Night.night_id == night_id)
    ).first()
    if night is None:
        raise HTTPException(404, f"no night {night_id!r} for sleeper {sleeper_id}")
    return night


def night_counts(db: Session, night_pks: list[int]) -> dict[int, tuple[int, int]]:
    """Return {night pk: (event count, cramp count)}."""
    if not night_pks:
        return {}
    rows = db.execute(
        select(
            EventRow.night_pk,
            func.count(),
            func.sum(case((EventRow.kind.in_(CRAMP_KINDS), 1), else_=0)),
        )
        .where(EventRow.night_pk.in_(night_pks))
        .group_by(EventRow.night_pk)
    ).all()
    return {pk: (int(n), int(cramps or 0)) for pk, n, cramps in rows}


@router.put(
    "/bands/{band_id}",
    response_model=BandOut,
    summary="Register or update a band",
    responses=problem_responses(401, 403, 404, 409, 422),
)
def put_band(band_id: ClientIdPath, body: BandIn, sleeper: WritableSleeper, db: DB) -> BandOut:
    """Return the band as stored for this sleeper (idempotent)."""
    band, _created = claim(db, Band, {"sleeper_id": sleeper.id, "band_id": band_id}, {})
    band.name, band.firmware = body.name, body.firmware
    db.commit()
    return BandOut(
        band_id=band.band_id,
        name=band.name,
        firmware=band.firmware,
        registered_at=from_store(band.registered_at),
    )


@router.get(
    "/bands",
    response_model=list[BandOut],
    summary="The sleeper's bands",
    responses=problem_responses(401, 404, 422),
)
def list_bands(sleeper: ReadableSleeper, db: DB) -> list[BandOut]:
    """Return the bands registered for the sleeper."""
    bands = db.scalars(select(Band).where(Band.sleeper_id == sleeper.id).order_by(Band.band_id))
    return [
        BandOut(
            band_id=b.band_id,
            name=b.name,
            firmware=b.firmware,
            registered_at=from_store(b.registered_at),
        )
        for b in bands
    ]


@router.put(
    "/nights/{night_id}",
    response_model=NightOut,
    summary="Create or update a night",
    responses={
        200: {"description": "The night existed and was updated."},
        201: {"model": NightOut, "description": "The night was created."},
        **problem_responses(401, 403, 404, 409, 422),
    },
)
def put_night(
    night_id: ClientIdPath, body: NightIn, sleeper: WritableSleeper, db: DB, response: Response
) -> NightOut:
    """Return the night as stored; sending the same night again changes nothing (idempotent)."""
    band = None
    if body.band_id is not None:
        band = db.scalars(
            select(Band).where(Band.sleeper_id == sleeper.id, Band.band_id == body.band_id)
        ).first()
        if band is None:
            raise HTTPException(
                422,
                f"band {body.band_id!r} is not registered for this sleeper: "
                "PUT /api/v1/sleepers/{sleeper_id}/bands/{band_id} first",
            )
    started_at = to_store(body.started_at)
    night, created = claim(
        db, Night, {"sleeper_id": sleeper.id, "night_id": night_id}, {"started_at": started_at}
    )
    moved = night.started_at != started_at
    night.started_at = started_at
    night.utc_offset_min = offset_minutes(body.started_at)
    night.ended_at = None if body.ended_at is None else to_store(body.ended_at)
    night.band = band
    night.detector_version, night.model_version = body.detector_version, body.model_version
    night.note = body.note
    db.flush()
    if moved and not created:
        restamp_night_events(db, night)
    db.commit()
    response.status_code = 201 if created else 200
    n, cramps = night_counts(db, [night.id]).get(night.id, (0, 0))
    return night_out(night, n, cramps)


@router.get(
    "/nights",
    response_model=list[NightOut],
    summary="The sleeper's nights, newest first",
    responses=problem_responses(401, 404, 422),
)
def list_nights(
    sleeper: ReadableSleeper,
    db: DB,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many nights.")] = 366,
) -> list[NightOut]:
    """Return the sleeper's nights with event and cramp counts."""
    nights = db.scalars(
        select(Night)
        .where(Night.sleeper_id == sleeper.id)
        .order_by(Night.started_at.desc())
        .limit(limit)
    ).all()
    counts = night_counts(db, [n.id for n in nights])
    return [night_out(n, *counts.get(n.id, (0, 0))) for n in nights]


@router.get(
    "/nights/{night_id}",
    response_model=NightOut,
    summary="One night",
    responses=problem_responses(401, 404, 422),
)
def read_night(night_id: ClientIdPath, sleeper: ReadableSleeper, db: DB) -> NightOut:
    """Return the night with its event and cramp counts."""
    night = night_by_id(db, sleeper.id, night_id)
    return night_out(night, *night_counts(db, [night.id]).get(night.id, (0, 0)))
