"""bleak's public API -> our bumble backend -> a bumble GATT server, on one VirtualAir."""

from __future__ import annotations

import asyncio

import pytest
from bleak import BleakClient, BleakScanner
from bleak.exc import BleakError

from firmware_bridge.ble import gatt_profile
from firmware_bridge.ble.air import VirtualAir
from firmware_bridge.ble.bleak_bumble import BumbleBleakClient, BumbleBleakScanner
from firmware_bridge.ble.gatt_server import BandGattServer, PacketTooLargeError

pytestmark = pytest.mark.timeout(60)


async def _band(air: VirtualAir, name: str, commands: list[bytes]) -> BandGattServer:
    server = BandGattServer(air, name, descriptor=bytes(range(256)) * 2, on_command=commands.append)
    await server.power_on()
    return server


def test_scanner_finds_band_by_name_and_by_service_uuid_among_other_devices() -> None:
    async def scenario() -> None:
        air = VirtualAir()
        await _band(air, "CrampBand-0001", [])
        await _band(air, "CrampBand-0002", [])
        stranger = air.new_device("Kettle")
        await stranger.power_on()
        await stranger.start_advertising(advertising_interval_min=100.0)

        by_name = await BleakScanner.find_device_by_name(
            "CrampBand-0002", timeout=5.0, backend=BumbleBleakScanner, air=air
        )
        assert by_name is not None and by_name.name == "CrampBand-0002"

        found = await BleakScanner.discover(
            timeout=0.5,
            service_uuids=[gatt_profile.SERVICE_UUID],
            return_adv=True,
            backend=BumbleBleakScanner,
            air=air,
        )
        names = sorted(adv.local_name for _device, adv in found.values())
        assert names == ["CrampBand-0001", "CrampBand-0002"]  # the kettle has no band service
        for _device, adv in found.values():
            assert adv.service_uuids == [gatt_profile.SERVICE_UUID]

    asyncio.run(scenario())


def test_client_connects_negotiates_mtu_reads_writes_and_receives_notifications() -> None:
    async def scenario() -> None:
        air = VirtualAir()
        commands: list[bytes] = []
        band = await _band(air, "CrampBand-0001", commands)
        device = await BleakScanner.find_device_by_name(
            "CrampBand-0001", timeout=5.0, backend=BumbleBleakScanner, air=air
        )
        assert device is not None
        received: list[bytes] = []
        acks: list[bytes] = []
        async with BleakClient(device, backend=BumbleBleakClient, mtu=185) as client:
            assert client.mtu_size == 185
            char = client.services.get_characteristic(gatt_profile.DATA_CHAR_UUID)
            assert char is not None and char.properties == ["notify"]
            assert char.max_write_without_response_size == 182
            control = client.services.get_characteristic(gatt_profile.CONTROL_CHAR_UUID)
            assert control is not None and sorted(control.properties) == ["indicate", "write"]

            # The descriptor is longer than one MTU: a long read (read blob) brings it whole.
            descriptor = await client.read_gatt_char(gatt_profile.DESCRIPTOR_CHAR_UUID)
            assert bytes(descriptor) == bytes(range(256)) * 2

            await client.start_notify(control, lambda _c, data: acks.append(bytes(data)))
            await client.start_notify(char, lambda _c, data: received.append(bytes(data)))
            await asyncio.wait_for(band.subscribed.wait(), 2.0)
            packets = [bytes([i]) * 182 for i in range(50)]
            for packet in packets:
                assert await band.notify_data(packet)
            with pytest.raises(PacketTooLargeError, match="182"):
                await band.notify_data(bytes(183))

            await client.write_gatt_char(control, b"\x10\x01", response=True)
            assert await band.indicate_control(b"\x90\x01")
            await asyncio.sleep(0.05)
        assert received == packets  # in order, none lost, none truncated
        assert commands == [b"\x10\x01"]
        assert acks == [b"\x90\x01"]

    asyncio.run(scenario())


def test_band_dropping_the_link_calls_disconnected_callback_and_band_advertises_again() -> None:
    async def scenario() -> None:
        air = VirtualAir()
        band = await _band(air, "CrampBand-0001", [])
        device = await BleakScanner.find_device_by_name(
            "CrampBand-0001", timeout=5.0, backend=BumbleBleakScanner, air=air
        )
        assert device is not None
        dropped = asyncio.Event()
        client = BleakClient(
            device, disconnected_callback=lambda _c: dropped.set(), backend=BumbleBleakClient
        )
        await client.connect()
        assert client.is_connected and band.connected
        await band.disconnect()
        await asyncio.wait_for(dropped.wait(), 2.0)
        assert not client.is_connected
        with pytest.raises(BleakError):
            client.services  # noqa: B018 - services are gone with the link

        # A clean disconnect we asked for is not reported as a drop.
        again = await BleakScanner.find_device_by_name(
            "CrampBand-0001", timeout=5.0, backend=BumbleBleakScanner, air=air
        )
        assert again is not None
        dropped.clear()
        client = BleakClient(
            again, disconnected_callback=lambda _c: dropped.set(), backend=BumbleBleakClient
        )
        await client.connect()
        await client.disconnect()
        await asyncio.sleep(0.05)
        assert not dropped.is_set()
        assert not band.connected

    asyncio.run(scenario())


def test_client_without_air_says_what_to_pass() -> None:
    with pytest.raises(BleakError, match="air="):
        BleakClient("C0:CB:00:00:00:01", backend=BumbleBleakClient)
