"""The API's request and response bodies (Pydantic), apart from the storage models.

Vocabulary (event kinds, muscles, sides) is the pipeline's own, from ``sensor.records``.
Inputs forbid unknown fields so a misspelt field is a 422 naming it, not silently dropped.
Times: session seconds (``start_s``) are on the night's clock, 0 = the night's
``started_at``; wall-clock times are ISO 8601 with a UTC offset.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

from api.models import Role
from sensor.records import EventKind, Muscle, Side
from sensor.records import Role as ChannelRole

#: The JSON Schema pattern of a string without NUL characters.
NO_NUL_PATTERN = r"^[^\u0000]*$"


def _refuse_nul(value: str | None) -> str | None:
    if value is not None and "\x00" in value:
        raise ValueError(
            f"contains a NUL character (U+0000) at position {value.index(chr(0))}: "
            "text cannot hold NUL"
        )
    return value


class NoNul:
    """Refuses a string holding NUL (U+0000), which PostgreSQL cannot store in a text column,
    on every backend alike; the OpenAPI document says so with a pattern (unless the field
    has a stricter pattern of its own, which already leaves NUL out).

    Put it after the field's other constraints (``Annotated[str, Field(...), NoNul()]``), so
    they are checked first and stay in the document as they are."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_after_validator_function(_refuse_nul, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        for member in [json_schema, *json_schema.get("anyOf", [])]:
            if member.get("type") == "string":
                member.setdefault("pattern", NO_NUL_PATTERN)
        return json_schema


#: A hub-supplied identifier: short, URL-safe, unique per sleeper.
ClientId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$",
        description="Client-chosen id (letters, digits, . _ : -), unique per sleeper.",
    ),
    NoNul(),
]
ShortText = Annotated[str, Field(max_length=64), NoNul()]
#: A free-text note.
NoteText = Annotated[str, Field(max_length=2000), NoNul()]


def _iso_date_only(value: object) -> object:
    # Pydantic would read "1.5e9" or "-5e-225" as a Unix time; a date parameter is a date.
    if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("expected a date as YYYY-MM-DD")
    return value


#: A calendar date in a query string, written YYYY-MM-DD (never a number).
IsoDate = Annotated[dt.date, BeforeValidator(_iso_date_only)]
#: The longest stretch of session seconds a night can span (two days covers any recording).
MAX_SESSION_S = 172_800.0
#: Channels in one event's envelope: both muscles of a leg, with room for more heads or legs.
MAX_ENVELOPE_CHANNELS = 8
#: Values per envelope channel: e.g. a 10-minute cramp with its context at 0.33 s steps.
MAX_ENVELOPE_VALUES = 2000
#: Envelope values in one upload batch: at most ~20 bytes of JSON each, so a batch stays well
#: under the server's 16 MiB body limit; the hub client splits batches to fit.
MAX_BATCH_ENVELOPE_VALUES = 400_000
MAX_FEATURES = 64


class InputModel(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


# -- errors -------------------------------------------------------------------------------


class FieldProblem(BaseModel):
    location: str = Field(description="Where the bad value is, e.g. body.events.0.confidence")
    message: str


class Problem(BaseModel):
    """Every error answer: a sentence saying what was wrong and what to do."""

    status: int
    detail: str
    errors: list[FieldProblem] = Field(default_factory=list)

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": 404,
                    "detail": "no sleeper 7 among those you can see",
                    "errors": [],
                }
            ]
        }
    )


# -- people -------------------------------------------------------------------------------


class Me(BaseModel):
    user_id: int
    name: str
    role: Role
    sleeper_id: int | None = Field(description="The one sleeper a hub token writes for.")


class SleeperIn(InputModel):
    label: Annotated[
        str,
        Field(
            min_length=1,
            max_length=64,
            pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$",
            description="A pseudonym or study code; never a name.",
        ),
        NoNul(),
    ]
    note: NoteText = ""

    model_config = ConfigDict(json_schema_extra={"examples": [{"label": "S-0042", "note": ""}]})


class SleeperOut(BaseModel):
    sleeper_id: int
    label: str
    note: str
    night_count: int
    last_night_start: AwareDatetime | None
    last_night_date: dt.date | None = Field(
        description="The latest night's date, as night_date gives it (the evening it began)."
    )


#: A user's name: what the admin API and `crampwatch users add` both accept.
UserName = Annotated[
    str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._@-]+$"), NoNul()
]


class UserIn(InputModel):
    name: UserName
    role: Role
    sleeper_id: Annotated[int | None, Field(ge=1, le=2_147_483_647, strict=True)] = Field(
        default=None, description="Required for a hub, forbidden otherwise."
    )

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "hub-s0042", "role": "hub", "sleeper_id": 1}]}
    )


