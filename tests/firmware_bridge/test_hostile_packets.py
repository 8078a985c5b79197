"""One wild value from a band, or one damaged record on disk, costs that packet only."""

from __future__ import annotations

import dataclasses
import itertools
import warnings
from pathlib import Path

import pytest

from firmware_bridge.assembler import PacketAssembler
from firmware_bridge.capture import (
    MAGIC,
    CaptureCorruptWarning,
    CaptureReader,
    CaptureTruncatedWarning,
    iter_records,
)
from firmware_bridge.events import (
    ClockStepped,
    DescriptorChanged,
    FramesDropped,
    SequenceIgnored,
    StreamRestarted,
)
from firmware_bridge.protocol import DataPacket
from sensor.records import SampleBlock, SignalGap, SignalGroup
from tests.firmware_bridge.hostile import LABEL_SETS, HostileBand, Op, descriptor, record

EMG, ACC = SignalGroup.EMG, SignalGroup.ACC


def _packets(n: int, band: HostileBand | None = None) -> list[tuple[DataPacket, int]]:
    band = band or HostileBand()
    return [band.next_packet() for _ in range(n)]


def _feed(packets: list[tuple[DataPacket, int]], asm: PacketAssembler | None = None):
    asm = asm or PacketAssembler(descriptor())
    items = []
    for packet, host_us in packets:
        items += asm.feed(packet, host_us)
    return asm, items + asm.finish()


def _count(items, what: str) -> dict[SignalGroup, int]:
    out = {EMG: 0, ACC: 0}
    for b in items:
        if isinstance(b, SampleBlock):
            out[b.group] += b.n_samples if what == "samples" else b.lost_samples
    return out


def _contiguous_in_time(items) -> None:
    for group in (EMG, ACC):
        blocks = [b for b in items if isinstance(b, SampleBlock) and b.group is group]
        for prev, nxt in itertools.pairwise(blocks):
            step = nxt.t0_s - prev.t_end_s
            assert step == pytest.approx(nxt.lost_samples / nxt.fs_hz, abs=1e-5)


def test_one_wild_sequence_number_is_not_a_gap_of_lost_samples():
    packets = _packets(1000)
    wild, host = packets[500]
    packets[500] = (dataclasses.replace(wild, seq=wild.seq + (1 << 31) + 7), host)
    asm, items = _feed(packets)
    assert _count(items, "lost") == {EMG: 0, ACC: 0}
    assert _count(items, "samples") == {EMG: 40_000, ACC: 2000}
    assert not any(isinstance(i, SignalGap | StreamRestarted) for i in items)
    assert [i for i in items if isinstance(i, SequenceIgnored)] == [
        SequenceIgnored(wild.seq + (1 << 31) + 7, 500)]
    assert asm.stats.packets_lost == 0 and asm.stats.bad_sequence == 1


def test_device_time_near_2_63_is_quarantined_and_its_samples_reported_lost():
    packets = _packets(1000)
    bad, host = packets[500]
    packets[500] = (dataclasses.replace(bad, t_us=(1 << 63) - 5), host)
    asm, items = _feed(packets)
    dropped = [i for i in items if isinstance(i, FramesDropped)]
    assert len(dropped) == 1 and "quarantined" in dropped[0].reason
    assert "off its sample index" in dropped[0].reason
    assert _count(items, "lost") == {EMG: 40, ACC: 2}
    assert asm.stats.quarantined == 1
    _contiguous_in_time(items)
    last = max(b.t_end_s for b in items if isinstance(b, SampleBlock))
    assert last == pytest.approx(20.0, abs=1e-3)  # the band's 20 s, not 292,000 years


@pytest.mark.parametrize("jump", [(1 << 31) - 1, 1 << 31, (1 << 31) + 1])
def test_a_sample_index_that_jumps_by_2_31_is_quarantined(jump: int):
    packets = _packets(200)
    bad, host = packets[100]
    packets[100] = (dataclasses.replace(bad, emg_first=(bad.emg_first + jump) % (1 << 32)), host)
    _, items = _feed(packets)
    assert _count(items, "lost") == {EMG: 40, ACC: 2}
    assert _count(items, "samples") == {EMG: 199 * 40, ACC: 199 * 2}
    _contiguous_in_time(items)


def test_a_stream_whose_first_packet_comes_twice_loses_nothing():
    packets = _packets(10)
    asm, items = _feed([packets[0], *packets])
    assert asm.stats.duplicates == 1 and asm.stats.quarantined == 0
    assert _count(items, "samples") == {EMG: 400, ACC: 20}


def test_two_wild_packets_in_a_row_are_both_quarantined():
    packets = _packets(100)
    for k in (50, 51):
        p, host = packets[k]
        packets[k] = (dataclasses.replace(p, emg_first=p.emg_first + (1 << 30)), host)
    _, items = _feed(packets)
    assert _count(items, "lost") == {EMG: 80, ACC: 4}
    assert not any(isinstance(i, StreamRestarted) for i in items)


@pytest.mark.parametrize("step_s", [-3600.0, 2.5, 40 * 86_400.0])
def test_a_clock_that_jumps_under_a_running_stream_is_re_learned_not_quarantined(step_s):
    band = HostileBand()
    packets = _packets(100, band)
    band.boot_us += round(step_s * 1e6)
    packets += _packets(100, band)
    asm, items = _feed(packets)
    steps = [i for i in items if isinstance(i, ClockStepped)]
    assert len(steps) == 1 and steps[0].step_s == pytest.approx(step_s, abs=1e-6)
    assert asm.stats.quarantined == 0 and asm.stats.clock_steps == 1
    assert _count(items, "lost") == {EMG: 0, ACC: 0}
    assert _count(items, "samples") == {EMG: 200 * 40, ACC: 200 * 2}
    _contiguous_in_time(items)  # placed by the host clock: no hole, no overlap


