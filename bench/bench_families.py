"""Per-family scores of the rule classifier and the shipped model on fresh synthetic nights.

Generates nights with every variation on (`crampwatch synth`, seeds never used in
training), replays them with each classifier (provisional calls included, so wake-ups
follow the live prompt policy) and prints the overall figures and one table per family
(EMG rate, accelerometer, leg, labels, mains wander, floor step, cramp texture, the
sleeper's response, movement trigger). The rule classifier is not trained, so every
family is held out for it; the shipped model was trained on the older generator's
nights, none of which had these families.

    .venv/bin/python bench/bench_families.py --nights 6 --hours 8 --seed 93000
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

FAMILIES = ("emg_fs_hz", "acc_fs_hz", "leg", "labels", "wandering", "floor_step", "texture",
            "response", "triggered_by_movement")


def _crampwatch(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "crampwatch", *args], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nights", type=int, default=6)
    parser.add_argument("--hours", type=float, default=8.0)
    parser.add_argument("--seed", type=int, default=93000)
    parser.add_argument("--classifiers", nargs="+", default=["rules", "model"])
    parser.add_argument("--keep", type=Path, help="keep nights and events in this folder")
    args = parser.parse_args()

    from crampwatch.evaluate import evaluate, load_events, load_truth
    from crampwatch.evaluate.report import group_table, summary_rows

    work = args.keep or Path(tempfile.mkdtemp(prefix="cw-families-"))
    nights = work / "nights"
    if not any(nights.glob("*.edf")):
        _crampwatch("synth", "--nights", str(args.nights), "--hours", str(args.hours),
                    "--seed", str(args.seed), "--out", str(nights))
    truth = load_truth([nights])
    for name in args.classifiers:
        events = work / f"{name}.jsonl"
        _crampwatch("replay", str(nights), "--jobs", "2", "--provisional", "--classifier",
                    name, "--events", str(events))
        result = evaluate(truth, load_events(events))
        print(f"\n== classifier: {name}")
        for label, value in summary_rows(result.summary):
            print(f"{label:<42} {value}")
        for key in FAMILIES:
            print()
            print(group_table(key, result.by(key)))

if __name__ == "__main__":
    main()
