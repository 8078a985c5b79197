"""`crampwatch replay`: run recorded nights through the live pipeline, events as JSON lines."""

from __future__ import annotations

import argparse
import json
import math
import sys
from contextlib import ExitStack
from pathlib import Path

from tqdm import tqdm

from crampwatch.errors import UserError
from crampwatch.replay import ReplayOptions, expand_paths, open_recording, replay_many


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "replay",
        help="replay recorded nights (EDF/EDF+) through the detector",
        description=(
            "Replay recordings through the same Detector and classifier as a live session "
            "and write one JSON object per event per line: file, start_s, end_s (seconds "
            "from the recording start), kind (tonic, clonic, or a non-cramp kind such as "
            "plm, movement, walking, artifact), channel, confidence, plus event_id, final, "
            "known_at_s, first_cramp_call_s, versions and features. Only final events are "
            "written unless --provisional is given. Events go to stdout unless --events is "
            "given; progress and logs go to stderr. Several recordings run in parallel; "
            "output keeps the order given (folders: their EDF files sorted by name)."
        ),
    )
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help="EDF/EDF+ files, band captures (*.cwcap) or folders of them")
    parser.add_argument("--events", type=Path, help="write events here (JSON lines)")
    parser.add_argument("--edf-out", type=Path, metavar="DIR",
                        help="also write <name>.events.edf (EDF+ with events as annotations)")
    parser.add_argument("--provisional", action="store_true",
                        help="also write provisional events (calls made while an episode runs)")
    parser.add_argument("--emg", nargs="+", metavar="LABEL",
                        help="EMG channels by exact label (default: found by label)")
    parser.add_argument("--acc", nargs=3, metavar=("X", "Y", "Z"),
                        help="accelerometer channels by exact label, X Y Z order")
    parser.add_argument("--classifier", default="model",
                        help="'model' (shipped model; rules if it cannot load), 'rules', "
                             "or a model file path")
    parser.add_argument("--jobs", type=int, default=None,
                        help="recordings replayed at once (default: number of cores)")
    parser.add_argument("--chunk", type=float, default=10.0, metavar="SECONDS",
                        help="read this many seconds at a time (default 10)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    paths = expand_paths(args.paths)
    if args.chunk <= 0:
        raise UserError("--chunk must be positive")
    options = ReplayOptions(
        emg_labels=tuple(args.emg) if args.emg else None,
        acc_labels=tuple(args.acc) if args.acc else None,
        chunk_s=args.chunk,
        include_provisional=args.provisional,
        classifier=args.classifier,
        edf_out=args.edf_out,
    )
    with ExitStack() as stack:
        if args.events is not None:
            args.events.parent.mkdir(parents=True, exist_ok=True)
            out = stack.enter_context(args.events.open("w"))
        else:
            out = sys.stdout
        # Opening every file first checks them all before hours of work start.
        durations = []
        for path in paths:
            with open_recording(path, options.emg_labels, options.acc_labels) as rec:
                # A capture's length is unknown until read: it counts once done.
                durations.append(rec.duration_s if math.isfinite(rec.duration_s) else 0.0)
        bar = stack.enter_context(tqdm(total=round(sum(durations)), unit="s", desc="replay",
                                       disable=None, file=sys.stderr))
        done = [0.0] * len(paths)

        def advance(index: int, seconds: float) -> None:
            bar.update(round(seconds) - round(done[index]))
            done[index] = seconds

        n_events = 0
        for index, result in enumerate(replay_many(paths, options, args.jobs, advance)):
            for line in result.lines:
                out.write(json.dumps(line) + "\n")
            out.flush()
            n_events += len(result.lines)
            advance(index, max(durations[index], done[index]))
    print(f"replayed {len(paths)} recording(s): {n_events} events"
          + (f" -> {args.events}" if args.events else ""), file=sys.stderr)
    return 0
