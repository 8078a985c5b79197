"""`crampwatch band --ble`: the virtual band as a Bluetooth LE peripheral, and a hub reading it.

There is no radio to reach from another process: the band runs on an in-process
virtual air (bumble), and a hub in the same process finds it by scanning, connects
through bleak's public API (a bleak backend over bumble), starts the stream and
prints, once per second of signal, what arrived: samples, gaps with their counts,
link drops and reconnections, battery and electrodes. ``--fault`` injects what a
night brings (a lost packet burst, the band out of range, a firmware stall) so the
recovery can be watched.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from dataclasses import dataclass, field

from crampwatch.errors import UserError
from firmware_bridge.ble.air import VirtualAir
from firmware_bridge.ble.bleak_bumble import BumbleBleakClient, BumbleBleakScanner
from firmware_bridge.ble.connection import BandSelector, BleBackend, BleConnectionParams
from firmware_bridge.ble.link import BleLink
from firmware_bridge.ble.virtual_peripheral import BleVirtualBand
from firmware_bridge.clock import ClockParams
from firmware_bridge.events import BandStatus, Disconnected, Reconnected
from firmware_bridge.link import BandLinkError
from firmware_bridge.virtual_band import VirtualBand
from sensor.records import SampleBlock, SignalGap, SignalGroup

FAULT_KINDS = ("drop", "disconnect", "stall")
DROP_PACKETS = 10  # one drop fault loses this many DATA packets (0.25 s of signal)
OUT_OF_RANGE_S = 1.0  # a disconnect fault keeps the band away this long (signal seconds)
STALL_S = 4.0  # a stall fault silences the band this long (signal seconds): > watchdog


@dataclass(frozen=True)
class Fault:
    """One fault to inject: its kind and the signal time (s) at which it happens."""

    kind: str
    at_s: float


def parse_fault(text: str) -> Fault:
    """Return the Fault of a ``KIND@SECONDS`` option value (e.g. ``disconnect@20``)."""
    kind, sep, when = text.partition("@")
    try:
        at_s = float(when)
    except ValueError:
        at_s = -1.0
    if not sep or kind not in FAULT_KINDS or at_s < 0:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give KIND@SECONDS with KIND one of {', '.join(FAULT_KINDS)} "
            "and SECONDS of signal >= 0, e.g. disconnect@20"
        )
    return Fault(kind, at_s)


def add_ble_options(parser: argparse.ArgumentParser) -> None:
    """Add the options only --ble uses."""
    parser.add_argument(
        "--seconds", type=float, default=None,
        help="with --ble: stop after this many seconds of signal (default: until Ctrl-C)",
    )
    parser.add_argument(
        "--fault", type=parse_fault, action="append", default=[], metavar="KIND@SECONDS",
        help=(
            f"with --ble: inject a fault at a signal time: drop ({DROP_PACKETS} packets lost), "
            f"disconnect (band out of range {OUT_OF_RANGE_S:g} s), stall (band silent "
            f"{STALL_S:g} s, link up); repeatable"
        ),
    )


@dataclass
class _Tally:
    samples: dict[SignalGroup, int] = field(default_factory=dict)
    lost: dict[SignalGroup, int] = field(default_factory=dict)


def _say(text: str) -> None:
    print(text, flush=True)


async def serve_ble(band: VirtualBand, speed: float, seconds: float | None,
                    faults: list[Fault]) -> int:
    """Run the band and an in-process hub until ``seconds`` of signal; return an exit code."""
    air = VirtualAir()
    pending = sorted(faults, key=lambda f: f.at_s)
    async with BleVirtualBand(band, air) as peripheral:
        _say(f"band {peripheral.name} ({band.descriptor.device_id}) advertising at "
             f"{peripheral.address} on the in-process air, speed {speed:g}x")
        link = BleLink(
            BandSelector(name=peripheral.name),
            # The watchdog works in wall time; a fast band is silent for less wall time.
            BleConnectionParams(stall_timeout_s=max(0.2, 2.0 / speed)),
            BleBackend(BumbleBleakScanner, BumbleBleakClient, {"air": air}),
            clock=ClockParams(device_speed=speed),
        )
        try:
            async with link:
                descriptor = link.descriptor
                assert descriptor is not None
                _say(f"hub connected through bleak, ATT_MTU {link.mtu}; "
                     f"{descriptor.emg.n_channels} EMG ch at {descriptor.emg.rate_hz:g} Hz, "
                     f"{band.frames_per_packet} frames per packet")
                await link.start()
                return await _read(link, band, peripheral, speed, seconds, pending)
        except BandLinkError as exc:
            raise UserError(str(exc)) from exc


async def _read(link: BleLink, band: VirtualBand, peripheral: BleVirtualBand, speed: float,
                seconds: float | None, pending: list[Fault]) -> int:
    tally = _Tally()
    next_report_s = 1.0
    background: set[asyncio.Task[None]] = set()
    async for item in link:
        if isinstance(item, SampleBlock):
            g = item.group
            tally.samples[g] = tally.samples.get(g, 0) + item.n_samples
            t_s = item.t_end_s
            while pending and pending[0].at_s <= t_s:
                fault = pending.pop(0)
                _say(f"{t_s:7.2f} s  fault: {fault.kind}")
                if fault.kind == "drop":
                    band.drop_next(DROP_PACKETS)
                elif fault.kind == "stall":
                    band.stall(STALL_S / speed)
                else:
                    task = asyncio.create_task(peripheral.go_out_of_range(OUT_OF_RANGE_S / speed))
                    background.add(task)
                    task.add_done_callback(background.discard)
            if g == SignalGroup.EMG and t_s >= next_report_s:
                emg = tally.samples.get(SignalGroup.EMG, 0)
                acc = tally.samples.get(SignalGroup.ACC, 0)
                lost = tally.lost.get(SignalGroup.EMG, 0)
                _say(f"{t_s:7.2f} s  EMG {emg} samples, ACC {acc}, EMG lost {lost}")
                next_report_s = float(int(t_s) + 1)
            if seconds is not None and t_s >= seconds:
                break
        elif isinstance(item, SignalGap):
            tally.lost[item.group] = tally.lost.get(item.group, 0) + item.lost_samples
            _say(f"{item.start_s:7.2f} s  gap: {item.lost_samples} {item.group} samples lost "
                 f"({item.end_s - item.start_s:.3f} s)")
        elif isinstance(item, Disconnected):
            _say(f"          link down: {item.reason}"
                 + ("; reconnecting" if item.will_reconnect else ""))
        elif isinstance(item, Reconnected):
            _say(f"          link back after {item.down_s:.2f} s ({item.attempts} attempt(s))")
        elif isinstance(item, BandStatus):
            off = ", ".join(item.electrodes_off) or "none"
            battery = "unknown" if item.battery_pct is None else f"{item.battery_pct} %"
            _say(f"{item.t_s:7.2f} s  band: battery {battery}, electrodes off: {off}")
    for task in list(background):
        with contextlib.suppress(asyncio.CancelledError):
            await task
    emg = tally.samples.get(SignalGroup.EMG, 0)
    lost = tally.lost.get(SignalGroup.EMG, 0)
    stats = link.connection.stats
    _say(f"done: EMG {emg} samples delivered, {lost} lost and reported; "
         f"{stats.connections} connection(s), {stats.drops} drop(s), {stats.stalls} stall(s)")
    return 0


def run_ble(band: VirtualBand, args: argparse.Namespace) -> int:
    """Entry point for ``crampwatch band --ble``."""
    if args.seconds is not None and not args.seconds > 0:
        raise UserError(f"--seconds must be positive, got {args.seconds}")
    try:
        return asyncio.run(serve_ble(band, args.speed, args.seconds, list(args.fault)))
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
        return 0
