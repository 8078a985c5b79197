"""An in-process Bluetooth LE medium: bumble controllers joined by a ``LocalLink``.

There is no radio on a test machine or a CI runner. Bumble's virtual controllers
implement the link layer (advertising, connection, ACL data) and its host stack the
real L2CAP/ATT/GATT on top, so a peripheral and a central placed on the same
:class:`VirtualAir` exchange the same GATT procedures a phone and a band would.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools

from bumble import hci
from bumble.controller import Controller
from bumble.device import Device
from bumble.hci import Address
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink

# Static random addresses have the two top bits of the most significant octet set
# (Core Spec Vol 6, Part B, 1.3.2.1); C0:CB:... keeps them recognisable in logs.
_ADDRESS_PREFIX = "C0:CB:00:00"


_EXT_REPORT = hci.HCI_LE_Extended_Advertising_Report_Event
_LEGACY_REPORT = hci.HCI_LE_Advertising_Report_Event


class _ScanResponseController(Controller):
    """A bumble virtual controller whose scan responses carry the advertiser's scan data.

    bumble's controller answers an active scan with a copy of the advertising data; a
    real link layer sends the advertiser's scan response data (SCAN_RSP). Bands put
    their full name there, so the host must see it as it would over the air.
    """

    def _scan_response_data(self, advertiser: Address) -> bytes:
        controller = self.link.find_le_controller(advertiser)
        if controller is None:
            return b""
        # The host drives legacy advertising through extended advertising sets when the
        # controller offers them, through the legacy advertiser otherwise.
        for advertising_set in controller.advertising_sets.values():
            if advertising_set.enabled and advertising_set.address == advertiser:
                return bytes(advertising_set.scan_response_data)
        return bytes(controller.le_legacy_advertiser.scan_response_data)

    def send_hci_packet(self, packet: hci.HCI_Packet) -> None:
        if isinstance(packet, _EXT_REPORT) and any(
            r.event_type & _EXT_REPORT.EventType.SCAN_RESPONSE for r in packet.reports
        ):
            packet = _EXT_REPORT(
                [
                    dataclasses.replace(r, data=self._scan_response_data(r.address))
                    if r.event_type & _EXT_REPORT.EventType.SCAN_RESPONSE
                    else r
                    for r in packet.reports
                ]
            )
        elif isinstance(packet, _LEGACY_REPORT) and any(
            r.event_type == _LEGACY_REPORT.EventType.SCAN_RSP for r in packet.reports
        ):
            packet = _LEGACY_REPORT(
                [
                    dataclasses.replace(r, data=self._scan_response_data(r.address))
                    if r.event_type == _LEGACY_REPORT.EventType.SCAN_RSP
                    else r
                    for r in packet.reports
                ]
            )
        super().send_hci_packet(packet)


class VirtualAir:
    """Shared medium for virtual bands and the host's virtual adapter.

    Create it inside a running event loop: bumble's controllers bind to the loop.
    """

    def __init__(self) -> None:
        self.link = LocalLink()
        self._serial = itertools.count(1)
        self._central: Device | None = None
        self._central_lock = asyncio.Lock()
        self._scan_users = 0
        self._scan_lock = asyncio.Lock()

    def new_device(self, name: str) -> Device:
        """Return a bumble Device with its own controller on this air (not powered yet)."""
        serial = next(self._serial)
        if serial > 0xFFFF:
            raise RuntimeError("VirtualAir has run out of device addresses (65535)")
        address = f"{_ADDRESS_PREFIX}:{serial >> 8:02X}:{serial & 0xFF:02X}"
        controller = _ScanResponseController(
            f"{name}-controller", link=self.link, public_address=address
        )
        host = Host(controller, AsyncPipeSink(controller))
        return Device(name=name, address=Address(address), host=host)

    async def central(self) -> Device:
        """Return the host's adapter (one per air, shared by scanners and clients), powered on."""
        async with self._central_lock:
            if self._central is None:
                device = self.new_device("crampwatch-hub")
                await device.power_on()
                self._central = device
            return self._central

    async def acquire_scanning(self) -> Device:
        """Start the adapter scanning unless another scanner already has; return the adapter."""
        central = await self.central()
        async with self._scan_lock:
            if self._scan_users == 0:
                await central.start_scanning(filter_duplicates=False)
            self._scan_users += 1
        return central

    async def release_scanning(self) -> None:
        """Stop the adapter scanning once the last scanner has released it."""
        central = await self.central()
        async with self._scan_lock:
            if self._scan_users == 0:
                return
            self._scan_users -= 1
            if self._scan_users == 0 and central.is_scanning:
                await central.stop_scanning()
