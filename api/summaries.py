"""Per-night and per-week summaries of a sleeper's cramps (DOMAIN.md, clinician's log)."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.models import DiaryEntry, EventRow, Night, Prompt
from api.schemas import NightSummary, WeekSummary
from api.timeutil import from_store, night_date, week_start
from sensor.records import EventKind
from sensor.red_flags import RED_FLAG_CRAMP_S

#: A cramp that has not let go after 10 minutes is a red flag (DOMAIN.md, "Red flags").
LONG_EPISODE_S = RED_FLAG_CRAMP_S
#: Cramps several times a night are a red flag; trials count nights with >= 2 (DOMAIN.md).
MANY_CRAMPS_PER_NIGHT = 2
CRAMP_KINDS = tuple(kind.value for kind in EventKind if kind.is_cramp)


@dataclass(frozen=True)
class CrampTimes:
    """The few fields of one cramp that summaries need."""

    event_id: str
    night_pk: int
    start_at: dt.datetime
    duration_s: float | None


@dataclass
class _WeekBin:
    nights: list[Night] = field(default_factory=list)
    pain: list[int] = field(default_factory=list)
    sleep: list[int] = field(default_factory=list)


def local_hour(start_at_utc: dt.datetime, utc_offset_min: int) -> int:
    """Return the sleeper's local clock hour (0-23) of a stored UTC time."""
    return (start_at_utc + dt.timedelta(minutes=utc_offset_min)).hour


def _cramps(db: Session, night_pks: Iterable[int]) -> list[CrampTimes]:
    pks = list(night_pks)
    if not pks:
        return []
    rows = db.execute(
        select(EventRow.event_id, EventRow.night_pk, EventRow.start_at, EventRow.duration_s)
        .where(EventRow.night_pk.in_(pks), EventRow.kind.in_(CRAMP_KINDS))
        .order_by(EventRow.start_at)
    )
    return [CrampTimes(*row) for row in rows.all()]


def summarize_night(db: Session, night: Night) -> NightSummary:
    """Return the night's counts, cramp durations in s, clock-hour histogram and red flags."""
    counts = {
        kind: count
        for kind, count in db.execute(
            select(EventRow.kind, func.count())
            .where(EventRow.night_pk == night.id)
            .group_by(EventRow.kind)
        ).all()
    }
    cramps = _cramps(db, [night.id])
    durations = [c.duration_s for c in cramps if c.duration_s is not None]
    histogram = [0] * 24
    for cramp in cramps:
        histogram[local_hour(cramp.start_at, night.utc_offset_min)] += 1
    prompt_rows = db.execute(
        select(Prompt.acknowledged_at).where(
            Prompt.sleeper_id == night.sleeper_id, Prompt.night_id == night.night_id
        )
    ).all()
    return NightSummary(
        night_id=night.night_id,
        night_date=night_date(night.started_at, night.utc_offset_min),
        started_at=from_store(night.started_at, night.utc_offset_min),
        event_count=sum(counts.values()),
        counts_by_kind={kind.value: counts.get(kind.value, 0) for kind in EventKind},
        cramp_count=len(cramps),
        total_cramp_s=round(sum(durations), 3),
        longest_cramp_s=round(max(durations, default=0.0), 3),
        hour_histogram=histogram,
        long_episode_ids=[c.event_id for c in cramps if (c.duration_s or 0) > LONG_EPISODE_S],
        prompt_count=len(prompt_rows),
        acknowledged_count=sum(1 for (ack,) in prompt_rows if ack is not None),
    )


def summarize_weeks(
    db: Session, sleeper_id: int, first_day: dt.date, last_day: dt.date
) -> list[WeekSummary]:
    """Return one summary per ISO week from ``first_day``'s week to ``last_day``'s, by night date.

    Weeks without a recorded night are included with zero counts so a trend shows gaps.
    """
    nights = [
        night
        for night in db.scalars(select(Night).where(Night.sleeper_id == sleeper_id))
        if first_day <= night_date(night.started_at, night.utc_offset_min) <= last_day
    ]
    by_pk = {night.id: night for night in nights}
    cramps_by_night: dict[int, list[CrampTimes]] = defaultdict(list)
    for cramp in _cramps(db, by_pk):
        cramps_by_night[cramp.night_pk].append(cramp)
    diary = db.scalars(
        select(DiaryEntry).where(
            DiaryEntry.sleeper_id == sleeper_id,
            DiaryEntry.entry_date >= first_day,
            DiaryEntry.entry_date <= last_day + dt.timedelta(days=1),
        )
    ).all()

    weeks: dict[dt.date, _WeekBin] = {}
    monday = week_start(first_day)
    while monday <= last_day:
        weeks[monday] = _WeekBin()
        monday += dt.timedelta(days=7)
    for night in nights:
        weeks[week_start(night_date(night.started_at, night.utc_offset_min))].nights.append(night)
    for entry in diary:
        # A morning diary entry describes the night before.
        bin_ = weeks.get(week_start(entry.entry_date - dt.timedelta(days=1)))
        if bin_ is not None:
            if entry.pain_0_10 is not None:
                bin_.pain.append(entry.pain_0_10)
            if entry.sleep_disturbance_0_10 is not None:
                bin_.sleep.append(entry.sleep_disturbance_0_10)

    out: list[WeekSummary] = []
    for monday, bin_ in sorted(weeks.items()):
        week_nights = bin_.nights
        per_night = Counter({night.id: len(cramps_by_night[night.id]) for night in week_nights})
        cramps = [c for night in week_nights for c in cramps_by_night[night.id]]
        durations = [c.duration_s for c in cramps if c.duration_s is not None]
        histogram = [0] * 24
        for cramp in cramps:
            histogram[local_hour(cramp.start_at, by_pk[cramp.night_pk].utc_offset_min)] += 1
        pain, sleep = bin_.pain, bin_.sleep
        out.append(
            WeekSummary(
                week_start=monday,
                nights_recorded=len(week_nights),
                nights_with_cramps=sum(1 for n in per_night.values() if n > 0),
                nights_with_2plus_cramps=sum(
                    1 for n in per_night.values() if n >= MANY_CRAMPS_PER_NIGHT
                ),
                cramp_count=len(cramps),
                total_cramp_s=round(sum(durations), 3),
                longest_cramp_s=round(max(durations, default=0.0), 3),
                long_episode_count=sum(1 for d in durations if d > LONG_EPISODE_S),
                hour_histogram=histogram,
                mean_pain_0_10=round(sum(pain) / len(pain), 2) if pain else None,
                mean_sleep_disturbance_0_10=round(sum(sleep) / len(sleep), 2) if sleep else None,
            )
        )
    return out
