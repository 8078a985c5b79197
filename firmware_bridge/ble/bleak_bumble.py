"""A bleak backend over bumble: bleak's public API driving a bumble central on a VirtualAir.

``BleakScanner(..., backend=BumbleBleakScanner, air=air)`` and
``BleakClient(device, backend=BumbleBleakClient, air=air)`` behave like bleak on a
real adapter: the scanner reports advertisements, the client connects, exchanges the
ATT MTU, discovers services, reads, writes and subscribes, all as real ATT PDUs
between bumble's host stacks. In the field bleak picks its platform backend and this
module is not used.
"""

from __future__ import annotations

import asyncio
import logging
import uuid as uuid_mod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from bleak.args import SizedBuffer
from bleak.assigned_numbers import CHARACTERISTIC_PROPERTIES, CharacteristicPropertyName
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDeviceNotFoundError, BleakError, BleakGATTProtocolError
from bumble import core as bumble_core
from bumble.att import ATT_Error
from bumble.core import AdvertisingData
from bumble.device import Advertisement, Connection, Device, Peer
from bumble.gatt_client import CharacteristicProxy
from bumble.hci import Address

from firmware_bridge.ble.air import VirtualAir

logger = logging.getLogger(__name__)

# ATT_MTU the host asks for; 247 fills one LE Data Length Extension PDU (251 B) and is
# what Android and recent iOS negotiate with most peripherals.
DEFAULT_REQUESTED_MTU = 247

_UUID_LIST_TYPES = (
    AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.COMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.INCOMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
)
_SERVICE_DATA_TYPES = (
    AdvertisingData.SERVICE_DATA_16_BIT_UUID,
    AdvertisingData.SERVICE_DATA_32_BIT_UUID,
    AdvertisingData.SERVICE_DATA_128_BIT_UUID,
)


def bleak_uuid(uuid: bumble_core.UUID) -> str:
    """Return a bumble UUID in bleak's form: 128-bit, lower case, dashed."""
    return str(uuid_mod.UUID(bytes=uuid.to_bytes(force_128=True)[::-1]))


@dataclass(frozen=True)
class BumbleDeviceDetails:
    """What ``BLEDevice.details`` carries for a device seen on a VirtualAir."""

    air: VirtualAir
    address: Address


def _air_from(kwargs: dict[str, Any], device: BLEDevice | str | None = None) -> VirtualAir:
    air = kwargs.get("air")
    if air is None and isinstance(device, BLEDevice):
        details = device.details
        if isinstance(details, BumbleDeviceDetails):
            air = details.air
    if not isinstance(air, VirtualAir):
        raise BleakError(
            "the bumble backend needs the VirtualAir to use: pass air=<VirtualAir> "
            "to BleakScanner/BleakClient or a BLEDevice found by BumbleBleakScanner"
        )
    return air


def advertisement_data(advertisement: Advertisement) -> AdvertisementData:
    """Return bleak's AdvertisementData for one bumble advertisement report."""
    data = advertisement.data
    names = data.get_all(AdvertisingData.COMPLETE_LOCAL_NAME) or data.get_all(
        AdvertisingData.SHORTENED_LOCAL_NAME
    )
    service_uuids: list[str] = []
    for type_id in _UUID_LIST_TYPES:
        for uuid_list in data.get_all(type_id):
            service_uuids.extend(u for u in map(bleak_uuid, uuid_list) if u not in service_uuids)
    service_data: dict[str, bytes] = {}
    for type_id in _SERVICE_DATA_TYPES:
        for service_uuid, payload in data.get_all(type_id):
            service_data[bleak_uuid(service_uuid)] = bytes(payload)
    manufacturer_data = {
        int(company): bytes(payload)
        for company, payload in data.get_all(AdvertisingData.MANUFACTURER_SPECIFIC_DATA)
    }
    tx_powers = data.get_all(AdvertisingData.TX_POWER_LEVEL)
    return AdvertisementData(
        local_name=str(names[0]) if names else None,
        manufacturer_data=manufacturer_data,
        service_data=service_data,
        service_uuids=service_uuids,
        tx_power=int(tx_powers[0]) if tx_powers else None,
        rssi=int(advertisement.rssi),
        platform_data=(advertisement,),
    )


