"""The store: built by Alembic migrations on a real SQLite file (WAL, foreign keys on) and on
a real PostgreSQL database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from api.db import make_engine
from api.settings import Settings, SettingsError
from api.store import Store, StoreNotMigratedError, alembic_config, check_migrated


def test_migrations_build_the_schema_on_a_wal_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    store = Store.open(f"sqlite:///{path}")
    try:
        with store.engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
            tables = set(inspect(connection).get_table_names())
            indexes = {ix["name"] for ix in inspect(connection).get_indexes("events")}
    finally:
        store.close()
    assert {"sleepers", "users", "tokens", "bands", "nights", "events", "event_envelopes",
            "prompts", "diary_entries", "clinician_assignments", "alembic_version"} <= tables
    assert "ix_events_sleeper_start" in indexes
    assert path.stat().st_size > 0


def test_opening_again_is_a_no_op_and_keeps_data(empty_database_url: str) -> None:
    url = empty_database_url
    store = Store.open(url)
    with store.engine.begin() as connection:
        connection.execute(text("INSERT INTO sleepers (label, note, created_at) "
                                "VALUES ('S-1', '', '2026-01-01 00:00:00')"))
    store.close()
    store = Store.open(url)
    with store.engine.connect() as connection:
        assert connection.execute(text("SELECT label FROM sleepers")).scalar() == "S-1"
    store.close()


def test_unmigrated_store_is_refused_with_what_to_do(empty_database_url: str) -> None:
    url = empty_database_url
    with pytest.raises(StoreNotMigratedError, match="--migrate"):
        Store.open(url, run_migrations=False)
    engine = make_engine(url)
    try:
        command.upgrade(_config(engine), "head")
        check_migrated(engine)  # now current: no error
        command.downgrade(_config(engine), "base")
        with pytest.raises(StoreNotMigratedError, match="revision none"):
            check_migrated(engine)
    finally:
        engine.dispose()


def _config(engine):  # type: ignore[no-untyped-def]
    return alembic_config(engine.url.render_as_string(hide_password=False))


def test_foreign_keys_are_enforced(database_url: str) -> None:
    store = Store.open(database_url)
    try:
        # SQLite says "FOREIGN KEY constraint failed", PostgreSQL "violates foreign key".
        with pytest.raises(IntegrityError, match=r"(?i)foreign key"), \
                store.engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO nights (sleeper_id, night_id, started_at, utc_offset_min, "
                "detector_version, model_version, note) "
                "VALUES (99, 'n', '2026-01-01 00:00:00', 0, '', '', '')"
            ))
    finally:
        store.close()


def test_settings_from_environment() -> None:
    settings = Settings.from_env({"CRAMPWATCH_DATABASE_URL": "postgresql+psycopg://u@db/cw",
                                  "CRAMPWATCH_SESSION_TTL_S": "3600",
                                  "CRAMPWATCH_COOKIE_SECURE": "1"})
    assert settings.database_url == "postgresql+psycopg://u@db/cw"
    assert settings.session_ttl_s == 3600 and settings.cookie_secure
    assert Settings.from_env({}).database_url == "sqlite:///crampwatch.db"
    with pytest.raises(SettingsError, match="whole number"):
        Settings.from_env({"CRAMPWATCH_SESSION_TTL_S": "12h"})
    with pytest.raises(SettingsError, match="not a URL"):
        Settings(database_url="crampwatch.db")


def test_migrations_match_the_storage_models(empty_database_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from api.models import Base

    store = Store.open(empty_database_url)
    try:
        with store.engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        store.close()
    assert differences == [], "add an Alembic migration for these model changes"


def test_stored_snippets_become_envelopes_and_back(empty_database_url: str) -> None:
    engine = make_engine(empty_database_url)
    try:
        command.upgrade(_config(engine), "0003")
        with engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO sleepers (id, label, note, created_at) "
                "VALUES (1, 'S-1', '', '2026-01-01 00:00:00')"))
            connection.execute(text(
                "INSERT INTO nights (id, sleeper_id, night_id, started_at, utc_offset_min, "
                "detector_version, model_version, note) "
                "VALUES (1, 1, 'n1', '2026-01-01 22:00:00', 0, '', '', '')"))
            connection.execute(text(
                "INSERT INTO events (id, sleeper_id, night_pk, event_id, channel_label, muscle, "
                "side, start_s, end_s, start_at, duration_s, kind, confidence, features, "
                "detector_version, model_version, final, received_at, updated_at) VALUES "
                "(1, 1, 1, 'e1', 'EMG R Gastroc', 'gastrocnemius', 'right', 100, 140, "
                "'2026-01-01 22:01:40', 40, 'tonic', 0.9, '{}', '', '', true, "
                "'2026-01-02 07:00:00', '2026-01-02 07:00:00')"))
            channels = ('[{"label": "EMG R Gastroc", "group": "emg", "unit": "uV", '
                        '"values": [4.0, 90.0]}, {"label": "ACC", "group": "acc", '
                        '"unit": "g", "values": [1.0, 1.0]}]')
            connection.execute(text(
                "INSERT INTO event_snippets (event_pk, t0_s, rate_hz, channels) "
                "VALUES (1, 90.0, 4.0, :channels)"), {"channels": channels})
        command.upgrade(_config(engine), "head")
        with engine.connect() as connection:
            row = connection.execute(text(
                "SELECT start_s, step_s, channels FROM event_envelopes")).one()
        assert (row.start_s, row.step_s) == (90.0, 0.25)
        stored = row.channels if isinstance(row.channels, list) else json.loads(row.channels)
        # The EMG channel is carried over; the accelerometer has no place in an envelope.
        assert stored == [{"label": "EMG R Gastroc", "muscle": "unknown", "side": "unknown",
                           "role": "other", "values_uv": [4.0, 90.0]}]
        command.downgrade(_config(engine), "0003")
        with engine.connect() as connection:
            back = connection.execute(text("SELECT t0_s, rate_hz FROM event_snippets")).one()
        assert (back.t0_s, back.rate_hz) == (90.0, 4.0)
    finally:
        engine.dispose()
