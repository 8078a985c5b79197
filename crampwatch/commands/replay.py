"""`crampwatch replay`: run recorded nights through the live pipeline, events as JSON lines."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from crampwatch import events_tsv
from crampwatch.commands.checks import jobs_count, output_file, output_folder
from crampwatch.commands.options import add_classifier_option
from crampwatch.commands.parser import command_parser
from crampwatch.errors import UserError

if TYPE_CHECKING:
    from crampwatch.replay import ReplayOptions, ReplayResult


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = command_parser(
        subparsers,
        "replay",
        help="replay recorded nights (EDF/EDF+) through the detector",
        description=(
            "Replay recordings through the same Detector and classifier as a live session "
            "and write one JSON object per event per line: file, start_s, end_s (seconds "
            "from the recording start), kind (tonic, clonic, or a non-cramp kind such as "
            "plm, movement, walking, artifact), channel (label, muscle, side, role), "
            "confidence, plus event_id, session_id, final, known_at_s, first_cramp_call_s, "
            "versions, features and envelope (null when none was kept); a final event's "
            "prompt says what the live prompt policy, run on the recording's own clock, did "
            "about it (prompted_at_s, escalated_at_s, red_flag_at_s, stopped_at_s, "
            "suppressed). Only final events are "
            "written unless --provisional is given. Events go to stdout unless --events is "
            "given; progress and logs go to stderr. Several recordings run in parallel, here "
            "(--jobs) or on a Dask cluster (--scheduler); output keeps the order given "
            "(folders: their EDF files sorted by name). A recording that cannot be read is "
            "named with its reason and the others go on; the run then exits 1. --events and "
            "--edf-out files are written under a temporary name and moved into place only "
            "when complete: a run that stops early leaves existing files as they were."
        ),
    )
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help="EDF/EDF+ files, band captures (*.cwcap) or folders of them; "
                             "fsspec URLs (s3://bucket/cohort/) where fsspec can reach them")
    parser.add_argument("--events", type=Path,
                        help="write events here: JSON lines, or a BIDS-style events file "
                             "(onset, duration, trial_type, confidence, channel, event_id...) "
                             "when the name ends in .tsv, with its .json column sidecar")
    parser.add_argument("--edf-out", type=Path, metavar="DIR",
                        help="also write <name>.events.edf (EDF+, each final event an "
                             "annotation whose text is its kind) and <name>.events.tsv beside "
                             "it (the same events with confidence, channel and ids)")
    parser.add_argument("--provisional", action="store_true",
                        help="also write provisional events (calls made while an episode runs)")
    parser.add_argument("--emg", nargs="+", metavar="LABEL",
                        help="EMG channels by exact label (default: found by label)")
    parser.add_argument("--acc", nargs=3, metavar=("X", "Y", "Z"),
                        help="accelerometer channels by exact label, X Y Z order")
    parser.add_later(lambda p: add_classifier_option(
        p, "'rules' (default: %(default)s), 'model' (the shipped learned model; rules if it "
           "cannot load) or a model file path"))
    parser.add_argument("--jobs", type=jobs_count, default=None,
                        help="recordings replayed at once here (default: number of cores)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="replay on an existing Dask cluster, one task per recording "
                             "(tcp://host:8786; needs crampwatch[cluster]); its workers must "
                             "see the recordings and the --edf-out folder")
    # The default is edf_reader.DEFAULT_CHUNK_S (not imported here: the parser stays light).
    parser.add_argument("--chunk", type=float, default=60.0, metavar="SECONDS",
                        help="read this many seconds at a time (default 60)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from crampwatch.recording_paths import expand_paths
    from crampwatch.replay import ReplayOptions
    from crampwatch.replay_parallel import failure_report

    paths = expand_paths(args.paths)
    if args.chunk <= 0:
        raise UserError("--chunk must be positive")
    if args.scheduler and args.jobs:
        raise UserError("--jobs is for replay on this machine; with --scheduler the cluster's "
                        "workers decide how many recordings run at once")
    # Output places are made (or refused) now, not found wanting after hours of replay.
    if args.edf_out is not None:
        output_folder(args.edf_out, "--edf-out")
    if args.events is not None:
        output_file(args.events, "--events")
    options = ReplayOptions(
        emg_labels=tuple(args.emg) if args.emg else None,
        acc_labels=tuple(args.acc) if args.acc else None,
        chunk_s=args.chunk,
        include_provisional=args.provisional,
        classifier=args.classifier,
        edf_out=args.edf_out,
    )
    outcome = replay_to(paths, options, args.events, sys.stdout, args.jobs, args.scheduler)
    if outcome.failures:
        print(failure_report(outcome.failures), file=sys.stderr)
    return 1 if outcome.failures else 0


def _sidecar_text(as_tsv: bool, quality: dict[str, list[str]]) -> str:
    """Return the events file's sidecar: the TSV's column sidecar, or the quality JSON.

    The TSV sidecar gains a ``signal_quality`` object (file -> sentences) only when a
    recording had warnings; the JSON-lines sidecar lists every replayed recording.
    """
    if not as_tsv:
        return json.dumps({"signal_quality": quality}, indent=1) + "\n"
    text = events_tsv.sidecar_text()
    warned = {file: sentences for file, sentences in quality.items() if sentences}
    if not warned:
        return text
    described = json.loads(text)
    described["signal_quality"] = warned
    return json.dumps(described, indent=1) + "\n"


@dataclass
class Outcome:
    """What a run wrote and what it could not replay."""

    failures: list[ReplayResult] = field(default_factory=list)
    n_events: int = 0


def replay_to(
    paths: list[str],
    options: ReplayOptions,
    events: Path | None,
    stdout: TextIO,
    jobs: int | None = None,
    scheduler: str | None = None,
) -> Outcome:
    """Replay ``paths`` writing JSON lines to ``events`` (or ``stdout``); print the summary.

    ``events`` is moved into place only once the run has ended with at least one
    recording replayed; until then an existing file keeps its contents. A name ending
    in ``.tsv`` gets a BIDS-style events file (and its ``.json`` sidecar) instead.
    """
    from tqdm import tqdm

    from crampwatch.recording_paths import PendingFile, quality_path, stated_duration_s
    from crampwatch.replay_parallel import RunSummary, replay_all

    # Header-only lengths size the progress bar without reading any recording twice.
    durations = [stated_duration_s(path) for path in paths]
    outcome = Outcome()
    replayed_s = 0.0
    started = time.perf_counter()
    with ExitStack() as stack:
        pending = stack.enter_context(PendingFile(events)) if events is not None else None
        out = stack.enter_context(pending.temp_path.open("w")) if pending else stdout
        as_tsv = events is not None and events_tsv.is_tsv(events)
        sidecar = None
        if as_tsv and events is not None:
            sidecar = stack.enter_context(PendingFile(events_tsv.sidecar_path(events)))
            out.write(events_tsv.header())
        elif events is not None:
            sidecar = stack.enter_context(PendingFile(quality_path(events)))
        # Each replayed recording's signal-quality sentences, by file.
        quality: dict[str, list[str]] = {}
        bar = stack.enter_context(tqdm(
            total=round(sum(durations)), unit="s", file=sys.stderr, disable=None,
            desc="replay on cluster" if scheduler else "replay"))
        done = [0.0] * len(paths)

        def advance(index: int, seconds: float) -> None:
            if seconds > done[index]:
                bar.update(round(seconds) - round(done[index]))
                done[index] = seconds

        def show_status(status: dict[str, int]) -> None:
            bar.set_postfix_str(f"{status['workers']} workers/{status['threads']} threads, "
                                f"{status['done']}/{status['total']} recordings",
                                refresh=False)

        for index, result in enumerate(
                replay_all(paths, options, jobs, scheduler, advance, show_status)):
            if not result.ok:
                outcome.failures.append(result)
                bar.write(f"not replayed: {result.file}: {result.error}", file=sys.stderr)
                continue
            quality[result.file] = list(result.warnings)
            for warning in result.warnings:
                bar.write(f"warning: {result.file}: {warning}", file=sys.stderr)
            for line in result.lines:
                out.write(events_tsv.row(line) if as_tsv else json.dumps(line) + "\n")
            out.flush()
            outcome.n_events += len(result.lines)
            replayed_s += result.duration_s
            advance(index, max(durations[index], result.duration_s))
        bar.close()
        replayed = len(paths) - len(outcome.failures)
        if pending is not None:
            os.fsync(out.fileno())
            out.close()
            if replayed:
                pending.commit()
                if sidecar is not None:
                    sidecar.temp_path.write_text(_sidecar_text(as_tsv, quality))
                    sidecar.commit()
    wall_s = time.perf_counter() - started
    summary = RunSummary(replayed, len(outcome.failures), replayed_s, wall_s)
    where = f" on the cluster at {scheduler}" if scheduler else ""
    of = f" of {len(paths)}" if outcome.failures else ""
    target = ""
    if events is not None:
        target = f" -> {events}" if replayed else f"; {events} left as it was"
    print(f"replayed {replayed}{of} recording(s){where}: {outcome.n_events} events{target}",
          file=sys.stderr)
    print(summary.text(), file=sys.stderr)
    return outcome
