"""`crampwatch evaluate`: score replay events against ground truth; text figures and HTML report."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from crampwatch.errors import UserError
from crampwatch.evaluate.inputs import load_events, load_truth
from crampwatch.evaluate.report import text_report, write_html
from crampwatch.evaluate.scoring import DEFAULT_TOLERANCE_S, score_file, summarize
from crampwatch.replay import ReplayOptions, replay_many


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="score detected events against ground truth",
        description=(
            "Score events (from `crampwatch replay --events`, or replay run here with "
            "--replay) against ground truth: *.truth.json from `crampwatch synth`, or EDF+ "
            "annotations. Prints cramp recall, precision, F1, false wake-ups per 8 h, "
            "tonic/clonic accuracy, onset error and alert latency, a per-file table and a "
            "confusion matrix; --report writes HTML with a plot of every miss and false "
            "wake-up. Matching rule: see crampwatch.evaluate.scoring."
        ),
    )
    parser.add_argument("--truth", nargs="+", required=True, metavar="PATH",
                        help="truth JSON files, EDF+ files with annotations, or folders")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--events", type=Path, help="replay output (JSON lines)")
    source.add_argument("--replay", action="store_true",
                        help="replay the truth's recordings first (all cores)")
    parser.add_argument("--classifier", default="model",
                        help="with --replay: 'model', 'rules' or a model path")
    parser.add_argument("--jobs", type=int, default=None, help="with --replay: parallel jobs")
    parser.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE_S,
                        help=f"overlap tolerance, s (default {DEFAULT_TOLERANCE_S})")
    parser.add_argument("--report", type=Path, help="write the HTML report here")
    parser.add_argument("--json", type=Path, help="write the summary figures as JSON here")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    truth = load_truth(args.truth)
    if args.replay:
        missing = [t.name for t in truth if t.edf is None]
        if missing:
            raise UserError(f"--replay needs the recordings beside the truth; missing: {missing}")
        # Kept after the run (its path is printed) so the events can be looked at again.
        handle, name = tempfile.mkstemp(prefix="crampwatch-events-", suffix=".jsonl")
        os.close(handle)
        events_path = Path(name)
        options = ReplayOptions(classifier=args.classifier, include_provisional=True)
        with events_path.open("w") as out:
            for result in replay_many([t.edf for t in truth if t.edf], options, args.jobs):
                for line in result.lines:
                    out.write(json.dumps(line) + "\n")
        print(f"replay events: {events_path}", file=sys.stderr)
    else:
        events_path = args.events
    events = load_events(events_path)
    unknown = sorted(set(events) - {t.name for t in truth})
    if unknown:
        print(f"warning: events for recordings without truth ignored: {unknown}",
              file=sys.stderr)
    scores = [
        score_file(t.name, t.duration_s, t.events, events.get(t.name, []), args.tolerance)
        for t in truth
    ]
    summary = summarize(scores)
    print(text_report(summary, scores))
    models = sorted({line.get("model_version", "?") for line in _raw_lines(events_path)})
    if args.json:
        args.json.write_text(json.dumps({**asdict(summary), "model_versions": models}, indent=1))
    if args.report:
        notes = [f"events: {events_path}", f"classifier versions: {', '.join(models) or 'n/a'}",
                 f"overlap tolerance: {args.tolerance} s"]
        write_html(args.report, summary, scores, {t.name: t.edf for t in truth}, events, notes,
                   {t.name: t.events for t in truth})
        print(f"report: {args.report}", file=sys.stderr)
    return 0


def _raw_lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
