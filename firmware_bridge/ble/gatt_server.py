"""The band's GATT server on bumble: advertising, the band service, one central at a time.

Bytes only: what a data packet or a command means is the codec's business
(``firmware_bridge.protocol``). This is the radio half of the virtual band.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from bumble import core as bumble_core
from bumble.att import ATT_Error, AttributeValue, ErrorCode
from bumble.core import AdvertisingData
from bumble.device import Connection, Device
from bumble.gatt import Attribute as GattAttribute
from bumble.gatt import Characteristic, Service

from firmware_bridge.ble.air import VirtualAir
from firmware_bridge.ble.gatt_profile import (
    CONTROL_CHAR_UUID,
    DATA_CHAR_UUID,
    DESCRIPTOR_CHAR_UUID,
    SERVICE_UUID,
)

logger = logging.getLogger(__name__)

# Fast advertising for a device waiting to be (re)connected: Apple's accessory
# guidelines recommend 20 ms for the first 30 s; 100 ms is a common battery compromise.
ADVERTISING_INTERVAL_MS = 100.0
# Largest ATT_MTU the band accepts: 247 lets one notification fill one LE data PDU.
BAND_MAX_MTU = 247

INDICATION_TIMEOUT_S = 2.0
ATT_NOTIFICATION_OVERHEAD_BYTES = 3  # opcode + attribute handle
# 31-byte legacy advertising payload minus flags (3), the 128-bit UUID AD (18), name header (2).
MAX_ADVERTISED_NAME_BYTES = 8


class PacketTooLargeError(ValueError):
    """A packet does not fit one notification at the negotiated MTU."""


class BandGattServer:
    """Advertises as a band, serves its GATT service and talks to the connected central.

    ``on_command`` is called with the bytes of each write to the control
    characteristic, after the write has been acknowledged at the ATT level.
    """

    def __init__(
        self,
        air: VirtualAir,
        name: str,
        descriptor: bytes,
        on_command: Callable[[bytes], None],
        max_mtu: int = BAND_MAX_MTU,
    ) -> None:
        self.name = name
        self._descriptor = bytes(descriptor)
        # Replace to serve a descriptor that changes (a band after SET_RATE).
        self.descriptor_source: Callable[[], bytes] = lambda: self._descriptor
        self._on_command = on_command
        self.device: Device = air.new_device(name)
        self.device.gatt_server.max_mtu = max_mtu
        self._data = Characteristic(
            DATA_CHAR_UUID, Characteristic.Properties.NOTIFY, GattAttribute.READABLE, b""
        )
        self._control = Characteristic(
            CONTROL_CHAR_UUID,
            Characteristic.Properties.WRITE | Characteristic.Properties.INDICATE,
            GattAttribute.WRITEABLE,
            AttributeValue(write=self._on_control_write),
        )
        self._descriptor_char = Characteristic(
            DESCRIPTOR_CHAR_UUID,
            Characteristic.Properties.READ,
            GattAttribute.READABLE,
            AttributeValue(read=lambda _connection: self.descriptor_source()),
        )
        self.device.add_service(
            Service(SERVICE_UUID, [self._data, self._control, self._descriptor_char])
        )
        self._connection: Connection | None = None
        self._data_subscribed = False
        self._control_subscribed = False
        self._advertising_wanted = False
        self._tasks: set[asyncio.Task[None]] = set()
        self.subscribed = asyncio.Event()
        self.device.on(self.device.EVENT_CONNECTION, self._on_connection)
        self.device.on("characteristic_subscription", self._on_subscription)

    @property
    def address(self) -> str:
        """Return the band's Bluetooth address as bleak shows it ("C0:CB:...")."""
        return self.device.random_address.to_string(with_type_qualifier=False)

    @property
    def connected(self) -> bool:
        return self._connection is not None

    @property
    def streaming_to_central(self) -> bool:
        """Return True when a central is connected and has enabled data notifications."""
        return self._connection is not None and self._data_subscribed

    @property
    def max_packet_bytes(self) -> int:
        """Return the largest packet one notification can carry now, in bytes (ATT_MTU - 3)."""
        mtu = self._connection.att_mtu if self._connection is not None else 23
        return int(mtu) - ATT_NOTIFICATION_OVERHEAD_BYTES

    def advertising_data(self) -> tuple[bytes, bytes]:
        """Return (advertising data, scan response) for this band.

        A legacy advertisement holds 31 bytes: flags (3) and the 128-bit service UUID
        (18) leave 8 bytes of name. A longer name is advertised shortened and given in
        full in the scan response, which active scanners (bleak's default) receive.
        """
        name = self.name.encode("utf-8")
        fits = len(name) <= MAX_ADVERTISED_NAME_BYTES
        flags = AdvertisingData.LE_GENERAL_DISCOVERABLE_MODE_FLAG | (
            AdvertisingData.BR_EDR_NOT_SUPPORTED_FLAG
        )
        adv = AdvertisingData(
            [
                (AdvertisingData.FLAGS, bytes([flags])),
                (
                    AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
                    bumble_core.UUID(SERVICE_UUID).to_bytes(),
                ),
                (
                    AdvertisingData.COMPLETE_LOCAL_NAME
                    if fits
                    else AdvertisingData.SHORTENED_LOCAL_NAME,
                    name[:MAX_ADVERTISED_NAME_BYTES],
                ),
            ]
        )
        scan_response = AdvertisingData([(AdvertisingData.COMPLETE_LOCAL_NAME, name)])
        return bytes(adv), bytes(scan_response) if not fits else b""

    async def power_on(self) -> None:
        """Power the band's controller on and start advertising."""
        await self.device.power_on()
        await self.start_advertising()

    async def start_advertising(self) -> None:
        """Advertise (connectable) until a central connects; again after each disconnection."""
        self._advertising_wanted = True
        if self._connection is None and not self.device.is_advertising:
            adv, scan_response = self.advertising_data()
            await self.device.start_advertising(
                advertising_data=adv,
                scan_response_data=scan_response,
                advertising_interval_min=ADVERTISING_INTERVAL_MS,
                advertising_interval_max=ADVERTISING_INTERVAL_MS,
            )

    async def stop_advertising(self) -> None:
        """Stop advertising and do not restart after a disconnection (out of range, off)."""
        self._advertising_wanted = False
        if self.device.is_advertising:
            await self.device.stop_advertising()

    async def disconnect(self) -> None:
        """Drop the link to the central, as a band walking out of range would."""
        connection = self._connection
        if connection is not None:
            try:
                await connection.disconnect()
            except bumble_core.BaseBumbleError as exc:
                logger.debug("band %s: disconnect: %s", self.name, exc)

    async def power_off(self) -> None:
        """Disconnect, stop advertising and power the controller down."""
        self._advertising_wanted = False
        # A re-advertising step still in flight would race power-off's HCI commands.
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.stop_advertising()
        await self.disconnect()
        await self.device.power_off()

    async def notify_data(self, packet: bytes) -> bool:
        """Return True if the packet went out as one notification, False if nobody listens.

        Raises PacketTooLargeError when the packet exceeds the negotiated MTU: bumble
        would truncate it silently, and a truncated packet is a corrupted one.
        """
        connection = self._connection
        if connection is None or not self._data_subscribed:
            return False
        if len(packet) > self.max_packet_bytes:
            raise PacketTooLargeError(
                f"packet of {len(packet)} B does not fit one notification at ATT_MTU "
                f"{connection.att_mtu} (max {self.max_packet_bytes} B)"
            )
        await self.device.notify_subscriber(connection, self._data, bytes(packet))
        return True

    async def indicate_control(self, payload: bytes) -> bool:
        """Return True once the central confirmed the indication, False if nobody listens."""
        connection = self._connection
        if connection is None or not self._control_subscribed:
            return False
        if len(payload) > self.max_packet_bytes:
            raise PacketTooLargeError(
                f"acknowledgement of {len(payload)} B exceeds {self.max_packet_bytes} B"
            )
        try:
            # bumble waits 30 s for the confirmation; a host gives up on an ACK after 2 s
            # (docs/protocol.md 1.4), so waiting longer only holds the band's stream back.
            await asyncio.wait_for(
                self.device.indicate_subscriber(connection, self._control, bytes(payload)),
                INDICATION_TIMEOUT_S,
            )
        except (bumble_core.BaseBumbleError, TimeoutError) as exc:
            logger.info("band %s: indication not confirmed: %s", self.name, exc)
            return False
        return True

    def _on_connection(self, connection: Connection) -> None:
        self._connection = connection
        self._data_subscribed = False
        self._control_subscribed = False
        connection.on(connection.EVENT_DISCONNECTION, self._on_disconnection)

    def _on_disconnection(self, _reason: int) -> None:
        self._connection = None
        self._data_subscribed = False
        self._control_subscribed = False
        self.subscribed.clear()
        if self._advertising_wanted:
            # bumble's auto_restart would also re-advertise after stop_advertising().
            task = asyncio.get_running_loop().create_task(self.start_advertising())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _on_subscription(
        self,
        connection: Connection,
        characteristic: Characteristic,
        notify_enabled: bool,
        indicate_enabled: bool,
    ) -> None:
        if characteristic is self._data:
            self._data_subscribed = notify_enabled
        elif characteristic is self._control:
            self._control_subscribed = indicate_enabled
        if self._data_subscribed:
            self.subscribed.set()
        else:
            self.subscribed.clear()

    def _on_control_write(self, _connection: Connection, value: bytes) -> None:
        if not value:
            raise ATT_Error(ErrorCode.INVALID_ATTRIBUTE_LENGTH)
        self._on_command(bytes(value))
