"""Event store figures: ingest rate (events/s) and events-query latency for one sleeper
with a million events in the store, all through the real HTTP API (uvicorn on 127.0.0.1 in
its own process, one worker; the client is api.client / httpx), on a SQLite file in WAL mode
and, with --database-url, on a PostgreSQL server too, side by side.

The store is bulk-loaded first (plain executemany into the same tables, not through the API: the
load is setup, not the figure). Then it measures:
- ingest: batches of 500 events (the hub's catch-up upload) and single events (the live
  path), each a new event id in a new night, into the loaded store;
- query: p50/p99 latency of GET /api/v1/sleepers/{id}/events for typical clinician
  queries (first page, a night's time range, cramps only, a deep cursor page, a rare filter).

    .venv/bin/python bench/bench_api.py                 # 1 000 000 events
    .venv/bin/python bench/bench_api.py --events 100000 # quicker
    .venv/bin/python bench/bench_api.py --database-url postgresql://USER@HOST:PORT/postgres

With --database-url the bench makes a database of its own on that server (the URL's user
needs CREATEDB), runs the same figures there, and drops it afterwards.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import create_engine, insert, make_url, text

from api.client import HubClient
from api.models import Night, Role, Sleeper
from api.security import new_token
from api.store import Store
from api.users import create_user

EVENTS_PER_NIGHT = 500  # a restless night's detections, cramps and look-alikes together
NIGHT_0 = dt.datetime(2020, 1, 1, 22, 30)  # stored naive UTC
KINDS = (
    ["tonic"] * 2
    + ["clonic"] * 1
    + ["plm"] * 50
    + ["movement"] * 30
    + ["jerk"] * 10
    + ["tremor"] * 3
    + ["walking"] * 1
    + ["stretch"] * 2
    + ["artifact"] * 1
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _sqlite_time(value: dt.datetime) -> str:
    # The text form SQLAlchemy's SQLite DateTime stores, so range queries compare correctly.
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


def bulk_load(store: Store, n_events: int, seed: int = 1) -> tuple[int, str]:
    """Load n_events for one sleeper (plus a second, small sleeper); return (id, hub token)."""
    rng = random.Random(seed)
    with store.sessions() as db:
        sleeper, other = Sleeper(label="BENCH-1"), Sleeper(label="BENCH-2")
        db.add_all([sleeper, other])
        db.commit()
        hub = create_user(db, "bench-hub", Role.HUB, sleeper.id)
        token, _row = new_token(db, hub)
        db.commit()
        sleeper_id, other_id = sleeper.id, other.id
    n_nights = max(1, n_events // EVENTS_PER_NIGHT)
    now = dt.datetime(2026, 1, 1)
    postgres = store.engine.dialect.name == "postgresql"
    with store.engine.begin() as connection:
        nights = [
            {
                "sleeper_id": sleeper_id if k < n_nights else other_id,
                "night_id": f"night-{k:05d}",
                "started_at": NIGHT_0 + dt.timedelta(days=k % n_nights),
                "utc_offset_min": 60,
                "detector_version": "bench",
                "model_version": "bench",
                "note": "",
            }
            for k in range(n_nights + 10)
        ]
        connection.execute(insert(Night), nights)
        night_pks = [
            row[0] for row in connection.exec_driver_sql("SELECT id FROM nights ORDER BY id").all()
        ]
        columns = (
            "sleeper_id, night_pk, event_id, channel_label, muscle, side, start_s, end_s, "
            "start_at, duration_s, kind, confidence, features, detector_version, "
            "model_version, final, received_at, updated_at"
        )
        sql = f"INSERT INTO events ({columns}) VALUES ({', '.join('?' * 18)})"
        stamp: object = now if postgres else _sqlite_time(now)
        stamp_of = (lambda t: t) if postgres else _sqlite_time
        copy = copying = None
        if postgres:
            # COPY: PostgreSQL's bulk path (executemany would take minutes for a million).
            cursor = connection.connection.driver_connection.cursor()
            copying = cursor.copy(f"COPY events ({columns}) FROM STDIN")
            copy = copying.__enter__()
        batch: list[tuple] = []
        for i in range(n_events):
            k = min(i // EVENTS_PER_NIGHT, n_nights - 1)
            kind = rng.choice(KINDS)
            start_s = rng.uniform(0, 8 * 3600)
            if kind in ("tonic", "clonic"):
                duration_s = rng.uniform(20, 400)
                if kind == "tonic" and rng.random() < 0.02:
                    duration_s = rng.uniform(600, 900)
            else:
                duration_s = rng.uniform(0.5, 8)
            start_at = NIGHT_0 + dt.timedelta(days=k, seconds=start_s)
            batch.append(
                (
                    sleeper_id,
                    night_pks[k],
                    f"ev{i:08d}",
                    "EMG R Gastroc",
                    "gastrocnemius",
                    "right",
                    start_s,
                    start_s + duration_s,
                    stamp_of(start_at),
                    duration_s,
                    kind,
                    rng.uniform(0.5, 1.0),
                    json.dumps({"peak_rel": round(rng.uniform(2, 20), 2)}),
                    "bench",
                    "bench",
                    True if postgres else 1,
                    stamp,
                    stamp,
                )
            )
            if len(batch) == 100_000:
                _flush(connection, copy, sql, batch)
        _flush(connection, copy, sql, batch)
        if copying is not None:
            copying.__exit__(None, None, None)
        connection.exec_driver_sql("ANALYZE")
    return sleeper_id, token


def _flush(connection, copy, sql: str, batch: list[tuple]) -> None:  # type: ignore[no-untyped-def]
    if copy is not None:
        for row in batch:
            copy.write_row(row)
    elif batch:
        connection.exec_driver_sql(sql, batch)
    batch.clear()


def _event(event_id: str, start_s: float) -> dict:
    return {
        "event_id": event_id,
        "channel": {"label": "EMG R Gastroc", "muscle": "gastrocnemius", "side": "right"},
        "start_s": start_s,
        "end_s": start_s + 3.0,
        "kind": "plm",
        "confidence": 0.8,
        "features": {"peak_rel": 4.2},
        "detector_version": "bench",
        "model_version": "bench",
        "final": True,
    }


def _pcts(samples_s: list[float]) -> tuple[float, float]:
    ms = sorted(s * 1000 for s in samples_s)
    return statistics.median(ms), ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]


def _pct_text(samples_s: list[float]) -> str:
    p50, p99 = _pcts(samples_s)
    return f"p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  (n={len(samples_s)})"


def _serve(url: str) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--host",
         "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env={**os.environ, "CRAMPWATCH_DATABASE_URL": url},
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"{base}/api/v1/me", timeout=1)
            return server, base
        except httpx.TransportError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                raise SystemExit("uvicorn did not start") from None
            time.sleep(0.1)


def measure(url: str, name: str, args: argparse.Namespace) -> dict[str, str]:
    """Load the store at ``url``, serve it, print its figures; return them for the table."""
    figures: dict[str, str] = {}
    store = Store.open(url)
    t0 = time.perf_counter()
    sleeper_id, token = bulk_load(store, args.events)
    load_s = time.perf_counter() - t0
    store.close()
    print(
        f"[{name}] bulk load: {args.events:,} events in {load_s:.1f} s "
        f"({args.events / load_s:,.0f} events/s, {'COPY' if 'postgres' in url else 'executemany'})"
    )
    server, base = _serve(url)
    try:
        with HubClient(base, token, sleeper_id=sleeper_id, timeout_s=60) as hub:
            start = dt.datetime(2026, 2, 1, 22, 0, tzinfo=dt.UTC)
            hub.put_night("ingest-batch", start)
            n = 500 * args.ingest_batches
            events = [_event(f"in{i:07d}", i * 1.0) for i in range(n)]
            t0 = time.perf_counter()
            for first in range(0, n, 500):
                hub.upload_events("ingest-batch", events[first : first + 500])
            batch_s = time.perf_counter() - t0
            figures["ingest, batches of 500 (events/s)"] = f"{n / batch_s:,.0f}"
            print(f"[{name}] ingest, batches of 500 over HTTP: {n / batch_s:,.0f} events/s "
                  f"({n:,} events in {batch_s:.1f} s)")
            n_retry = min(5000, n)
            retry_t0 = time.perf_counter()
            summary = hub.upload_events("ingest-batch", events[:n_retry])
            retry_s = time.perf_counter() - retry_t0
            assert summary.created == 0 and summary.unchanged == n_retry
            figures["ingest, retried batches (events/s)"] = f"{n_retry / retry_s:,.0f}"
            print(f"[{name}] ingest, retried batches (all unchanged): "
                  f"{n_retry / retry_s:,.0f} events/s")

            hub.put_night("ingest-live", start + dt.timedelta(days=1))
            singles = []
            for i in range(300):
                t1 = time.perf_counter()
                hub.upload_events("ingest-live", [_event(f"live{i:05d}", i * 10.0)])
                singles.append(time.perf_counter() - t1)
            p50, p99 = _pcts(singles)
            figures["ingest, one event per request p50/p99 (ms)"] = f"{p50:.1f} / {p99:.1f}"
            print(f"[{name}] ingest, one event per request (live path): "
                  f"{len(singles) / sum(singles):,.0f} events/s; {_pct_text(singles)}")

        n_nights = max(1, args.events // EVENTS_PER_NIGHT)
        mid = NIGHT_0 + dt.timedelta(days=n_nights // 2)
        night_start = mid.replace(tzinfo=dt.UTC)
        shapes = {
            "first page (100)": {"limit": 100},
            "one night's time range": {
                "start": night_start.isoformat(),
                "end": (night_start + dt.timedelta(hours=9)).isoformat(),
                "limit": 1000,
            },
            "cramps only, from a date": {
                "cramps_only": "true",
                "start": night_start.isoformat(),
                "limit": 100,
            },
            "cramps > 10 min (rare)": {"cramps_only": "true", "min_duration_s": 600, "limit": 100},
            "one night by id": {"night_id": f"night-{n_nights // 2:05d}", "limit": 1000},
        }
        with httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60
        ) as http:
            path = f"/api/v1/sleepers/{sleeper_id}/events"
            # A deep page: follow cursors half-way through a night-range listing.
            cursor = None
            for _ in range(5):
                page = http.get(
                    path, params={"limit": 1000, **({"cursor": cursor} if cursor else {})}
                ).json()
                cursor = page["next_cursor"]
            shapes["page after a cursor (100)"] = {"limit": 100, "cursor": cursor}
            print(f"[{name}] events query, {args.events:,} events of one sleeper in the store "
                  f"(HTTP, {args.queries} requests each):")
            for shape, params in shapes.items():
                times, count = [], 0
                for _ in range(args.queries):
                    t1 = time.perf_counter()
                    response = http.get(path, params=params)
                    times.append(time.perf_counter() - t1)
                    response.raise_for_status()
                    count = len(response.json()["items"])
                p50, p99 = _pcts(times)
                figures[f"query: {shape} p50/p99 (ms)"] = f"{p50:.1f} / {p99:.1f}"
                print(f"  {shape:28} {count:5d} items  {_pct_text(times)}")
    finally:
        server.terminate()
        server.wait(timeout=10)
    return figures


def _own_postgres_database(url: str) -> tuple[str, object]:
    """Create a database for the bench on the server at ``url``; return its URL and a
    function that drops it."""
    server_url = make_url(url)
    if server_url.drivername in ("postgresql", "postgres"):
        server_url = server_url.set(drivername="postgresql+psycopg")
    name = f"crampwatch_bench_{os.getpid()}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()

    return server_url.set(database=name).render_as_string(hide_password=False), drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events in the store")
    parser.add_argument("--queries", type=int, default=200, help="requests per query shape")
    parser.add_argument("--ingest-batches", type=int, default=40, help="500-event uploads")
    parser.add_argument("--database-url", help="also measure on this PostgreSQL server")
    parser.add_argument("--keep", action="store_true", help="keep the SQLite file afterwards")
    args = parser.parse_args()

    results: dict[str, dict[str, str]] = {}
    workdir = Path(tempfile.mkdtemp(prefix="crampwatch-bench-"))
    try:
        results["SQLite"] = measure(f"sqlite:///{workdir / 'bench.db'}", "SQLite", args)
        size_mb = (workdir / "bench.db").stat().st_size / 1e6
        print(f"[SQLite] store file {size_mb:.0f} MB")
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    if args.database_url:
        url, drop = _own_postgres_database(args.database_url)
        try:
            results["PostgreSQL"] = measure(url, "PostgreSQL", args)
        finally:
            drop()  # type: ignore[operator]
    names = list(results)
    print(f"\nside by side, {args.events:,} events in the store, one uvicorn worker:")
    print(f"  {'figure':48}" + "".join(f"{n:>16}" for n in names))
    for key in results[names[0]]:
        print(f"  {key:48}" + "".join(f"{results[n].get(key, '-'):>16}" for n in names))


if __name__ == "__main__":
    main()
