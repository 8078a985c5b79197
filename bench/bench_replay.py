"""Replay benchmark: an N-hour, 2-channel, 2 kHz EDF+ night, end to end.

Generates the night(s) in a temporary folder (not kept), then runs
`crampwatch replay FILE --events OUT.jsonl` in a child process (read + detect +
classify + write JSONL) and prints wall time, real-time factor and the child's peak
resident memory. A shorter night is replayed too, so memory growth with night
length shows directly. A read-only pass gives the EDF streaming cost alone, and a
read + band-pass pass (the EMG through the Detector's own band-pass, in a child of
its own) the floor any detector pays: replay's time over it is printed as a ratio.

    .venv/bin/python bench/bench_replay.py [--hours 8] [--short-hours 1] [--classifier rules|model]

The classifier is the product's default (``models.DEFAULT_CLASSIFIER``) unless given.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from crampwatch.recordings import EdfRecording
from crampwatch.synth import NightConfig, generate_night
from models import DEFAULT_CLASSIFIER

# Each measured step runs in a fresh child that reports its own peak RSS at exit.
CHILD = """
import resource, sys
from crampwatch.cli import main
from crampwatch.recordings import EdfRecording
if sys.argv[1] == "read":
    with EdfRecording(sys.argv[2]) as rec:
        for block in rec.blocks():
            pass
    code = 0
elif sys.argv[1] == "bandpass":
    import numpy as np
    from sensor.detector_config import FilterConfig
    from sensor.filters import StreamingSOS, bandpass_corners_hz, design_bandpass
    f = FilterConfig()
    with EdfRecording(sys.argv[2]) as rec:
        fs = rec.emg_fs_hz
        low, high = bandpass_corners_hz(fs, f.low_hz, f.high_hz)
        bp = StreamingSOS(design_bandpass(fs, low, high, f.order), len(rec.emg_labels))
        for block in rec.blocks():
            if block.group == "emg":
                bp.process(np.ascontiguousarray(block.samples.T, dtype=np.float64))
    code = 0
else:
    code = main(sys.argv[2:])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
sys.exit(code)
"""


def _cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _child(argv: list[str]) -> tuple[float, float, float]:
    """Run one measured step in a child; return (wall s, its CPU s, its peak RSS in MB).

    The CPU time (user + system) is the child's own: on a shared machine it moves less
    with the load than the wall time does.
    """
    started, cpu_before = time.perf_counter(), _cpu_of_children()
    done = subprocess.run([sys.executable, "-c", CHILD, *argv], check=True,
                          stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - started
    cpu = _cpu_of_children() - cpu_before
    peak_kb = int(done.stderr.strip().splitlines()[-1])
    return wall, cpu, peak_kb / 1024.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=8.0)
    parser.add_argument("--short-hours", type=float, default=1.0)
    parser.add_argument("--classifier", default=DEFAULT_CLASSIFIER,
                        help=f"classifier to replay with (default: {DEFAULT_CLASSIFIER})")
    parser.add_argument("--seed", type=int, default=20240601)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="crampwatch-bench-") as tmp:
        out = Path(tmp)
        results = []
        # Short night first: children's peak RSS only ever grows, so the long night's
        # figure is its own when it is the larger.
        for hours in (args.short_hours, args.hours):
            cfg = NightConfig(duration_s=hours * 3600.0)
            started = time.perf_counter()
            files = generate_night(cfg, args.seed, out, f"bench-{hours:g}h")
            gen_s = time.perf_counter() - started
            size_mb = files.edf.stat().st_size / 1e6
            with EdfRecording(files.edf) as rec:
                duration = rec.duration_s
                layout = (f"{len(rec.emg_labels)} EMG @ {rec.emg_fs_hz:g} Hz"
                          f" + ACC @ {rec.acc_fs_hz:g} Hz")
            read_s, _, read_mb = _child(["read", str(files.edf)])
            bp_s, bp_cpu, _ = _child(["bandpass", str(files.edf)])
            events = out / f"events-{hours:g}h.jsonl"
            wall, cpu, peak_mb = _child(["cli", "replay", str(files.edf), "--events", str(events),
                                    "--classifier", args.classifier, "--jobs", "1"])
            n_events = sum(1 for _ in events.open())
            results.append((hours, duration, layout, size_mb, gen_s, read_s, read_mb, bp_s,
                            bp_cpu, wall, cpu, peak_mb, n_events))
        print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; "
              f"python {sys.version.split()[0]}; classifier '{args.classifier}'")
        for (hours, duration, layout, size_mb, gen_s, read_s, read_mb, bp_s, bp_cpu, wall, cpu,
             peak_mb, n) in results:
            print(f"{hours:g} h night ({layout}, {size_mb:.0f} MB EDF+): "
                  f"generated in {gen_s:.1f} s; read-only pass {read_s:.2f} s "
                  f"(peak RSS {read_mb:.0f} MB); read + band-pass pass {bp_s:.2f} s "
                  f"(CPU {bp_cpu:.2f} s); replay end to end {wall:.2f} s = "
                  f"{duration / wall:.0f}x real time (CPU {cpu:.2f} s = "
                  f"{duration / cpu:.0f}x; target >= 5,000x), {wall / bp_s:.1f}x the read + "
                  f"band-pass pass (CPU {cpu / bp_cpu:.1f}x; target <= 3x), peak RSS "
                  f"{peak_mb:.0f} MB, {n} final events")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
