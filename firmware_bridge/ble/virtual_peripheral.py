"""The virtual band as a Bluetooth LE peripheral: a VirtualBand behind the band's GATT server.

The transport-independent :class:`~firmware_bridge.virtual_band.VirtualBand` decides
what to send and when; this module puts it on the air as docs/protocol.md section 3
says: DATA, STATUS and DESCRIPTOR packets as notifications of the data
characteristic, ACKs as indications of the control characteristic, the descriptor
readable. Faults act as on a real link: a dropped packet never arrives, a disconnect
drops the link (the band keeps sampling, so the host sees the gap in sequence
numbers when it comes back), a stall keeps the link up with nothing on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from firmware_bridge.ble.air import VirtualAir
from firmware_bridge.ble.gatt_profile import NAME_PREFIX
from firmware_bridge.ble.gatt_server import BandGattServer, PacketTooLargeError
from firmware_bridge.protocol import PacketType
from firmware_bridge.virtual_band import OutPacket, VirtualBand

logger = logging.getLogger(__name__)

ATT_HEADER_BYTES = 3
# Longest the pump sleeps when nothing is due, so faults and stop() act promptly.
_MAX_IDLE_S = 0.05


@dataclass
class AirStats:
    """What happened to the band's packets on the air."""

    notified: int = 0  # DATA/STATUS/DESCRIPTOR packets delivered as notifications
    unheard: int = 0  # sent while no central listened (disconnected, not subscribed)
    too_large: int = 0  # did not fit the negotiated MTU (host asked for too small an MTU)
    acks: int = 0
    disconnects: int = 0
    # BLE's link layer checks a CRC and retransmits damaged PDUs: a packet the band
    # marks "corrupt in transit" arrives intact over BLE (it is counted here).
    corrupt_absorbed: int = 0


def default_band_name(band: VirtualBand) -> str:
    """Return "CrampBand-XXXX" with the last four characters of the band's device id."""
    suffix = "".join(c for c in band.config.device_id if c.isalnum())[-4:].upper()
    return f"{NAME_PREFIX}-{suffix or '0000'}"


class BleVirtualBand:
    """Plays a VirtualBand over a BandGattServer on a VirtualAir until stop()."""

    def __init__(self, band: VirtualBand, air: VirtualAir, name: str | None = None) -> None:
        self.band = band
        self.name = name or default_band_name(band)
        self.stats = AirStats()
        self.server = BandGattServer(
            air,
            self.name,
            descriptor=band.descriptor.encode(),
            on_command=self._on_command,
            max_mtu=band.config.max_packet_bytes + ATT_HEADER_BYTES,
        )
        # The descriptor characteristic reads the band's current descriptor (it changes
        # after SET_RATE).
        self.server.descriptor_source = lambda: self.band.descriptor.encode()
        self._commands: asyncio.Queue[bytes] = asyncio.Queue()
        # Held while a command's answers go out, so a START's ACK precedes the stream's
        # first packet and a GET_DESCRIPTOR's ACK precedes the DESCRIPTOR (protocol 1.4).
        self._send_lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def address(self) -> str:
        return self.server.address

    async def start(self) -> None:
        """Power on, advertise, and begin playing the band's packets."""
        await self.server.power_on()
        self._tasks = [
            asyncio.create_task(self._pump(), name=f"{self.name}-pump"),
            asyncio.create_task(self._answer_commands(), name=f"{self.name}-commands"),
        ]

    async def stop(self) -> None:
        """Stop playing, drop any connection and power the radio off."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self.server.power_off()

    async def __aenter__(self) -> BleVirtualBand:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def go_out_of_range(self, seconds: float) -> None:
        """Drop the link and stay silent (no advertising) for ``seconds``, then come back."""
        await self.server.stop_advertising()
        await self.server.disconnect()
        self.stats.disconnects += 1
        await asyncio.sleep(seconds)
        await self.server.start_advertising()

    def _on_command(self, payload: bytes) -> None:
        self._commands.put_nowait(payload)

    async def _answer_commands(self) -> None:
        while True:
            payload = await self._commands.get()
            async with self._send_lock:
                for out in self.band.handle(payload):
                    await self._send(out)
            self._wake.set()  # a START makes packets due: recompute the pump's sleep

    async def _pump(self) -> None:
        while True:
            if self.band.faults.disconnect:
                self.band.faults.disconnect = False
                self.stats.disconnects += 1
                await self.server.disconnect()
            async with self._send_lock:
                for out in self.band.due(self.band.now_us()):
                    await self._send(out)
            wait_s = (self.band.next_due_host_us() - self.band.now_us()) / 1e6
            self._wake.clear()
            if wait_s > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), min(wait_s, _MAX_IDLE_S))
            else:
                await asyncio.sleep(0)  # let the host side run between bursts

    async def _send(self, out: OutPacket) -> None:
        packet = out.packet
        if out.corrupt:
            self.stats.corrupt_absorbed += 1
        try:
            if packet[0] == PacketType.ACK:
                if await self.server.indicate_control(packet):
                    self.stats.acks += 1
                else:
                    self.stats.unheard += 1
            elif await self.server.notify_data(packet):
                self.stats.notified += 1
            else:
                self.stats.unheard += 1
        except PacketTooLargeError as exc:
            # The host negotiated a smaller ATT_MTU than this band's packets need
            # (BandConfig.max_packet_bytes): say so once, then count.
            self.stats.too_large += 1
            if self.stats.too_large == 1:
                logger.error(
                    "%s: %s; packets this size are not sent (the host must accept an "
                    "ATT_MTU of at least %d)",
                    self.name,
                    exc,
                    self.band.config.max_packet_bytes + ATT_HEADER_BYTES,
                )
