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
from api.wording import kind_words, muscle_words
from sensor.records import Muscle, Side

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

#: Project code systems, where no standard code exists: the event kinds (tonic, clonic and
#: the look-alikes, sensor.records.EventKind), the observation and its components.
KIND_SYSTEM = "urn:crampwatch:event-kind"
COMPONENT_SYSTEM = "urn:crampwatch:observation-component"
OBSERVATION_SYSTEM = "urn:crampwatch:observation"
SLEEPER_SYSTEM = "urn:crampwatch:sleeper"
UCUM = "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"

#: SNOMED CT 55300003 |Cramp (finding)| (synonym "muscle cramp"): a tonic or clonic event.
CRAMP_FINDING = {"system": SNOMED, "code": "55300003", "display": "Cramp"}
#: SNOMED CT body structures by muscle: the calf's muscles are the calf, the shin muscle
#: (tibialis anterior) and an unnamed muscle the lower leg.
CALF = ("53840002", "Structure of calf of leg")
LOWER_LEG = ("30021000", "Lower leg structure")
BODY_SITES = {
    Muscle.GASTROCNEMIUS: CALF,
    Muscle.GASTROCNEMIUS_MEDIAL: CALF,
    Muscle.GASTROCNEMIUS_LATERAL: CALF,
    Muscle.SOLEUS: CALF,
    Muscle.TIBIALIS_ANTERIOR: LOWER_LEG,
    Muscle.FOOT: ("56459004", "Foot structure"),
    Muscle.THIGH: ("68367000", "Thigh structure"),
    Muscle.UNKNOWN: LOWER_LEG,
}
#: SNOMED CT 272741003 |Laterality| with 24028007 |Right| or 7771000 |Left|, refining the
#: body structure in a post-coordinated expression (e.g. 53840002:272741003=24028007).
LATERALITY = "272741003"
SIDES = {Side.RIGHT: "24028007", Side.LEFT: "7771000"}


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


def body_site(muscle: Muscle, side: Side) -> dict[str, Any]:
    """Return the FHIR bodySite of a muscle: a SNOMED CT body structure, refined by its
    laterality when the side is known, with the muscle in words."""
    code, display = BODY_SITES[muscle]
    coding: dict[str, str] = {"system": SNOMED, "code": code, "display": display}
    if side in SIDES:
        coding = {"system": SNOMED, "code": f"{code}:{LATERALITY}={SIDES[side]}"}
    return {"coding": [coding], "text": muscle_words(muscle, side)}


def _component(code: str, text: str, quantity: dict[str, Any]) -> dict[str, Any]:
    return {
        "code": {"coding": [{"system": COMPONENT_SYSTEM, "code": code}], "text": text},
        "valueQuantity": quantity,
    }


def _finite(value: float | None) -> bool:
    return value is not None and value == value and abs(value) != float("inf")


def event_observation(event: EventOut, sleeper_label: str) -> dict[str, Any]:
    """Return one FHIR R4 Observation for an event: the finding (SNOMED CT for a cramp), the
    body site (SNOMED CT with laterality), period, duration and amplitude (UCUM units)."""
    period: dict[str, str] = {"start": event.start_at.isoformat()}
    if event.end_at is not None:
        period["end"] = event.end_at.isoformat()
    components: list[dict[str, Any]] = []
    if event.duration_s is not None:
        components.append(
            _component("duration", "Duration", _quantity(event.duration_s, "s", "s"))
        )
    amp_rel = event.features.get("amp_rel_median")
    baseline = event.features.get("baseline_uv")
    if _finite(amp_rel) and _finite(baseline):
        components.append(
            _component(
                "emg-amplitude",
                "Typical EMG amplitude (RMS) within bursts",
                _quantity(amp_rel * baseline, "µV", "uV"),  # type: ignore[operator]
            )
        )
    if _finite(amp_rel):
        components.append(
            _component(
                "emg-amplitude-relative",
                "Typical EMG amplitude within bursts, times the resting level",
                _quantity(amp_rel, "times resting level", "1"),  # type: ignore[arg-type]
            )
        )
    components.append(
        _component("confidence", "Classifier confidence", _quantity(event.confidence, "1", "1"))
    )
    kind = {"system": KIND_SYSTEM, "code": event.kind.value, "display": kind_words(event.kind)}
    value = {
        "coding": [CRAMP_FINDING, kind] if event.is_cramp else [kind],
        "text": kind_words(event.kind),
    }
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
        "valueCodeableConcept": value,
        "bodySite": body_site(event.channel.muscle, event.channel.side),
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