class UserOut(BaseModel):
    user_id: int
    name: str
    role: Role
    sleeper_id: int | None
    disabled: bool
    assigned_sleeper_ids: list[int]


class TokenIn(InputModel):
    label: ShortText = ""


class TokenOut(BaseModel):
    token_id: int
    user_id: int
    token: str = Field(description="Shown only now; the store keeps a hash.")
    prefix: str


# -- bands and nights ---------------------------------------------------------------------


class BandIn(InputModel):
    name: Annotated[str, Field(max_length=128), NoNul()] = ""
    firmware: ShortText = ""


class BandOut(BaseModel):
    band_id: str
    name: str
    firmware: str
    registered_at: AwareDatetime


class NightIn(InputModel):
    started_at: AwareDatetime = Field(
        description="Wall-clock time of session second 0, with the sleeper's UTC offset."
    )
    ended_at: AwareDatetime | None = None
    band_id: ClientId | None = Field(
        default=None, description="A band registered for this sleeper (PUT .../bands/{id})."
    )
    detector_version: ShortText = ""
    model_version: ShortText = ""
    note: NoteText = ""

    model_config = ConfigDict(
        extra="forbid",
        allow_inf_nan=False,
        json_schema_extra={
            "examples": [
                {
                    "started_at": "2026-03-02T22:41:05+01:00",
                    "ended_at": "2026-03-03T06:55:40+01:00",
                    "band_id": "band-7f3a",
                    "detector_version": "0.1.0",
                    "model_version": "tonic-clonic-2026.1",
                    "note": "",
                }
            ]
        },
    )

    @model_validator(mode="after")
    def _check_times(self) -> NightIn:
        # Years first: comparing times near year 1 or 9999 across offsets can overflow.
        for name, value in (("started_at", self.started_at), ("ended_at", self.ended_at)):
            if value is not None and not 2000 <= value.year <= 2999:
                raise ValueError(f"{name} must be within the years 2000-2999")
        if abs(self.started_at.utcoffset() or dt.timedelta()) > dt.timedelta(hours=14):
            raise ValueError("started_at has a UTC offset beyond +-14 h")
        if self.ended_at is not None:
            if self.ended_at < self.started_at:
                raise ValueError("ended_at is before started_at")
            if (self.ended_at - self.started_at).total_seconds() > MAX_SESSION_S:
                raise ValueError("a night may span at most 48 h")
        return self


class NightOut(BaseModel):
    night_id: str
    sleeper_id: int
    started_at: AwareDatetime
    ended_at: AwareDatetime | None
    night_date: dt.date = Field(
        description="The evening's date (a night started at 01:00 belongs to the day before)."
    )
    band_id: str | None
    detector_version: str
    model_version: str
    note: str
    event_count: int
    cramp_count: int


# -- events -------------------------------------------------------------------------------


class ChannelIn(InputModel):
    label: ShortText = Field(default="", description="The channel label as the band gave it.")
    muscle: Muscle
    side: Side
    role: ChannelRole = Field(
        default=ChannelRole.OTHER, description="calf (the cramping agonist), shin or other."
    )


class EnvelopeChannel(InputModel):
    """One muscle's RMS envelope around an event."""

    label: ShortText = Field(description="The channel label as the band gave it.")
    muscle: Muscle
    side: Side
    role: ChannelRole = Field(description="calf (the cramping agonist), shin or other.")
    values_uv: list[float] = Field(
        min_length=1,
        json_schema_extra={"maxItems": MAX_ENVELOPE_VALUES},
        description="RMS envelope in uV at start_s + j * step_s.",
    )

    @model_validator(mode="after")
    def _bounded(self) -> EnvelopeChannel:
        if len(self.values_uv) > MAX_ENVELOPE_VALUES:
            raise ValueError(
                f"envelope channel {self.label!r} has {len(self.values_uv)} values, more than "
                f"{MAX_ENVELOPE_VALUES}: send a coarser envelope (a larger step_s)"
            )
        if min(self.values_uv) < 0:
            raise ValueError(f"envelope channel {self.label!r} has a negative RMS value")
        return self


class Envelope(InputModel):
    """The muscles around one event: RMS envelopes, decimated, on the session clock."""

    start_s: Annotated[float, Field(ge=-3600, le=MAX_SESSION_S)] = Field(
        description="Session time of each channel's first value."
    )
    step_s: Annotated[float, Field(gt=0, le=60)] = Field(description="Seconds between values.")
    channels: list[EnvelopeChannel] = Field(
        min_length=1, json_schema_extra={"maxItems": MAX_ENVELOPE_CHANNELS}
    )

    @model_validator(mode="after")
    def _bounded(self) -> Envelope:
        if len(self.channels) > MAX_ENVELOPE_CHANNELS:
            raise ValueError(
                f"the envelope has {len(self.channels)} channels, more than "
                f"{MAX_ENVELOPE_CHANNELS}: send the muscles of the event's leg"
            )
        return self

    def value_count(self) -> int:
        """Return how many envelope values the event carries, all channels together."""
        return sum(len(channel.values_uv) for channel in self.channels)


