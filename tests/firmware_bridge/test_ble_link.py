"""End to end over BLE: VirtualBand -> bumble GATT peripheral -> VirtualAir -> our bleak
backend -> bleak's public API -> BleLink -> SampleBlocks, with faults injected."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from firmware_bridge.ble.air import VirtualAir
from firmware_bridge.ble.bleak_bumble import BumbleBleakClient, BumbleBleakScanner
from firmware_bridge.ble.connection import (
    BandSelector,
    BleBackend,
    BleConnectionParams,
    ReconnectPolicy,
)
from firmware_bridge.ble.gatt_server import BandGattServer
from firmware_bridge.ble.link import BleLink
from firmware_bridge.ble.virtual_peripheral import BleVirtualBand
from firmware_bridge.capture import CaptureReader, CaptureWriter
from firmware_bridge.clock import ClockParams
from firmware_bridge.events import (
    BandStatus,
    Disconnected,
    LinkItem,
    Reconnected,
    StreamRestarted,
)
from firmware_bridge.link import BandLinkError, LinkLost
from firmware_bridge.protocol import Start, Stop, quantise, to_physical
from firmware_bridge.virtual_band import ArraySource, VirtualBand
from sensor.records import SampleBlock, SignalGap, SignalGroup

pytestmark = pytest.mark.timeout(60)

EMG_HZ, ACC_HZ = 2000.0, 100.0
SPEED = 10.0  # the band plays its signal 10x faster than real time
FAST = ReconnectPolicy(initial_backoff_s=0.05, max_backoff_s=0.2)


@dataclass(frozen=True)
class Signal:
    """A test signal in physical units and the band source that plays it."""

    emg_uv: np.ndarray
    acc_g: np.ndarray

    def source(self) -> ArraySource:
        return ArraySource(
            self.emg_uv, EMG_HZ, ("EMG R Gastroc", "EMG R Tib Ant"), self.acc_g, ACC_HZ
        )

    def expected(self, band: VirtualBand) -> dict[SignalGroup, np.ndarray]:
        """What a perfect link delivers: the signal quantised by the band's descriptor."""
        out = {}
        for group, values in ((SignalGroup.EMG, self.emg_uv), (SignalGroup.ACC, self.acc_g)):
            spec = band.descriptor.spec(group)
            assert spec is not None
            out[group] = to_physical(quantise(values, spec), spec)
        return out


def _signal(seconds: float, seed: int = 4) -> Signal:
    rng = np.random.default_rng(seed)
    n = int(seconds * EMG_HZ)
    t = np.arange(n) / EMG_HZ
    # Calf and shin EMG-like noise with a burst, plus a slow posture change on ACC.
    emg = rng.normal(0.0, 20.0, (n, 2)) * (1 + 9 * ((t % 4) < 1))[:, None]
    m = int(seconds * ACC_HZ)
    acc = np.column_stack(
        [np.sin(np.arange(m) / 50), np.cos(np.arange(m) / 50), rng.normal(0, 0.05, m)]
    )
    return Signal(emg, acc)


def _band(signal: Signal) -> tuple[VirtualBand, dict[SignalGroup, np.ndarray]]:
    band = VirtualBand(signal.source(), speed=SPEED)
    return band, signal.expected(band)


class Collector:
    """Reads a link's items and checks each block against the source as it goes."""

    def __init__(self, expected: dict[SignalGroup, np.ndarray]) -> None:
        self.expected = expected
        self.position = {g: 0 for g in expected}
        self.delivered = {g: 0 for g in expected}
        self.lost = {g: 0 for g in expected}
        self.items: list[LinkItem] = []

    def take(self, item: LinkItem) -> None:
        self.items.append(item)
        if not isinstance(item, SampleBlock):
            return
        g = item.group
        # A block after a gap starts lost_samples further on: never bridged, never shifted.
        self.position[g] += item.lost_samples
        self.lost[g] += item.lost_samples
        start = self.position[g]
        want = self.expected[g][start : start + item.n_samples]
        np.testing.assert_array_equal(item.samples, want, err_msg=f"{g} at sample {start}")
        self.position[g] += item.n_samples
        self.delivered[g] += item.n_samples

    def events(self, kind: type) -> list:
        return [i for i in self.items if isinstance(i, kind)]


async def _read_until(
    link: BleLink, collector: Collector, done: Callable[[], bool], timeout_s: float = 20.0
) -> None:
    deadline = time.monotonic() + timeout_s
    async for item in link:
        collector.take(item)
        if done():
            return
        assert time.monotonic() < deadline, f"timed out; got {collector.delivered}"
    raise AssertionError(f"stream ended early: {collector.items[-3:]}")


