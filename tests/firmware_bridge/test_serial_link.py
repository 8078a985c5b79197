"""End to end through real parts: virtual band on a pty -> pyserial -> SerialLink -> blocks."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import tty
from pathlib import Path

import numpy as np
import pytest

from firmware_bridge.capture import CaptureReader, CaptureWriter
from firmware_bridge.events import Disconnected, FramesDropped, Reconnected
from firmware_bridge.link import CommandRejected, CommandTimeout, LinkLost, LinkOverrun
from firmware_bridge.protocol import ErrorCode, ProtocolError, SetRate
from firmware_bridge.pty_band import PtyBand
from firmware_bridge.serial_link import SerialLink, SerialPortError
from firmware_bridge.virtual_band import ArraySource, VirtualBand
from sensor.records import SampleBlock, SignalGap, SignalGroup
from tests.firmware_bridge.band_helpers import EMG_LABELS, expected_physical
from tests.firmware_bridge.band_helpers import signal as make_signal

EMG, ACC = SignalGroup.EMG, SignalGroup.ACC


def _band(seconds: float, speed: float, seed: int = 0):
    emg, acc = make_signal(seconds, seed)
    return VirtualBand(ArraySource(emg, 2000.0, EMG_LABELS, acc, 100.0), speed=speed), emg, acc


async def _collect(link: SerialLink, n_emg: int, on_emg=None) -> list:
    """Return items until ``n_emg`` EMG samples arrived or were reported lost."""
    items: list = []
    seen = 0
    async for item in link:
        items.append(item)
        if isinstance(item, SampleBlock) and item.group == EMG:
            seen += item.n_samples + item.lost_samples
            if on_emg is not None:
                on_emg(seen)
            if seen >= n_emg:
                break
    return items


def _run(coro, timeout_s: float = 30.0):
    return asyncio.run(asyncio.wait_for(coro, timeout_s))


def _emg_by_index(items) -> dict[int, np.ndarray]:
    """Map sample index -> delivered EMG row, from each block's t0 (no drift here)."""
    rows: dict[int, np.ndarray] = {}
    for b in items:
        if isinstance(b, SampleBlock) and b.group == EMG:
            start = round(b.t0_s * 2000)
            for k in range(b.n_samples):
                rows[start + k] = b.samples[k]
    return rows


@pytest.mark.slow
def test_blocks_equal_the_source_bit_exactly():
    band, emg, acc = _band(3.0, speed=5.0)

    async def main():
        with PtyBand(band) as served:
            async with SerialLink(served.port) as link:
                assert link.descriptor.emg.labels == EMG_LABELS
                await link.start()
                return await _collect(link, len(emg)), link

    items, link = _run(main())
    want_emg, want_acc = expected_physical(band.descriptor, emg, acc)
    got_emg = np.concatenate([b.samples for b in items
                              if isinstance(b, SampleBlock) and b.group == EMG])
    got_acc = np.concatenate([b.samples for b in items
                              if isinstance(b, SampleBlock) and b.group == ACC])
    assert np.array_equal(got_emg, want_emg)
    assert np.array_equal(got_acc, want_acc[: len(got_acc)]) and len(got_acc) >= 290
    assert not any(isinstance(i, SignalGap | FramesDropped) for i in items)
    assert link.decoder.stats.bad_frames == 0 and link.assembler.stats.packets_lost == 0


@pytest.mark.slow
def test_drops_are_gaps_of_the_right_length_and_corrupt_frames_are_skipped():
    band, emg, acc = _band(6.0, speed=5.0)
    per_packet = band.frames_per_packet
    faults_done = []

    def inject(seen: int) -> None:
        if seen > 2000 and "drop" not in faults_done:
            band.drop_next(3)
            faults_done.append("drop")
        if seen > 6000 and "corrupt" not in faults_done:
            band.corrupt_next(2)
            faults_done.append("corrupt")

    async def main():
        with PtyBand(band) as served:
            async with SerialLink(served.port) as link:
                await link.start()
                return await _collect(link, len(emg) - per_packet, inject), link

    items, link = _run(main())
    gaps = [i for i in items if isinstance(i, SignalGap) and i.group == EMG]
    # 3 dropped packets -> one gap; 2 corrupted consecutive packets -> one gap.
    assert sorted(g.lost_samples for g in gaps) == [2 * per_packet, 3 * per_packet]
    dropped = [i for i in items if isinstance(i, FramesDropped)]
    assert sum(d.count for d in dropped) == 2
    assert all("damaged serial frame" in d.reason for d in dropped)
    assert link.decoder.stats.bad_frames == 2
    assert link.assembler.stats.packets_lost == 5
    # Every delivered sample is the source sample of its index; none was invented.
    want_emg, _ = expected_physical(band.descriptor, emg, acc)
    rows = _emg_by_index(items)
    lost = {i for g in gaps for i in range(round(g.start_s * 2000), round(g.end_s * 2000))}
    assert len(lost) == 5 * per_packet and not lost & rows.keys()
    idx = np.array(sorted(rows))
    assert np.array_equal(np.array([rows[i] for i in idx]), want_emg[idx])
    assert set(range(idx.max() + 1)) == rows.keys() | lost


