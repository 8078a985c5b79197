"""Packet codec: golden vectors, round trips, and a decoder that only ever raises ProtocolError."""

from __future__ import annotations

import contextlib
import json
import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.framing import FrameDecoder
from firmware_bridge.protocol import (
    Ack,
    Buzz,
    CommandArgumentError,
    DataPacket,
    Descriptor,
    ErrorCode,
    GetDescriptor,
    GetStatus,
    GroupSpec,
    ProtocolError,
    SetRate,
    Start,
    StatusPacket,
    Stop,
    TimeSync,
    decode_packet,
    pack_samples,
    quantise,
    to_physical,
    unpack_samples,
)
from sensor.records import SignalGroup

VECTORS = json.loads((Path(__file__).parent / "vectors" / "packets.json").read_text())["vectors"]
BY_NAME = {v["name"]: v for v in VECTORS}


def _descriptor(name: str) -> Descriptor:
    packet = decode_packet(bytes.fromhex(BY_NAME[name]["packet_hex"]))
    assert isinstance(packet, Descriptor)
    return packet


@pytest.mark.parametrize("vec", VECTORS, ids=[v["name"] for v in VECTORS])
def test_golden_vector_decodes_to_its_fields_and_back(vec):
    raw = bytes.fromhex(vec["packet_hex"])
    packet = decode_packet(raw)
    f = vec["fields"]
    assert packet.encode() == raw
    # The serial frame of the packet is byte-exact too, and decodes back.
    assert FrameDecoder(synchronised=True).feed(bytes.fromhex(vec["frame_hex"])) == [raw]
    if f["type"] == "DESCRIPTOR":
        assert (packet.protocol_version, packet.device_id, packet.firmware_version) == (
            f["protocol_version"], f["device_id"], f["firmware_version"])
        for g, want in zip(packet.groups, f["groups"], strict=True):
            assert str(g.group) == want["group"]
            assert g.rate_mhz == want["rate_mhz"] and g.sample_width == want["sample_width"]
            assert g.units_per_lsb == pytest.approx(want["units_per_lsb"], rel=1e-7)
            assert list(g.labels) == want["labels"] and list(g.rates_mhz) == want["rates_mhz"]
    elif f["type"] == "DATA":
        assert isinstance(packet, DataPacket)
        for key in ("seq", "t_us", "emg_first", "n_emg", "acc_first", "n_acc"):
            assert getattr(packet, key) == f[key], key
        if "descriptor" in f:
            emg, acc = unpack_samples(packet, _descriptor(f["descriptor"]))
            assert emg.reshape(-1).tolist() == np.array(f["emg_counts"]).reshape(-1).tolist()
            assert acc.reshape(-1).tolist() == np.array(f["acc_counts"]).reshape(-1).tolist()
    elif f["type"] == "STATUS":
        assert isinstance(packet, StatusPacket)
        assert (packet.t_us, packet.battery_pct, packet.battery_mv, packet.lead_off,
                packet.flags) == (f["t_us"], f["battery_pct"], f["battery_mv"], f["lead_off"],
                                  f["flags"])
        assert packet.electrodes_off(2) == f["electrodes_off"]
    elif f["type"] == "ACK":
        assert isinstance(packet, Ack)
        assert (packet.token, packet.command, packet.error, packet.result.hex()) == (
            f["token"], f["command"], f["error"], f["result_hex"])
    else:
        assert type(packet).TYPE.name == f["type"]
        assert packet.token == f["token"]
        for key, value in f.items():
            if key not in ("type", "token"):
                assert str(getattr(packet, key)) == str(value), key


def test_data_header_layout_by_hand():
    """The spec's byte offsets, checked without the codec."""
    raw = bytes.fromhex(BY_NAME["data_emg_acc"]["packet_hex"])
    assert raw[0] == 0x02
    assert int.from_bytes(raw[1:5], "little") == 7
    assert int.from_bytes(raw[5:13], "little") == 5_000_123
    assert int.from_bytes(raw[13:17], "little") == 21 and raw[17] == 3
    assert int.from_bytes(raw[18:22], "little") == 1 and raw[22] == 1
    assert raw[23:27] == b"\x00\x00\xff\xff"  # frame 0: 0, -1 as int16 LE
    assert len(raw) == 23 + 3 * 2 * 2 + 1 * 3 * 2


