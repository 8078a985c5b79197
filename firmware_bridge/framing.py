"""Serial framing (docs/protocol.md section 2): COBS + CRC-16, frames ended by 0x00.

:func:`encode_frame` wraps one packet; :class:`FrameDecoder` takes the byte stream
in whatever pieces the port delivers and returns whole packets, dropping and
counting frames whose COBS or CRC is wrong and resuming at the next delimiter.
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass

from firmware_bridge.protocol import MAX_PACKET_BYTES

DELIMITER = 0x00
CRC_BYTES = 2
# COBS adds one byte per 254 and one up front; a frame never needs more than this.
MAX_ENCODED_FRAME_BYTES = (MAX_PACKET_BYTES + CRC_BYTES) + (MAX_PACKET_BYTES + CRC_BYTES) // 254 + 1


def crc16(data: bytes, crc: int = 0xFFFF) -> int:
    """Return the CRC-16/CCITT-FALSE of ``data`` (poly 0x1021, init 0xFFFF, no reflection).

    Check value: ``crc16(b"123456789") == 0x29B1``. ``binascii.crc_hqx`` computes
    exactly this polynomial without reflection, in C.
    """
    return binascii.crc_hqx(data, crc)


class FramingError(ValueError):
    """A frame whose COBS encoding or CRC is wrong."""


def cobs_encode(data: bytes) -> bytes:
    """Return ``data`` COBS-encoded (no 0x00 inside; the delimiter is not appended)."""
    out = bytearray()
    for piece in bytes(data).split(b"\x00"):
        # Each zero-free piece becomes blocks of at most 254 bytes, each led by length + 1;
        # a full block (0xFF) implies no zero after it, so a piece ending on one gets 0x01.
        while len(piece) >= 254:
            out.append(0xFF)
            out += piece[:254]
            piece = piece[254:]
        out.append(len(piece) + 1)
        out += piece
    return bytes(out)


def cobs_decode(encoded: bytes) -> bytes:
    """Return the bytes a COBS block encodes; FramingError if it is not valid COBS."""
    out = bytearray()
    i = 0
    n = len(encoded)
    while i < n:
        code = encoded[i]
        if code == 0:
            raise FramingError("0x00 inside a COBS frame")
        end = i + code
        if end > n:
            raise FramingError(f"COBS block runs {end - n} bytes past the frame end")
        block = encoded[i + 1 : end]
        if 0 in block:
            raise FramingError("0x00 inside a COBS frame")
        out += block
        i = end
        if code < 0xFF and i < n:
            out.append(0)
    return bytes(out)


def encode_frame(packet: bytes) -> bytes:
    """Return the serial frame of one packet: COBS(packet + CRC-16 LE) + 0x00."""
    crc = crc16(packet)
    return cobs_encode(packet + bytes((crc & 0xFF, crc >> 8))) + b"\x00"


def decode_frame(frame: bytes) -> bytes:
    """Return the packet inside one frame (without its 0x00); FramingError if damaged."""
    raw = cobs_decode(frame)
    if len(raw) < 1 + CRC_BYTES:
        raise FramingError(f"frame of {len(raw)} decoded bytes is too short for a packet + CRC")
    packet, tail = raw[:-CRC_BYTES], raw[-CRC_BYTES:]
    got = tail[0] | (tail[1] << 8)
    want = crc16(packet)
    if got != want:
        raise FramingError(f"CRC mismatch: frame says 0x{got:04x}, packet gives 0x{want:04x}")
    return packet


@dataclass
class FrameStats:
    """Counters of a :class:`FrameDecoder`: good frames, dropped frames and their bytes."""

    frames: int = 0
    bad_frames: int = 0
    oversized_frames: int = 0
    bytes_in: int = 0
    bytes_discarded: int = 0
    last_error: str = ""


class FrameDecoder:
    """Streaming frame splitter: ``feed(bytes)`` returns the packets completed so far.

    Until the first 0x00 is seen the decoder does not know where a frame begins
    (a port opened mid-stream): bytes before it are kept only if they form a whole
    valid frame, and are otherwise discarded without counting as a bad frame. A frame
    longer than any valid one is dropped without being buffered, so garbage without
    delimiters cannot grow memory.
    """

    def __init__(self, synchronised: bool = False) -> None:
        self._buf = bytearray()
        self._synced = synchronised
        self._overflow = False
        self.stats = FrameStats()

    def feed(self, data: bytes) -> list[bytes]:
        """Return the packets whose frames end in ``data`` (possibly none)."""
        self.stats.bytes_in += len(data)
        packets: list[bytes] = []
        start = 0
        while True:
            end = data.find(b"\x00", start)
            if end < 0:
                self._append(data[start:])
                return packets
            self._append(data[start:end])
            start = end + 1
            if not self._synced:
                # The first frame may have begun before we listened: keep it only if it
                # checks out whole, and do not count a cut-off start as an error.
                self._synced = True
                try:
                    if self._buf and not self._overflow:
                        packets.append(decode_frame(bytes(self._buf)))
                        self.stats.frames += 1
                except FramingError:
                    self.stats.bytes_discarded += len(self._buf)
            elif self._overflow:
                self.stats.oversized_frames += 1
                self.stats.bad_frames += 1
                self.stats.last_error = f"frame over {MAX_ENCODED_FRAME_BYTES} bytes"
            elif self._buf:
                try:
                    packets.append(decode_frame(bytes(self._buf)))
                    self.stats.frames += 1
                except FramingError as exc:
                    self.stats.bad_frames += 1
                    self.stats.bytes_discarded += len(self._buf)
                    self.stats.last_error = str(exc)
            # Empty frames (two delimiters in a row) are idle fill, not errors.
            self._buf.clear()
            self._overflow = False

    def _append(self, chunk: bytes) -> None:
        if self._overflow:
            self.stats.bytes_discarded += len(chunk)
            return
        self._buf += chunk
        if len(self._buf) > MAX_ENCODED_FRAME_BYTES:
            self.stats.bytes_discarded += len(self._buf)
            self._buf.clear()
            self._overflow = True

    def resync(self) -> None:
        """Forget a frame in progress and wait for the next delimiter (a reopened port)."""
        self._buf.clear()
        self._overflow = False
        self._synced = False

    @property
    def pending_bytes(self) -> int:
        """Bytes received since the last delimiter (a frame in progress)."""
        return len(self._buf)
