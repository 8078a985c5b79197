"""`crampwatch band`: run a virtual leg band that speaks the band protocol (docs/protocol.md).

``--serial`` serves it on a pseudo-terminal and prints the port's path: connect any
serial program, or ``crampwatch run`` with that port, exactly as to a band on USB.
The band plays an EDF/EDF+ recording (``--edf``) or a built-in demonstration signal.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from crampwatch.commands.parser import command_parser
from crampwatch.errors import UserError

if TYPE_CHECKING:
    from firmware_bridge.virtual_band import ArraySource, SignalSource, VirtualBand

logger = logging.getLogger(__name__)

DEMO_EMG_RATE_HZ = 2000.0  # DOMAIN.md: 2 kHz typical for surface EMG
DEMO_ACC_RATE_HZ = 100.0  # DOMAIN.md: 50-100 Hz is plenty for leg acceleration
DEMO_LENGTH_S = 60.0
DEMO_REST_UV = 3.0  # DOMAIN.md: a few uV at rest
DEMO_BURST_UV = 150.0  # moderate contraction
DEMO_LABELS = ("EMG R Gastroc", "EMG R Tib Ant")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``band`` command."""
    parser = command_parser(
        subparsers,
        "band",
        help="run a virtual leg band (serial on a pseudo-terminal)",
        description=(
            "Run a virtual leg band that speaks the crampwatch band protocol "
            "(docs/protocol.md) byte for byte. With --serial it serves a pseudo-terminal "
            "and prints its path on stdout; open that path as a serial port (any baud "
            "rate). The band streams after a START command, obeys STOP, SET_RATE, BUZZ "
            "(printed when received) and TIME_SYNC. Without --edf it plays a 60 s "
            "demonstration signal (resting EMG with a calf burst every 10 s) in a loop. "
            "Stop it with Ctrl-C."
        ),
    )
    parser.add_later(_add_options)
    parser.set_defaults(func=run)


def _add_options(parser: argparse.ArgumentParser) -> None:
    from crampwatch.commands.band_ble import add_ble_options
    from firmware_bridge.virtual_band import BandConfig

    transport = parser.add_mutually_exclusive_group(required=True)
    transport.add_argument("--serial", action="store_true",
                           help="serve the band on a pseudo-terminal (prints its path)")
    transport.add_argument("--ble", action="store_true",
                           help="run the band as a BLE peripheral on an in-process virtual "
                                "air, with a hub that connects through bleak and prints what "
                                "it receives")
    parser.add_argument("--edf", type=Path, metavar="PATH",
                        help="play this EDF/EDF+ recording instead of the demonstration signal")
    parser.add_argument("--loop", action="store_true",
                        help="play the recording again when it ends (loads it into memory)")
    parser.add_argument("--speed", type=float, default=1.0,
                        help="play N times faster than real time (default 1)")
    parser.add_argument("--device-id", default=BandConfig.device_id,
                        help=f"the band's id in its descriptor (default {BandConfig.device_id})")
    parser.add_argument("--drift-ppm", type=float, default=0.0,
                        help="make the band's clock run fast (+) or slow (-) by this many ppm")
    add_ble_options(parser)


def demo_source() -> ArraySource:
    """Return the demonstration signal: 60 s of resting EMG, a 2 s calf burst every 10 s."""
    import numpy as np

    from firmware_bridge.virtual_band import ArraySource

    rng = np.random.default_rng(0)
    n = int(DEMO_LENGTH_S * DEMO_EMG_RATE_HZ)
    t = np.arange(n) / DEMO_EMG_RATE_HZ
    emg = rng.normal(0.0, DEMO_REST_UV, (n, 2))
    burst = ((t % 10.0) >= 5.0) & ((t % 10.0) < 7.0)
    emg[burst, 0] += rng.normal(0.0, DEMO_BURST_UV, int(burst.sum()))
    n_acc = int(DEMO_LENGTH_S * DEMO_ACC_RATE_HZ)
    acc = np.tile([0.0, 0.0, 1.0], (n_acc, 1)) + rng.normal(0.0, 0.01, (n_acc, 3))
    return ArraySource(emg, DEMO_EMG_RATE_HZ, DEMO_LABELS, acc, DEMO_ACC_RATE_HZ, loop=True)


def recording_source(path: Path, loop: bool) -> SignalSource:
    """Return a source playing an EDF/EDF+ recording (streamed, or in memory to loop)."""
    from crampwatch.recordings.edf_reader import EdfRecording
    from firmware_bridge.virtual_band import ArraySource, BlockSource

    rec = EdfRecording(path)
    if not loop:
        return BlockSource(rec.blocks())
    with rec:
        emg, acc = rec.window(0.0, rec.duration_s)
        return ArraySource(emg, rec.emg_fs_hz, rec.emg_labels, acc,
                           rec.acc_fs_hz if acc is not None else 100.0,
                           rec.acc_labels or ("ACC X", "ACC Y", "ACC Z"), loop=True)


def build_band(args: argparse.Namespace) -> VirtualBand:
    """Return the virtual band the options describe."""
    from firmware_bridge.virtual_band import BandConfig, VirtualBand

    if not args.speed > 0:
        raise UserError(f"--speed must be positive, got {args.speed}")
    try:
        source = recording_source(args.edf, args.loop) if args.edf else demo_source()
        config = BandConfig(device_id=args.device_id, clock_drift_ppm=args.drift_ppm)
        return VirtualBand(source, config, speed=args.speed)
    except ValueError as exc:
        raise UserError(f"cannot play this signal on a band: {exc}") from exc


def run(args: argparse.Namespace) -> int:
    """Serve the band until Ctrl-C or SIGTERM; return the exit status (0)."""
    from crampwatch.commands.band_ble import run_ble
    from firmware_bridge.pty_band import PtyBand

    band = build_band(args)
    if args.ble:
        return run_ble(band, args)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with PtyBand(band) as served:
        print(served.port, flush=True)
        print(f"virtual band {band.descriptor.device_id} on {served.port}: "
              f"{band.descriptor.emg.n_channels} EMG ch at {band.descriptor.emg.rate_hz:g} Hz, "
              f"speed {args.speed:g}x; Ctrl-C to stop", file=sys.stderr, flush=True)
        shown = 0
        ended = False
        try:
            while not stop.is_set() and not served.dead:
                for buzz in band.buzzes[shown:]:
                    print(f"buzz: {buzz.pulses} x {buzz.on_ms} ms on / {buzz.off_ms} ms off "
                          f"at {buzz.intensity_pct} %", file=sys.stderr, flush=True)
                shown = len(band.buzzes)
                if band.exhausted and not ended:
                    ended = True
                    print("the recording has ended: the band sends status only now "
                          "(--loop plays it again)", file=sys.stderr, flush=True)
                time.sleep(0.1)
        except KeyboardInterrupt:
            pass
    return 0