def _address_key(address: Address) -> str:
    # bumble appends "/P" to public addresses; bleak users expect "AA:BB:..." only.
    return address.to_string(with_type_qualifier=False)


class BumbleBleakScanner(BaseBleakScanner):
    """bleak scanner backend that listens to advertisements on a VirtualAir.

    Scanning is always active (scan responses are received): the host adapter is
    shared by every scanner on the air, so one scanner cannot make it passive.
    """

    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: Literal["active", "passive"] = "active",
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self._air = _air_from(kwargs)
        self._central: Device | None = None

    def _on_advertisement(self, advertisement: Advertisement) -> None:
        adv = advertisement_data(advertisement)
        if not self.is_allowed_uuid(adv.service_uuids):
            return
        key = _address_key(advertisement.address)
        details = BumbleDeviceDetails(self._air, advertisement.address)
        device = self.create_or_update_device(key, key, adv.local_name, details, adv)
        self.call_detection_callbacks(device, adv)

    async def start(self) -> None:
        if self._central is not None:
            return
        self.seen_devices = {}
        central = await self._air.central()
        central.on(central.EVENT_ADVERTISEMENT, self._on_advertisement)
        self._central = central
        await self._air.acquire_scanning()

    async def stop(self) -> None:
        central, self._central = self._central, None
        if central is None:
            return
        central.remove_listener(central.EVENT_ADVERTISEMENT, self._on_advertisement)
        await self._air.release_scanning()


def _protocol_error(exc: ATT_Error) -> BleakGATTProtocolError:
    return BleakGATTProtocolError(int(exc.error_code))