@pytest.mark.slow
def test_buzz_reaches_the_band_and_bad_commands_are_refused():
    band, *_ = _band(5.0, speed=1.0)

    async def main():
        with PtyBand(band) as served:
            async with SerialLink(served.port) as link:
                await link.buzz(5, 300, 200, 70)
                with pytest.raises(ProtocolError, match="0-100"):
                    await link.buzz(1, 100, 100, 150)
                await link.start()
                with pytest.raises(CommandRejected, match="BUSY") as info:
                    await link.send_command(SetRate(0, EMG, 1_000_000))
                assert info.value.ack.error == ErrorCode.BUSY
                sync = await link.time_sync()
                assert 0 < sync.round_trip_us < 500_000

    _run(main())
    assert [(b.pulses, b.on_ms, b.off_ms, b.intensity_pct) for b in band.buzzes] == [
        (5, 300, 200, 70)]


@pytest.mark.slow
def test_set_rate_then_stream_at_the_new_rate():
    band, *_ = _band(10.0, speed=4.0)

    async def main():
        with PtyBand(band) as served:
            async with SerialLink(served.port) as link:
                desc = await link.set_rate(EMG, 1000.0)
                assert desc.emg.rate_hz == 1000.0 and link.descriptor == desc
                await link.start()
                return await _collect(link, 1000)

    items = _run(main())
    assert {b.fs_hz for b in items if isinstance(b, SampleBlock) and b.group == EMG} == {1000.0}


@pytest.mark.slow
def test_port_death_ends_the_stream_with_a_clear_error():
    band, *_ = _band(30.0, speed=2.0)
    items: list = []

    async def main():
        with PtyBand(band) as served:
            link = SerialLink(served.port)
            await link.connect()
            await link.start()
            with pytest.raises(LinkLost, match="stopped working"):
                async for item in link:
                    items.append(item)
                    if len(items) == 20:
                        band.disconnect()  # the USB cable is pulled
            with pytest.raises(LinkLost):
                await link.buzz(1, 100, 100, 50)
            await link.close()
            assert served.dead

    _run(main())
    assert isinstance(items[-1], Disconnected) and not items[-1].will_reconnect
    assert "stopped working" in items[-1].reason


@pytest.mark.slow
def test_live_capture_replays_exactly_what_the_link_delivered(tmp_path: Path):
    band, *_ = _band(4.0, speed=4.0)
    path = tmp_path / "live.cwcap"

    async def main():
        with PtyBand(band) as served:
            async with SerialLink(served.port, capture=CaptureWriter(path)) as link:
                await link.start()
                band.drop_next(2)
                return await _collect(link, 6000)

    live = [i for i in _run(main()) if isinstance(i, SampleBlock | SignalGap)]
    replay = [i for i in CaptureReader(path).items() if isinstance(i, SampleBlock | SignalGap)]
    replay = replay[: len(live)]
    assert len(replay) == len(live)
    for a, b in zip(live, replay, strict=True):
        if isinstance(a, SampleBlock):
            assert (a.group, a.t0_s, a.lost_samples) == (b.group, b.t0_s, b.lost_samples)
            assert a.samples.tobytes() == b.samples.tobytes()
        else:
            assert a == b
    assert any(isinstance(i, SignalGap) for i in live)


def test_a_silent_port_times_out_with_advice():
    master, slave = os.openpty()
    tty.setraw(slave)
    try:
        link = SerialLink(os.ttyname(slave))
        link.command_timeout_s = 0.3
        with pytest.raises(CommandTimeout, match="did not acknowledge GetDescriptor"):
            _run(link.connect())
    finally:
        os.close(master)
        os.close(slave)


def test_a_missing_port_says_what_to_check():
    with pytest.raises(SerialPortError, match=r"cannot open serial port.*Check the path"):
        _run(SerialLink("/dev/ttyNOPE0").connect())


@pytest.mark.slow
def test_a_consumer_that_falls_behind_stops_the_link_loudly():
    band, *_ = _band(30.0, speed=10.0)

    async def main():
        with PtyBand(band) as served:
            link = SerialLink(served.port, max_queued_items=50)
            await link.connect()
            await link.start()
            await asyncio.sleep(1.0)  # ~80 packets arrive while nobody reads
            got = []
            with pytest.raises(LinkOverrun, match="too slow"):
                async for item in link:
                    got.append(item)
            await link.close()
            return got

    got = _run(main())
    # Everything queued before the overrun is still delivered, in order.
    emg = [b for b in got if isinstance(b, SampleBlock) and b.group == EMG]
    assert len(got) == 50 and emg
    assert all(abs(b.t0_s - a.t_end_s) < 1e-6 for a, b in itertools.pairwise(emg))


