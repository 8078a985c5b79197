"""Live-session figures: prompt latency after a cramp's onset, and CPU use at real-time pace.

1. Latency: fresh synthetic nights (seeds never used by the tests' defaults) are played
   through the live session (the same Detector, classifier and prompt policy) from their
   EDF files; each true cramp's first prompt is timed from its true onset in sample time.
2. CPU: the virtual band runs in its own process on a pseudo-terminal at real-time pace;
   `crampwatch run --source serial:<pty>` (serial link, pipeline, prompt, local store and
   API server) runs in another; its CPU time is read from /proc over a window.

    .venv/bin/python bench/bench_live.py [--nights 6] [--minutes 20] [--cpu-seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from crampwatch.live.demo_night import make_demo_night
from crampwatch.live.night import NightJournal
from crampwatch.live.runner import make_pipeline_factory
from crampwatch.live.scoring import score_prompts
from crampwatch.live.session import LiveSession
from crampwatch.live.sources import edf_source
from crampwatch.prompt.dispatcher import PromptDispatcher
from crampwatch.prompt.guidance import load_guidance
from crampwatch.prompt.log import PromptLog
from crampwatch.prompt.policy import PromptPolicy
from crampwatch.synth.truth import NightTruth


async def _one_night(edf: Path, home: Path, classifier: str, pace: float):  # type: ignore[no-untyped-def]
    journal, _ = NightJournal.start(home, new_night=True)
    dispatcher = PromptDispatcher(journal.session_id, load_guidance(), [],
                                  PromptLog(journal.dir / "prompts.jsonl"))
    session = LiveSession(edf_source(str(edf), pace=pace), make_pipeline_factory(classifier),
                          journal, PromptPolicy(), dispatcher)
    try:
        return await session.run()
    finally:
        journal.close()


def latency(nights: int, minutes: float, first_seed: int, classifier: str, pace: float) -> None:
    tonic: list[float] = []
    clonic: list[float] = []
    missed = false = 0
    hours = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(nights):
            seed = first_seed + i
            files = make_demo_night(Path(tmp) / "nights", minutes=minutes, seed=seed, cramps=3)
            truth = NightTruth.read(files.truth)
            report = asyncio.run(_one_night(files.edf, Path(tmp) / "home", classifier, pace))
            score = score_prompts(truth.events, report.decisions)
            for c in score.cramps:
                if c.latency_s is not None:
                    (tonic if c.truth.kind.value == "tonic" else clonic).append(c.latency_s)
            missed += score.missed
            false += len(score.false_prompts)
            hours += minutes / 60
            outcomes = ", ".join(
                f"{c.truth.kind.value} "
                + ("missed" if c.latency_s is None else f"{c.latency_s:.2f} s")
                for c in score.cramps
            )
            print(f"  night seed {seed}: {outcomes}; false wake-ups {len(score.false_prompts)}",
                  flush=True)
    for name, values in (("tonic", tonic), ("clonic", clonic), ("all", tonic + clonic)):
        if values:
            print(f"prompt latency after onset, {name}: n={len(values)} "
                  f"median {statistics.median(values):.2f} s, max {max(values):.2f} s")
    print(f"missed cramps: {missed}; false wake-ups: {false} in {hours:.1f} h "
          f"({false / hours * 8:.2f} per 8 h)")


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime


def cpu(seconds: float, warmup_s: float) -> None:
    exe = Path(sys.executable).parent / "crampwatch"
    with tempfile.TemporaryDirectory() as tmp:
        files = make_demo_night(Path(tmp) / "night", minutes=max(5.0, (seconds + warmup_s) / 50),
                                seed=99, cramps=2)
        band = subprocess.Popen([str(exe), "band", "--serial", "--edf", str(files.edf), "--loop"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            assert band.stdout is not None
            port = ""
            while not port.startswith("/dev/"):
                line = band.stdout.readline()
                if not line:
                    raise SystemExit("the virtual band did not start")
                port = next((w for w in line.split() if w.startswith("/dev/")), "")
            run = subprocess.Popen(
                [str(exe), "run", "--source", f"serial:{port}", "--data-dir", str(Path(tmp) / "h"),
                 "--port", "0", "--no-sound", "--no-diary", "--new-night"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                time.sleep(warmup_s)
                if run.poll() is not None:
                    raise SystemExit(f"crampwatch run ended early ({run.returncode})")
                c0, b0, t0 = _cpu_s(run.pid), _cpu_s(band.pid), time.monotonic()
                time.sleep(seconds)
                c1, b1, t1 = _cpu_s(run.pid), _cpu_s(band.pid), time.monotonic()
            finally:
                run.send_signal(signal.SIGINT)
                run.wait(30)
        finally:
            band.send_signal(signal.SIGINT)
            band.wait(10)
    wall = t1 - t0
    print(f"CPU of the live session (serial link, pipeline, prompt, store, API server) at "
          f"real-time pace: {100 * (c1 - c0) / wall:.1f} % of one core over {wall:.0f} s")
    print(f"  (the virtual band process, for reference: {100 * (b1 - b0) / wall:.1f} %)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nights", type=int, default=6)
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--first-seed", type=int, default=1000)
    parser.add_argument("--classifier", default="model")
    parser.add_argument("--pace", type=float, default=200.0,
                        help="playback pace for the latency nights (sample-time latency "
                             "does not depend on it)")
    parser.add_argument("--cpu-seconds", type=float, default=60.0)
    parser.add_argument("--warmup-seconds", type=float, default=10.0)
    parser.add_argument("--skip-cpu", action="store_true")
    parser.add_argument("--skip-latency", action="store_true")
    args = parser.parse_args()
    if not args.skip_latency:
        print(f"latency over {args.nights} synthetic nights of {args.minutes:g} min "
              f"(3 cramps each, classifier {args.classifier}):", flush=True)
        latency(args.nights, args.minutes, args.first_seed, args.classifier, args.pace)
    if not args.skip_cpu:
        cpu(args.cpu_seconds, args.warmup_seconds)


if __name__ == "__main__":
    main()
