"""The reconnecting BLE band connection, bytes level, against a real bumble GATT server."""

from __future__ import annotations

import asyncio

import pytest
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData

from firmware_bridge.ble import gatt_profile
from firmware_bridge.ble.air import VirtualAir
from firmware_bridge.ble.bleak_bumble import BumbleBleakClient, BumbleBleakScanner
from firmware_bridge.ble.connection import (
    BandSelector,
    BleBackend,
    BleBandConnection,
    BleConnectionParams,
    BleLinkError,
    LinkState,
    ReconnectPolicy,
)
from firmware_bridge.ble.gatt_server import BandGattServer
from firmware_bridge.ble.scan import is_band

pytestmark = pytest.mark.timeout(60)

FAST = ReconnectPolicy(initial_backoff_s=0.05, max_backoff_s=0.2)


def _backend(air: VirtualAir) -> BleBackend:
    return BleBackend(BumbleBleakScanner, BumbleBleakClient, {"air": air})


class Recorder:
    """A ConnectionListener that keeps everything it is told."""

    def __init__(self) -> None:
        self.data: asyncio.Queue[bytes] = asyncio.Queue()
        self.indications: list[bytes] = []
        self.connections: list[tuple[bytes, int, float]] = []
        self.losses: list[tuple[str, bool]] = []

    async def connected(self, descriptor: bytes, index: int, down_s: float) -> None:
        self.connections.append((descriptor, index, down_s))

    def data_received(self, payload: bytes) -> None:
        self.data.put_nowait(payload)

    def indication_received(self, payload: bytes) -> None:
        self.indications.append(payload)

    def lost(self, reason: str, will_reconnect: bool) -> None:
        self.losses.append((reason, will_reconnect))

    async def next(self, timeout_s: float = 5.0) -> bytes:
        return await asyncio.wait_for(self.data.get(), timeout_s)


async def _band(air: VirtualAir, name: str = "CrampBand-0001") -> BandGattServer:
    band = BandGattServer(air, name, descriptor=b"\x01descriptor", on_command=lambda _b: None)
    await band.power_on()
    return band


async def _connected(band: BandGattServer, rec: Recorder, n: int = 1) -> None:
    """Wait until the band has a subscriber and the listener heard of connection ``n``."""
    await asyncio.wait_for(band.subscribed.wait(), 5.0)
    for _ in range(500):
        if len(rec.connections) >= n:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"connection {n} never reported: {rec.connections}")


def test_stream_in_order_then_clean_close() -> None:
    async def scenario() -> None:
        air = VirtualAir()
        await _band(air, "CrampBand-0002")  # another band nearby, not ours
        band = await _band(air)
        rec = Recorder()
        connection = BleBandConnection(
            BandSelector(name="CrampBand-0001"),
            rec,
            BleConnectionParams(reconnect=FAST),
            _backend(air),
        )
        runner = asyncio.create_task(connection.run())
        await _connected(band, rec)
        assert rec.connections == [(b"\x01descriptor", 1, 0.0)]
        assert connection.mtu == 247
        packets = [i.to_bytes(2, "little") * 100 for i in range(20)]
        for packet in packets:
            await band.notify_data(packet)
        assert [await rec.next() for _ in packets] == packets
        await connection.close()
        await asyncio.wait_for(runner, 5.0)
        assert connection.state is LinkState.CLOSED
        assert not band.connected
        assert connection.stats.drops == 0 and rec.losses == []

    asyncio.run(scenario())


def test_dropped_link_is_reported_reconnected_and_stream_resumes() -> None:
    async def scenario() -> None:
        air = VirtualAir()
        band = await _band(air)
        rec = Recorder()
        connection = BleBandConnection(
            BandSelector(), rec, BleConnectionParams(reconnect=FAST), _backend(air)
        )
        runner = asyncio.create_task(connection.run())
        await _connected(band, rec)
        await band.notify_data(b"before")
        assert await rec.next() == b"before"

        await band.stop_advertising()  # out of range for a while
        await band.disconnect()
        await asyncio.sleep(0.01)
        assert not await band.notify_data(b"while away")  # nobody listening: lost on air
        await asyncio.sleep(0.3)
        assert rec.losses and rec.losses[0][1] is True and "dropped" in rec.losses[0][0]
        await band.start_advertising()
        await _connected(band, rec, 2)
        await band.notify_data(b"after")
        assert await rec.next() == b"after"
        assert connection.stats.drops == 1 and connection.stats.connections == 2
        assert len(rec.losses) == 1  # failed scans while away are not new losses
        (_d1, i1, down1), (d2, i2, down2) = rec.connections
        assert (i1, i2) == (1, 2) and d2 == b"\x01descriptor"  # re-read on reconnection
        assert down1 == 0.0 and 0.3 <= down2 < 5.0
        await connection.close()
        await asyncio.wait_for(runner, 5.0)

    asyncio.run(scenario())


