"""Fixtures for the API tests: a migrated store on each backend (a SQLite file and a
PostgreSQL database), users of every role, a sample night.

Every test that takes ``store`` (or ``database_url``) runs twice, ``[sqlite]`` and
``[postgresql]``. The PostgreSQL server is the one at ``CRAMPWATCH_TEST_POSTGRES_URL``
(``scripts/test`` starts a throw-away cluster and sets it); each test gets a database of
its own. Without that variable the PostgreSQL half is skipped, and the run says so.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, make_url, text

from api.app import create_app
from api.models import ClinicianAssignment, Role, Sleeper
from api.security import new_token
from api.settings import Settings
from api.store import Store
from api.users import create_user

NIGHT_START = dt.datetime(2026, 3, 2, 22, 40, tzinfo=dt.timezone(dt.timedelta(hours=1)))


@dataclass
class World:
    """Two sleepers, a hub for each, a clinician assigned to the first only, an admin."""

    store: Store
    sleeper_a: int
    sleeper_b: int
    admin: str
    clinician: str
    other_clinician: str
    hub_a: str
    hub_b: str


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def make_world(store: Store) -> World:
    with store.sessions() as db:
        a, b = Sleeper(label="S-0001"), Sleeper(label="S-0002")
        db.add_all([a, b])
        db.commit()
        tokens = {}
        for name, role, sleeper in (
            ("admin", Role.ADMIN, None),
            ("dr-lee", Role.CLINICIAN, None),
            ("dr-okafor", Role.CLINICIAN, None),
            ("hub-a", Role.HUB, a.id),
            ("hub-b", Role.HUB, b.id),
        ):
            user = create_user(db, name, role, sleeper)
            tokens[name], _row = new_token(db, user)
            db.commit()
            if name == "dr-lee":
                db.add(ClinicianAssignment(user_id=user.id, sleeper_id=a.id))
            if name == "dr-okafor":
                db.add(ClinicianAssignment(user_id=user.id, sleeper_id=b.id))
        db.commit()
        return World(
            store, a.id, b.id, tokens["admin"], tokens["dr-lee"], tokens["dr-okafor"],
            tokens["hub-a"], tokens["hub-b"],
        )


POSTGRES_URL_ENV = "CRAMPWATCH_TEST_POSTGRES_URL"
NO_POSTGRES = (
    f"PostgreSQL half SKIPPED: {POSTGRES_URL_ENV} is not set (scripts/test starts a "
    "throw-away PostgreSQL server and sets it)"
)
BACKENDS = ("sqlite", "postgresql")
#: A migrated database that each test's database is copied from (CREATE DATABASE TEMPLATE);
#: one per test run, so runs sharing a server never drop each other's.
TEMPLATE_DB = f"crampwatch_template_{os.getpid()}"
_database_numbers = itertools.count()


class PostgresServer:
    """The test PostgreSQL server: makes and drops one database per test."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self.admin = create_engine(self.url, isolation_level="AUTOCOMMIT")
        self.template_ready = False

    def url_of(self, database: str) -> str:
        return self.url.set(database=database).render_as_string(hide_password=False)

    def create(self, migrated: bool = True) -> str:
        """Return the URL of a new empty database, or of a copy of the migrated template."""
        if migrated and not self.template_ready:
            self._execute(f"DROP DATABASE IF EXISTS {TEMPLATE_DB} WITH (FORCE)")
            self._execute(f"CREATE DATABASE {TEMPLATE_DB}")
            Store.open(self.url_of(TEMPLATE_DB)).close()
            self.template_ready = True
        name = f"cw_test_{os.getpid()}_{next(_database_numbers)}"
        template = TEMPLATE_DB if migrated else "template0"
        self._execute(f"CREATE DATABASE {name} TEMPLATE {template}")
        return self.url_of(name)

    def drop(self, url: str) -> None:
        self._execute(f"DROP DATABASE IF EXISTS {make_url(url).database} WITH (FORCE)")

    def _execute(self, sql: str) -> None:
        with self.admin.connect() as connection:
            connection.execute(text(sql))

    def close(self) -> None:
        if self.template_ready:
            self._execute(f"DROP DATABASE IF EXISTS {TEMPLATE_DB} WITH (FORCE)")
        self.admin.dispose()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer | None]:
    url = os.environ.get(POSTGRES_URL_ENV)
    if not url:
        yield None
        return
    server = PostgresServer(url)
    yield server
    server.close()


def _database_url(
    request: pytest.FixtureRequest, tmp_path: Path, postgres: PostgresServer | None, migrated: bool
) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'crampwatch.db'}"
        return
    if postgres is None:
        pytest.skip(NO_POSTGRES)
    url = postgres.create(migrated=migrated)
    yield url
    postgres.drop(url)


@pytest.fixture(params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_server: PostgresServer | None
) -> Iterator[str]:
    """The URL of a migrated store on each backend, one of its own per test."""
    yield from _database_url(request, tmp_path, postgres_server, migrated=True)


