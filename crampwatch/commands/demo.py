"""`crampwatch demo`: a whole night on a machine with no hardware, in about a minute.

A virtual band on a pseudo-terminal plays a synthetic night (cramps and every
look-alike) at an accelerated pace; the live session reads it over the real serial
link, prompts on the cramps, writes the local SQLite store, serves the API, clinician
pages and bedside page on 127.0.0.1, and ends with the night's summary and a table of
the true cramps against the prompts.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from crampwatch.commands.parser import command_parser
from crampwatch.commands.run import add_prompt_options, add_store_options, options_from_args
from crampwatch.errors import UserError

if TYPE_CHECKING:
    from crampwatch.live.runner import LiveResult
    from crampwatch.live.session import LiveSession
    from crampwatch.live.sources import VirtualBandSource


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = command_parser(
        subparsers,
        "demo",
        help="play a synthetic night through a virtual band: prompts, store, pages, summary",
        description=(
            "Runs the whole product with no hardware: a virtual band on a pseudo-terminal "
            "plays a synthetic night with cramps and look-alikes at --pace x real time; the "
            "live session reads it over the real serial link, wakes on the cramps (prompts "
            "shown here, on the bedside page and as WAV files), stores events in a local "
            "SQLite store and serves the API and pages on 127.0.0.1 (URL and a clinician "
            "token are printed). It ends with the night's summary. Default: a 20-minute "
            "night at 20x, about a minute. Ctrl-C ends it early, cleanly."
        ),
    )
    parser.add_argument("--minutes", type=float, default=20.0,
                        help="length of the synthetic night (default 20)")
    parser.add_argument("--pace", type=float, default=20.0,
                        help="times faster than real time (default 20)")
    parser.add_argument("--seed", type=int, default=1, help="synthetic night seed (default 1)")
    parser.add_argument("--cramps", type=int, default=3, help="cramps in the night (default 3)")
    parser.add_argument("--auto-ack", type=float, default=25.0, metavar="SECONDS",
                        help="press 'I stretched' on the bedside page this many night seconds "
                             "after each prompt, as a sleeper would (default 25; 0 = never)")
    parser.add_argument("--linger", type=float, default=0.0, metavar="SECONDS",
                        help="keep serving the pages this long after the night (default 0)")
    add_prompt_options(parser)
    add_store_options(parser, demo=True)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from crampwatch.live.demo_night import describe_night, make_demo_night, night_blocks
    from crampwatch.live.scoring import score_prompts
    from crampwatch.live.sources import VirtualBandSource
    from crampwatch.synth.truth import NightTruth

    if not args.pace > 0 or not args.minutes > 0 or args.cramps < 0:
        raise UserError("--pace and --minutes must be > 0, --cramps >= 0")
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="crampwatch-demo-"))
    options = options_from_args(args, data_dir=data_dir)
    options.new_night = True
    options.linger_s = args.linger
    print(f"demo: generating a {args.minutes:g}-minute synthetic night in "
          f"{data_dir}/synthetic", flush=True)
    files = make_demo_night(data_dir / "synthetic", args.minutes, args.seed, args.cramps)
    truth = NightTruth.read(files.truth)
    # Counted from the night itself: cramps that did not fit are not announced.
    print(f"demo: playing {describe_night(truth, cramps_asked=args.cramps)}", flush=True)
    source = VirtualBandSource(night_blocks(files.edf), speed=args.pace)
    try:
        result = asyncio.run(_demo(source, options, args))
    finally:
        source.close()
    score = score_prompts(truth.events, result.report.decisions, result.report.reconnect_gaps)
    print("\nground truth of the synthetic night against the prompts:")
    print(score.describe())
    if result.report.disconnects:
        print(f"({result.report.disconnects} reconnection(s): true times after each are "
              "shifted by the time the band was away)")
    print(f"\nnight folder: {result.night_dir} (journal, prompt log, capture, summary.png)")
    return 0


async def _demo(source: VirtualBandSource, options, args: argparse.Namespace) -> LiveResult:  # type: ignore[no-untyped-def]
    from crampwatch.live.localstore import LocalStore, clinician_token
    from crampwatch.live.runner import run_live

    tasks: list[asyncio.Task[None]] = []

    def ready(base_url: str | None, token: str, store: LocalStore | None,
              session: LiveSession) -> None:
        print(f"virtual band on {source.pty.port if source.pty else 'a pseudo-terminal'}, "
              f"playing at {args.pace:g}x over the serial link", flush=True)
        if base_url and store is not None:
            clin = clinician_token(store.database_url, store.sleeper_id)
            print(f"bedside page:    {base_url}/bedside?token={token}")
            print(f"clinician pages: {base_url}/  (sign in with token {clin})")
            print(f"API:             {base_url}/docs  (Authorization: Bearer {clin})",
                  flush=True)
        tasks.append(asyncio.create_task(_end_when_played(source, session)))
        if args.auto_ack > 0 and base_url:
            tasks.append(asyncio.create_task(
                _auto_ack(session, base_url, token, args.auto_ack / args.pace)))

    try:
        return await run_live(source, options, on_ready=ready)
    finally:
        for task in tasks:
            task.cancel()


async def _end_when_played(source: VirtualBandSource, session: LiveSession) -> None:
    while not source.finished:
        await asyncio.sleep(0.2)
    await asyncio.sleep(1.0)  # the last packets are still on their way
    session.request_stop("the synthetic night has been played")


async def _auto_ack(session: LiveSession, base_url: str, token: str, wall_delay_s: float) -> None:
    """Press "I stretched" on the bedside page (real HTTP) some time after each prompt."""
    import httpx

    seen: set[str] = set()
    async with httpx.AsyncClient(base_url=base_url, timeout=5.0) as client:
        while True:
            await asyncio.sleep(0.1)
            pid = session.policy.active_prompt_id
            if pid is None or pid in seen or not session.policy.escalating:
                continue
            seen.add(pid)
            await asyncio.sleep(wall_delay_s)
            await client.post("/bedside/ack", params={"token": token},
                              json={"response": "stretched"})
