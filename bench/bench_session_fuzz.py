"""Figures: whole live sessions fed hostile band streams (issue 14's acceptance run).

Each stream is a capture of a band that drops and repeats packets, sends wild sequence
numbers, device times near 2^63 and indices 2^31 away, reboots, comes back with another
rate or other labels, with damaged records and junk in the file; the live session plays
it through the real pipeline. Prints how many sessions ended before their stream, how
many reported a different number of lost samples than were dropped, and what the
streams held.

    .venv/bin/python bench/bench_session_fuzz.py            # 1,000 streams
    .venv/bin/python bench/bench_session_fuzz.py --streams 50 --seed 7
"""

from __future__ import annotations

import argparse
import collections
import logging
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from crampwatch.live.sources import capture_source
from tests.crampwatch.test_session_hostile import FAST, run_session
from tests.firmware_bridge.hostile import EMG, Op, write_hostile_capture

TROUBLE = [op for op in Op if op is not Op.OK]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--trouble", type=float, default=0.1,
                        help="share of packet slots with trouble (default 0.1)")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    rng = np.random.default_rng(args.seed)
    early, lost_wrong, delivered_wrong = [], [], []
    ops_seen: collections.Counter[str] = collections.Counter()
    totals: collections.Counter[str] = collections.Counter()
    t_start = time.perf_counter()
    for k in range(args.streams):
        n = int(rng.integers(10, 600))
        ops = [TROUBLE[int(rng.integers(len(TROUBLE)))] if rng.random() < args.trouble
               else Op.OK for _ in range(n)]
        seed = int(rng.integers(2**32))
        with tempfile.TemporaryDirectory() as tmp:
            truth = write_hostile_capture(Path(tmp) / "night.cwcap", ops, seed)
            try:
                report, _ = run_session(capture_source(str(truth.path), FAST), Path(tmp) / "h")
            except Exception as exc:  # every way a night can end is a figure
                early.append((k, seed, f"{type(exc).__name__}: {exc}"))
                continue
        ops_seen.update(op.value for op in truth.ops)
        if report.ended_by != "source ended":
            early.append((k, seed, report.ended_by))
        reported = {g: report.lost_samples.get(g, 0) for g in truth.lost}
        if reported != truth.lost:
            lost_wrong.append((k, seed, reported, truth.lost))
        if {g: report.samples.get(g, 0) for g in truth.delivered} != truth.delivered:
            delivered_wrong.append((k, seed))
        totals["packets"] += truth.packets
        totals["emg samples delivered"] += truth.delivered[EMG]
        totals["emg samples dropped"] += truth.lost[EMG]
        totals["corrupt packets counted"] += report.corrupt_packets
        totals["sequence numbers ignored"] += report.sequence_ignored
        totals["stream restarts"] += report.stream_restarts
        totals["fresh pipelines (layout changes)"] += report.layout_changes
    wall = time.perf_counter() - t_start
    print(f"hostile streams:                  {args.streams}")
    print(f"sessions ended before the stream: {len(early)}")
    print(f"lost samples reported != dropped: {len(lost_wrong)}")
    print(f"delivered samples not processed:  {len(delivered_wrong)}")
    print(f"wall: {wall:.1f} s, {wall / max(args.streams, 1) * 1000:.0f} ms per session")
    print("what the streams held:")
    for name, count in sorted(ops_seen.items()):
        print(f"  {name:16s} {count}")
    for name, count in totals.items():
        print(f"  {name:33s} {count}")
    for row in (early + lost_wrong)[:20]:
        print("  FAILED", row)
    return 1 if early or lost_wrong or delivered_wrong else 0


if __name__ == "__main__":
    sys.exit(main())
