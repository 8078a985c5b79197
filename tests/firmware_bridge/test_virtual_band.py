"""The virtual band on its own: pacing, packet sizes, commands and their errors."""

from __future__ import annotations

import numpy as np
import pytest

from firmware_bridge.protocol import (
    Ack,
    Buzz,
    DataPacket,
    Descriptor,
    ErrorCode,
    GetDescriptor,
    GetStatus,
    SetRate,
    Start,
    StatusPacket,
    Stop,
    TimeSync,
    decode_packet,
)
from firmware_bridge.virtual_band import ArraySource, BlockSource, VirtualBand
from sensor.records import SampleBlock, SignalGroup
from tests.firmware_bridge.band_helpers import (
    EMG_LABELS,
    ManualClock,
    blocks_of,
    concat,
    expected_physical,
    make_band,
    run_band,
)


def answers(band: VirtualBand, command) -> list:
    return [decode_packet(o.packet) for o in band.handle(command.encode())]


def test_data_packets_fit_the_ble_budget_and_carry_both_groups():
    band, clock, *_ = make_band(2.0)
    _, _, raw = run_band(band, clock, 1.0)
    data = [decode_packet(r) for r, _ in raw if r[0] == 0x02]
    assert max(len(r) for r, _ in raw) <= 244
    assert band.frames_per_packet == 49  # 49 x 4 B EMG + 4 x 6 B ACC + 23 B header <= 244
    assert all(p.n_emg == 49 for p in data)
    assert sum(p.n_acc for p in data) == pytest.approx(len(data) * 49 / 20, abs=1)


@pytest.mark.parametrize("speed", [1.0, 10.0])
def test_band_sends_samples_at_real_time_pace_times_speed(speed: float):
    band, clock, *_ = make_band(30.0, speed=speed)
    _asm, items, _ = run_band(band, clock, 1.0)
    n = sum(b.n_samples for b in blocks_of(items, SignalGroup.EMG))
    # Everything sampled by now has gone out, except the packet still being filled.
    assert 2000 * speed - 49 <= n <= 2000 * speed


def test_commands_are_acknowledged_with_their_token_and_results():
    band, clock, *_ = make_band(5.0)
    ack, desc = answers(band, GetDescriptor(11))
    assert isinstance(ack, Ack) and ack.ok and ack.token == 11
    assert isinstance(desc, Descriptor) and desc.emg.labels == EMG_LABELS
    (ack,) = answers(band, Start(12))
    assert ack.ok and ack.result_u64() == band.device_time_us(clock.now_us) // 1
    (ack,) = answers(band, Start(13))
    assert ack.error == ErrorCode.BUSY
    (ack,) = answers(band, SetRate(14, SignalGroup.EMG, 1_000_000))
    assert ack.error == ErrorCode.BUSY
    clock.now_us += 1000
    (ack,) = answers(band, TimeSync(15, 0))
    assert ack.result_u64() == int(band.device_time_us(clock.now_us))
    (ack,) = answers(band, Stop(16))
    assert ack.ok and not band.streaming
    ack, status = answers(band, GetStatus(17))
    assert isinstance(status, StatusPacket) and not status.streaming
    assert [type(c).__name__ for c in band.commands] == [
        "GetDescriptor", "Start", "Start", "SetRate", "TimeSync", "Stop", "GetStatus"]


def test_buzz_is_recorded_and_shows_in_status():
    band, clock, *_ = make_band(5.0)
    (ack,) = answers(band, Buzz(3, 3, 200, 300, 40))
    assert ack.ok
    assert [(b.pulses, b.on_ms, b.off_ms, b.intensity_pct) for b in band.buzzes] == [
        (3, 200, 300, 40)]
    assert band.buzzes[0].host_us == clock.now_us
    _, status = answers(band, GetStatus(4))
    assert status.buzzing
    clock.now_us += 1_600_000  # 3 x 500 ms later the pattern is over
    _, status = answers(band, GetStatus(5))
    assert not status.buzzing


def test_malformed_and_unknown_commands_get_error_acks():
    band, *_ = make_band(5.0)
    (ack,) = answers(band, SetRate(1, SignalGroup.EMG, 1_234_000))
    assert ack.error == ErrorCode.BAD_ARGUMENT
    (ack,) = [decode_packet(o.packet) for o in band.handle(b"\x14\x07\x01")]
    assert (ack.token, ack.error) == (7, ErrorCode.BAD_LENGTH)
    (ack,) = [decode_packet(o.packet) for o in band.handle(b"\x1e\x08")]
    assert (ack.token, ack.command, ack.error) == (8, 0x1E, ErrorCode.UNKNOWN_COMMAND)
    assert band.handle(b"\x02garbage") == []  # not a command: nothing to answer


def test_set_rate_changes_the_descriptor_and_the_stream():
    band, clock, *_ = make_band(10.0)
    ack, desc = answers(band, SetRate(1, SignalGroup.EMG, 1_000_000))
    assert ack.ok and desc.emg.rate_hz == 1000.0 and band.descriptor == desc
    _asm, items, _ = run_band(band, clock, 1.0)
    emg = blocks_of(items, SignalGroup.EMG)
    assert emg[0].fs_hz == 1000.0
    assert 1000 - band.frames_per_packet <= sum(b.n_samples for b in emg) <= 1000


def test_block_source_plays_sample_blocks_bit_exactly():
    rng = np.random.default_rng(2)
    emg = rng.normal(0, 30, (4000, 2))
    acc = rng.normal(0, 0.3, (200, 3))
    blocks = []
    for k in range(0, 4000, 500):  # EMG and ACC interleaved, as a recording yields them
        blocks.append(SampleBlock(SignalGroup.EMG, 2000.0, k / 2000, emg[k:k + 500], EMG_LABELS))
        blocks.append(SampleBlock(SignalGroup.ACC, 100.0, k / 2000, acc[k // 20:(k + 500) // 20],
                                  ("ACC X", "ACC Y", "ACC Z")))
    clock = ManualClock()
    band = VirtualBand(BlockSource(blocks), host_clock=clock)
    _, items, _ = run_band(band, clock, 2.5)
    # float32 blocks are what the source held; quantisation is relative to those.
    want_emg, want_acc = expected_physical(band.descriptor, emg.astype(np.float32),
                                           acc.astype(np.float32))
    assert np.array_equal(concat(blocks_of(items, SignalGroup.EMG)), want_emg)
    assert np.array_equal(concat(blocks_of(items, SignalGroup.ACC)), want_acc)
    assert band.exhausted


def test_a_looping_array_source_wraps_around():
    src = ArraySource(np.arange(10.0)[:, None], 2000.0, ("EMG",), loop=True)
    got = np.concatenate([src.take(SignalGroup.EMG, 7) for _ in range(3)]).ravel()
    assert got.tolist() == [*range(10), *range(10), 0]


def test_packet_timestamps_follow_the_band_clock():
    band, clock, *_ = make_band(5.0)
    _, _, raw = run_band(band, clock, 0.5)
    data = [decode_packet(r) for r, _ in raw if r[0] == 0x02]
    assert isinstance(data[0], DataPacket)
    t0 = data[0].t_us
    for p in data:
        assert p.t_us == round(t0 + p.emg_first * 500)  # 2 kHz: 500 us per sample
    assert [p.seq for p in data] == list(range(len(data)))
