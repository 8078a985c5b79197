"""Packets -> blocks: physical values, lost samples counted, restarts, clock drift."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.assembler import PacketAssembler
from firmware_bridge.clock import ClockMapper
from firmware_bridge.events import BandStatus, FramesDropped, StreamRestarted
from firmware_bridge.protocol import DataPacket, Start, Stop, decode_packet
from firmware_bridge.virtual_band import BandConfig
from sensor.records import SignalGap, SignalGroup
from tests.firmware_bridge.band_helpers import (
    blocks_of,
    concat,
    expected_physical,
    make_band,
    run_band,
)

EMG, ACC = SignalGroup.EMG, SignalGroup.ACC


def test_blocks_equal_the_quantised_source_and_are_contiguous():
    band, clock, emg, acc = make_band(2.0)
    _, items, _ = run_band(band, clock, 2.2)
    want_emg, want_acc = expected_physical(band.descriptor, emg, acc)
    e, a = blocks_of(items, EMG), blocks_of(items, ACC)
    assert np.array_equal(concat(e), want_emg)
    assert np.array_equal(concat(a), want_acc)
    assert e[0].t0_s == pytest.approx(0.0, abs=1e-6) and a[0].t0_s == pytest.approx(0.0, abs=1e-6)
    for prev, nxt in itertools.pairwise(e):
        assert nxt.t0_s == pytest.approx(prev.t_end_s, abs=2e-6)  # no drift: no seams
        assert not nxt.gap_before
    assert e[0].labels == ("EMG R Gastroc", "EMG R Tib Ant") and e[0].fs_hz == 2000.0
    assert not any(isinstance(i, SignalGap) for i in items)


def test_dropped_packets_are_gaps_of_the_exact_sample_count():
    band, clock, emg, acc = make_band(3.0)
    asm = PacketAssembler(band.descriptor)
    _, items, _ = run_band(band, clock, 1.0, assembler=asm)
    band.drop_next(3)
    _, more, _ = run_band(band, clock, 1.0, assembler=asm, start=False)
    items += more
    per_packet = band.frames_per_packet
    gaps = [i for i in items if isinstance(i, SignalGap) and i.group == EMG]
    assert len(gaps) == 1
    assert gaps[0].lost_samples == 3 * per_packet
    assert gaps[0].end_s - gaps[0].start_s == pytest.approx(3 * per_packet / 2000, abs=1e-5)
    gapped = [b for b in blocks_of(items, EMG) if b.gap_before]
    assert len(gapped) == 1 and gapped[0].lost_samples == 3 * per_packet
    assert gapped[0].t0_s == pytest.approx(gaps[0].end_s)
    # Delivered + lost = everything the band sampled; nothing was bridged.
    delivered = sum(b.n_samples for b in blocks_of(items, EMG))
    assert delivered + 3 * per_packet == band.samples_taken(EMG)
    assert asm.stats.packets_lost == 3
    acc_gap = [i for i in items if isinstance(i, SignalGap) and i.group == ACC]
    assert len(acc_gap) == 1 and acc_gap[0].lost_samples >= 1
    # What did arrive is still bit-exact.
    want_emg, _ = expected_physical(band.descriptor, emg, acc)
    got = concat(blocks_of(items, EMG))
    idx = np.r_[0:len(got)]
    first_lost = round(gaps[0].start_s * 2000)
    idx[first_lost:] += 3 * per_packet
    assert np.array_equal(got, want_emg[idx])


def test_stall_loses_samples_without_a_sequence_gap():
    band, clock, *_ = make_band(3.0)
    asm, _items, _ = run_band(band, clock, 0.5)
    band.stall(0.3)
    _, more, _ = run_band(band, clock, 0.8, assembler=asm, start=False)
    gaps = [i for i in more if isinstance(i, SignalGap) and i.group == EMG]
    assert asm.stats.packets_lost == 0
    assert sum(g.lost_samples for g in gaps) == band.faults.stalled_samples[EMG]
    assert band.faults.stalled_samples[EMG] == pytest.approx(0.3 * 2000, abs=2 * 49)


def test_duplicate_and_damaged_packets_are_not_delivered_twice():
    band, clock, *_ = make_band(1.0)
    asm, items, raw = run_band(band, clock, 0.3)
    data = [(r, t) for r, t in raw if r[0] == 0x02]
    n_before = sum(b.n_samples for b in blocks_of(items, EMG))
    assert asm.feed(decode_packet(data[-1][0]), data[-1][1] + 10) == []
    assert asm.stats.duplicates == 1
    broken = DataPacket(10**6, 0, 10**6, 5, 0, 0, b"\x00\x01")
    out = asm.feed(broken, data[-1][1] + 20)
    assert isinstance(out[0], FramesDropped) and "sample bytes" in out[0].reason
    assert sum(b.n_samples for b in blocks_of(items, EMG)) == n_before


def test_unexpected_restart_is_reported_with_an_estimated_gap():
    band, clock, *_ = make_band(4.0)
    asm, items, _ = run_band(band, clock, 1.0)
    # The band reboots: its stream starts over at seq 0 without a START from us.
    band.streaming = False
    clock.now_us += 500_000
    for out in band.handle(Start(2).encode()):
        if out.packet[0] != 0x04:  # the ACK never reached us: the host did not ask
            asm.feed(decode_packet(out.packet), clock.now_us)
    _, more, _ = run_band(band, clock, 0.5, assembler=asm, start=False)
    restarts = [i for i in more if isinstance(i, StreamRestarted)]
    assert len(restarts) == 1 and restarts[0].unexpected
    gap = next(i for i in more if isinstance(i, SignalGap) and i.group == EMG)
    assert gap.lost_samples == pytest.approx(0.5 * 2000, rel=0.05)
    first_new = blocks_of(more, EMG)[0]
    assert first_new.gap_before and first_new.t0_s > blocks_of(items, EMG)[-1].t_end_s


def test_deliberate_stop_start_marks_a_gap_but_counts_nothing_lost():
    band, clock, *_ = make_band(4.0)
    asm, _items, _ = run_band(band, clock, 0.5)
    band.handle(Stop(3).encode())
    clock.now_us += 1_000_000
    for out in band.handle(Start(4).encode()):
        asm.feed(decode_packet(out.packet), clock.now_us)
    _, more, _ = run_band(band, clock, 0.5, assembler=asm, start=False)
    restart = [i for i in more if isinstance(i, StreamRestarted)]
    gaps = [i for i in more if isinstance(i, SignalGap) and i.group == EMG]
    assert len(restart) == 1 and not restart[0].unexpected
    assert len(gaps) == 1 and gaps[0].lost_samples == 0
    assert gaps[0].end_s - gaps[0].start_s == pytest.approx(1.0, abs=0.03)
    assert asm.stats.samples_lost.get(EMG, 0) == 0


def test_a_rebooted_band_started_again_keeps_session_time_moving_forward():
    """The host re-sends START to a band whose clock restarted (USB-powered, re-plugged)."""
    band, clock, *_ = make_band(4.0)
    asm, items, _ = run_band(band, clock, 2.0)
    last = blocks_of(items, EMG)[-1]
    clock.now_us += 3_000_000  # unplugged for 3 s
    rebooted, _, _, _ = make_band(4.0, clock=clock)  # its clock reads 5 s again, < before
    assert rebooted.device_time_us(clock.now_us) < band.device_time_us(clock.now_us)
    _, more, _ = run_band(rebooted, clock, 1.0, assembler=asm)
    first = blocks_of(more, EMG)[0]
    gap = next(i for i in more if isinstance(i, SignalGap) and i.group == EMG)
    assert first.gap_before and gap.start_s == pytest.approx(last.t_end_s)
    # Placed by the host clock: 3 s away, within the packets' latency.
    assert first.t0_s - last.t_end_s == pytest.approx(3.0, abs=0.03)
    assert sum(b.n_samples for b in blocks_of(more, EMG)) >= 2000 - 49


def test_packets_lost_right_after_start_are_a_gap_from_zero():
    band, clock, *_ = make_band(2.0)
    band.drop_next(2)
    asm, items, _ = run_band(band, clock, 0.5)
    gap = next(i for i in items if isinstance(i, SignalGap) and i.group == EMG)
    assert (gap.start_s, gap.lost_samples) == (pytest.approx(0.0, abs=1e-6),
                                               2 * band.frames_per_packet)
    assert asm.stats.packets_lost == 2


@pytest.mark.parametrize("drift_ppm", [-80.0, 0.0, 40.0, 500.0])
def test_clock_drift_is_tracked_from_arrivals(drift_ppm: float):
    """A band whose crystal is off by `drift_ppm`: the mapper learns it within 1 ppm."""
    rng = np.random.default_rng(3)
    mapper = ClockMapper()
    host0 = 1.7e15
    for k in range(30 * 600):  # 10 minutes of packets at 30/s, jittery latency
        device = 5e6 + k * 1e6 / 30
        host = host0 + (device - 5e6) / (1 + drift_ppm * 1e-6) + 800 + rng.exponential(3000)
        mapper.observe(device, host)
    # The band's clock runs fast by drift_ppm: host seconds per device second = 1/(1+d).
    assert mapper.estimate().drift_ppm == pytest.approx(-drift_ppm / (1 + drift_ppm * 1e-6),
                                                        abs=1.0)
    device = 5e6 + 600e6
    true_host = host0 + 600e6 / (1 + drift_ppm * 1e-6) + 800
    assert abs(mapper.to_host_us(device) - true_host) < 500  # within 0.5 ms after 10 min


def test_session_time_runs_at_host_seconds_for_a_drifting_band():
    band, clock, *_ = make_band(130.0, config=BandConfig(clock_drift_ppm=200.0))
    _, items, _ = run_band(band, clock, 120.0, step_us=20_000)
    e = blocks_of(items, EMG)
    # 120 s of host time hold 120 * 1.0002 s of band samples: the session clock counts
    # host seconds, so after the drift is learnt (3 windows of 10 s) session time runs
    # at the host's pace within a few ppm; its error stays under drift x 30 s.
    device_s = sum(b.n_samples for b in e) / 2000
    assert device_s == pytest.approx(120 * 1.0002, abs=0.03)
    late = [b for b in e if b.t0_s > 60.0]
    a, b = late[0], late[-1]
    samples_between = sum(x.n_samples for x in late[:-1])
    host_between_s = samples_between / 2000 / 1.0002
    assert (b.t0_s - a.t0_s) / host_between_s == pytest.approx(1.0, abs=5e-6)
    assert e[-1].t_end_s == pytest.approx(device_s / 1.0002, abs=200e-6 * 30 + 1e-3)
    seams = [y.t0_s - x.t_end_s for x, y in itertools.pairwise(e)]
    assert max(abs(s) for s in seams) < 20e-6  # the map changes rate, never jumps


def test_jittery_latency_does_not_move_the_session_clock():
    band, clock, *_ = make_band(40.0)
    rng = np.random.default_rng(5)
    asm = PacketAssembler(band.descriptor)
    items = []
    for out in band.handle(Start(1).encode()):
        asm.feed(decode_packet(out.packet), clock.now_us)
    while clock.now_us < band.boot_host_us + 35e6:
        clock.now_us += 5000
        for out in band.due():
            late = int(rng.exponential(20_000))  # 20 ms mean, heavy tail
            items += asm.feed(decode_packet(out.packet), clock.now_us + late)
    e = blocks_of(items, EMG)
    # Without drift, sample k is at k / 2000 s whatever the arrival times were, up to
    # the drift estimate's noise: the error stays under half a sample period (0.25 ms).
    worst = max(abs(b.t0_s - i * band.frames_per_packet / 2000) for i, b in enumerate(e))
    assert worst < 0.25e-3


def test_status_becomes_a_band_status_event_with_electrodes_named():
    band, clock, *_ = make_band(2.0)
    band.set_lead_off((1 << 2) | (1 << 31))
    _, items, _ = run_band(band, clock, 0.5)
    status = [i for i in items if isinstance(i, BandStatus)]
    assert status and status[-1].electrodes_off == ("ch2+", "ref")
    assert status[-1].battery_pct == 87 and status[-1].streaming


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(
    st.integers(0, 2**32 - 1), st.integers(0, 2**64 - 1), st.integers(0, 2**32 - 1),
    st.integers(0, 60), st.integers(0, 2**32 - 1), st.integers(0, 4), st.booleans(),
    st.integers(0, 2**62)), min_size=1, max_size=25))
def test_any_sequence_of_data_packets_never_crashes_the_assembler(rows):
    """Whatever a confused band sends, the assembler reports; it never raises."""
    band, *_ = make_band(0.1)
    desc = band.descriptor
    asm = PacketAssembler(desc)
    for seq, t_us, emg_first, n_emg, acc_first, n_acc, right_size, host_us in rows:
        size = n_emg * desc.emg.frame_bytes + n_acc * desc.acc.frame_bytes
        samples = bytes(size if right_size else max(0, size - 1))
        packet = DataPacket(seq, t_us, emg_first, n_emg, acc_first, n_acc, samples)
        for item in asm.feed(packet, host_us):
            if isinstance(item, SignalGap):
                assert item.lost_samples >= 0 and np.isfinite(item.start_s)
