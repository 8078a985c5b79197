"""Opening the event store: engine, schema migrations (Alembic) and the session factory."""

from __future__ import annotations

from dataclasses import dataclass

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, inspect
from sqlalchemy.orm import Session, sessionmaker

from api.db import make_engine, make_sessionmaker

MIGRATIONS = "api:migrations"


class StoreNotMigratedError(RuntimeError):
    """The database has no crampwatch schema, or an older one than this code needs."""


def alembic_config(database_url: str) -> Config:
    """Return an Alembic config pointing at the shipped migrations and ``database_url``."""
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade the store behind ``engine`` to ``revision`` (all migrations by default)."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def check_migrated(engine: Engine) -> None:
    """Raise StoreNotMigratedError unless the store is at the newest shipped revision."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            current = None
        else:
            current = MigrationContext.configure(connection).get_current_revision()
    if current != head:
        raise StoreNotMigratedError(
            f"the store at {engine.url.render_as_string(hide_password=True)} is at schema "
            f"revision {current or 'none'}, this code needs {head}: run `crampwatch serve "
            "--migrate-only` (or start it without --no-migrate) first"
        )


@dataclass
class Store:
    """An open store: the engine and its session factory."""

    engine: Engine
    sessions: sessionmaker[Session]

    @classmethod
    def open(cls, database_url: str, *, run_migrations: bool = True) -> Store:
        """Return the store at ``database_url``, migrated to the newest schema when asked,
        else checked to be at it."""
        engine = make_engine(database_url)
        if run_migrations:
            migrate(engine)
        else:
            check_migrated(engine)
        return cls(engine=engine, sessions=make_sessionmaker(engine))

    def close(self) -> None:
        self.engine.dispose()
