"""What hostile or heavy clients cost the server: peak resident memory (RSS) of a real
`crampwatch serve` (uvicorn on 127.0.0.1; one worker, or --workers N, summed) while

1. a 257 MB upload is attempted (a 1000-event batch bloated with envelopes), once with its
   Content-Length and once streamed without one (chunked);
2. four clients export the same 60 000-event sleeper as FHIR at once;
3. 8 hubs upload batches while 4 clinicians read (ingest latency p50/p99 under that load).

The server's RSS is sampled from /proc every 10 ms, and its peak (VmHWM) is reset before each
probe, so each figure is that probe's own peak.

    .venv/bin/python bench/bench_api_limits.py
    .venv/bin/python bench/bench_api_limits.py --database-url postgresql://USER@HOST:PORT/postgres
    .venv/bin/python bench/bench_api_limits.py --database-url ... --skip-sqlite --workers 4
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from api.models import Role
from api.security import new_token
from api.store import Store
from api.users import create_user

sys.path.insert(0, str(Path(__file__).parent))
from bench_api import _event, _free_port, _own_postgres_database, bulk_load

EXPORT_EVENTS = 60_000
WRITERS, READERS = 8, 4
WRITE_BATCH = 500


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for process {pid}")


def _tree(pid: int) -> list[int]:
    """Return ``pid`` and its descendants (uvicorn's worker processes)."""
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        for task in Path(f"/proc/{current}/task").iterdir():
            todo.extend(int(c) for c in (task / "children").read_text().split())
    return pids


def _rss_mb(pid: int, field: str = "VmRSS") -> float:
    """Return the summed RSS (MB) of a server process and its workers."""
    return sum(_status_kb(p, field) for p in _tree(pid)) / 1024


class RssWatch:
    """Peak RSS (MB) of a server (all its processes) over a block: sampled every 10 ms, and
    for a single process also its kernel high-water mark."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def __enter__(self) -> RssWatch:
        for pid in _tree(self.pid):
            with contextlib.suppress(OSError):  # "5" resets VmHWM to the current RSS
                Path(f"/proc/{pid}/clear_refs").write_text("5")
        self.before_mb = _rss_mb(self.pid)
        self.peak_mb = self.before_mb
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self.peak_mb = max(self.peak_mb, _rss_mb(self.pid))

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        if len(_tree(self.pid)) == 1:
            self.peak_mb = max(self.peak_mb, _rss_mb(self.pid, "VmHWM"))
        self.after_mb = _rss_mb(self.pid)

    def text(self) -> str:
        return (f"server RSS {self.before_mb:6.0f} MB before, peak {self.peak_mb:6.0f} MB, "
                f"{self.after_mb:6.0f} MB after")


def _bloated_batch() -> Iterator[bytes]:
    """Yield a 1000-event batch with envelopes past the schema's bounds (8 channels of 4000
    values), about 257 MB of JSON."""
    values = json.dumps([1.2345] * 4000)
    channel = (f'{{"label": "EMG R Gastroc", "muscle": "gastrocnemius", "side": "R", '
               f'"role": "calf", "values_uv": {values}}}')
    envelope = f'{{"start_s": 0.0, "step_s": 0.1, "channels": [{", ".join([channel] * 8)}]}}'
    yield b'{"events": ['
    for i in range(1000):
        event = _event(f"big{i:04d}", float(i))
        text = json.dumps(event)[:-1] + f', "envelope": {envelope}}}'
        yield (b"," if i else b"") + text.encode()
    yield b"]}"


def _bloated_size() -> int:
    return sum(len(chunk) for chunk in _bloated_batch())


def _serve(url: str, port: int, workers: int) -> subprocess.Popen:
    server = subprocess.Popen(
        [sys.executable, "-m", "crampwatch", "serve", "--port", str(port), "--database-url", url,
         "--log-level", "warning", "--workers", str(workers)],
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/v1/me", timeout=1)
            return server
        except httpx.TransportError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("crampwatch serve did not start") from None
            time.sleep(0.1)


def _pcts(samples_s: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples_s)
    p50 = ms[len(ms) // 2]
    p99 = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
    return f"p50 {p50:6.0f} ms  p99 {p99:6.0f} ms  (n={len(ms)})"


def measure(url: str, name: str, args: argparse.Namespace) -> None:
    store = Store.open(url)
    sleeper_id, hub_token = bulk_load(store, EXPORT_EVENTS)
    with store.sessions() as db:
        writers = []
        for k in range(WRITERS):
            token, _row = new_token(db, create_user(db, f"writer-{k}", Role.HUB, sleeper_id))
            db.commit()
            writers.append(token)
    store.close()
    port = _free_port()
    server = _serve(url, port, args.workers)
    base = f"http://127.0.0.1:{port}/api/v1/sleepers/{sleeper_id}"
    auth = {"Authorization": f"Bearer {hub_token}"}
    try:
        time.sleep(1 if args.workers == 1 else 5)  # every worker up
        print(f"[{name}] server idle, {args.workers} worker(s): RSS {_rss_mb(server.pid):.0f} MB")
        start = dt.datetime(2026, 2, 1, 22, 0, tzinfo=dt.UTC)
        httpx.put(f"{base}/nights/big", json={"started_at": start.isoformat()},
                  headers=auth).raise_for_status()
        size = _bloated_size()
        for how in ("with Content-Length", "chunked, no length"):
            with RssWatch(server.pid) as watch:
                t0 = time.perf_counter()
                headers = {**auth, "Content-Type": "application/json"}
                if how.startswith("with"):
                    headers["Content-Length"] = str(size)
                try:
                    response = httpx.post(f"{base}/nights/big/events", content=_bloated_batch(),
                                          headers=headers, timeout=300)
                    body = response.json()
                    answer = f"{response.status_code} {str(body.get('detail', body))[:60]}..."
                except httpx.TransportError as exc:  # the server may close once it has said 413
                    answer = f"connection closed by the server ({type(exc).__name__})"
                took = time.perf_counter() - t0
            print(f"[{name}] {size / 1e6:.0f} MB upload, {how}: {answer} in {took:.2f} s; "
                  f"{watch.text()}")

        def export(_: int) -> tuple[int, float]:
            t0 = time.perf_counter()
            with httpx.stream("GET", f"{base}/export/events.fhir.json", headers=auth,
                              timeout=600) as response:
                response.raise_for_status()
                body = b"".join(response.iter_bytes())
            return len(json.loads(body)["entry"]), time.perf_counter() - t0

        with RssWatch(server.pid) as watch, ThreadPoolExecutor(4) as pool:
            results = list(pool.map(export, range(4)))
        counts = {n for n, _ in results}
        print(f"[{name}] 4 parallel FHIR exports of {counts} events: "
              f"{max(t for _, t in results):.1f} s for the slowest; {watch.text()}")

        stop = threading.Event()
        write_times: list[float] = []
        read_times: list[float] = []

        def writer(k: int) -> None:
            hub = {"Authorization": f"Bearer {writers[k]}"}
            with httpx.Client(base_url=base, headers=hub, timeout=120) as client:
                client.put(f"/nights/load-{k}", json={
                    "started_at": (start + dt.timedelta(days=k + 1)).isoformat()
                }).raise_for_status()
                i = 0
                while not stop.is_set():
                    batch = [_event(f"w{k}-{i + j:07d}", float(i + j)) for j in range(WRITE_BATCH)]
                    t0 = time.perf_counter()
                    client.post(f"/nights/load-{k}/events",
                                json={"events": batch}).raise_for_status()
                    write_times.append(time.perf_counter() - t0)
                    i += WRITE_BATCH

        def reader(_: int) -> None:
            with httpx.Client(base_url=base, headers=auth, timeout=120) as client:
                while not stop.is_set():
                    t0 = time.perf_counter()
                    client.get("/events", params={"limit": 200}).raise_for_status()
                    read_times.append(time.perf_counter() - t0)

        with RssWatch(server.pid) as watch, ThreadPoolExecutor(WRITERS + READERS) as pool:
            futures = [pool.submit(writer, k) for k in range(WRITERS)]
            futures += [pool.submit(reader, k) for k in range(READERS)]
            time.sleep(args.load_seconds)
            stop.set()
            for future in futures:
                future.result()
        events = len(write_times) * WRITE_BATCH
        print(f"[{name}] {WRITERS} writers ({WRITE_BATCH}-event batches) + {READERS} readers "
              f"for {args.load_seconds:.0f} s: {events / args.load_seconds:,.0f} events/s stored; "
              f"ingest {_pcts(write_times)}; reads {_pcts(read_times)}; {watch.text()}")
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="also measure on this PostgreSQL server")
    parser.add_argument("--load-seconds", type=float, default=20.0,
                        help="how long the 8-writer/4-reader load runs")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--skip-sqlite", action="store_true",
                        help="measure only the --database-url server")
    args = parser.parse_args()
    if not args.skip_sqlite:
        workdir = Path(tempfile.mkdtemp(prefix="crampwatch-limits-"))
        try:
            measure(f"sqlite:///{workdir / 'limits.db'}", "SQLite", args)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    if args.database_url:
        url, drop = _own_postgres_database(args.database_url)
        try:
            measure(url, "PostgreSQL", args)
        finally:
            drop()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
