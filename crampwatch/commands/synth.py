"""`crampwatch synth`: generate labelled synthetic nights (EDF+ and ground-truth JSON)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from crampwatch.commands.checks import output_folder
from crampwatch.commands.parser import command_parser
from crampwatch.errors import UserError

if TYPE_CHECKING:
    from crampwatch.synth.plan import NightConfig

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = command_parser(
        subparsers,
        "synth",
        help="generate labelled synthetic nights",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "examples:\n"
            "  crampwatch synth --nights 20 --hours 8 --seed 1000 --out nights/\n"
            "  crampwatch synth --out held-out/ --emg-fs 500            # only 500 Hz nights\n"
            "  crampwatch synth --out train/ --exclude emg_fs=500 --exclude response=stand_walk\n"
            "  crampwatch synth --out ref/ --vary none --emg-rate 1000  # the reference night\n"
        ),
    )
    parser.add_later(_add_options)
    parser.set_defaults(func=run)


def _add_options(parser: argparse.ArgumentParser) -> None:
    from crampwatch.synth.variation import FAMILIES, LABEL_STYLES

    families = "; ".join(f"{name}: {' '.join(values)}" for name, values in FAMILIES.items())
    parser.description = (
        "Write synthetic nights with ground truth: night-NNN.edf (EDF+, EMG in uV, "
        "accelerometer in g, truth as annotations) and night-NNN.truth.json. The same "
        "--seed gives the same files; night i uses seed + i.\n\n"
        "By default every family of variation is drawn per night or per episode "
        "(--vary all): EMG rate, accelerometer rate or none, leg, channel labels, mains "
        "50/60 Hz and its wander, a noise-floor step, and per cramp its texture (real "
        "or motor-unit EMG), the sleeper's response and whether a movement set it off; "
        "cramps are 30-600 uV. The truth file records what each night and cramp drew "
        "(\"variation\" and per-event attributes), so results can be grouped by family. "
        "Real texture comes from datasets/uci-lower-limb-emg and, where the openhdemg "
        "package is installed, from the HD-EMG recording it ships (texture_source=hdemg; "
        "exclude it for nights that are the same on every machine).\n\n"
        f"Families and values: {families}."
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
    parser.add_argument(
        "--vary", default="all", metavar="all|none|FAMILY,...",
        help="families drawn per night/episode (default all); 'none' gives the reference "
             "night: fixed rates, leg and labels, synthetic cramps, no floor step",
    )
    parser.add_argument("--exclude", action="append", default=[], metavar="FAMILY=VALUE",
                        help="never draw this value, to hold a family out (repeatable), "
                             "e.g. emg_fs=500, acc=none, response=stand_walk, texture=real")
    parser.add_argument("--pin", action="append", default=[], metavar="FAMILY=VALUE",
                        help="draw only this value of a family (repeatable), e.g. labels=calf_shin")
    parser.add_argument("--emg-fs", "--emg-rate", dest="emg_fs", type=float, default=None,
                        help="pin the EMG rate, Hz (drawn from "
                             f"{'/'.join(FAMILIES['emg_fs_hz'])} when varied; "
                             "2000 with --vary none)")
    acc = parser.add_mutually_exclusive_group()
    acc.add_argument("--acc-fs", "--acc-rate", dest="acc_fs", type=float, default=None,
                     help="pin the accelerometer rate, Hz (25/50/100 or none when varied; 100 "
                          "with --vary none)")
    acc.add_argument("--no-acc", action="store_true",
                     help="record no accelerometer (the EDF holds EMG only)")
    parser.add_argument("--leg", type=str.upper, choices=("L", "R"), default=None,
                        help="pin the leg wearing the band")
    parser.add_argument("--labels", choices=tuple(LABEL_STYLES), default=None,
                        help="pin the channel-label style ("
                             + ", ".join(f"{k}: {v[0].format(s='L')}/{v[1].format(s='L')}"
                                         for k, v in LABEL_STYLES.items()) + ")")
    parser.add_argument("--extra-calf", action="store_true",
                        help="add a second calf channel (soleus)")
    parser.add_argument("--mains", type=float, choices=(50.0, 60.0), default=None,
                        help="pin the mains frequency (default: 50 or 60 drawn per night)")
    parser.add_argument("--response", choices=FAMILIES["response"], default=None,
                        help="pin the sleeper's response to every tonic cramp")
    parser.add_argument("--cramps", type=int, nargs=2, metavar=("MIN", "MAX"), default=(1, 4),
                        help="cramps per night, drawn uniformly (default 1 4)")
    parser.add_argument("--cramp-uv", type=float, nargs=2, metavar=("LO", "HI"), default=None,
                        help="cramp strength range, uV RMS, log-uniform (default 30 600; "
                             "12 500 with --vary none)")
    parser.add_argument("--no-real-emg", action="store_true",
                        help="no real UCI EMG at all: synthetic texture only, modelled walking "
                             "and stretches")


def config_from_args(args: argparse.Namespace, duration_s: float) -> NightConfig:
    """Return the night config the command line asks for (raises UserError when it cannot)."""
    from crampwatch.synth.plan import NightConfig
    from crampwatch.synth.variation import (
        VARIED_CRAMP_RMS_UV,
        VariationError,
        build_space,
        normalise_value,
        parse_assignment,
    )

    pins: dict[str, str] = {}
    try:
        for text in args.pin:
            family, value = parse_assignment(text)
            pins[family] = value
        if args.emg_fs is not None:
            pins["emg_fs_hz"] = normalise_value("emg_fs_hz", str(args.emg_fs))
        if args.no_acc:
            pins["acc_fs_hz"] = "none"
        elif args.acc_fs is not None:
            pins["acc_fs_hz"] = normalise_value("acc_fs_hz", str(args.acc_fs))
        for family, value in (("leg", args.leg), ("labels", args.labels),
                              ("mains_hz", args.mains), ("response", args.response)):
            if value is not None:
                pins[family] = normalise_value(family, str(value))
        if args.no_real_emg:
            pins["texture"] = "synthetic"
        excludes = [parse_assignment(text) for text in args.exclude]
        vary = args.vary.strip().lower()
        fixed = {"emg_fs_hz": "2000", "acc_fs_hz": "100", "leg": "R", "labels": "emg",
                 "wandering": "no", "floor_step": "no", "texture": "synthetic",
                 "triggered_by_movement": "no", "plm": "shin"}
        # Rates and the accelerometer off may be any value the writer can store, not only
        # the drawn ones: those go straight into the config.
        emg_fs = float(pins.pop("emg_fs_hz")) if "emg_fs_hz" in pins else 2000.0
        acc_pin = pins.pop("acc_fs_hz", None)
        acc_fs = None if acc_pin == "none" else float(acc_pin) if acc_pin else 100.0
        space = build_space(vary, {k: v for k, v in pins.items()}, excludes, fixed)
        if args.emg_fs is not None:
            space.pop("emg_fs_hz", None)
        if acc_pin is not None:
            space.pop("acc_fs_hz", None)
        for family, value in excludes:
            if family == "emg_fs_hz" and "emg_fs_hz" not in space and f"{emg_fs:g}" == value:
                raise VariationError(f"--exclude {family}={value} excludes the pinned rate")
            if family == "acc_fs_hz" and "acc_fs_hz" not in space and (
                    (acc_fs is None and value == "none")
                    or (acc_fs is not None and f"{acc_fs:g}" == value)):
                raise VariationError(f"--exclude {family}={value} excludes the pinned value")
    except VariationError as exc:
        raise UserError(str(exc)) from None
    if emg_fs < 250 or (acc_fs is not None and acc_fs <= 0):
        raise UserError("the EMG rate must be >= 250 Hz and the accelerometer rate > 0")
    if args.no_real_emg and "real" in space.get("texture", ()):
        raise UserError("--no-real-emg leaves no real texture to draw")
    cramp_uv = tuple(args.cramp_uv) if args.cramp_uv else (
        VARIED_CRAMP_RMS_UV if vary != "none" else NightConfig.cramp_rms_uv
    )
    return NightConfig(
        duration_s=duration_s,
        emg_fs_hz=emg_fs,
        acc_fs_hz=acc_fs,
        leg=args.leg or "R",
        extra_calf=args.extra_calf,
        mains_hz=args.mains,
        cramps_min=args.cramps[0],
        cramps_max=args.cramps[1],
        cramp_rms_uv=cramp_uv,
        use_real_emg=not args.no_real_emg,
        vary=space,
    )


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from crampwatch.synth.night import generate_night
    from crampwatch.synth.real_emg import RealEmgLibrary, RealEmgUnavailable

    duration_s = (
        args.minutes * 60.0 if args.minutes is not None
        else (args.hours if args.hours is not None else 8.0) * 3600.0
    )
    if args.nights < 1 or duration_s <= 0:
        raise UserError("--nights must be >= 1 and the night length > 0")
    if not 0 <= args.cramps[0] <= args.cramps[1]:
        raise UserError(f"--cramps MIN MAX needs 0 <= MIN <= MAX, got {args.cramps}")
    config = config_from_args(args, duration_s)
    output_folder(args.out, "--out")
    library = None
    if config.use_real_emg or "real" in config.vary.get("texture", ()):
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
            try:
                files = generate_night(config, args.seed + i, args.out, name, library, advance)
            except RealEmgUnavailable as exc:
                raise UserError(str(exc)) from None
            log.info("wrote %s and %s", files.edf, files.truth)
    print(f"wrote {args.nights} night(s) to {args.out}", file=sys.stderr)
    return 0
