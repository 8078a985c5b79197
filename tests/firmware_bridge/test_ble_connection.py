"""The reconnecting BLE band connection, bytes level, against a real bumble GATT server."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from firmware_bridge.ble.air import VirtualAir
from firmware_bridge.ble.bleak_bumble import BumbleBleakClient, BumbleBleakScanner
from firmware_bridge.ble.connection import (
    BandSelector,
    BleBackend,
    BleBandConnection,
    BleConnectionParams,
    BleLinkError,
    LinkState,
    ReceivedPacket,
    ReconnectPolicy,
)
from firmware_bridge.ble.gatt_server import BandGattServer

pytestmark = pytest.mark.timeout(60)

FAST = ReconnectPolicy(initial_backoff_s=0.05, max_backoff_s=0.2)


def _backend(air: VirtualAir) -> BleBackend:
    return BleBackend(BumbleBleakScanner, BumbleBleakClient, {"air": air})


async def _no_op(_descriptor: bytes) -> None:
    return None


async def _next(connection: BleBandConnection, timeout_s: float = 5.0) -> ReceivedPacket:
    item = await asyncio.wait_for(connection.packets.get(), timeout_s)
    assert item is not None, f"stream ended early: {connection.error!r}"
    return item


async def _band(air: VirtualAir, name: str = "CrampBand-0001") -> BandGattServer:
    band = BandGattServer(air, name, descriptor=b"\x01descriptor", on_command=lambda _b: None)
    await band.power_on()
    return band


async def _connected(band: BandGattServer) -> None:
    await asyncio.wait_for(band.subscribed.wait(), 5.0)


def test_stream_in_order_then_clean_close_ends_the_queue() -> None:
    async def scenario() -> None:
        air = VirtualAir()
        await _band(air, "CrampBand-0002")  # another band nearby, not ours
        band = await _band(air)
        connection = BleBandConnection(
            BandSelector(name="CrampBand-0001"),
            _no_op,
            lambda _b: None,
            BleConnectionParams(reconnect=FAST),
            _backend(air),
        )
        runner = asyncio.create_task(connection.run())
        await _connected(band)
        assert connection.descriptor == b"\x01descriptor"
        assert connection.mtu == 247
        for i in range(20):
            await band.notify_data(i.to_bytes(2, "little") * 100)
        got = [await _next(connection) for _ in range(20)]
        assert [p.payload[:2] for p in got] == [i.to_bytes(2, "little") for i in range(20)]
        assert all(p.connection_index == 1 for p in got)
        assert all(a.host_time_s <= b.host_time_s for a, b in itertools.pairwise(got))
        await connection.close()
        await asyncio.wait_for(runner, 5.0)
        assert await connection.packets.get() is None
        assert connection.state is LinkState.CLOSED
        assert not band.connected
        assert connection.stats.drops == 0

    asyncio.run(scenario())


def test_dropped_link_is_reconnected_and_stream_resumes() -> None:
    async def scenario() -> None:
        air = VirtualAir()
        band = await _band(air)
        connected: list[bytes] = []

        async def on_connected(descriptor: bytes) -> None:
            connected.append(descriptor)

        connection = BleBandConnection(
            BandSelector(),
            on_connected,
            lambda _b: None,
            BleConnectionParams(reconnect=FAST),
            _backend(air),
        )
        runner = asyncio.create_task(connection.run())
        await _connected(band)
        await band.notify_data(b"before")
        assert (await _next(connection)).payload == b"before"

        await band.disconnect()
        await asyncio.sleep(0.01)
        assert not await band.notify_data(b"while away")  # nobody listening: lost on air
        await _connected(band)
        await band.notify_data(b"after")
        after = await _next(connection)
        assert after.payload == b"after" and after.connection_index == 2
        assert connection.stats.drops == 1 and connection.stats.connections == 2
        assert connected == [b"\x01descriptor"] * 2  # descriptor re-read on reconnection
        await connection.close()
        await asyncio.wait_for(runner, 5.0)

    asyncio.run(scenario())


def test_watchdog_reconnects_a_connected_but_silent_band() -> None:
    async def scenario() -> None:
        air = VirtualAir()
        band = await _band(air)
        params = BleConnectionParams(stall_timeout_s=0.3, reconnect=FAST)
        connection = BleBandConnection(
            BandSelector(), _no_op, lambda _b: None, params, _backend(air)
        )
        runner = asyncio.create_task(connection.run())
        await _connected(band)
        # Not streaming yet: silence is not a stall.
        await asyncio.sleep(0.5)
        assert connection.stats.stalls == 0 and connection.stats.connections == 1
        connection.arm_watchdog(True)
        await band.notify_data(b"one")
        await _next(connection)
        # The band keeps the link up but sends nothing (firmware hang).
        for _ in range(100):
            await asyncio.sleep(0.05)
            if connection.stats.connections == 2:
                break
        assert connection.stats.stalls == 1
        assert connection.stats.connections == 2
        assert connection.stats.drops == 0  # we hung up, the band did not
        await connection.close()
        await asyncio.wait_for(runner, 5.0)

    asyncio.run(scenario())


def test_gives_up_with_a_clear_error_after_max_attempts() -> None:
    async def scenario() -> None:
        air = VirtualAir()
        params = BleConnectionParams(
            scan_timeout_s=0.2,
            reconnect=ReconnectPolicy(initial_backoff_s=0.01, max_backoff_s=0.01, max_attempts=2),
        )
        connection = BleBandConnection(
            BandSelector(address="C0:CB:00:00:99:99"),
            _no_op,
            lambda _b: None,
            params,
            _backend(air),
        )
        with pytest.raises(BleLinkError, match=r"gave up .* after 2 failed attempts.*range"):
            await connection.run()
        assert await connection.packets.get() is None
        assert connection.stats.failed_attempts == 2

    asyncio.run(scenario())


def test_slow_consumer_overflow_is_counted_and_end_marker_still_arrives() -> None:
    async def scenario() -> None:
        air = VirtualAir()
        band = await _band(air)
        params = BleConnectionParams(queue_packets=4, reconnect=FAST)
        connection = BleBandConnection(
            BandSelector(), _no_op, lambda _b: None, params, _backend(air)
        )
        runner = asyncio.create_task(connection.run())
        await _connected(band)
        for i in range(10):
            await band.notify_data(bytes([i]))
        await asyncio.sleep(0.1)
        assert connection.stats.packets == 10
        assert connection.stats.overflow_packets == 6
        await connection.close()
        await asyncio.wait_for(runner, 5.0)
        items = []
        while not connection.packets.empty():
            items.append(connection.packets.get_nowait())
        # The end marker took the oldest packet's place: that loss is counted too.
        assert items[-1] is None
        assert [p.payload for p in items[:-1]] == [b"\x01", b"\x02", b"\x03"]
        assert connection.stats.overflow_packets == 7

    asyncio.run(scenario())


def test_backoff_doubles_up_to_its_cap() -> None:
    policy = ReconnectPolicy(initial_backoff_s=0.5, max_backoff_s=4.0)
    assert [policy.backoff_s(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    with pytest.raises(ValueError, match="initial_backoff_s"):
        ReconnectPolicy(initial_backoff_s=5.0, max_backoff_s=1.0)
