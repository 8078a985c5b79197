"""`crampwatch scan`: list the leg bands advertising nearby (name, address, signal strength)."""

from __future__ import annotations

import argparse
import asyncio
from typing import TYPE_CHECKING

from crampwatch.commands.parser import command_parser
from crampwatch.errors import UserError
from firmware_bridge.ble.gatt_profile import NAME_PREFIX, SERVICE_UUID

if TYPE_CHECKING:
    from firmware_bridge.ble.scan import FoundBand

# Long enough to hear a band advertising at the slow 1 s interval bands drop to after
# their first 30 s of fast advertising (Apple accessory design guidelines), several times.
DEFAULT_SCAN_S = 5.0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = command_parser(
        subparsers,
        "scan",
        help="list leg bands nearby (Bluetooth LE)",
        description=(
            "Scan for crampwatch leg bands over Bluetooth LE and list them, strongest "
            f"first: bands advertise the service {SERVICE_UUID} and a name starting "
            f"{NAME_PREFIX!r}. Uses the computer's Bluetooth adapter. --virtual N instead "
            "scans an in-process virtual air with N virtual bands (no radio needed)."
        ),
    )
    parser.add_argument("--timeout", type=float, default=DEFAULT_SCAN_S,
                        help=f"seconds to listen (default {DEFAULT_SCAN_S:g})")
    parser.add_argument("--virtual", type=int, default=0, metavar="N",
                        help="scan N virtual bands on an in-process air instead of the radio")
    parser.set_defaults(func=run)


async def _scan_virtual(n_bands: int, timeout_s: float) -> list[FoundBand]:
    from firmware_bridge.ble.air import VirtualAir
    from firmware_bridge.ble.bleak_bumble import BumbleBleakClient, BumbleBleakScanner
    from firmware_bridge.ble.connection import BleBackend
    from firmware_bridge.ble.gatt_server import BandGattServer
    from firmware_bridge.ble.scan import scan_for_bands

    air = VirtualAir()
    bands = []
    for i in range(n_bands):
        band = BandGattServer(air, f"{NAME_PREFIX}-V{i + 1:03d}", b"", lambda _cmd: None)
        await band.power_on()
        bands.append(band)
    try:
        return await scan_for_bands(
            timeout_s, BleBackend(BumbleBleakScanner, BumbleBleakClient, {"air": air})
        )
    finally:
        for band in bands:
            await band.power_off()


def format_bands(bands: list[FoundBand]) -> str:
    """Return the table printed for ``bands`` (or a line saying none was heard)."""
    if not bands:
        return "no band heard: is it charged, switched on and not connected to another hub?"
    lines = [f"{'name':<20} {'address':<20} {'RSSI':>8}"]
    for band in bands:
        note = "" if band.advertises_service else "  (name only: old firmware?)"
        lines.append(f"{band.name or '?':<20} {band.address:<20} {band.rssi_dbm:>4} dBm{note}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from firmware_bridge.ble.connection import BleLinkError
    from firmware_bridge.ble.scan import scan_for_bands

    if not args.timeout > 0:
        raise UserError(f"--timeout must be positive, got {args.timeout}")
    if args.virtual < 0:
        raise UserError(f"--virtual must be >= 0, got {args.virtual}")
    try:
        if args.virtual:
            bands = asyncio.run(_scan_virtual(args.virtual, args.timeout))
        else:
            bands = asyncio.run(scan_for_bands(args.timeout))
    except BleLinkError as exc:
        raise UserError(str(exc)) from exc
    print(format_bands(bands))
    return 0