@pytest.mark.slow
def test_band_command_serves_a_port_that_streams(tmp_path: Path):
    """`crampwatch band --serial` prints a port; the link reads the demo signal from it."""
    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-m", "crampwatch", "band", "--serial", "--speed", "4"], cwd=repo,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = proc.stdout.readline().strip()
        assert port.startswith("/dev/")

        async def main():
            async with SerialLink(port) as link:
                assert link.descriptor.emg.labels == ("EMG R Gastroc", "EMG R Tib Ant")
                await link.start()
                await link.buzz(2, 100, 100, 50)
                return await _collect(link, 4000)

        items = _run(main())
        emg = np.concatenate([b.samples for b in items
                              if isinstance(b, SampleBlock) and b.group == EMG])
        # The demo's first 2 s are rest: a few uV RMS on both channels.
        assert 1.0 < float(np.sqrt(np.mean(emg**2))) < 10.0
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert "buzz: 2 x 100 ms on / 100 ms off at 50 %" in err


@pytest.mark.slow
def test_a_replugged_port_is_reopened_and_the_loss_reported(tmp_path: Path):
    """Cable pulled for 0.5 s: the link reopens the same path; the loss is a counted gap."""
    band, emg, acc = _band(30.0, speed=2.0)
    stable = tmp_path / "ttyBAND"  # like /dev/serial/by-id/...: survives re-enumeration
    servers = [PtyBand(band).start()]
    os.symlink(servers[0].port, stable)
    discarded = []

    async def unplugged_for(seconds: float) -> None:
        # While unplugged, what the band sends goes nowhere.
        end = asyncio.get_running_loop().time() + seconds
        while asyncio.get_running_loop().time() < end:
            discarded.extend(band.due())
            await asyncio.sleep(0.01)
        servers.append(PtyBand(band).start())
        tmp_link = tmp_path / "ttyBAND.new"
        os.symlink(servers[-1].port, tmp_link)
        os.replace(tmp_link, stable)

    async def main():
        link = SerialLink(str(stable), reconnect=True)
        await link.connect()
        await link.start()
        items = []
        replug = None
        after = 0
        async for item in link:
            items.append(item)
            if len(items) == 30:
                band.disconnect()
            if isinstance(item, Disconnected):
                assert item.will_reconnect
                replug = asyncio.create_task(unplugged_for(0.5))
            if isinstance(item, Reconnected):
                after = 1
            if after and isinstance(item, SampleBlock) and item.group == EMG:
                after += item.n_samples
                if after > 2000:
                    break
        await replug
        await link.close()
        return items, link

    try:
        items, link = _run(main())
    finally:
        for s in servers:
            s.close()
    kinds = [type(i).__name__ for i in items]
    assert kinds.count("Disconnected") == 1 and kinds.count("Reconnected") == 1
    assert kinds.index("Disconnected") < kinds.index("Reconnected")
    gaps = [i for i in items if isinstance(i, SignalGap) and i.group == EMG]
    sent_while_unplugged = sum(o.packet[17] for o in discarded if o.packet[0] == 0x02)
    assert len(gaps) == 1 and gaps[0].lost_samples >= sent_while_unplugged > 0
    # Every sample up to the last one delivered either arrived bit-exact or is in the gap.
    want_emg, _ = expected_physical(band.descriptor, emg, acc)
    rows = _emg_by_index(items)
    lost = set(range(round(gaps[0].start_s * 2000), round(gaps[0].end_s * 2000)))
    assert set(range(max(rows) + 1)) == rows.keys() | lost and not lost & rows.keys()
    idx = np.array(sorted(rows))
    assert np.array_equal(np.array([rows[i] for i in idx]), want_emg[idx])
    assert link.assembler.stats.restarts == 0  # the band kept streaming on battery


@pytest.mark.slow
def test_a_port_that_stays_away_ends_the_stream_after_the_allowed_attempts():
    band, *_ = _band(30.0, speed=2.0)

    async def main():
        with PtyBand(band) as served:
            link = SerialLink(served.port, reconnect=True, max_reconnect_attempts=2)
            await link.connect()
            await link.start()
            items = []
            with pytest.raises(LinkLost, match="gave up after 2 attempts"):
                async for item in link:
                    items.append(item)
                    if len(items) == 10:
                        band.disconnect()
            await link.close()
            return items

    items = _run(main())
    disconnects = [i for i in items if isinstance(i, Disconnected)]
    assert [d.will_reconnect for d in disconnects] == [True, False]
    assert "cannot open serial port" in disconnects[-1].reason
