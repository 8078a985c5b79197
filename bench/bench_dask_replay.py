"""Cluster replay benchmark: N one-hour nights on a local 2-worker Dask cluster vs --jobs 2.

Makes the nights with `crampwatch synth` (kept with --keep DIR, reused when there),
starts a real `dask scheduler` and two one-thread `dask worker` processes on
127.0.0.1, then times `crampwatch replay DIR --events OUT` end to end in a child
process, with `--scheduler` and with `--jobs 2` (same cores, same number of
recordings at once), alternating, --repeat times each; the fastest of each counts
(on a shared machine the others measure the neighbours). Prints wall time and
throughput of both, the cluster path's overhead per night, the round trip of an
empty task through the same cluster, and whether the outputs are byte-identical.

    .venv/bin/python bench/bench_dask_replay.py [--nights 16] [--hours 1] [--repeat 2]
                                                [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.crampwatch.dask_cluster import dask_cluster

CRAMPWATCH = [sys.executable, "-m", "crampwatch"]


def _replay(folder: Path, events: Path, *how: str) -> float:
    """Run one replay in a child; return its wall time (s)."""
    started = time.perf_counter()
    subprocess.run([*CRAMPWATCH, "replay", str(folder), "--events", str(events), *how],
                   check=True, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def _noop(i: int) -> int:
    return i


def _round_trip_s(address: str, n: int) -> float:
    """Return the wall time per task of ``n`` empty tasks through the cluster (s)."""
    from distributed import Client

    with Client(address, set_as_default=False) as client:
        client.gather(client.map(_noop, range(n), pure=False))  # warm: connections, pickles
        started = time.perf_counter()
        client.gather(client.map(_noop, range(n, 2 * n), pure=False))
        return (time.perf_counter() - started) / n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nights", type=int, default=16)
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=2, help="cluster workers = --jobs")
    parser.add_argument("--seed", type=int, default=41000)
    parser.add_argument("--repeat", type=int, default=2, help="runs of each path (fastest counts)")
    parser.add_argument("--keep", type=Path, help="make (or reuse) the nights here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="crampwatch-bench-dask-") as tmp:
        work = Path(tmp)
        nights = args.keep or work / "nights"
        have = sorted(nights.glob("*.edf")) if nights.is_dir() else []
        if len(have) != args.nights:
            started = time.perf_counter()
            subprocess.run([*CRAMPWATCH, "synth", "--nights", str(args.nights), "--hours",
                            f"{args.hours:g}", "--seed", str(args.seed), "--out", str(nights)],
                           check=True, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
            print(f"made {args.nights} nights of {args.hours:g} h in "
                  f"{time.perf_counter() - started:.0f} s ({nights})")
        signal_h = args.nights * args.hours
        started = time.perf_counter()
        cluster_runs, local_runs = [], []
        with dask_cluster(work / "dask", n_workers=args.workers) as address:
            up_s = time.perf_counter() - started
            trip_s = _round_trip_s(address, 200)
            for k in range(args.repeat):
                # Alternate which goes first, so neither always runs after the other.
                order = ("local", "cluster") if k % 2 == 0 else ("cluster", "local")
                for which in order:
                    if which == "cluster":
                        cluster_runs.append(_replay(nights, work / "cluster.jsonl",
                                                    "--scheduler", address))
                    else:
                        local_runs.append(_replay(nights, work / "local.jsonl", "--jobs",
                                                  str(args.workers)))
        same = (work / "cluster.jsonl").read_bytes() == (work / "local.jsonl").read_bytes()
        cluster_s, local_s = min(cluster_runs), min(local_runs)
    print(f"machine: {os.cpu_count()} cores (shared); {args.nights} nights x {args.hours:g} h "
          f"= {signal_h:g} h of EMG + ACC; cluster started in {up_s:.1f} s (not counted)")
    for name, wall, runs in ((f"local --jobs {args.workers}", local_s, local_runs),
                             (f"Dask, {args.workers} workers x 1 thread", cluster_s,
                              cluster_runs)):
        print(f"{name:>26}: {wall:6.1f} s wall, {signal_h * 3600 / wall:5.0f}x real time, "
              f"{60 * signal_h / wall:5.2f} h per minute, {wall / args.nights:5.2f} s per night "
              f"(runs: {', '.join(f'{r:.1f}' for r in runs)} s)")
    print(f"cluster overhead: {(cluster_s - local_s) / args.nights:+.2f} s per night "
          f"({100 * (cluster_s / local_s - 1):+.0f} % wall); an empty task's round trip "
          f"{1000 * trip_s:.1f} ms; outputs byte-identical: {'yes' if same else 'NO'}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