def _run(scenario: Callable[[list[BleLink]], Awaitable[None]]) -> None:
    """Run a scenario; whatever happens, close every link it opened (no stray reconnects)."""

    async def main() -> None:
        links: list[BleLink] = []
        try:
            await scenario(links)
        finally:
            for link in links:
                await asyncio.wait_for(link.close(), 10.0)

    asyncio.run(main())


def _link(
    links: list[BleLink],
    air: VirtualAir,
    name: str,
    capture: CaptureWriter | None = None,
    **params: object,
) -> BleLink:
    link = BleLink(
        BandSelector(name=name),
        BleConnectionParams(reconnect=FAST, **params),  # type: ignore[arg-type]
        BleBackend(BumbleBleakScanner, BumbleBleakClient, {"air": air}),
        clock=ClockParams(device_speed=SPEED),  # session time in the signal's seconds
        capture=capture,
    )
    links.append(link)
    return link


def _emg_done(collector: Collector, n: int) -> Callable[[], bool]:
    return lambda: collector.position[SignalGroup.EMG] >= n


def test_blocks_equal_the_source_bit_exact_and_stop_reaches_the_band() -> None:
    async def scenario(links: list[BleLink]) -> None:
        band, expected = _band(_signal(4.0))
        air = VirtualAir()
        async with BleVirtualBand(band, air) as peripheral:
            link = _link(links, air, peripheral.name)
            descriptor = await link.connect()
            assert descriptor == band.descriptor
            assert link.mtu == 247
            await link.start()
            collector = Collector(expected)
            await _read_until(
                link,
                collector,
                lambda: (
                    collector.position[SignalGroup.EMG] >= 8000
                    and collector.position[SignalGroup.ACC] >= 390
                ),
            )
            await link.close()
            assert collector.lost == {SignalGroup.EMG: 0, SignalGroup.ACC: 0}
            assert collector.events(SignalGap) == []
            assert link.assembler is not None and link.assembler.stats.packets_lost == 0
            assert isinstance(band.commands[-1], Stop) and not band.streaming
            assert peripheral.stats.too_large == 0

    _run(scenario)


def test_dropped_packets_are_reported_as_gaps_of_the_right_length() -> None:
    async def scenario(links: list[BleLink]) -> None:
        band, expected = _band(_signal(4.0))
        air = VirtualAir()
        async with BleVirtualBand(band, air) as peripheral:
            link = _link(links, air, peripheral.name)
            await link.connect()
            await link.start()
            collector = Collector(expected)
            await _read_until(link, collector, _emg_done(collector, 2000))
            band.drop_next(3)
            await _read_until(link, collector, _emg_done(collector, 7000))
            await link.close()
        lost_emg = 3 * band.frames_per_packet
        assert collector.lost[SignalGroup.EMG] == lost_emg
        gaps = collector.events(SignalGap)
        emg_gaps = [g for g in gaps if g.group == SignalGroup.EMG]
        assert [g.lost_samples for g in emg_gaps] == [lost_emg]
        assert emg_gaps[0].end_s - emg_gaps[0].start_s == pytest.approx(lost_emg / EMG_HZ, rel=0.01)
        assert (
            sum(g.lost_samples for g in gaps if g.group == SignalGroup.ACC)
            == (collector.lost[SignalGroup.ACC])
        )
        assert link.assembler is not None and link.assembler.stats.packets_lost == 3

    _run(scenario)


def test_disconnect_mid_stream_reconnects_and_reports_the_gap() -> None:
    async def scenario(links: list[BleLink]) -> None:
        band, expected = _band(_signal(20.0))
        air = VirtualAir()
        async with BleVirtualBand(band, air) as peripheral:
            link = _link(links, air, peripheral.name)
            await link.connect()
            await link.start()
            collector = Collector(expected)
            await _read_until(link, collector, _emg_done(collector, 3000))
            away = asyncio.create_task(peripheral.go_out_of_range(0.3))
            await _read_until(link, collector, lambda: bool(collector.events(Reconnected)))
            await away
            await _read_until(link, collector, lambda: collector.lost[SignalGroup.EMG] > 0)
            mark = collector.position[SignalGroup.EMG]
            await _read_until(link, collector, _emg_done(collector, mark + 4000))
            await link.close()
        (dropped,) = collector.events(Disconnected)
        assert dropped.will_reconnect and "dropped the link" in dropped.reason
        (back,) = collector.events(Reconnected)
        assert back.down_s >= 0.3
        # The band kept sampling while away: the gap is exactly the samples it played
        # with nobody listening, at least 0.3 s x 10 x 2 kHz.
        lost = collector.lost[SignalGroup.EMG]
        assert lost >= 0.3 * SPEED * EMG_HZ
        assert lost % band.frames_per_packet == 0
        emg_gaps = [g for g in collector.events(SignalGap) if g.group == SignalGroup.EMG]
        assert sum(g.lost_samples for g in emg_gaps) == lost
        assert link.connection.stats.connections == 2 and link.connection.stats.drops == 1

    _run(scenario)


