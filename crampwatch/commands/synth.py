"""`crampwatch synth`: generate labelled synthetic nights (EDF+ and ground-truth JSON)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from tqdm import tqdm

from crampwatch.errors import UserError
from crampwatch.synth.night import generate_night
from crampwatch.synth.plan import NightConfig
from crampwatch.synth.real_emg import RealEmgLibrary, RealEmgUnavailable

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "synth",
        help="generate labelled synthetic nights",
        description=(
            "Write synthetic nights with ground truth: night-NNN.edf (EDF+, EMG in uV, "
            "accelerometer in g, truth as annotations) and night-NNN.truth.json. The same "
            "--seed gives the same files; night i uses seed + i."
        ),
    )
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument("--nights", type=int, default=1, help="number of nights (default 1)")
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--hours", type=float, default=None,
                        help="length of each night in hours (default 8)")
    length.add_argument("--minutes", type=float, default=None,
                        help="length of each night in minutes")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first night")
    parser.add_argument("--prefix", default="night", help="file name prefix (default night)")
    parser.add_argument("--emg-rate", type=float, default=2000.0, help="EMG rate, Hz")
    parser.add_argument("--acc-rate", type=float, default=100.0, help="accelerometer rate, Hz")
    parser.add_argument("--leg", choices=("L", "R"), default="R", help="leg wearing the band")
    parser.add_argument("--extra-calf", action="store_true",
                        help="add a second calf channel (soleus)")
    parser.add_argument("--mains", type=float, choices=(50.0, 60.0), default=None,
                        help="mains frequency (default: 50 or 60 drawn per night)")
    parser.add_argument("--cramps", type=int, nargs=2, metavar=("MIN", "MAX"), default=(1, 4),
                        help="cramps per night, drawn uniformly (default 1 4)")
    parser.add_argument("--no-real-emg", action="store_true",
                        help="model walking and stretches instead of using the real UCI EMG")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    duration_s = (
        args.minutes * 60.0 if args.minutes is not None
        else (args.hours if args.hours is not None else 8.0) * 3600.0
    )
    if args.nights < 1 or duration_s <= 0:
        raise UserError("--nights must be >= 1 and the night length > 0")
    if not 0 <= args.cramps[0] <= args.cramps[1]:
        raise UserError(f"--cramps MIN MAX needs 0 <= MIN <= MAX, got {args.cramps}")
    if args.emg_rate < 250 or args.acc_rate <= 0:
        raise UserError("--emg-rate must be >= 250 Hz and --acc-rate > 0")
    config = NightConfig(
        duration_s=duration_s,
        emg_fs_hz=args.emg_rate,
        acc_fs_hz=args.acc_rate,
        leg=args.leg,
        extra_calf=args.extra_calf,
        mains_hz=args.mains,
        cramps_min=args.cramps[0],
        cramps_max=args.cramps[1],
        use_real_emg=not args.no_real_emg,
    )
    library = None
    if config.use_real_emg:
        try:
            library = RealEmgLibrary()
        except RealEmgUnavailable as exc:
            raise UserError(str(exc)) from None
    total_s = args.nights * config.duration_s
    with tqdm(total=round(total_s), unit="s", desc="synth", disable=None, file=sys.stderr) as bar:
        for i in range(args.nights):
            done = [0.0]

            def advance(seconds: float, done: list[float] = done) -> None:
                bar.update(round(seconds) - round(done[0]))
                done[0] = seconds

            name = f"{args.prefix}-{i:03d}"
            files = generate_night(config, args.seed + i, args.out, name, library, advance)
            log.info("wrote %s and %s", files.edf, files.truth)
    print(f"wrote {args.nights} night(s) to {args.out}", file=sys.stderr)
    return 0
