"""Store times (naive UTC) to and from the sleeper's wall clock."""

from __future__ import annotations

import datetime as dt
import functools

#: A night belongs to the evening it started on: 01:30 on Tuesday is Monday's night.
NIGHT_DAY_SHIFT = dt.timedelta(hours=12)


def to_store(value: dt.datetime) -> dt.datetime:
    """Return an aware datetime as the store's naive UTC."""
    return value.astimezone(dt.UTC).replace(tzinfo=None)


@functools.lru_cache(maxsize=64)
def _zone(utc_offset_min: int) -> dt.timezone:
    return dt.UTC if utc_offset_min == 0 else dt.timezone(dt.timedelta(minutes=utc_offset_min))


def from_store(value: dt.datetime, utc_offset_min: int = 0) -> dt.datetime:
    """Return a stored naive-UTC datetime as an aware one at the given UTC offset (minutes)."""
    # Shift and label rather than astimezone(): the same instant, several times faster.
    return (value + dt.timedelta(minutes=utc_offset_min)).replace(tzinfo=_zone(utc_offset_min))


def offset_minutes(value: dt.datetime) -> int:
    """Return the UTC offset of an aware datetime in whole minutes."""
    offset = value.utcoffset() or dt.timedelta()
    return int(offset.total_seconds() // 60)


def night_date(started_at_utc: dt.datetime, utc_offset_min: int) -> dt.date:
    """Return the date a night is known by everywhere: the evening it began on, in the
    sleeper's local time (a night started at 01:30 on Thursday is Wednesday's night)."""
    local = started_at_utc + dt.timedelta(minutes=utc_offset_min)
    return (local - NIGHT_DAY_SHIFT).date()


def night_day(day: dt.date) -> str:
    """Return a night's date as every page writes it, e.g. 'Wed 02 Dec 2026'."""
    return f"{day:%a %d %b %Y}"


def week_start(day: dt.date) -> dt.date:
    """Return the Monday of ``day``'s ISO week."""
    return day - dt.timedelta(days=day.weekday())