@pytest.fixture(params=BACKENDS)
def empty_database_url(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_server: PostgresServer | None
) -> Iterator[str]:
    """The URL of an empty database (no schema) on each backend."""
    yield from _database_url(request, tmp_path, postgres_server, migrated=False)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # type: ignore[no-untyped-def]
    skipped = [
        report for report in terminalreporter.stats.get("skipped", [])
        if NO_POSTGRES in str(report.longrepr)
    ]
    if skipped:
        terminalreporter.write_sep(
            "!", f"{len(skipped)} API tests did NOT run on PostgreSQL: {NO_POSTGRES}",
            yellow=True, bold=True,
        )


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    store = Store.open(database_url)
    yield store
    store.close()


@pytest.fixture
def world(store: Store) -> World:
    return make_world(store)


@pytest.fixture
def client(store: Store, database_url: str) -> Iterator[TestClient]:
    app = create_app(Settings(database_url=database_url), store)
    with TestClient(app) as test_client:
        yield test_client


def envelope(duration_s: float, rate_hz: float, onset_s: float, level_uv: float) -> list[float]:
    """A plausible rectified-EMG envelope: quiet baseline, a sustained plateau, relaxation."""
    out = []
    for k in range(int(duration_s * rate_hz)):
        t = k / rate_hz
        rise = 1 / (1 + math.exp(-(t - onset_s) * 2))
        fall = 1 / (1 + math.exp((t - (duration_s - onset_s)) * 1.5))
        out.append(round(4.0 + level_uv * rise * fall + 2 * math.sin(t * 7) ** 2, 3))
    return out


def sample_events(prefix: str = "") -> list[dict]:
    """A night: one tonic cramp (with its envelope), one clonic, one 11-minute tonic, a PLM and a
    turning-over movement; event ids are ``prefix`` + e1..e5."""
    events = [
        {
            "event_id": "e1",
            "channel": {"label": "EMG R Gastroc", "muscle": "gastrocnemius", "side": "right"},
            "start_s": 9843.2,
            "end_s": 9975.7,
            "kind": "tonic",
            "confidence": 0.93,
            "features": {"duration_s": 132.5, "amp_rel_peak": 11.4, "burst_count": 1.0,
                         "amp_rel_median": 9.5, "baseline_uv": 4.2},
            "detector_version": "0.1.0",
            "model_version": "m1",
            "final": True,
            "envelope": {
                "start_s": 9833.2,
                "step_s": 0.25,
                "channels": [
                    {"label": "EMG R Gastroc", "muscle": "gastrocnemius", "side": "right",
                     "role": "calf", "values_uv": envelope(152.5, 4.0, 10.0, 180.0)},
                    {"label": "EMG R Tib Ant", "muscle": "tibialis_anterior", "side": "right",
                     "role": "shin", "values_uv": envelope(152.5, 4.0, 10.0, 6.0)},
                ],
            },
        },
        {
            "event_id": "e2",
            "channel": {"label": "EMG L Gastroc", "muscle": "gastrocnemius", "side": "left"},
            "start_s": 14400.0,
            "end_s": 14445.0,
            "kind": "clonic",
            "confidence": 0.81,
            "features": {"burst_count": 6.0, "amp_rel_peak": None},
            "final": True,
        },
        {
            "event_id": "e3",
            "channel": {"label": "EMG R Gastroc", "muscle": "gastrocnemius", "side": "right"},
            "start_s": 21000.0,
            "end_s": 21660.0,
            "kind": "tonic",
            "confidence": 0.97,
            "final": True,
        },
        {
            "event_id": "e4",
            "channel": {"label": "EMG R Tib Ant", "muscle": "tibialis_anterior", "side": "right"},
            "start_s": 3600.0,
            "end_s": 3601.5,
            "kind": "plm",
            "confidence": 0.88,
            "final": True,
        },
        {
            "event_id": "e5",
            "channel": {"label": "EMG R Gastroc", "muscle": "gastrocnemius", "side": "right"},
            "start_s": 7200.0,
            "end_s": 7206.0,
            "kind": "movement",
            "confidence": 0.7,
            "final": True,
        },
    ]
    for event in events:
        event["event_id"] = prefix + event["event_id"]
    return events


def upload_night(client, sleeper_id: int, token: str, night_id: str = "n0302",
                 start: dt.datetime = NIGHT_START, events: list[dict] | None = None) -> None:
    """PUT a night and POST its events (the sample night by default), asserting success."""
    base = f"/api/v1/sleepers/{sleeper_id}"
    body = {"started_at": start.isoformat(),
            "ended_at": (start + dt.timedelta(hours=8, minutes=10)).isoformat()}
    response = client.put(f"{base}/nights/{night_id}", json=body, headers=auth(token))
    assert response.status_code in (200, 201), response.text
    events = sample_events() if events is None else events
    if not events:
        return
    response = client.post(
        f"{base}/nights/{night_id}/events",
        json={"events": events},
        headers=auth(token),
    )
    assert response.status_code == 200, response.text