# --- round trips ----------------------------------------------------------------------------

u8, u16, u32, u64 = (st.integers(0, 2**b - 1) for b in (8, 16, 32, 64))
labels = st.lists(st.text(min_size=1, max_size=20).filter(lambda s: len(s.encode()) <= 64),
                  min_size=1, max_size=4)


@st.composite
def descriptors(draw) -> Descriptor:
    emg = GroupSpec(SignalGroup.EMG, draw(st.integers(1, 2**32 - 1)), draw(st.sampled_from([2, 3])),
                    draw(st.floats(1e-3, 100.0)), tuple(draw(labels)),
                    tuple(draw(st.lists(st.integers(1, 2**32 - 1), max_size=4))))
    groups = [emg]
    if draw(st.booleans()):
        groups.append(GroupSpec(SignalGroup.ACC, draw(st.integers(1, 10**6)), 2,
                                draw(st.floats(1e-5, 1.0)), ("X", "Y", "Z")))
    return Descriptor(draw(st.text(min_size=1, max_size=10)), draw(st.text(min_size=1, max_size=8)),
                      tuple(groups))


@settings(deadline=None)  # timing on a shared CI machine is not the property
@given(descriptors())
def test_descriptor_round_trip(desc: Descriptor):
    assert decode_packet(desc.encode()) == desc


@settings(max_examples=60, deadline=None)
@given(descriptors(), st.data())
def test_data_round_trip_is_bit_exact(desc: Descriptor, data):
    emg_spec, acc_spec = desc.emg, desc.acc
    lo, hi = emg_spec.count_range
    n = data.draw(st.integers(0, 20))
    emg = np.array(data.draw(st.lists(st.integers(lo, hi), min_size=n * emg_spec.n_channels,
                                      max_size=n * emg_spec.n_channels)),
                   dtype=np.int64).reshape(n, emg_spec.n_channels)
    acc = None
    if acc_spec is not None:
        m = data.draw(st.integers(0, 5))
        acc = np.array(data.draw(st.lists(st.integers(-32768, 32767), min_size=3 * m,
                                          max_size=3 * m)), dtype=np.int64).reshape(m, 3)
    pkt = DataPacket(data.draw(u32), data.draw(u64), data.draw(u32), n, data.draw(u32),
                     0 if acc is None else len(acc), pack_samples(desc, emg, acc))
    back = decode_packet(pkt.encode())
    assert back == pkt
    got_emg, got_acc = unpack_samples(back, desc)
    assert np.array_equal(got_emg, emg)
    if acc is not None:
        assert np.array_equal(got_acc, acc)


commands = st.one_of(
    st.builds(GetDescriptor, u8), st.builds(Start, u8), st.builds(Stop, u8),
    st.builds(GetStatus, u8),
    st.builds(SetRate, u8, st.sampled_from(list(SignalGroup)), u32),
    st.builds(Buzz, u8, u8, u16, u16, st.integers(0, 100)),
    st.builds(TimeSync, u8, u64),
)


@settings(deadline=None)  # timing on a shared CI machine is not the property
@given(commands)
def test_command_round_trip(cmd):
    assert decode_packet(cmd.encode()) == cmd


@settings(deadline=None)  # timing on a shared CI machine is not the property
@given(u64, st.one_of(st.integers(0, 100), st.just(255)), u16, u32, u8)
def test_status_round_trip(t, pct, mv, lead, flags):
    s = StatusPacket(t, pct, mv, lead, flags)
    assert decode_packet(s.encode()) == s


@settings(deadline=None)  # timing on a shared CI machine is not the property
@given(u8, u8, u8, st.binary(max_size=40))
def test_ack_round_trip(token, command, error, result):
    a = Ack(token, command, error, result)
    assert decode_packet(a.encode()) == a