def test_watchdog_reconnects_a_connected_but_silent_band() -> None:
    async def scenario() -> None:
        air = VirtualAir()
        band = await _band(air)
        rec = Recorder()
        params = BleConnectionParams(stall_timeout_s=0.3, reconnect=FAST)
        connection = BleBandConnection(BandSelector(), rec, params, _backend(air))
        runner = asyncio.create_task(connection.run())
        await _connected(band, rec)
        # Not streaming yet: silence is not a stall.
        await asyncio.sleep(0.5)
        assert connection.stats.stalls == 0 and connection.stats.connections == 1
        connection.arm_watchdog(True)
        await band.notify_data(b"one")
        await rec.next()
        # The band keeps the link up but sends nothing (firmware hang).
        for _ in range(100):
            await asyncio.sleep(0.05)
            if connection.stats.connections == 2:
                break
        assert connection.stats.stalls == 1
        assert connection.stats.connections == 2
        assert connection.stats.drops == 0  # we hung up, the band did not
        assert len(rec.losses) == 1 and rec.losses[0][0].startswith("stalled: no data for")
        await connection.close()
        await asyncio.wait_for(runner, 5.0)

    asyncio.run(scenario())


def test_first_connection_fails_fast_with_a_clear_error() -> None:
    async def scenario() -> None:
        air = VirtualAir()
        rec = Recorder()
        params = BleConnectionParams(
            scan_timeout_s=0.2, first_connection_attempts=2, reconnect=FAST
        )
        connection = BleBandConnection(
            BandSelector(address="C0:CB:00:00:99:99"), rec, params, _backend(air)
        )
        with pytest.raises(BleLinkError, match=r"gave up .* after 2 failed attempts.*range"):
            await connection.run()
        assert connection.stats.failed_attempts == 2
        assert rec.losses and rec.losses[-1][1] is False
        assert "no band at C0:CB:00:00:99:99 seen in 0.2 s" in rec.losses[-1][0]

    asyncio.run(scenario())


def test_backoff_doubles_up_to_its_cap() -> None:
    policy = ReconnectPolicy(initial_backoff_s=0.5, max_backoff_s=4.0)
    assert [policy.backoff_s(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    with pytest.raises(ValueError, match="initial_backoff_s"):
        ReconnectPolicy(initial_backoff_s=5.0, max_backoff_s=1.0)


def _adv(name: str | None, uuids: list[str]) -> AdvertisementData:
    return AdvertisementData(name, {}, {}, uuids, None, -60, ())


def test_selector_picks_by_address_then_name_then_service() -> None:
    band = BLEDevice("C0:CB:00:00:00:01", "CrampBand-0001", None)
    kettle = BLEDevice("C0:CB:00:00:00:02", "Kettle", None)
    with_service = _adv("CrampBand-0001", [gatt_profile.SERVICE_UUID])
    assert BandSelector(address="c0:cb:00:00:00:01").matches(band, with_service)
    assert not BandSelector(address="C0:CB:00:00:00:02").matches(band, with_service)
    assert BandSelector(name="CrampBand-0001").matches(band, with_service)
    assert not BandSelector(name="CrampBand-0002").matches(band, with_service)
    assert BandSelector().matches(band, with_service)
    assert not BandSelector().matches(kettle, _adv("Kettle", []))


def test_scan_recognises_bands_by_service_or_by_name() -> None:
    band = BLEDevice("C0:CB:00:00:00:01", None, None)
    assert is_band(band, _adv(None, [gatt_profile.SERVICE_UUID]))
    assert is_band(band, _adv("CrampBand-OLD1", []))  # older firmware: name only
    assert not is_band(band, _adv("Kettle", ["0000180d-0000-1000-8000-00805f9b34fb"]))
