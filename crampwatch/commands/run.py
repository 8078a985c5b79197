"""`crampwatch run`: a live night from a band (or a recording played as one)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from crampwatch.commands.options import add_classifier_option
from crampwatch.commands.parser import CommandParser, command_parser
from crampwatch.errors import UserError
from crampwatch.prompt.params import PromptParams

if TYPE_CHECKING:
    from crampwatch.live.runner import RunOptions
    from crampwatch.live.sources import LiveSource

SOURCE_HELP = (
    "serial:/dev/ttyUSB0 (band on a serial port), ble:<address or name> (band over BLE), "
    "capture:<file> (raw capture replayed), edf:<file> (EDF/EDF+ recording played as a "
    "band), virtual (the virtual band playing a synthetic night on a pseudo-terminal)"
)


def add_prompt_options(parser: argparse.ArgumentParser) -> None:
    """Add the wake-up prompt's options (shared with `crampwatch demo`)."""
    d = PromptParams()
    g = parser.add_argument_group("wake-up prompt")
    g.add_argument("--quiet", action="store_true",
                   help="never wake (no buzz, no sound): log and show only")
    g.add_argument("--min-confidence", type=float, default=d.min_confidence,
                   help=f"least cramp confidence that wakes (default {d.min_confidence})")
    g.add_argument("--min-duration", type=float, default=d.min_duration_s, metavar="SECONDS",
                   help=f"a cramp must have run this long first (default {d.min_duration_s})")
    g.add_argument("--max-prompts-per-hour", type=int, default=d.max_prompts_per_hour)
    g.add_argument("--no-sound", action="store_true", help="no tones or speech")
    g.add_argument("--no-speech", action="store_true", help="tones only (no espeak-ng)")
    g.add_argument("--webhook", metavar="URL", help="POST every prompt as JSON to this URL")
    g.add_argument("--language", default="en", help="guidance language (default en)")


def add_store_options(parser: CommandParser, demo: bool = False) -> None:
    """Add where the night is kept and served (shared with `crampwatch demo`)."""
    g = parser.add_argument_group("store and pages")
    g.add_argument("--data-dir", type=Path, default=None,
                   help="where nights and the local store live (default "
                        + ("a new temporary folder" if demo
                           else "$CRAMPWATCH_HOME or ~/.local/share/crampwatch") + ")")
    port = 0 if demo else 8765
    g.add_argument("--port", type=int, default=port,
                   help="port of the local API, clinician pages and bedside page on "
                        f"127.0.0.1 (default {port}; 0 = any free port)")
    g.add_argument("--no-serve", action="store_true",
                   help="no local API/pages (events stay in the night's journal)")
    g.add_argument("--upload", metavar="URL", help="also upload to this clinic API")
    g.add_argument("--upload-token", metavar="TOKEN", help="the clinic's hub token")
    g.add_argument("--sleeper", default="me", help="sleeper label in the local store")
    parser.add_later(lambda _: add_classifier_option(
        g, "'rules' (default: %(default)s), 'model' (shipped learned model) or a model file"))


def options_from_args(args: argparse.Namespace, data_dir: Path | None = None) -> RunOptions:
    """Return the run options the parsed arguments describe."""
    from crampwatch.live.night import default_data_dir
    from crampwatch.live.runner import RunOptions

    try:
        prompt = PromptParams(
            min_confidence=args.min_confidence,
            min_duration_s=args.min_duration,
            max_prompts_per_hour=args.max_prompts_per_hour,
            quiet=args.quiet,
        )
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    return RunOptions(
        data_dir=data_dir or args.data_dir or default_data_dir(),
        new_night=getattr(args, "new_night", False),
        prompt=prompt,
        classifier=args.classifier,
        language=args.language,
        sound=not args.no_sound,
        speak=not args.no_speech,
        webhook=args.webhook,
        port=args.port,
        serve=not args.no_serve,
        upload_url=args.upload,
        upload_token=args.upload_token,
        sleeper=args.sleeper,
        capture=not getattr(args, "no_capture", False),
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = command_parser(
        subparsers,
        "run",
        help="run a live night: band -> detector -> wake-up prompt and event log",
        description=(
            "Stream from a band (or a recording played as one), find cramps as they start, "
            "wake the sleeper with stretch guidance (band buzz, then sound), log every event "
            "to the night's journal and the local store, and serve the bedside page and the "
            "clinician pages on 127.0.0.1. Ctrl-C ends the night cleanly and prints its "
            "summary; after a crash the next run continues the same night."
        ),
    )
    parser.add_argument("--source", required=True, help=SOURCE_HELP)
    parser.add_argument("--pace", type=float, default=1.0,
                        help="for capture:/edf:/virtual, play this many times faster than "
                             "real time (default 1)")
    parser.add_argument("--baud", type=int, default=None, help="serial baud rate")
    parser.add_argument("--new-night", action="store_true",
                        help="start a new night even if the last one is still open")
    parser.add_argument("--calibrate", action="store_true",
                        help="before the night: 20 s lying still, then 5 s toes gently "
                             "pointed down; sets this sleeper's amplitude references")
    parser.add_argument("--no-capture", action="store_true",
                        help="do not keep the raw capture of the band's packets")
    parser.add_argument("--minutes", type=float, default=20.0,
                        help="length of the synthetic night for --source virtual (default 20)")
    parser.add_argument("--seed", type=int, default=1, help="synthetic night seed (virtual)")
    add_prompt_options(parser)
    add_store_options(parser)
    parser.add_argument("--no-diary", action="store_true",
                        help="do not ask for the pain / sleep scores at the end")
    parser.set_defaults(func=run)


def make_source(spec: str, pace: float, baud: int | None = None, *, minutes: float = 20.0,
                seed: int = 1, work_dir: Path | None = None) -> LiveSource:
    """Return the source named by ``spec`` (see SOURCE_HELP)."""
    from crampwatch.live.sources import (
        VirtualBandSource,
        ble_source,
        capture_source,
        edf_source,
        serial_source,
    )

    kind, _, rest = spec.partition(":")
    if kind == "serial" and rest:
        return serial_source(rest, baud)
    if kind == "ble" and rest:
        return ble_source(rest)
    if kind == "capture" and rest:
        return capture_source(rest, pace)
    if kind == "edf" and rest:
        return edf_source(rest, pace)
    if kind == "virtual" and not rest:
        from crampwatch.live.demo_night import make_demo_night, night_blocks

        files = make_demo_night(work_dir or Path.cwd(), minutes=minutes, seed=seed)
        return VirtualBandSource(night_blocks(files.edf), speed=pace)
    raise UserError(f"unknown --source {spec!r}: use {SOURCE_HELP}")


def run(args: argparse.Namespace) -> int:
    from crampwatch.live.runner import run_live

    if not args.pace > 0:
        raise UserError("--pace must be > 0")
    options = options_from_args(args)
    options.calibrate = args.calibrate
    options.diary = not args.no_diary and sys.stdin.isatty()
    source = make_source(args.source, args.pace, args.baud, minutes=args.minutes,
                         seed=args.seed, work_dir=options.data_dir / "virtual")

    def ready(base_url, token, store, session) -> None:  # type: ignore[no-untyped-def]
        if base_url:
            print(f"bedside page: {base_url}/bedside?token={token}")
            print(f"clinician pages and API: {base_url}/  (docs: {base_url}/docs)")
        print(f"source: {source.description}; Ctrl-C ends the night", flush=True)

    try:
        asyncio.run(run_live(source, options, on_ready=ready))
    finally:
        close = getattr(source, "close", None)
        if close is not None:
            close()
    return 0
