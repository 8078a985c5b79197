"""The clinician's pages, server-rendered: sleepers, a sleeper's calendar and trends, a night's
timeline, an event's envelope. Each page reads through the same functions as the API.

A bedside page (live prompt, acknowledge button) belongs in its own router next to this one.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from api.deps import (
    DB,
    SESSION_COOKIE,
    PageCaller,
    SleeperId,
    sleeper_for_reading,
    visible_sleeper_ids,
)
from api.event_log import EventFilter, query_events
from api.models import EventEnvelope, EventRow, Night
from api.routers.events import read_event
from api.routers.nights import ClientIdPath, night_by_id, night_counts
from api.routers.sleepers import sleeper_summaries
from api.routers.summaries import default_last_day
from api.schemas import EventOut, NoNul
from api.security import end_browser_session, live_token, new_browser_session
from api.summaries import CRAMP_KINDS, LONG_EPISODE_S, summarize_night, summarize_weeks
from api.svg_plots import (
    envelope_svg,
    format_duration,
    hour_histogram_svg,
    kind_legend_html,
    night_timeline_svg,
    weekly_trend_svgs,
)
from api.timeutil import from_store, night_date, night_day, offset_minutes, to_store
from api.views import event_out, night_out
from api.wording import feature_value_text, kind_words, muscle_words
from sensor.feature_glossary import grouped

TEMPLATES = Jinja2Templates(directory=Path(__file__).resolve().parent.parent / "templates")
router = APIRouter()

#: Months of calendar shown on a sleeper's page, ending with the latest night's month.
CALENDAR_MONTHS = 3
TREND_WEEKS = 12
#: The most cramps (and, when asked, look-alikes) a sleeper's page lists, newest first.
RECENT_EVENTS = 100
#: The longest a night's timeline spans when it has no recorded end (a plausible night).
DEFAULT_NIGHT_H = 9


TEMPLATES.env.filters["duration"] = format_duration
TEMPLATES.env.filters["night_day"] = night_day
TEMPLATES.env.filters["kind_words"] = kind_words
TEMPLATES.env.filters["muscle_words"] = muscle_words


def _safe_next(target: str | None) -> str:
    # Only same-site paths: an attacker's link must not bounce a clinician to another site.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/sleepers"


@router.get("/", response_class=RedirectResponse)
def home() -> RedirectResponse:
    return RedirectResponse("/sleepers", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_form(
    request: Request, next: Annotated[str | None, Query(), NoNul()] = None
) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(
        request, "login.html", {"next": _safe_next(next), "error": None, "caller": None}
    )


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    db: DB,
    token: Annotated[str, Form(max_length=200), NoNul()] = "",
    next: Annotated[str, Form(max_length=500), NoNul()] = "/sleepers",
) -> Response:
    """Exchange an access token for a session cookie (the token itself is never stored)."""
    row = live_token(db, token.strip()) if token.strip() else None
    if row is None:
        return TEMPLATES.TemplateResponse(
            request,
            "login.html",
            {
                "next": _safe_next(next),
                "caller": None,
                "error": "That token is not valid. Ask your administrator for a new one.",
            },
            status_code=401,
        )
    settings = request.app.state.settings
    value = new_browser_session(db, row, settings.session_ttl_s)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=settings.session_ttl_s,
        httponly=True,
        samesite="strict",
        secure=settings.cookie_secure,
    )
    return response


@router.post("/logout")
def logout(request: Request, db: DB) -> RedirectResponse:
    value = request.cookies.get(SESSION_COOKIE)
    if value:
        end_browser_session(db, value)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/sleepers", response_class=HTMLResponse)
def sleepers_page(request: Request, db: DB, caller: PageCaller) -> HTMLResponse:
    sleepers = sleeper_summaries(db, visible_sleeper_ids(db, caller))
    return TEMPLATES.TemplateResponse(
        request, "sleepers.html", {"caller": caller, "sleepers": sleepers}
    )


def _months_before(month: dt.date, n: int) -> dt.date:
    """Return the first day of the month ``n`` months before ``month``."""
    index = month.year * 12 + month.month - 1 - n
    return dt.date(index // 12, index % 12 + 1, 1)


def _month_grid(year: int, month: int, nights_by_date: dict[dt.date, list[dict]]) -> dict:
    weeks = []
    for week in calendar.Calendar(firstweekday=0).monthdatescalendar(year, month):
        weeks.append(
            [
                {"date": day, "in_month": day.month == month, "nights": nights_by_date.get(day, [])}
                for day in week
            ]
        )
    return {"title": dt.date(year, month, 1).strftime("%B %Y"), "weeks": weeks}


#: ``?show=all`` lists the look-alikes too; by default a list shows the cramps only.
ShowQuery = Annotated[
    Literal["cramps", "all"],
    Query(description="cramps: the cramps only (default); all: the look-alikes after them."),
]


@dataclass(frozen=True)
class CrampsFirst:
    """A list of events as the pages show it: cramps first, look-alikes behind a filter."""

    cramps: list[EventOut]
    lookalikes: list[EventOut]
    show_all: bool

    @classmethod
    def of(cls, events: list[EventOut], show: str) -> CrampsFirst:
        return cls(
            cramps=[e for e in events if e.is_cramp],
            lookalikes=[e for e in events if not e.is_cramp],
            show_all=show == "all",
        )

    @property
    def shown_lookalikes(self) -> list[EventOut]:
        return self.lookalikes if self.show_all else []


def _recent_events(
    db: DB, sleeper_id: int, since: dt.datetime, cramps: bool, limit: int
) -> tuple[list[EventOut], dict[str, dt.date]]:
    """Return the sleeper's cramps (or look-alikes) starting since ``since`` (naive UTC),
    newest first, and the date of each one's night by night id."""
    kinds = EventRow.kind.in_(CRAMP_KINDS) if cramps else EventRow.kind.not_in(CRAMP_KINDS)
    rows = db.execute(
        select(EventRow, Night)
        .join(Night, EventRow.night_pk == Night.id)
        .where(EventRow.sleeper_id == sleeper_id, EventRow.start_at >= since, kinds)
        .options(selectinload(EventRow.envelope).load_only(EventEnvelope.event_pk))
        .order_by(EventRow.start_at.desc(), EventRow.id.desc())
        .limit(limit)
    ).all()
    dates = {n.night_id: night_date(n.started_at, n.utc_offset_min) for _, n in rows}
    return [event_out(event, night) for event, night in rows], dates


