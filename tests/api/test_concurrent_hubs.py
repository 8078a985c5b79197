"""Many hubs uploading the same nights at the same moment to `crampwatch serve --workers 4`
on PostgreSQL: every event, night and prompt is stored exactly once and nobody gets an error."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import func, select

from api.models import EventRow, Night, Prompt, Role, Sleeper
from api.security import new_token
from api.store import Store
from api.users import create_user
from tests.api.conftest import NIGHT_START, NO_POSTGRES, PostgresServer, auth, sample_events
from tests.api.live_server import free_port

pytestmark = pytest.mark.slow

HUBS = 20
WORKERS = 4
NIGHTS = 2
EVENTS_PER_NIGHT = 800
BATCH = 400  # two batches a night, each sent by 40 clients at once


@pytest.fixture
def postgres_url(postgres_server: PostgresServer | None) -> Iterator[str]:
    if postgres_server is None:
        pytest.skip(NO_POSTGRES)
    url = postgres_server.create()
    yield url
    postgres_server.drop(url)


@pytest.fixture
def served(postgres_url: str) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "CRAMPWATCH_DATABASE_URL": postgres_url}
    server = subprocess.Popen(
        [sys.executable, "-m", "crampwatch", "serve", "--port", str(port), "--workers",
         str(WORKERS), "--log-level", "warning"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                httpx.get(f"{base}/api/v1/me", timeout=2)
                break
            except httpx.TransportError:
                if server.poll() is not None or time.monotonic() > deadline:
                    server.kill()
                    raise AssertionError(server.stderr.read().decode()) from None
                time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def _night_events(night: int) -> list[dict]:
    template = sample_events()
    events = []
    for i in range(EVENTS_PER_NIGHT):
        event = {k: v for k, v in template[i % len(template)].items() if k != "envelope"}
        event = {**event, "event_id": f"n{night}:{i}", "start_s": 10.0 + 15 * i}
        event["end_s"] = event["start_s"] + 5.0
        events.append(event)
    return events


def test_twenty_hubs_sending_every_batch_twice_store_each_event_once(
    postgres_url: str, served: str
) -> None:
    store = Store.open(postgres_url)
    try:
        with store.sessions() as db:
            sleeper = Sleeper(label="S-busy")
            db.add(sleeper)
            db.commit()
            tokens = []
            for k in range(HUBS):
                user = create_user(db, f"hub-{k}", Role.HUB, sleeper.id)
                token, _row = new_token(db, user)
                db.commit()
                tokens.append(token)
            sleeper_id = sleeper.id
    finally:
        store.close()
    base = f"{served}/api/v1/sleepers/{sleeper_id}"
    nights = {n: _night_events(n) for n in range(NIGHTS)}
    start = threading.Barrier(HUBS * 2)
    statuses: list[int] = []
    busy: list[str] = []  # requests answered 503 before they went through
    lock = threading.Lock()

    def hub(job: int) -> None:
        token = tokens[job // 2]
        start.wait()  # both copies of every hub's uploads race each other and all the others
        with httpx.Client(base_url=base, headers=auth(token), timeout=120) as client:

            def send(method: str, url: str, body: dict) -> httpx.Response:
                # As a hub does: a 503 ("store busy", documented with Retry-After) is
                # sent again; anything else is the answer.
                for _ in range(10):
                    answer = client.request(method, url, json=body)
                    if answer.status_code != 503:
                        return answer
                    with lock:
                        busy.append(url)
                    time.sleep(float(answer.headers.get("Retry-After", "1")))
                return answer

            for n, events in nights.items():
                begun = NIGHT_START + dt.timedelta(days=n)
                answers = [
                    send("PUT", f"/nights/n{n}", {"started_at": begun.isoformat()}),
                    send("PUT", f"/prompts/p{n}", {
                        "event_id": f"n{n}:0", "night_id": f"n{n}",
                        "sent_at": begun.isoformat(), "channel": "band"}),
                ]
                for first in range(0, len(events), BATCH):
                    answers.append(send("POST", f"/nights/n{n}/events",
                                        {"events": events[first:first + BATCH]}))
                with lock:
                    statuses.extend(a.status_code for a in answers)

    with ThreadPoolExecutor(max_workers=HUBS * 2) as pool:
        list(pool.map(hub, range(HUBS * 2)))

    assert sorted(set(statuses)) in ([200], [200, 201]), sorted(set(statuses))
    assert len(busy) <= len(statuses) // 10, f"{len(busy)} answers were 'store busy'"
    assert len(statuses) == HUBS * 2 * NIGHTS * 4
    store = Store.open(postgres_url)
    try:
        with store.sessions() as db:
            n_events = db.scalar(select(func.count()).select_from(EventRow))
            distinct = db.scalar(select(func.count(func.distinct(EventRow.event_id))))
            n_nights = db.scalar(select(func.count()).select_from(Night))
            n_prompts = db.scalar(select(func.count()).select_from(Prompt))
    finally:
        store.close()
    assert n_events == distinct == NIGHTS * EVENTS_PER_NIGHT
    assert n_nights == NIGHTS and n_prompts == NIGHTS
    # Exactly one PUT of each night and prompt was told it created it.
    assert statuses.count(201) == 2 * NIGHTS
