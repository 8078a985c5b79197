"""`crampwatch evaluate`: score replay events against ground truth; text figures and HTML report."""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
from dataclasses import asdict, replace
from pathlib import Path

from crampwatch.commands.checks import jobs_count, output_file
from crampwatch.commands.options import add_classifier_option
from crampwatch.commands.parser import command_parser
from crampwatch.errors import UserError
from crampwatch.prompt.params import PromptParams


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = command_parser(
        subparsers,
        "evaluate",
        help="score detected events against ground truth",
        description=(
            "Score events (from `crampwatch replay --provisional --events`, or replay run "
            "here with --replay) against ground truth: truth JSON ({\"events\": [{\"kind\", "
            "\"start_s\", \"end_s\"}]}, e.g. *.truth.json from `crampwatch synth`), BIDS "
            "events.tsv (onset, duration, trial_type) or EDF+ annotations. One call per true "
            "cramp: extra calls on it are fragments, against precision. A false wake-up is "
            "a prompt the live prompt policy (as `crampwatch run`) would have started while "
            "no true cramp ran. Prints cramp recall, precision, F1, false wake-ups per 8 h, "
            "tonic/clonic accuracy, onset error and wake-up latency, a per-file table, a "
            "confusion matrix and, with --by, the same per group; --report writes HTML "
            "with a plot of every miss and false wake-up. Matching rule: see "
            "crampwatch.evaluate.scoring."
        ),
    )
    parser.add_later(_add_options)
    parser.set_defaults(func=run)


def _add_options(parser: argparse.ArgumentParser) -> None:
    from crampwatch.evaluate.scoring import DEFAULT_TOLERANCE_S

    parser.add_argument("--truth", nargs="+", required=True, metavar="PATH",
                        help="truth JSON files, EDF+ files with annotations, or folders")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--events", type=Path,
                        help="replay output: JSON lines, or the events.tsv of "
                             "`replay --events x.tsv`")
    source.add_argument("--replay", action="store_true",
                        help="replay the truth's recordings first (all cores, or a Dask "
                             "cluster with --scheduler)")
    add_classifier_option(parser, "with --replay: 'rules' (default: %(default)s), 'model' "
                                  "or a model path")
    parser.add_argument("--jobs", type=jobs_count, default=None,
                        help="with --replay: recordings replayed at once (default: every core)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="with --replay: one task per recording on an existing Dask "
                             "cluster (tcp://host:8786), as `crampwatch replay --scheduler`")
    parser.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE_S,
                        help=f"overlap tolerance, s (default {DEFAULT_TOLERANCE_S}: any overlap)")
    parser.add_argument("--by", action="append", default=[], metavar="KEY",
                        help="also print the figures per value of KEY, a night's variation "
                             "or a cramp's attribute in the truth (emg_fs_hz, response...); "
                             "repeatable; missing values group as n/a")
    prompt = PromptParams()
    parser.add_argument("--min-confidence", type=float, default=prompt.min_confidence,
                        help="prompt policy, as `crampwatch run`: least cramp confidence "
                             f"that wakes (default {prompt.min_confidence})")
    parser.add_argument("--min-duration", type=float, default=prompt.min_duration_s,
                        metavar="SECONDS", help="prompt policy, as `crampwatch run`: a cramp "
                        f"must have run this long first (default {prompt.min_duration_s})")
    parser.add_argument("--max-prompts-per-hour", type=int, default=prompt.max_prompts_per_hour,
                        help="prompt policy, as `crampwatch run` (default "
                             f"{prompt.max_prompts_per_hour})")
    parser.add_argument("--report", type=Path, help="write the HTML report here")
    parser.add_argument("--json", type=Path, help="write the summary figures as JSON here")


def run(args: argparse.Namespace) -> int:
    from crampwatch.evaluate.evaluation import evaluate
    from crampwatch.evaluate.inputs import load_events, load_truth
    from crampwatch.evaluate.report import text_report, write_html
    from crampwatch.replay import ReplayOptions
    from crampwatch.replay_parallel import replay_all

    if args.jobs is not None and not args.replay:
        raise UserError("--jobs is for --replay; without it nothing is replayed")
    # Output places are made (or refused) now, not found wanting after the replay.
    for option, path in (("--report", args.report), ("--json", args.json)):
        if path is not None:
            output_file(path, option)
    truth = load_truth(args.truth)
    try:
        prompt = replace(PromptParams(), min_confidence=args.min_confidence,
                         min_duration_s=args.min_duration,
                         max_prompts_per_hour=args.max_prompts_per_hour)
    except ValueError as exc:
        raise UserError(f"prompt policy: {exc}") from None
    if args.replay:
        missing = [t.name for t in truth if t.edf is None]
        if missing:
            raise UserError(f"--replay needs the recordings beside the truth; missing: {missing}")
        # Kept after the run (its path is printed) so the events can be looked at again.
        handle, name = tempfile.mkstemp(prefix="crampwatch-events-", suffix=".jsonl")
        os.close(handle)
        events_path = Path(name)
        # Provisional calls too; the prompts replay reports follow this policy.
        options = ReplayOptions(classifier=args.classifier, include_provisional=True,
                                prompt=prompt)
        with events_path.open("w") as out:
            for result in replay_all([str(t.edf) for t in truth if t.edf], options, args.jobs,
                                     args.scheduler):
                if result.error:
                    print(f"warning: {result.file} not replayed: {result.error}",
                          file=sys.stderr)
                for line in result.lines:
                    out.write(json.dumps(line) + "\n")
        print(f"replay events: {events_path}", file=sys.stderr)
    else:
        events_path = args.events
    events = load_events(events_path)
    # A file's prompts were made with replay's policy (that of `crampwatch run`): other
    # settings given here are tried by deriving the prompts afresh.
    use_reported = args.replay or prompt == PromptParams()
    result = evaluate(truth, events, args.tolerance, prompt, use_reported)
    if not use_reported and any(d.prompt is not None for ds in events.values() for d in ds):
        result.warnings.append(
            "the events carry the prompts replay reported, made with the policy of "
            "`crampwatch run`; with the policy options given here they are derived afresh "
            "from the events' calls")
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    groups = {key: result.by(key) for key in args.by}
    print(text_report(result.summary, result.scores, groups))
    models = sorted({str(line.get("model_version", "?")) for line in _raw_lines(events_path)})
    if args.json:
        args.json.write_text(json.dumps({
            **asdict(result.summary), "model_versions": models, "warnings": result.warnings,
            "by": {key: {label: asdict(s) for label, s in g.items()}
                   for key, g in groups.items()},
        }, indent=1))
    if args.report:
        notes = [f"events: {events_path}", f"classifier versions: {', '.join(models) or 'n/a'}",
                 f"overlap tolerance: {args.tolerance} s",
                 *(f"warning: {w}" for w in result.warnings)]
        write_html(args.report, result.summary, result.scores,
                   {t.name: t.edf for t in truth}, result.events, notes,
                   {t.name: t.events for t in truth}, groups)
        print(f"report: {args.report}", file=sys.stderr)
    return 0


def _raw_lines(path: Path) -> list[dict[str, object]]:
    text = path.read_text()
    if path.suffix.lower() == ".tsv":
        return list(csv.DictReader(text.splitlines(), delimiter="\t"))
    if text.lstrip().startswith("["):
        return list(json.loads(text))
    return [json.loads(line) for line in text.splitlines() if line.strip()]