def _count_lookalikes(db: DB, sleeper_id: int, since: dt.datetime) -> int:
    return db.scalar(
        select(func.count()).where(
            EventRow.sleeper_id == sleeper_id,
            EventRow.start_at >= since,
            EventRow.kind.not_in(CRAMP_KINDS),
        )
    ) or 0


@router.get("/sleepers/{sleeper_id}", response_class=HTMLResponse)
def sleeper_page(
    request: Request, sleeper_id: SleeperId, db: DB, caller: PageCaller, show: ShowQuery = "cramps"
) -> HTMLResponse:
    sleeper = sleeper_for_reading(db, caller, sleeper_id)
    last_day = default_last_day(db, sleeper.id)
    first_month = _months_before(last_day.replace(day=1), CALENDAR_MONTHS - 1)
    # Only the calendar's months: counting a years-long log on every view would be slow.
    nights = db.scalars(
        select(Night)
        .where(
            Night.sleeper_id == sleeper.id,
            Night.started_at >= dt.datetime.combine(first_month, dt.time()) - dt.timedelta(days=1),
        )
        .order_by(Night.started_at)
    ).all()
    counts = night_counts(db, [n.id for n in nights])
    weeks = summarize_weeks(
        db, sleeper.id, last_day - dt.timedelta(weeks=TREND_WEEKS - 1), last_day
    )
    long_nights = _nights_with_long_cramps(db, [n.id for n in nights])
    nights_by_date: dict[dt.date, list[dict]] = {}
    for night in nights:
        day = night_date(night.started_at, night.utc_offset_min)
        if day < first_month:
            continue
        n_events, n_cramps = counts.get(night.id, (0, 0))
        nights_by_date.setdefault(day, []).append(
            {
                "night_id": night.night_id,
                "cramps": n_cramps,
                "events": n_events,
                "red_flag": n_cramps >= 2 or night.id in long_nights,
            }
        )
    months = []
    month = first_month
    while month <= last_day:
        months.append(_month_grid(month.year, month.month, nights_by_date))
        month = (month + dt.timedelta(days=32)).replace(day=1)
    histogram = [sum(w.hour_histogram[h] for w in weeks) for h in range(24)]
    # The trend weeks' events, by the night they began: a day before the first, in UTC.
    since = dt.datetime.combine(last_day - dt.timedelta(weeks=TREND_WEEKS), dt.time())
    cramps, night_dates = _recent_events(db, sleeper.id, since, True, RECENT_EVENTS)
    lookalikes: list[EventOut] = []
    if show == "all":
        lookalikes, more_dates = _recent_events(db, sleeper.id, since, False, RECENT_EVENTS)
        night_dates.update(more_dates)
    listed = CrampsFirst(cramps, lookalikes, show == "all")
    hidden = len(lookalikes) if show == "all" else _count_lookalikes(db, sleeper.id, since)
    return TEMPLATES.TemplateResponse(
        request,
        "sleeper.html",
        {
            "caller": caller,
            "sleeper": sleeper,
            "months": months,
            "weeks": weeks,
            "trend_svgs": [Markup(svg) for svg in weekly_trend_svgs(weeks)],
            "hour_svg": Markup(
                hour_histogram_svg(histogram, "Cramps by clock hour, last 12 weeks")
            ),
            "api": f"/api/v1/sleepers/{sleeper.id}",
            "listed": listed,
            "lookalike_count": hidden,
            "recent_limit": RECENT_EVENTS,
            "night_dates": night_dates,
        },
    )


