"""Writing and reading the event log: idempotent ingest and keyset-paginated queries."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.orm import Session, selectinload

from api.models import EventEnvelope, EventRow, Night, utcnow
from api.schemas import EventIn, IngestResult
from api.timeutil import to_store
from api.upsert import insert_new
from sensor.records import EventKind


class EventConflictError(ValueError):
    """An event id is already used by another night of the same sleeper."""


class BadCursorError(ValueError):
    """A pagination cursor that this API did not hand out."""


def _values(event: EventIn, night: Night) -> dict[str, Any]:
    duration_s = None if event.end_s is None else event.end_s - event.start_s
    return {
        "channel_label": event.channel.label,
        "muscle": event.channel.muscle.value,
        "side": event.channel.side.value,
        "start_s": event.start_s,
        "end_s": event.end_s,
        "start_at": night.started_at + dt.timedelta(seconds=event.start_s),
        "duration_s": duration_s,
        "kind": event.kind.value,
        "confidence": event.confidence,
        "features": dict(event.features),
        "detector_version": event.detector_version,
        "model_version": event.model_version,
        "final": event.final,
    }


def _envelope_values(event: EventIn) -> dict[str, Any] | None:
    if event.envelope is None:
        return None
    return {
        "start_s": event.envelope.start_s,
        "step_s": event.envelope.step_s,
        "channels": [channel.model_dump(mode="json") for channel in event.envelope.channels],
    }


def ingest_events(db: Session, night: Night, events: Sequence[EventIn]) -> IngestResult:
    """Return what storing ``events`` for ``night`` did; the same upload twice creates nothing.

    New ids are inserted with INSERT ... ON CONFLICT DO NOTHING on the (sleeper, event id)
    unique key, so hubs sending the same batch at the same moment each get an answer and
    every event is stored once. An event whose id is already stored is updated in place (a
    provisional call made final, a running episode given its end), under a row lock. A
    provisional version never replaces a stored final one: a late retry of an old upload
    must not undo the final call.
    """
    now = utcnow()
    values = {event.event_id: _values(event, night) for event in events}
    # New events go in with one executemany: the ORM's per-object flush is 10x slower.
    created_pks = insert_new(
        db,
        EventRow,
        [
            {
                "sleeper_id": night.sleeper_id,
                "night_pk": night.id,
                "event_id": event.event_id,
                "received_at": now,
                "updated_at": now,
                **values[event.event_id],
            }
            for event in events
        ],
        ("sleeper_id", "event_id"),
    )
    created_ids: dict[str, int] = {}
    if created_pks:
        created_ids = dict(
            db.execute(
                select(EventRow.event_id, EventRow.id).where(EventRow.id.in_(created_pks))
            ).all()
        )
    envelopes = [
        {"event_pk": created_ids[event.event_id], **envelope}
        for event in events
        if event.event_id in created_ids and (envelope := _envelope_values(event)) is not None
    ]
    if envelopes:
        db.execute(insert(EventEnvelope), envelopes)
    stored_ids = [event.event_id for event in events if event.event_id not in created_ids]
    existing = {}
    if stored_ids:
        existing = {
            row.event_id: row
            for row in db.scalars(
                select(EventRow)
                .where(EventRow.sleeper_id == night.sleeper_id, EventRow.event_id.in_(stored_ids))
                .options(selectinload(EventRow.envelope))
                # Rows locked in one order by every upload: two hubs sending the same
                # batch then wait for each other instead of deadlocking.
                .order_by(EventRow.id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        }
    updated = unchanged = 0
    kept_final: list[str] = []
    for event in events:
        row = existing.get(event.event_id)
        if row is None:
            continue
        if row.night_pk != night.id:
            db.rollback()
            raise EventConflictError(
                f"event id {event.event_id!r} already belongs to another night of this "
                "sleeper: event ids must be unique per sleeper"
            )
        if row.final and not event.final:
            kept_final.append(event.event_id)
            continue
        new_values = values[event.event_id]
        envelope = _envelope_values(event)
        stored_envelope = None
        if row.envelope is not None:
            stored_envelope = {
                "start_s": row.envelope.start_s,
                "step_s": row.envelope.step_s,
                "channels": row.envelope.channels,
            }
        same = all(getattr(row, key) == value for key, value in new_values.items())
        # A retry without an envelope keeps the stored one; a new envelope replaces it.
        if same and (envelope is None or envelope == stored_envelope):
            unchanged += 1
            continue
        for key, value in new_values.items():
            setattr(row, key, value)
        if envelope is not None:
            if row.envelope is None:
                row.envelope = EventEnvelope(**envelope)
            else:
                for key, value in envelope.items():
                    setattr(row.envelope, key, value)
        row.updated_at = now
        updated += 1
    db.commit()
    return IngestResult(
        created=len(created_ids), updated=updated, unchanged=unchanged, kept_final=kept_final
    )


def restamp_night_events(db: Session, night: Night) -> None:
    """Recompute the wall-clock start of the night's events after its start time changed."""
    rows = db.execute(select(EventRow.id, EventRow.start_s).where(EventRow.night_pk == night.id))
    for event_pk, start_s in rows.all():
        db.execute(
            update(EventRow)
            .where(EventRow.id == event_pk)
            .values(start_at=night.started_at + dt.timedelta(seconds=start_s))
        )