class EventIn(InputModel):
    """One event as the hub's pipeline made it (DESIGN.md's Event record)."""

    event_id: ClientId
    channel: ChannelIn
    start_s: Annotated[float, Field(ge=0, le=MAX_SESSION_S)]
    end_s: Annotated[float | None, Field(ge=0, le=MAX_SESSION_S)] = None
    kind: EventKind
    confidence: Annotated[float, Field(ge=0, le=1)]
    features: dict[ShortText, float | None] = Field(
        default_factory=dict,
        max_length=MAX_FEATURES,
        description="Feature name -> value in the unit its name carries; null if not computable.",
    )
    detector_version: ShortText = ""
    model_version: ShortText = ""
    final: bool
    session_id: ShortText = Field(default="", description="The hub run that made the event.")
    known_at_s: Annotated[float | None, Field(ge=-3600, le=MAX_SESSION_S)] = Field(
        default=None, description="Session time the hub made this call; null if not recorded."
    )
    first_cramp_call_s: Annotated[float | None, Field(ge=-3600, le=MAX_SESSION_S)] = Field(
        default=None,
        description="Session time the episode was first called a cramp; null if never.",
    )
    envelope: Envelope | None = Field(
        default=None, description="The muscles around a final event; null if none was kept."
    )

    model_config = ConfigDict(
        extra="forbid",
        allow_inf_nan=False,
        json_schema_extra={
            "examples": [
                {
                    "event_id": "n0302-e0001",
                    "channel": {
                        "label": "EMG R Gastroc",
                        "muscle": "gastrocnemius",
                        "side": "right",
                    },
                    "start_s": 9843.2,
                    "end_s": 9975.7,
                    "kind": "tonic",
                    "confidence": 0.93,
                    "features": {"duration_s": 132.5, "peak_rel": 11.4, "burst_count": 1},
                    "detector_version": "0.1.0",
                    "model_version": "tonic-clonic-2026.1",
                    "final": True,
                }
            ]
        },
    )

    @model_validator(mode="after")
    def _check(self) -> EventIn:
        if self.end_s is not None and self.end_s < self.start_s:
            raise ValueError(f"end_s ({self.end_s}) is before start_s ({self.start_s})")
        if self.final and self.end_s is None:
            raise ValueError("a final event has ended: give end_s, or send final=false")
        return self


class EventBatchIn(InputModel):
    events: Annotated[list[EventIn], Field(min_length=1, max_length=1000)]

    @model_validator(mode="after")
    def _unique_ids(self) -> EventBatchIn:
        seen: set[str] = set()
        for event in self.events:
            if event.event_id in seen:
                raise ValueError(f"event id {event.event_id!r} appears twice in one upload")
            seen.add(event.event_id)
        values = sum(e.envelope.value_count() for e in self.events if e.envelope is not None)
        if values > MAX_BATCH_ENVELOPE_VALUES:
            raise ValueError(
                f"the batch's envelopes hold {values} values, more than "
                f"{MAX_BATCH_ENVELOPE_VALUES}: send the events in smaller batches"
            )
        return self


class IngestResult(BaseModel):
    """What an upload did; retrying the same upload gives created=0."""

    created: int
    updated: int
    unchanged: int
    kept_final: list[str] = Field(
        description="Ids sent as provisional whose stored version is already final (kept)."
    )


class ChannelOut(BaseModel):
    label: str
    muscle: Muscle
    side: Side


class EventOut(BaseModel):
    event_id: str
    night_id: str
    sleeper_id: int
    channel: ChannelOut
    start_s: float
    end_s: float | None
    start_at: AwareDatetime
    end_at: AwareDatetime | None
    duration_s: float | None
    kind: EventKind
    is_cramp: bool
    confidence: float
    features: dict[str, float | None]
    detector_version: str
    model_version: str
    final: bool
    has_envelope: bool
    updated_at: AwareDatetime


class EventPage(BaseModel):
    items: list[EventOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null at end.")


# -- prompts and diary --------------------------------------------------------------------

PromptChannelName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=32,
        pattern=r"^[a-z][a-z0-9_-]{0,31}$",
        description="How the sleeper was reached: band, sound, bedside, terminal, webhook...",
    ),
    NoNul(),
]


