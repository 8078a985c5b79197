"""Exports of a sleeper's events: CSV for spreadsheets, a FHIR R4 Bundle for health records."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from api.schemas import EventOut

CSV_COLUMNS = (
    "event_id",
    "night_id",
    "start_at",
    "end_at",
    "start_s",
    "end_s",
    "duration_s",
    "kind",
    "is_cramp",
    "confidence",
    "muscle",
    "side",
    "channel_label",
    "final",
    "detector_version",
    "model_version",
)

#: Project code systems: the event vocabulary is crampwatch's own (sensor.records.EventKind).
KIND_SYSTEM = "urn:crampwatch:event-kind"
COMPONENT_SYSTEM = "urn:crampwatch:observation-component"
OBSERVATION_SYSTEM = "urn:crampwatch:observation"
SLEEPER_SYSTEM = "urn:crampwatch:sleeper"
UCUM = "http://unitsofmeasure.org"


def events_csv(events: Iterable[EventOut]) -> str:
    """Return the events as CSV text, one row per event, times ISO 8601 with offset."""
    return "".join(events_csv_chunks([list(events)]))


def events_csv_chunks(pages: Iterable[Iterable[EventOut]]) -> Iterator[str]:
    """Yield CSV text: the header, then one chunk per page of events (constant memory)."""
    buffer = io.StringIO()
    # CRLF rows (RFC 4180): a cell holding CR or LF is then always quoted, never a row break.
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    yield _drain(buffer)
    for page in pages:
        for event in page:
            writer.writerow(_csv_row(event))
        yield _drain(buffer)


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def _csv_row(event: EventOut) -> list[str | int]:
    return [
        _csv_safe(event.event_id),
        _csv_safe(event.night_id),
        event.start_at.isoformat(),
        "" if event.end_at is None else event.end_at.isoformat(),
        f"{event.start_s:.3f}",
        "" if event.end_s is None else f"{event.end_s:.3f}",
        "" if event.duration_s is None else f"{event.duration_s:.3f}",
        event.kind.value,
        int(event.is_cramp),
        f"{event.confidence:.3f}",
        event.channel.muscle.value,
        event.channel.side.value,
        _csv_safe(event.channel.label),
        int(event.final),
        _csv_safe(event.detector_version),
        _csv_safe(event.model_version),
    ]


#: Spreadsheets run a cell starting with one of these as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _csv_safe(text: str) -> str:
    # A leading apostrophe makes the spreadsheet show the cell as text, never evaluate it.
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _quantity(value: float, unit: str, code: str) -> dict[str, Any]:
    return {"value": round(value, 3), "unit": unit, "system": UCUM, "code": code}


def event_observation(event: EventOut, sleeper_label: str) -> dict[str, Any]:
    """Return one FHIR R4 Observation for an event: coded kind, period, duration, confidence."""
    period: dict[str, str] = {"start": event.start_at.isoformat()}
    if event.end_at is not None:
        period["end"] = event.end_at.isoformat()
    components: list[dict[str, Any]] = [
        {
            "code": {
                "coding": [{"system": COMPONENT_SYSTEM, "code": "confidence"}],
                "text": "Classifier confidence",
            },
            "valueQuantity": _quantity(event.confidence, "1", "1"),
        }
    ]
    if event.duration_s is not None:
        components.insert(
            0,
            {
                "code": {
                    "coding": [{"system": COMPONENT_SYSTEM, "code": "duration"}],
                    "text": "Duration",
                },
                "valueQuantity": _quantity(event.duration_s, "s", "s"),
            },
        )
    kind_text = "muscle cramp, " + event.kind.value if event.is_cramp else event.kind.value
    return {
        "resourceType": "Observation",
        "id": f"{event.sleeper_id}-{event.event_id}".replace(":", "-").replace("_", "-")[:64],
        "identifier": [
            {"system": f"urn:crampwatch:sleeper:{event.sleeper_id}:event", "value": event.event_id}
        ],
        "status": "final" if event.final else "preliminary",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "activity",
                        "display": "Activity",
                    }
                ]
            }
        ],
        "code": {
            "coding": [{"system": OBSERVATION_SYSTEM, "code": "leg-muscle-event"}],
            "text": "Night-time leg muscle event (surface EMG)",
        },
        "subject": {
            "identifier": {"system": SLEEPER_SYSTEM, "value": sleeper_label},
            "display": sleeper_label,
        },
        "effectivePeriod": period,
        "valueCodeableConcept": {
            "coding": [{"system": KIND_SYSTEM, "code": event.kind.value}],
            "text": kind_text,
        },
        "bodySite": {
            "text": f"{event.channel.side.value} {event.channel.muscle.value}".replace("_", " ")
        },
        "device": {
            "display": f"crampwatch detector {event.detector_version}, model {event.model_version}"
        },
        "component": components,
    }


def events_fhir_bundle(
    events: Iterable[EventOut], sleeper_label: str, now: dt.datetime | None = None
) -> dict[str, Any]:
    """Return a FHIR R4 Bundle (type collection) with one Observation per event."""
    return json.loads("".join(events_fhir_chunks([list(events)], sleeper_label, now)))


def events_fhir_chunks(
    pages: Iterable[Iterable[EventOut]], sleeper_label: str, now: dt.datetime | None = None
) -> Iterator[str]:
    """Yield a FHIR R4 Bundle (type collection) as JSON text, one chunk per page of events,
    so a bundle of any size is written in constant memory."""
    stamp = (now or dt.datetime.now(dt.UTC)).isoformat()
    head = {"resourceType": "Bundle", "type": "collection", "timestamp": stamp}
    yield json.dumps(head)[:-1] + ', "entry": ['
    first = True
    for page in pages:
        parts = []
        for event in page:
            entry = {
                "fullUrl": f"urn:uuid:{_uuid_for(event)}",
                "resource": event_observation(event, sleeper_label),
            }
            parts.append(("" if first else ",") + json.dumps(entry))
            first = False
        yield "".join(parts)
    yield "]}"


def _uuid_for(event: EventOut) -> str:
    # Stable per event, so re-exporting the same event gives the same fullUrl.
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"crampwatch:{event.sleeper_id}:{event.event_id}"))