def test_watchdog_catches_a_stall_and_the_stalled_samples_are_a_counted_gap() -> None:
    async def scenario(links: list[BleLink]) -> None:
        band, expected = _band(_signal(30.0))
        air = VirtualAir()
        async with BleVirtualBand(band, air) as peripheral:
            link = _link(links, air, peripheral.name, stall_timeout_s=0.4)
            await link.connect()
            await link.start()
            collector = Collector(expected)
            await _read_until(link, collector, _emg_done(collector, 2000))
            band.stall(0.8)  # link stays up, nothing on it
            await _read_until(link, collector, lambda: bool(collector.events(Reconnected)))
            await _read_until(link, collector, lambda: collector.lost[SignalGroup.EMG] > 0)
            mark = collector.position[SignalGroup.EMG]
            await _read_until(link, collector, _emg_done(collector, mark + 2000))
            await link.close()
        assert link.connection.stats.stalls == 1
        (stalled,) = collector.events(Disconnected)
        assert stalled.will_reconnect and stalled.reason.startswith("stalled")
        assert collector.lost[SignalGroup.EMG] == band.faults.stalled_samples[SignalGroup.EMG]
        assert collector.lost[SignalGroup.EMG] >= 0.8 * SPEED * EMG_HZ * 0.9

    _run(scenario)


def test_buzz_command_reaches_the_band_and_is_acknowledged() -> None:
    async def scenario(links: list[BleLink]) -> None:
        band = VirtualBand(_signal(2.0).source(), speed=SPEED)
        air = VirtualAir()
        async with BleVirtualBand(band, air) as peripheral:
            link = _link(links, air, peripheral.name)
            async with link:
                # buzz() returns once the band's ACK (an indication) said OK.
                await link.buzz(pulses=3, on_ms=400, off_ms=200, intensity_pct=80)
                assert [(b.pulses, b.on_ms, b.off_ms, b.intensity_pct) for b in band.buzzes] == [
                    (3, 400, 200, 80)
                ]

    _run(scenario)


def test_no_band_in_range_fails_connect_with_a_clear_message() -> None:
    async def scenario(links: list[BleLink]) -> None:
        air = VirtualAir()
        link = _link(links, air, "CrampBand-NONE", scan_timeout_s=0.3)
        with pytest.raises(BandLinkError, match=r"no band named 'CrampBand-NONE' seen in 0\.3 s"):
            await link.connect()

    _run(scenario)


def test_band_that_stopped_while_away_is_restarted_and_nothing_is_counted_lost() -> None:
    async def scenario(links: list[BleLink]) -> None:
        band, expected = _band(_signal(20.0))
        air = VirtualAir()
        async with BleVirtualBand(band, air) as peripheral:
            link = _link(links, air, peripheral.name)
            await link.connect()
            await link.start()
            collector = Collector(expected)
            await _read_until(link, collector, _emg_done(collector, 2000))
            # This firmware stops its stream when its link drops (modelled as: it stops,
            # then the link drops).
            band.streaming = False
            await peripheral.go_out_of_range(0.2)
            await _read_until(link, collector, lambda: bool(collector.events(StreamRestarted)))
            mark = collector.position[SignalGroup.EMG]
            await _read_until(link, collector, _emg_done(collector, mark + 3000))
            await link.close()
        (restart,) = collector.events(StreamRestarted)
        assert not restart.unexpected  # the hub sent START again itself
        assert sum(isinstance(c, Start) for c in band.commands) == 2
        # The band sampled nothing while stopped: the source continues seamlessly across
        # the restart (the Collector checked every sample) and nothing was lost.
        assert collector.lost == {SignalGroup.EMG: 0, SignalGroup.ACC: 0}

    _run(scenario)


