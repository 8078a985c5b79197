"""Storage models (SQLAlchemy 2): what the event store keeps, table by table.

Times are stored as naive UTC datetimes (the same on SQLite and PostgreSQL); a night
keeps its UTC offset so session seconds map to the sleeper's clock time. Identifiers a
hub supplies (night, event, prompt and diary ids) are unique per sleeper only, so one
sleeper's ids never reveal another's.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Role(enum.StrEnum):
    """What a user may do: manage users, read assigned sleepers, or write one sleeper's log."""

    ADMIN = "admin"
    CLINICIAN = "clinician"
    HUB = "hub"


class Base(DeclarativeBase):
    pass


def utcnow() -> dt.datetime:
    """Return the current time as a naive UTC datetime (the store's convention)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Sleeper(Base):
    __tablename__ = "sleepers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    label: Mapped[str] = mapped_column(String(64), unique=True)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    # A hub/band user writes exactly one sleeper's log.
    sleeper_id: Mapped[int | None] = mapped_column(
        ForeignKey("sleepers.id", ondelete="CASCADE"), nullable=True
    )
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    tokens: Mapped[list[Token]] = relationship(back_populates="user", cascade="all, delete")


class Token(Base):
    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # SHA-256 of the token: tokens are 256-bit random, so a fast hash is enough at rest.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    label: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)

    user: Mapped[User] = relationship(back_populates="tokens")


class BrowserSession(Base):
    __tablename__ = "browser_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # The token logged in with: revoking it (or disabling the user) ends the session at once.
    token_id: Mapped[int] = mapped_column(
        ForeignKey("tokens.id", ondelete="CASCADE", name="fk_browser_sessions_token_id_tokens"),
        index=True,
    )
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)


class ClinicianAssignment(Base):
    __tablename__ = "clinician_assignments"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    sleeper_id: Mapped[int] = mapped_column(
        ForeignKey("sleepers.id", ondelete="CASCADE"), primary_key=True
    )


class Band(Base):
    __tablename__ = "bands"
    __table_args__ = (UniqueConstraint("sleeper_id", "band_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sleeper_id: Mapped[int] = mapped_column(ForeignKey("sleepers.id", ondelete="CASCADE"))
    band_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(128), default="")
    firmware: Mapped[str] = mapped_column(String(64), default="")
    registered_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Night(Base):
    __tablename__ = "nights"
    __table_args__ = (
        UniqueConstraint("sleeper_id", "night_id"),
        Index("ix_nights_sleeper_start", "sleeper_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sleeper_id: Mapped[int] = mapped_column(ForeignKey("sleepers.id", ondelete="CASCADE"))
    night_id: Mapped[str] = mapped_column(String(64))
    band_pk: Mapped[int | None] = mapped_column(
        ForeignKey("bands.id", ondelete="SET NULL"), nullable=True
    )
    # Wall-clock time of session second 0 (UTC) and the sleeper's UTC offset that night.
    started_at: Mapped[dt.datetime] = mapped_column(DateTime)
    utc_offset_min: Mapped[int] = mapped_column(Integer, default=0)
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    detector_version: Mapped[str] = mapped_column(String(64), default="")
    model_version: Mapped[str] = mapped_column(String(64), default="")
    note: Mapped[str] = mapped_column(Text, default="")

    band: Mapped[Band | None] = relationship()


class EventRow(Base):
    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("sleeper_id", "event_id"),
        # The clinician's query: one sleeper's events in time order, keyset-paginated.
        Index("ix_events_sleeper_start", "sleeper_id", "start_at", "id"),
        Index("ix_events_night_start", "night_pk", "start_s"),
        # Cramps are a few percent of events, long ones far fewer: "cramps over 10 min"
        # reads just those rows instead of scanning the sleeper's whole log.
        Index("ix_events_sleeper_kind_duration", "sleeper_id", "kind", "duration_s"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sleeper_id: Mapped[int] = mapped_column(ForeignKey("sleepers.id", ondelete="CASCADE"))
    night_pk: Mapped[int] = mapped_column(ForeignKey("nights.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(64))
    channel_label: Mapped[str] = mapped_column(String(64), default="")
    muscle: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(16))
    start_s: Mapped[float] = mapped_column(Float)
    end_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    # start_at = night.started_at + start_s, kept so time-range queries use the index.
    start_at: Mapped[dt.datetime] = mapped_column(DateTime)
    duration_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    kind: Mapped[str] = mapped_column(String(16))
    confidence: Mapped[float] = mapped_column(Float)
    features: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    detector_version: Mapped[str] = mapped_column(String(64), default="")
    model_version: Mapped[str] = mapped_column(String(64), default="")
    final: Mapped[bool] = mapped_column(Boolean, default=False)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    night: Mapped[Night] = relationship()
    envelope: Mapped[EventEnvelope | None] = relationship(
        back_populates="event", cascade="all, delete-orphan", uselist=False
    )


class EventEnvelope(Base):
    """The muscles' RMS envelopes around one event, decimated, for display (never raw EMG)."""

    __tablename__ = "event_envelopes"

    event_pk: Mapped[int] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), primary_key=True
    )
    start_s: Mapped[float] = mapped_column(Float)
    step_s: Mapped[float] = mapped_column(Float)
    # [{"label": ..., "muscle": ..., "side": ..., "role": ..., "values_uv": [...]}, ...]
    channels: Mapped[list[dict[str, Any]]] = mapped_column(JSON)

    event: Mapped[EventRow] = relationship(back_populates="envelope")


class Prompt(Base):
    __tablename__ = "prompts"
    __table_args__ = (
        UniqueConstraint("sleeper_id", "prompt_id"),
        Index("ix_prompts_sleeper_sent", "sleeper_id", "sent_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sleeper_id: Mapped[int] = mapped_column(ForeignKey("sleepers.id", ondelete="CASCADE"))
    prompt_id: Mapped[str] = mapped_column(String(64))
    # Referenced by the hub's id, not a foreign key: an outbox may deliver a prompt first.
    event_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    night_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    sent_at: Mapped[dt.datetime] = mapped_column(DateTime)
    channel: Mapped[str] = mapped_column(String(32))
    level: Mapped[int] = mapped_column(Integer, default=0)
    escalated_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    escalated_channel: Mapped[str | None] = mapped_column(String(32), nullable=True)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    acknowledged_channel: Mapped[str | None] = mapped_column(String(32), nullable=True)


class DiaryEntry(Base):
    __tablename__ = "diary_entries"
    __table_args__ = (
        UniqueConstraint("sleeper_id", "entry_id"),
        Index("ix_diary_sleeper_date", "sleeper_id", "entry_date"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sleeper_id: Mapped[int] = mapped_column(ForeignKey("sleepers.id", ondelete="CASCADE"))
    entry_id: Mapped[str] = mapped_column(String(64))
    entry_date: Mapped[dt.date] = mapped_column(Date)
    night_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    event_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    pain_0_10: Mapped[int | None] = mapped_column(Integer, nullable=True)
    sleep_disturbance_0_10: Mapped[int | None] = mapped_column(Integer, nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
