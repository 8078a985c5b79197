"""Storage rows to API bodies: one function per response shape."""

from __future__ import annotations

from datetime import timedelta

from api.models import DiaryEntry, EventRow, Night, Prompt, Sleeper
from api.schemas import (
    ChannelOut,
    DiaryOut,
    Envelope,
    EnvelopeChannel,
    EventOut,
    NightOut,
    PromptOut,
    SleeperOut,
)
from api.timeutil import from_store, night_date
from sensor.records import EventKind, Muscle, Side


def event_out(row: EventRow, night: Night) -> EventOut:
    """Return the API view of one stored event, times at the night's UTC offset."""
    offset = night.utc_offset_min
    end_at = None
    if row.end_s is not None:
        end_at = from_store(night.started_at + timedelta(seconds=row.end_s), offset)
    kind = EventKind(row.kind)
    return EventOut(
        event_id=row.event_id,
        night_id=night.night_id,
        sleeper_id=row.sleeper_id,
        channel=ChannelOut(label=row.channel_label, muscle=Muscle(row.muscle), side=Side(row.side)),
        start_s=row.start_s,
        end_s=row.end_s,
        start_at=from_store(row.start_at, offset),
        end_at=end_at,
        duration_s=row.duration_s,
        kind=kind,
        is_cramp=kind.is_cramp,
        confidence=row.confidence,
        features=dict(row.features or {}),
        detector_version=row.detector_version,
        model_version=row.model_version,
        final=row.final,
        has_envelope=row.envelope is not None,
        updated_at=from_store(row.updated_at),
    )


def envelope_out(row: EventRow) -> Envelope | None:
    """Return the muscles' envelopes around the event, or None if the hub sent none."""
    if row.envelope is None:
        return None
    return Envelope(
        start_s=row.envelope.start_s,
        step_s=row.envelope.step_s,
        channels=[EnvelopeChannel(**channel) for channel in row.envelope.channels],
    )


def night_out(night: Night, event_count: int, cramp_count: int) -> NightOut:
    """Return the API view of a night with its event counts."""
    return NightOut(
        night_id=night.night_id,
        sleeper_id=night.sleeper_id,
        started_at=from_store(night.started_at, night.utc_offset_min),
        ended_at=None
        if night.ended_at is None
        else from_store(night.ended_at, night.utc_offset_min),
        night_date=night_date(night.started_at, night.utc_offset_min),
        band_id=None if night.band is None else night.band.band_id,
        detector_version=night.detector_version,
        model_version=night.model_version,
        note=night.note,
        event_count=event_count,
        cramp_count=cramp_count,
    )


def prompt_out(row: Prompt, utc_offset_min: int = 0) -> PromptOut:
    """Return the API view of a prompt; response time from sent to acknowledged in s."""

    def local(value):  # type: ignore[no-untyped-def]
        return None if value is None else from_store(value, utc_offset_min)

    response_s = None
    if row.acknowledged_at is not None:
        response_s = (row.acknowledged_at - row.sent_at).total_seconds()
    return PromptOut(
        prompt_id=row.prompt_id,
        event_id=row.event_id,
        night_id=row.night_id,
        sent_at=from_store(row.sent_at, utc_offset_min),
        channel=row.channel,
        level=row.level,
        escalated_at=local(row.escalated_at),
        escalated_channel=row.escalated_channel,
        acknowledged_at=local(row.acknowledged_at),
        acknowledged_channel=row.acknowledged_channel,
        response_s=response_s,
    )


def diary_out(row: DiaryEntry) -> DiaryOut:
    """Return the API view of a diary entry."""
    return DiaryOut(
        entry_id=row.entry_id,
        entry_date=row.entry_date,
        night_id=row.night_id,
        event_id=row.event_id,
        pain_0_10=row.pain_0_10,
        sleep_disturbance_0_10=row.sleep_disturbance_0_10,
        note=row.note,
        recorded_at=from_store(row.recorded_at),
    )


def sleeper_out(sleeper: Sleeper, night_count: int, last_start: Night | None) -> SleeperOut:
    """Return the API view of a sleeper with how many nights are recorded."""
    return SleeperOut(
        sleeper_id=sleeper.id,
        label=sleeper.label,
        note=sleeper.note,
        night_count=night_count,
        last_night_start=None
        if last_start is None
        else from_store(last_start.started_at, last_start.utc_offset_min),
        last_night_date=None
        if last_start is None
        else night_date(last_start.started_at, last_start.utc_offset_min),
    )