class BumbleBleakClient(BaseBleakClient):
    """bleak client backend whose central role is played by bumble on a VirtualAir.

    Extra keyword argument: ``air`` (the VirtualAir, unless the BLEDevice came from
    :class:`BumbleBleakScanner`) and ``mtu`` (the ATT_MTU to request,
    :data:`DEFAULT_REQUESTED_MTU` by default).
    """

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        disconnected_callback: Callable[[], None] | None,
        timeout: float,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout
        )
        self._air = _air_from(kwargs, address_or_ble_device)
        self._requested_mtu = int(kwargs.get("mtu", DEFAULT_REQUESTED_MTU))
        self._device_name = (
            address_or_ble_device.name if isinstance(address_or_ble_device, BLEDevice) else None
        )
        self._connection: Connection | None = None
        self._peer: Peer | None = None
        self._subscriptions: dict[int, Callable[[bytes], None]] = {}
        self._disconnecting = False

    @property
    def name(self) -> str:
        return self._device_name or self.address.replace(":", "-")

    @property
    def mtu_size(self) -> int:
        if self._connection is None:
            return 23  # ATT_DEFAULT_MTU before any exchange
        return int(self._connection.att_mtu)

    @property
    def is_connected(self) -> bool:
        return self._connection is not None

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        if pair:
            logger.info("pairing is not supported on a VirtualAir; connecting without it")
        central = await self._air.central()
        address = Address.from_string_for_transport(self.address, bumble_core.PhysicalTransport.LE)
        try:
            connection = await central.connect(address, timeout=self._timeout)
        except bumble_core.TimeoutError as exc:
            raise BleakDeviceNotFoundError(
                self.address, f"no connectable device at {self.address} within {self._timeout} s"
            ) from exc
        self._connection = connection
        self._disconnecting = False
        connection.on(connection.EVENT_DISCONNECTION, self._on_disconnection)
        peer = Peer(connection)
        self._peer = peer
        try:
            await peer.request_mtu(self._requested_mtu)
            self.services = await self._discover(peer)
        except BaseException:
            await self.disconnect()
            raise

    def _on_disconnection(self, _reason: int) -> None:
        self._connection = None
        self._peer = None
        self._subscriptions.clear()
        self.services = None
        # BaseBleakClient: the callback is for unsolicited disconnections only. It is
        # scheduled on the loop, as bleak does, so user code never runs inside bumble's
        # event dispatch.
        if self._disconnected_callback is not None and not self._disconnecting:
            asyncio.get_running_loop().call_soon(self._disconnected_callback)

    async def _discover(self, peer: Peer) -> BleakGATTServiceCollection:
        collection = BleakGATTServiceCollection()
        for service in await peer.discover_services():
            bleak_service = BleakGATTService(service, service.handle, bleak_uuid(service.uuid))
            collection.add_service(bleak_service)
            for characteristic in await peer.discover_characteristics(service=service):
                properties: list[CharacteristicPropertyName] = [
                    name
                    for bit, name in CHARACTERISTIC_PROPERTIES.items()
                    if bit <= 0x80 and int(characteristic.properties) & bit
                ]
                bleak_char = BleakGATTCharacteristic(
                    characteristic,
                    characteristic.handle,
                    bleak_uuid(characteristic.uuid),
                    properties,
                    lambda: self.mtu_size - 3,
                    bleak_service,
                )
                collection.add_characteristic(bleak_char)
                for descriptor in await peer.discover_descriptors(characteristic):
                    collection.add_descriptor(
                        BleakGATTDescriptor(
                            descriptor, descriptor.handle, bleak_uuid(descriptor.type), bleak_char
                        )
                    )
        return collection

    def _require_peer(self) -> Peer:
        if self._peer is None:
            raise BleakError(f"not connected to {self.address}")
        return self._peer

    async def disconnect(self) -> None:
        connection = self._connection
        if connection is None:
            return
        self._disconnecting = True
        try:
            await connection.disconnect()
        except bumble_core.BaseBumbleError as exc:
            # The link may already be gone (the peripheral dropped it first).
            logger.debug("disconnect from %s: %s", self.address, exc)
        self._connection = None
        self._peer = None

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError("pairing is not supported on a VirtualAir")

    async def unpair(self) -> None:
        raise NotImplementedError("pairing is not supported on a VirtualAir")

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        try:
            return bytearray(await self._require_peer().read_value(characteristic.obj))
        except ATT_Error as exc:
            raise _protocol_error(exc) from exc

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        try:
            return bytearray(await self._require_peer().read_value(descriptor.obj))
        except ATT_Error as exc:
            raise _protocol_error(exc) from exc

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: SizedBuffer, response: bool
    ) -> None:
        try:
            await self._require_peer().write_value(
                characteristic.obj, bytes(data), with_response=response
            )
        except ATT_Error as exc:
            raise _protocol_error(exc) from exc

    async def write_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, data: SizedBuffer
    ) -> None:
        try:
            await self._require_peer().write_value(descriptor.obj, bytes(data), with_response=True)
        except ATT_Error as exc:
            raise _protocol_error(exc) from exc

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        proxy: CharacteristicProxy[bytes] = characteristic.obj

        def on_value(value: bytes) -> None:
            callback(bytearray(value))

        try:
            # bleak prefers notifications when a characteristic offers both.
            await self._require_peer().subscribe(proxy, on_value, prefer_notify=True)
        except ATT_Error as exc:
            raise _protocol_error(exc) from exc
        self._subscriptions[characteristic.handle] = on_value

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        on_value = self._subscriptions.pop(characteristic.handle, None)
        if on_value is None:
            return
        try:
            await self._require_peer().unsubscribe(characteristic.obj, on_value)
        except ATT_Error as exc:
            raise _protocol_error(exc) from exc
