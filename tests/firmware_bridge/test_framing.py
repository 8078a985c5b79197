"""Serial framing: COBS + CRC-16 frames, and a stream decoder that survives garbage."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.framing import (
    MAX_ENCODED_FRAME_BYTES,
    FrameDecoder,
    FramingError,
    cobs_decode,
    cobs_encode,
    crc16,
    decode_frame,
    encode_frame,
)

packets = st.binary(min_size=1, max_size=1024)


def _crc16_bitwise(data: bytes) -> int:
    """CRC-16/CCITT-FALSE straight from its definition, one bit at a time."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def test_crc16_is_ccitt_false():
    assert crc16(b"123456789") == 0x29B1  # the catalogue check value
    rnd = random.Random(1)
    for n in (0, 1, 2, 17, 300):
        data = bytes(rnd.getrandbits(8) for _ in range(n))
        assert crc16(data) == _crc16_bitwise(data)


@pytest.mark.parametrize(
    ("raw", "encoded"),
    [  # examples from Cheshire & Baker's COBS paper / the usual reference table
        (b"\x00", b"\x01\x01"),
        (b"\x00\x00", b"\x01\x01\x01"),
        (b"\x11\x22\x00\x33", b"\x03\x11\x22\x02\x33"),
        (b"\x11\x22\x33\x44", b"\x05\x11\x22\x33\x44"),
        (b"\x11\x00\x00\x00", b"\x02\x11\x01\x01\x01"),
        (bytes(range(1, 255)), b"\xff" + bytes(range(1, 255)) + b"\x01"),
    ],
)
def test_cobs_reference_examples(raw: bytes, encoded: bytes):
    assert cobs_encode(raw) == encoded
    assert cobs_decode(encoded) == raw


@settings(deadline=None)  # timing on a shared CI machine is not the property
@given(st.binary(max_size=3000))
def test_cobs_round_trip_has_no_zero(data: bytes):
    enc = cobs_encode(data)
    assert 0 not in enc
    assert cobs_decode(enc) == data
    assert len(enc) <= len(data) + len(data) // 254 + 1


@settings(deadline=None)  # timing on a shared CI machine is not the property
@given(packets)
def test_frame_round_trip(packet: bytes):
    frame = encode_frame(packet)
    assert frame.endswith(b"\x00") and 0 not in frame[:-1]
    assert len(frame) <= MAX_ENCODED_FRAME_BYTES + 1
    assert decode_frame(frame[:-1]) == packet


def test_damaged_frame_is_refused_with_a_reason():
    frame = bytearray(encode_frame(b"\x02hello band")[:-1])
    frame[4] ^= 0x01
    with pytest.raises(FramingError, match="CRC mismatch"):
        decode_frame(bytes(frame))


@settings(max_examples=60, deadline=None)
@given(st.lists(packets, min_size=1, max_size=12), st.data())
def test_decoder_returns_every_packet_whatever_the_read_sizes(pkts: list[bytes], data):
    stream = b"".join(encode_frame(p) for p in pkts)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=20)))
    dec = FrameDecoder(synchronised=True)
    got: list[bytes] = []
    prev = 0
    for cut in [*cuts, len(stream)]:
        got += dec.feed(stream[prev:cut])
        prev = cut
    assert got == pkts
    assert dec.stats.bad_frames == 0


def test_decoder_opened_mid_frame_keeps_the_rest():
    stream = b"".join(encode_frame(bytes([2, i]) * 30) for i in range(1, 6))
    dec = FrameDecoder()
    got = dec.feed(stream[17:])  # the port was opened during the first frame
    assert got == [bytes([2, i]) * 30 for i in range(2, 6)]
    assert dec.stats.bad_frames == 0  # a cut-off start is not a line error


def test_decoder_keeps_a_whole_first_frame():
    dec = FrameDecoder()
    assert dec.feed(encode_frame(b"\x04\x01\x11\x00")) == [b"\x04\x01\x11\x00"]


@settings(max_examples=40, deadline=None)
@given(st.lists(packets, min_size=2, max_size=8), st.binary(max_size=600), st.randoms())
def test_decoder_resynchronises_after_garbage(pkts, garbage: bytes, rnd: random.Random):
    """Garbage between frames costs at most the frame it lands in, never later ones."""
    frames = [encode_frame(p) for p in pkts]
    k = rnd.randrange(len(frames))
    stream = b"".join(frames[:k]) + garbage + b"".join(frames[k:])
    dec = FrameDecoder(synchronised=True)
    got = dec.feed(stream)
    # Frames before the garbage arrive whole; the first frame after it may merge with
    # the garbage's tail and be lost; everything after that arrives.
    assert got[:k] == pkts[:k]
    assert pkts[k + 1 :] == got[len(got) - len(pkts[k + 1 :]) :]


def test_random_byte_stream_never_crashes_and_bounds_memory():
    rnd = random.Random(4)
    dec = FrameDecoder()
    for _ in range(300):
        dec.feed(bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(1, 400))))
        assert dec.pending_bytes <= MAX_ENCODED_FRAME_BYTES
    # After the noise, real frames come through.
    assert dec.feed(b"\x00" + encode_frame(b"\x03abc")) == [b"\x03abc"]


def test_flipped_bytes_lose_only_their_frame():
    pkts = [bytes([2]) + bytes([i]) * 40 for i in range(1, 101)]
    stream = bytearray(b"".join(encode_frame(p) for p in pkts))
    rnd = random.Random(7)
    hit = set()
    for _ in range(10):
        pos = rnd.randrange(len(stream))
        if stream[pos] == 0:
            continue
        stream[pos] = stream[pos] ^ 0xFF or 0x55  # never a new delimiter
        hit.add(pos // len(encode_frame(pkts[0])))
    dec = FrameDecoder(synchronised=True)
    got = dec.feed(bytes(stream))
    assert got == [p for i, p in enumerate(pkts) if i not in hit]
    assert dec.stats.bad_frames == len(hit)


def test_oversized_garbage_is_counted_not_buffered():
    dec = FrameDecoder(synchronised=True)
    assert dec.feed(b"\x07" * (MAX_ENCODED_FRAME_BYTES + 50)) == []
    assert dec.pending_bytes == 0
    assert dec.feed(b"\x00" + encode_frame(b"\x03ok")) == [b"\x03ok"]
    assert dec.stats.oversized_frames == 1