class PromptIn(InputModel):
    event_id: ClientId | None = None
    night_id: ClientId | None = None
    sent_at: AwareDatetime
    channel: PromptChannelName
    level: Annotated[int, Field(ge=0, le=10)] = 0
    escalated_at: AwareDatetime | None = None
    escalated_channel: PromptChannelName | None = None
    acknowledged_at: AwareDatetime | None = None
    acknowledged_channel: PromptChannelName | None = None

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "event_id": "n0302-e0001",
                    "night_id": "n0302",
                    "sent_at": "2026-03-03T01:25:11+01:00",
                    "channel": "band",
                    "level": 1,
                    "escalated_at": "2026-03-03T01:25:41+01:00",
                    "escalated_channel": "sound",
                    "acknowledged_at": "2026-03-03T01:25:52+01:00",
                    "acknowledged_channel": "bedside",
                }
            ]
        },
    )

    @model_validator(mode="after")
    def _check(self) -> PromptIn:
        # Years first: comparing times near year 1 or 9999 across offsets can overflow.
        for value in (self.sent_at, self.escalated_at, self.acknowledged_at):
            if value is not None and not 2000 <= value.year <= 2999:
                raise ValueError("prompt times must be within the years 2000-2999")
        for name in ("escalated_at", "acknowledged_at"):
            value = getattr(self, name)
            if value is not None and value < self.sent_at:
                raise ValueError(f"{name} is before sent_at")
        if (self.escalated_at is None) != (self.escalated_channel is None):
            raise ValueError("give escalated_at and escalated_channel together")
        if (self.acknowledged_at is None) != (self.acknowledged_channel is None):
            raise ValueError("give acknowledged_at and acknowledged_channel together")
        return self


class PromptOut(BaseModel):
    prompt_id: str
    event_id: str | None
    night_id: str | None
    sent_at: AwareDatetime
    channel: str
    level: int
    escalated_at: AwareDatetime | None
    escalated_channel: str | None
    acknowledged_at: AwareDatetime | None
    acknowledged_channel: str | None
    response_s: float | None = Field(description="Seconds from sent to acknowledged.")


Score = Annotated[int | None, Field(ge=0, le=10)]


class DiaryIn(InputModel):
    entry_date: dt.date
    night_id: ClientId | None = None
    event_id: ClientId | None = None
    pain_0_10: Score = Field(default=None, description="Pain, 0 none to 10 worst (Sebo 2019).")
    sleep_disturbance_0_10: Score = Field(
        default=None, description="Sleep disturbance, 0 none to 10 worst."
    )
    note: NoteText = ""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "entry_date": "2026-03-03",
                    "night_id": "n0302",
                    "event_id": "n0302-e0001",
                    "pain_0_10": 6,
                    "sleep_disturbance_0_10": 7,
                    "note": "right calf, sore in the morning",
                }
            ]
        },
    )

    @model_validator(mode="after")
    def _check(self) -> DiaryIn:
        if self.pain_0_10 is None and self.sleep_disturbance_0_10 is None and not self.note:
            raise ValueError("a diary entry needs a pain score, a sleep score or a note")
        if not 2000 <= self.entry_date.year <= 2999:
            raise ValueError("entry_date must be within the years 2000-2999")
        return self


class DiaryOut(BaseModel):
    entry_id: str
    entry_date: dt.date
    night_id: str | None
    event_id: str | None
    pain_0_10: int | None
    sleep_disturbance_0_10: int | None
    note: str
    recorded_at: AwareDatetime


class EventDetail(EventOut):
    envelope: Envelope | None
    prompts: list[PromptOut]
    diary: list[DiaryOut]


# -- summaries ----------------------------------------------------------------------------


class NightSummary(BaseModel):
    night_id: str
    night_date: dt.date
    started_at: AwareDatetime
    event_count: int
    counts_by_kind: dict[str, int]
    cramp_count: int
    total_cramp_s: float
    longest_cramp_s: float
    hour_histogram: list[int] = Field(
        min_length=24, max_length=24, description="Cramps starting in each local clock hour 0-23."
    )
    long_episode_ids: list[str] = Field(description="Cramps over 10 min: a red flag to act on.")
    prompt_count: int
    acknowledged_count: int


class WeekSummary(BaseModel):
    week_start: dt.date = Field(description="The Monday the week starts on (by night_date).")
    nights_recorded: int
    nights_with_cramps: int
    nights_with_2plus_cramps: int
    cramp_count: int
    total_cramp_s: float
    longest_cramp_s: float
    long_episode_count: int
    hour_histogram: list[int] = Field(min_length=24, max_length=24)
    mean_pain_0_10: float | None
    mean_sleep_disturbance_0_10: float | None

