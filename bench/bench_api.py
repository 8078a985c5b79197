"""Event store figures: ingest rate (events/s) and events-query latency for one sleeper
with a million events in the store, all through the real HTTP API (uvicorn on 127.0.0.1 in
its own process, a SQLite file in WAL mode; the client is api.client / httpx).

The store is bulk-loaded first (plain executemany into the same tables, not through the API: the
load is setup, not the figure). Then it measures:
- ingest: batches of 500 events (the hub's catch-up upload) and single events (the live
  path), each a new event id in a new night, into the loaded store;
- query: p50/p99 latency of GET /api/v1/sleepers/{id}/events for typical clinician
  queries (first page, a night's time range, cramps only, a deep cursor page, a rare filter).

    .venv/bin/python bench/bench_api.py                 # 1 000 000 events
    .venv/bin/python bench/bench_api.py --events 100000 # quicker
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
from sqlalchemy import insert

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
        stamp = _sqlite_time(now)
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
                    _sqlite_time(start_at),
                    duration_s,
                    kind,
                    rng.uniform(0.5, 1.0),
                    json.dumps({"peak_rel": round(rng.uniform(2, 20), 2)}),
                    "bench",
                    "bench",
                    1,
                    stamp,
                    stamp,
                )
            )
            if len(batch) == 100_000:
                connection.exec_driver_sql(sql, batch)
                batch.clear()
        if batch:
            connection.exec_driver_sql(sql, batch)
        connection.exec_driver_sql("ANALYZE")
    return sleeper_id, token


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


def _pcts(samples_s: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples_s)
    p50 = statistics.median(ms)
    p99 = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
    return f"p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  (n={len(ms)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events in the store")
    parser.add_argument("--queries", type=int, default=200, help="requests per query shape")
    parser.add_argument("--ingest-batches", type=int, default=40, help="500-event uploads")
    parser.add_argument("--keep", action="store_true", help="keep the store file afterwards")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="crampwatch-bench-"))
    url = f"sqlite:///{workdir / 'bench.db'}"
    store = Store.open(url)
    t0 = time.perf_counter()
    sleeper_id, token = bulk_load(store, args.events)
    load_s = time.perf_counter() - t0
    store.close()
    size_mb = (workdir / "bench.db").stat().st_size / 1e6
    print(
        f"bulk load: {args.events:,} events in {load_s:.1f} s "
        f"({args.events / load_s:,.0f} events/s, executemany; store {size_mb:.0f} MB)"
    )

    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "api.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env={**os.environ, "CRAMPWATCH_DATABASE_URL": url},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/api/v1/me", timeout=1)
                break
            except httpx.TransportError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("uvicorn did not start") from None
                time.sleep(0.1)

        with HubClient(base, token, sleeper_id=sleeper_id, timeout_s=60) as hub:
            start = dt.datetime(2026, 2, 1, 22, 0, tzinfo=dt.UTC)
            hub.put_night("ingest-batch", start)
            n = 500 * args.ingest_batches
            events = [_event(f"in{i:07d}", i * 1.0) for i in range(n)]
            t0 = time.perf_counter()
            for first in range(0, n, 500):
                hub.upload_events("ingest-batch", events[first : first + 500])
            batch_s = time.perf_counter() - t0
            print(
                f"ingest, batches of 500 over HTTP: {n / batch_s:,.0f} events/s "
                f"({n:,} events in {batch_s:.1f} s)"
            )
            retry_t0 = time.perf_counter()
            summary = hub.upload_events("ingest-batch", events[:5000])
            retry_s = time.perf_counter() - retry_t0
            assert summary.created == 0 and summary.unchanged == 5000
            print(f"ingest, retried batches (all unchanged): {5000 / retry_s:,.0f} events/s")

            hub.put_night("ingest-live", start + dt.timedelta(days=1))
            singles = []
            for i in range(300):
                t1 = time.perf_counter()
                hub.upload_events("ingest-live", [_event(f"live{i:05d}", i * 10.0)])
                singles.append(time.perf_counter() - t1)
            print(
                f"ingest, one event per request (live path): "
                f"{len(singles) / sum(singles):,.0f} events/s; {_pcts(singles)}"
            )

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
            print(
                f"events query, {args.events:,} events of one sleeper in the store "
                f"(HTTP, {args.queries} requests each):"
            )
            for name, params in shapes.items():
                times, count = [], 0
                for _ in range(args.queries):
                    t1 = time.perf_counter()
                    response = http.get(path, params=params)
                    times.append(time.perf_counter() - t1)
                    response.raise_for_status()
                    count = len(response.json()["items"])
                print(f"  {name:28} {count:5d} items  {_pcts(times)}")
    finally:
        server.terminate()
        server.wait(timeout=10)
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