def _nights_with_long_cramps(db: DB, night_pks: list[int]) -> set[int]:
    """Return the nights (pks) with a cramp over 10 minutes (a red flag)."""
    if not night_pks:
        return set()
    return set(
        db.scalars(
            select(EventRow.night_pk).where(
                EventRow.night_pk.in_(night_pks),
                EventRow.kind.in_(CRAMP_KINDS),
                EventRow.duration_s > LONG_EPISODE_S,
            )
        )
    )


@router.get("/sleepers/{sleeper_id}/nights/{night_id}", response_class=HTMLResponse)
def night_page(
    request: Request,
    sleeper_id: SleeperId,
    night_id: ClientIdPath,
    db: DB,
    caller: PageCaller,
    show: ShowQuery = "cramps",
) -> HTMLResponse:
    sleeper = sleeper_for_reading(db, caller, sleeper_id)
    night = night_by_id(db, sleeper.id, night_id)
    rows, _next = query_events(db, sleeper.id, EventFilter(night_pk=night.id), 20_000)
    events = [event_out(e, n) for e, n in rows]
    start = from_store(night.started_at, night.utc_offset_min)
    if night.ended_at is not None:
        end = from_store(night.ended_at, night.utc_offset_min)
    else:
        last = max((e.end_at or e.start_at for e in events), default=start)
        end = max(last + dt.timedelta(minutes=30), start + dt.timedelta(hours=DEFAULT_NIGHT_H))
    summary = summarize_night(db, night)
    prev_next = _neighbours(db, night)
    query = urlencode({"night_id": night.night_id})
    return TEMPLATES.TemplateResponse(
        request,
        "night.html",
        {
            "caller": caller,
            "sleeper": sleeper,
            "night": night_out(night, summary.event_count, summary.cramp_count),
            "summary": summary,
            "events": events,
            "listed": CrampsFirst.of(events, show),
            "timeline_svg": Markup(
                night_timeline_svg(
                    events, start, end, f"/sleepers/{sleeper.id}/events/{{event_id}}"
                )
            ),
            "legend": Markup(kind_legend_html()),
            "hour_svg": Markup(hour_histogram_svg(summary.hour_histogram, "Cramps by clock hour")),
            "export_csv": f"/api/v1/sleepers/{sleeper.id}/export/events.csv?{query}",
            "export_fhir": f"/api/v1/sleepers/{sleeper.id}/export/events.fhir.json?{query}"
            "&download=true",
            "prev_night": prev_next[0],
            "next_night": prev_next[1],
        },
    )


def _neighbours(db: DB, night: Night) -> tuple[str | None, str | None]:
    before = db.scalars(
        select(Night.night_id)
        .where(Night.sleeper_id == night.sleeper_id, Night.started_at < night.started_at)
        .order_by(Night.started_at.desc())
    ).first()
    after = db.scalars(
        select(Night.night_id)
        .where(Night.sleeper_id == night.sleeper_id, Night.started_at > night.started_at)
        .order_by(Night.started_at)
    ).first()
    return before, after


@router.get("/sleepers/{sleeper_id}/events/{event_id}", response_class=HTMLResponse)
def event_page(
    request: Request, sleeper_id: SleeperId, event_id: ClientIdPath, db: DB, caller: PageCaller
) -> HTMLResponse:
    sleeper = sleeper_for_reading(db, caller, sleeper_id)
    detail = read_event(event_id, sleeper, db)
    plot = None
    if detail.envelope is not None:
        plot = Markup(envelope_svg(detail))
    feature_groups = [
        (
            "Other features" if group is None else group.value.capitalize(),
            [
                (
                    item.words if item is not None else name,
                    feature_value_text(item, value, detail.start_at, detail.start_s),
                    name,
                )
                for name, item, value in rows
            ],
        )
        for group, rows in grouped(detail.features)
    ]
    return TEMPLATES.TemplateResponse(
        request,
        "event.html",
        {
            "caller": caller,
            "sleeper": sleeper,
            "event": detail,
            "envelope_svg": plot,
            "night_date": _night_date_of(detail),
            "feature_groups": feature_groups,
            "long_episode": (detail.duration_s or 0) > LONG_EPISODE_S and detail.is_cramp,
        },
    )


def _night_date_of(event: EventOut) -> dt.date:
    """Return the date of the event's night (its session second 0 on the sleeper's clock)."""
    night_start = event.start_at - dt.timedelta(seconds=event.start_s)
    return night_date(to_store(night_start), offset_minutes(night_start))


def error_page(request: Request, status: int, detail: str) -> HTMLResponse:
    """Return an HTML error page for a page request (API requests get a JSON problem)."""
    return TEMPLATES.TemplateResponse(
        request,
        "error.html",
        {"caller": None, "status": status, "detail": detail},
        status_code=status,
    )