def test_link_that_gives_up_ends_the_stream_with_link_lost() -> None:
    async def scenario(links: list[BleLink]) -> None:
        band = VirtualBand(_signal(20.0).source(), speed=SPEED)
        air = VirtualAir()
        peripheral = BleVirtualBand(band, air)
        await peripheral.start()
        link = BleLink(
            BandSelector(name=peripheral.name),
            BleConnectionParams(
                scan_timeout_s=0.2,
                reconnect=ReconnectPolicy(0.05, 0.05, max_attempts=2),
            ),
            BleBackend(BumbleBleakScanner, BumbleBleakClient, {"air": air}),
        )
        links.append(link)
        await link.connect()
        await link.start()
        items: list[LinkItem] = []
        with pytest.raises(LinkLost, match=r"gave up .* after 2 failed attempts"):
            async for item in link:
                items.append(item)
                if len(items) == 5:
                    await peripheral.stop()  # the band's battery dies
        events = [i for i in items if isinstance(i, Disconnected)]
        assert [e.will_reconnect for e in events] == [True, False]
        await link.close()

    _run(scenario)


def test_capture_of_a_ble_session_replays_bit_exactly(tmp_path: Path) -> None:
    path = tmp_path / "night.cwcap"

    async def scenario(links: list[BleLink]) -> None:
        band, expected = _band(_signal(6.0))
        air = VirtualAir()
        async with BleVirtualBand(band, air) as peripheral:
            link = _link(links, air, peripheral.name, capture=CaptureWriter(path))
            async with link:
                await link.start()
                collector = Collector(expected)
                await _read_until(link, collector, _emg_done(collector, 2000))
                band.drop_next(2)
                await _read_until(link, collector, _emg_done(collector, 6000))
        live = [i for i in collector.items if isinstance(i, SampleBlock | SignalGap)]
        replay = [
            i
            for i in CaptureReader(path, ClockParams(device_speed=SPEED)).items()
            if isinstance(i, SampleBlock | SignalGap)
        ]
        assert any(isinstance(i, SignalGap) for i in live)
        # The live stream stopped mid-way through what was captured: compare its length.
        assert len(replay) >= len(live)
        for got, want in zip(replay, live, strict=False):
            assert type(got) is type(want)
            if isinstance(want, SampleBlock):
                assert (got.group, got.t0_s, got.lost_samples) == (
                    want.group,
                    want.t0_s,
                    want.lost_samples,
                )
                np.testing.assert_array_equal(got.samples, want.samples)
            else:
                assert got == want

    _run(scenario)


def test_band_speaking_another_protocol_version_is_refused_by_name() -> None:
    async def scenario(links: list[BleLink]) -> None:
        air = VirtualAir()
        future_descriptor = bytearray(VirtualBand(_signal(1.0).source()).descriptor.encode())
        future_descriptor[1] = 2  # protocol_version
        server = BandGattServer(air, "CrampBand-0009", bytes(future_descriptor), lambda _c: None)
        await server.power_on()
        link = _link(links, air, "CrampBand-0009")
        with pytest.raises(BandLinkError, match="protocol version 2, this hub speaks 1"):
            await link.connect()
        assert not server.connected
        await server.power_off()

    _run(scenario)


def test_band_whose_samples_stop_while_status_continues_is_caught_and_restarted() -> None:
    async def scenario(links: list[BleLink]) -> None:
        band, expected = _band(_signal(30.0))
        air = VirtualAir()
        async with BleVirtualBand(band, air) as peripheral:
            # The band sends STATUS once per second of host time: a 1.5 s watchdog sees
            # at least one while no DATA comes.
            link = _link(links, air, peripheral.name, stall_timeout_s=1.5)
            async with link:
                await link.start()
                collector = Collector(expected)
                await _read_until(link, collector, _emg_done(collector, 2000))
                statuses_before = len(collector.events(BandStatus))
                band.streaming = False  # firmware fault: sampling stops, the radio does not
                await _read_until(link, collector, lambda: bool(collector.events(StreamRestarted)))
                mark = collector.position[SignalGroup.EMG]
                await _read_until(link, collector, _emg_done(collector, mark + 2000))
        # STATUS packets kept arriving, yet it was a stall.
        assert len(collector.events(BandStatus)) > statuses_before
        assert link.connection.stats.stalls == 1
        (restart,) = collector.events(StreamRestarted)
        assert not restart.unexpected
        assert collector.lost == {SignalGroup.EMG: 0, SignalGroup.ACC: 0}

    _run(scenario)