def test_a_band_reboot_is_still_a_restart_not_a_corrupt_packet():
    band = HostileBand()
    packets = _packets(50, band)
    band.restart(down_slots=25, new_descriptor=False)
    packets += _packets(50, band)
    asm, items = _feed(packets)
    restarts = [i for i in items if isinstance(i, StreamRestarted)]
    assert len(restarts) == 1 and restarts[0].unexpected
    assert asm.stats.quarantined == 0
    assert _count(items, "lost") == {EMG: 25 * 40, ACC: 25 * 2}  # 0.5 s, by the host clock


def test_a_new_descriptor_mid_stream_restarts_the_stream_with_nothing_counted_lost():
    band = HostileBand()
    asm, _items = _feed(_packets(50, band))
    band.restart(down_slots=10, new_descriptor=True)  # 1 kHz now
    assert band.desc.emg.rate_hz == 1000.0
    more = asm.feed(band.desc, band.host_base_us - 1000)
    assert isinstance(more[-1], DescriptorChanged)
    _, after = _feed(_packets(50, band), asm)
    restarts = [i for i in after if isinstance(i, StreamRestarted)]
    assert len(restarts) == 1 and "new descriptor" in restarts[0].reason
    new = [b for b in after if isinstance(b, SampleBlock) and b.group is EMG]
    assert new[0].fs_hz == 1000.0 and new[0].labels == LABEL_SETS[0]
    assert new[0].gap_before and new[0].lost_samples == 0
    assert new[0].t0_s == pytest.approx(1.0 + 0.2, abs=1e-4)  # placed by the host clock
    assert sum(b.n_samples for b in new) == 50 * 20


def _write(path: Path, chunks: list[bytes]) -> None:
    path.write_bytes(MAGIC + b"".join(chunks))


def test_a_corrupt_record_mid_capture_costs_that_record_only(tmp_path: Path):
    packets = _packets(1000)
    chunks = [record(packets[0][1] - 1000, descriptor().encode())]
    chunks += [record(host, p.encode()) for p, host in packets]
    bad = bytearray(chunks[400])
    bad[30] ^= 0x5A  # a sample byte: the CRC no longer matches
    chunks[400] = bytes(bad)
    path = tmp_path / "night.cwcap"
    _write(path, chunks)
    with pytest.warns(CaptureCorruptWarning, match=f"{len(bad)} bytes skipped"):
        assert len(list(iter_records(path))) == 1000
    reader = CaptureReader(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CaptureCorruptWarning)
        items = list(reader.items())
    assert reader.bytes_lost == len(bad)
    assert _count(items, "lost") == {EMG: 40, ACC: 2}
    assert _count(items, "samples") == {EMG: 999 * 40, ACC: 999 * 2}
    assert any(isinstance(i, FramesDropped) and "unreadable bytes" in i.reason for i in items)


@pytest.mark.parametrize("where", [5, 6, 7, 8, 9])
def test_a_damaged_record_header_is_skipped_too(tmp_path: Path, where: int):
    """Damage to the host time's high bytes (which no CRC covers) or to the length."""
    packets = _packets(100)
    chunks = [record(packets[0][1] - 1000, descriptor().encode())]
    chunks += [record(host, p.encode()) for p, host in packets]
    bad = bytearray(chunks[50])
    bad[where] ^= 0xFF
    chunks[50] = bytes(bad)
    path = tmp_path / "night.cwcap"
    _write(path, chunks)
    with pytest.warns(CaptureCorruptWarning):
        assert len(list(iter_records(path))) == 100


def test_junk_between_records_is_skipped_and_counted(tmp_path: Path):
    packets = _packets(100)
    chunks = [record(packets[0][1] - 1000, descriptor().encode())]
    chunks += [record(host, p.encode()) for p, host in packets]
    chunks.insert(30, bytes(range(7, 250)))
    path = tmp_path / "night.cwcap"
    _write(path, chunks)
    reader = CaptureReader(path)
    with pytest.warns(CaptureCorruptWarning, match="243 bytes skipped"):
        items = list(reader.items())
    assert _count(items, "lost") == {EMG: 0, ACC: 0}
    assert _count(items, "samples") == {EMG: 100 * 40, ACC: 100 * 2}


def test_a_cut_tail_after_resynchronising_still_warns_truncated(tmp_path: Path):
    packets = _packets(20)
    chunks = [record(packets[0][1] - 1000, descriptor().encode())]
    chunks += [record(host, p.encode()) for p, host in packets]
    chunks[10] = chunks[10][:5] + b"\xff" + chunks[10][6:]
    path = tmp_path / "night.cwcap"
    _write(path, [*chunks[:-1], chunks[-1][:-9]])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        records = list(iter_records(path))
    kinds = [type(w.message) for w in caught]
    assert kinds == [CaptureCorruptWarning, CaptureTruncatedWarning]
    assert len(records) == 1 + 20 - 2


def test_hostile_capture_truth_matches_the_reader(tmp_path: Path):
    """The fuzz's own yardstick, on one stream of every kind of damage."""
    from tests.firmware_bridge.hostile import write_hostile_capture

    ops = [Op.OK] * 5 + [op for op in Op if op is not Op.OK for _ in (0,)] + [Op.OK] * 5
    truth = write_hostile_capture(tmp_path / "h.cwcap", ops, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        items = list(CaptureReader(truth.path).items())
    assert _count(items, "samples") == truth.delivered
    assert _count(items, "lost") == truth.lost