# --- malformed input --------------------------------------------------------------------------

@settings(deadline=None)  # timing on a shared CI machine is not the property
@given(st.binary(max_size=1200))
def test_decoder_raises_only_protocol_error_on_random_bytes(raw: bytes):
    try:
        decode_packet(raw)
    except ProtocolError as exc:
        assert str(exc)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(VECTORS), st.randoms(use_true_random=False))
def test_decoder_raises_only_protocol_error_on_mutated_packets(vec, rnd: random.Random):
    raw = bytearray(bytes.fromhex(vec["packet_hex"]))
    for _ in range(rnd.randint(1, 4)):
        op = rnd.randrange(3)
        if op == 0 and raw:
            raw[rnd.randrange(len(raw))] = rnd.getrandbits(8)
        elif op == 1 and raw:
            del raw[rnd.randrange(len(raw)):]
        else:
            raw.insert(rnd.randrange(len(raw) + 1), rnd.getrandbits(8))
    try:
        packet = decode_packet(bytes(raw))
    except ProtocolError:
        return
    if isinstance(packet, DataPacket):
        # Sample bytes that disagree with the counts are caught when unpacked.
        with contextlib.suppress(ProtocolError):
            unpack_samples(packet, _descriptor("descriptor_2emg_acc"))


def test_specific_errors_say_what_is_wrong():
    with pytest.raises(ProtocolError, match="empty packet"):
        decode_packet(b"")
    with pytest.raises(ProtocolError, match="unknown packet type 0x7f"):
        decode_packet(b"\x7f\x00")
    with pytest.raises(ProtocolError, match="truncated"):
        decode_packet(bytes.fromhex(BY_NAME["status"]["packet_hex"])[:-3])
    newer = bytearray(bytes.fromhex(BY_NAME["descriptor_1emg_int24"]["packet_hex"]))
    newer[1] = 2
    with pytest.raises(ProtocolError, match=r"protocol version 2.*speaks 1"):
        decode_packet(bytes(newer))
    with pytest.raises(CommandArgumentError, match="expected 6") as info:
        decode_packet(b"\x14\x05\x03")
    assert info.value.error == ErrorCode.BAD_LENGTH and info.value.token == 5
    with pytest.raises(CommandArgumentError) as info:
        decode_packet(Buzz(1, 1, 10, 10, 100).encode()[:-1] + b"\xc8")
    assert info.value.error == ErrorCode.BAD_ARGUMENT
    desc = _descriptor("descriptor_2emg_acc")
    short = DataPacket(1, 0, 0, 3, 0, 0, b"\x00" * 10)
    with pytest.raises(ProtocolError, match=r"carries 10 sample bytes.*need 12"):
        unpack_samples(short, desc)


def test_quantise_rounds_and_clips_to_the_sample_width():
    spec = GroupSpec(SignalGroup.EMG, 2_000_000, 2, 0.25, ("a",))
    counts = quantise(np.array([[0.1], [0.13], [-0.13], [1e6], [-1e6]]), spec)
    assert counts.ravel().tolist() == [0, 1, -1, 32767, -32768]
    assert to_physical(counts, spec).ravel().tolist() == [0.0, 0.25, -0.25, 8191.75, -8192.0]


@settings(deadline=None)  # timing on a shared CI machine is not the property
@given(st.floats(1e-6, 1e3), st.sampled_from([2, 3]), st.data())
def test_physical_values_are_the_correctly_rounded_products(scale, width, data):
    """float32 scaling equals the float64 product rounded once: no drift from the codec."""
    spec = GroupSpec(SignalGroup.EMG, 2_000_000, width, scale, ("a",))
    lo, hi = spec.count_range
    counts = np.array(data.draw(st.lists(st.integers(lo, hi), min_size=1, max_size=50)))[:, None]
    exact = (counts.astype(np.float64) * spec.units_per_lsb).astype(np.float32)
    assert np.array_equal(to_physical(counts, spec), exact)
