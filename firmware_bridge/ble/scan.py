"""Find bands nearby: advertisements carrying the band service UUID or a band name."""

from __future__ import annotations

from dataclasses import dataclass

from bleak import BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakError

from firmware_bridge.ble import gatt_profile
from firmware_bridge.ble.connection import BleBackend, BleLinkError


@dataclass(frozen=True)
class FoundBand:
    """One band seen while scanning."""

    name: str | None
    address: str
    rssi_dbm: int
    advertises_service: bool  # False: recognised by name only (older firmware)


def is_band(device: BLEDevice, adv: AdvertisementData) -> bool:
    """Return True if an advertisement comes from a crampwatch band."""
    name = adv.local_name or device.name or ""
    return gatt_profile.SERVICE_UUID in adv.service_uuids or name.startswith(
        gatt_profile.NAME_PREFIX
    )


async def scan_for_bands(
    timeout_s: float = 5.0, backend: BleBackend | None = None
) -> list[FoundBand]:
    """Return the bands heard within ``timeout_s`` seconds, strongest signal first."""
    if not timeout_s > 0:
        raise ValueError(f"scan time must be > 0 s, got {timeout_s}")
    backend = backend or BleBackend()
    try:
        seen = await BleakScanner.discover(
            timeout=timeout_s, return_adv=True, backend=backend.scanner, **backend.options
        )
    except (BleakError, OSError) as exc:
        # On Linux an absent BlueZ/D-Bus shows as a missing socket (FileNotFoundError).
        raise BleLinkError(
            f"cannot scan for bands ({type(exc).__name__}: {exc}): is there a Bluetooth "
            "adapter, is it switched on (on Linux: is bluetoothd running?) and may this "
            "user use it?"
        ) from exc
    bands = [
        FoundBand(
            name=adv.local_name or device.name,
            address=device.address,
            rssi_dbm=int(adv.rssi),
            advertises_service=gatt_profile.SERVICE_UUID in adv.service_uuids,
        )
        for device, adv in seen.values()
        if is_band(device, adv)
    ]
    return sorted(bands, key=lambda b: (-b.rssi_dbm, b.name or "", b.address))