@dataclass(frozen=True)
class EventFilter:
    """Which events to list: time range on the wall clock, kinds, and lower bounds."""

    start: dt.datetime | None = None
    end: dt.datetime | None = None
    kinds: tuple[str, ...] = ()
    min_duration_s: float | None = None
    min_confidence: float | None = None
    night_pk: int | None = None
    final_only: bool = False


def encode_cursor(row: EventRow) -> str:
    """Return an opaque cursor pointing just after ``row`` in (start time, id) order."""
    text = f"{row.start_at.isoformat()}|{row.id}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


#: Row ids are 32-bit on every backend: a cursor naming a larger one was not handed out
#: (and would overflow the database's integer, a server error instead of a refusal).
MAX_ROW_ID = 2_147_483_647


def decode_cursor(cursor: str) -> tuple[dt.datetime, int]:
    """Return the (start time, id) a cursor points after; BadCursorError if it is not ours."""
    refusal = "cursor is not one this API handed out: repeat the query without it"
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, _, pk_text = text.partition("|")
        start_at, pk = dt.datetime.fromisoformat(stamp), int(pk_text)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise BadCursorError(refusal) from exc
    in_range = 0 <= pk <= MAX_ROW_ID and 1900 <= start_at.year <= 9000
    if not in_range or start_at.tzinfo is not None:
        raise BadCursorError(refusal)
    return start_at, pk


def query_events(
    db: Session, sleeper_id: int, flt: EventFilter, limit: int, cursor: str | None = None
) -> tuple[list[tuple[EventRow, Night]], str | None]:
    """Return one page of a sleeper's events in start order, and the cursor of the next page."""
    stmt = (
        select(EventRow, Night)
        .join(Night, EventRow.night_pk == Night.id)
        .where(EventRow.sleeper_id == sleeper_id)
        .options(selectinload(EventRow.envelope).load_only(EventEnvelope.event_pk))
    )
    if flt.start is not None:
        stmt = stmt.where(EventRow.start_at >= to_store(flt.start))
    if flt.end is not None:
        stmt = stmt.where(EventRow.start_at < to_store(flt.end))
    if flt.kinds:
        stmt = stmt.where(EventRow.kind.in_(flt.kinds))
    if flt.min_duration_s is not None:
        stmt = stmt.where(EventRow.duration_s >= flt.min_duration_s)
    if flt.min_confidence is not None:
        stmt = stmt.where(EventRow.confidence >= flt.min_confidence)
    if flt.night_pk is not None:
        stmt = stmt.where(EventRow.night_pk == flt.night_pk)
    if flt.final_only:
        stmt = stmt.where(EventRow.final.is_(True))
    if cursor is not None:
        after_at, after_pk = decode_cursor(cursor)
        stmt = stmt.where(
            or_(
                EventRow.start_at > after_at,
                and_(EventRow.start_at == after_at, EventRow.id > after_pk),
            )
        )
    if (
        flt.min_duration_s is not None
        and flt.kinds
        and all(EventKind(kind).is_cramp for kind in flt.kinds)
    ):
        # "Cramps lasting over N s" matches a handful of a sleeper's events: find them in
        # the (sleeper, kind, duration) index first, then sort those few, rather than walk
        # the whole time-ordered log (the planner cannot tell from bound parameters).
        few = select(EventRow.id).where(
            EventRow.sleeper_id == sleeper_id,
            EventRow.kind.in_(flt.kinds),
            EventRow.duration_s >= flt.min_duration_s,
        )
        stmt = stmt.where(EventRow.id.in_(few))
    stmt = stmt.order_by(EventRow.start_at, EventRow.id).limit(limit + 1)
    rows = [(event, night) for event, night in db.execute(stmt).all()]
    next_cursor = encode_cursor(rows[limit - 1][0]) if len(rows) > limit else None
    return rows[:limit], next_cursor
