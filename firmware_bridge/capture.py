"""Raw capture files (docs/protocol.md section 5): every received packet, crash-safe.

:class:`CaptureWriter` appends one record per packet and hands it to the operating
system at once (``flush``), so killing the process loses nothing already received;
a background thread ``fsync``s every ``fsync_interval_s`` (1 s), so a power cut or
kernel crash loses at most the last second. :class:`CaptureReader` replays the records
through the same decoder and assembler as the live link, with the arrival times
recorded, so a capture yields bit-exactly the blocks the live session saw.
"""

from __future__ import annotations

import os
import struct
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from firmware_bridge.assembler import AssemblerStats, PacketAssembler
from firmware_bridge.clock import ClockParams
from firmware_bridge.events import LinkItem
from firmware_bridge.framing import crc16
from firmware_bridge.protocol import (
    MAX_PACKET_BYTES,
    DataPacket,
    Descriptor,
    ProtocolError,
    decode_packet,
)
from sensor.records import SampleBlock

MAGIC = b"CWCAP1\n\x00"
_HEAD = struct.Struct("<QH")
# Host time and records read at most to tell a sped-up virtual band's capture from a
# real band's: 10 s of arrivals pin the speed to well under 0.1 %.
SPEED_PROBE_S = 10.0
SPEED_PROBE_RECORDS = 20_000
# Power-loss exposure: at most this much of the newest data is not yet on disk.
DEFAULT_FSYNC_INTERVAL_S = 1.0


class CaptureError(ValueError):
    """A file is not a capture, or its first records are unreadable."""


class CaptureTruncatedWarning(UserWarning):
    """A capture ends in a partial or damaged record (the writer was killed mid-record)."""


@dataclass(frozen=True)
class CaptureRecord:
    """One received packet and the host clock (us since the epoch) at its arrival."""

    host_us: int
    packet: bytes


class CaptureWriter:
    """Append-only capture file; ``append`` each received packet, ``close`` at the end.

    ``append`` hands each record to the OS at once and never waits for the disk: a
    background thread ``fsync``s every ``fsync_interval_s`` while there is new data,
    so a slow disk cannot delay the live stream.
    """

    def __init__(self, path: str | Path, fsync_interval_s: float = DEFAULT_FSYNC_INTERVAL_S):
        self.path = Path(path)
        self.fsync_interval_s = fsync_interval_s
        try:
            # Never append to an old capture: a second session would corrupt its replay.
            self._file: BinaryIO | None = open(self.path, "xb")  # noqa: SIM115
        except FileExistsError:
            raise CaptureError(
                f"{self.path} already exists: captures are never overwritten, choose a new name"
            ) from None
        except OSError as exc:
            raise CaptureError(f"cannot create capture {self.path}: {exc.strerror}") from exc
        self._file.write(MAGIC)
        self._file.flush()
        os.fsync(self._file.fileno())
        self._fd = self._file.fileno()
        self._dirty = threading.Event()
        self._closing = threading.Event()
        self._sync_error: OSError | None = None
        self._syncer = threading.Thread(target=self._sync_loop, name="capture-fsync", daemon=True)
        self._syncer.start()
        self.records = 0

    def append(self, packet: bytes, host_us: int) -> None:
        """Append one packet received at ``host_us``; it survives a kill -9 on return."""
        if self._file is None:
            raise CaptureError(f"capture {self.path} is closed")
        if self._sync_error is not None:
            raise CaptureError(f"capture {self.path} cannot reach the disk: {self._sync_error}")
        if not 0 < len(packet) <= MAX_PACKET_BYTES:
            raise CaptureError(f"a packet of {len(packet)} bytes cannot be captured")
        crc = crc16(packet)
        try:
            self._file.write(_HEAD.pack(host_us, len(packet)) + packet + struct.pack("<H", crc))
            self._file.flush()
        except OSError as exc:
            raise CaptureError(f"cannot write capture {self.path}: {exc.strerror}") from exc
        self.records += 1
        self._dirty.set()

    def _sync_loop(self) -> None:
        while not self._closing.wait(self.fsync_interval_s):
            if self._dirty.is_set():
                self._dirty.clear()
                try:
                    os.fsync(self._fd)
                except OSError as exc:  # reported by the next append
                    self._sync_error = exc
                    return

    def flush(self, sync: bool = True) -> None:
        """Push buffered records to the OS and, with ``sync``, to the disk (blocking)."""
        if self._file is None:
            return
        self._file.flush()
        if sync:
            os.fsync(self._fd)

    def close(self) -> None:
        """Write everything to disk and close the file."""
        if self._file is not None:
            self._closing.set()
            self._syncer.join()
            self.flush(sync=True)
            self._file.close()
            self._file = None

    def __enter__(self) -> CaptureWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def iter_records(path: str | Path) -> Iterator[CaptureRecord]:
    """Yield the records of a capture; warn (CaptureTruncatedWarning) at a damaged tail.

    Reads record by record, so a whole night never sits in memory.
    """
    path = Path(path)
    try:
        f = open(path, "rb")  # noqa: SIM115 (closed in the finally below, across yields)
    except OSError as exc:
        raise CaptureError(f"cannot read capture {path}: {exc.strerror}") from exc
    try:
        if f.read(len(MAGIC)) != MAGIC:
            raise CaptureError(f"{path} is not a crampwatch capture (no {MAGIC!r} header)")
        pos = len(MAGIC)
        n = 0
        while True:
            head = f.read(_HEAD.size)
            if not head:
                return
            problem = None
            if len(head) < _HEAD.size:
                problem = "a partial record header"
            else:
                host_us, length = _HEAD.unpack(head)
                if not 0 < length <= MAX_PACKET_BYTES:
                    problem = f"a record claiming {length} bytes"
                else:
                    body = f.read(length + 2)
                    if len(body) < length + 2:
                        problem = (f"a record cut after {_HEAD.size + len(body)} of "
                                   f"{_HEAD.size + length + 2} bytes")
                    else:
                        packet = body[:length]
                        if struct.unpack_from("<H", body, length)[0] != crc16(packet):
                            problem = "a record whose CRC does not match"
            if problem is not None:
                size = path.stat().st_size
                warnings.warn(
                    CaptureTruncatedWarning(
                        f"{path}: {problem} at byte {pos} after {n} good records; "
                        f"{size - pos} trailing bytes ignored, everything before kept"
                    ),
                    stacklevel=2,
                )
                return
            yield CaptureRecord(host_us, packet)
            n += 1
            pos += _HEAD.size + length + 2
    finally:
        f.close()


class CaptureReader:
    """Replays a capture through the live decoder: ``descriptor``, then ``items()``."""

    def __init__(self, path: str | Path, clock: ClockParams | None = None) -> None:
        self.path = Path(path)
        self.descriptor = self._first_descriptor()
        if clock is None:
            clock = ClockParams(device_speed=self._detect_device_speed())
        self.clock_params = clock
        self.stats: AssemblerStats | None = None
        self.bad_packets = 0

    def _first_descriptor(self) -> Descriptor:
        for rec in iter_records(self.path):
            try:
                packet = decode_packet(rec.packet)
            except ProtocolError:
                continue
            if isinstance(packet, Descriptor):
                return packet
        raise CaptureError(f"{self.path} holds no band descriptor: it cannot be decoded")

    def _detect_device_speed(self) -> float:
        """Return how many device seconds passed per host second while capturing.

        1.0 for a real band (crystal drift is tracked, not guessed here). A virtual band
        played N x faster than real time runs its clock N x fast; the live link was told
        so, and the replay must be too, or session time would be off by the clamp.
        """
        first: tuple[int, int] | None = None
        last: tuple[int, int] | None = None
        for i, rec in enumerate(iter_records(self.path)):
            if i > SPEED_PROBE_RECORDS:
                break
            if rec.packet[:1] != b"\x02":
                continue
            try:
                packet = decode_packet(rec.packet)
            except ProtocolError:
                continue
            if isinstance(packet, DataPacket) and packet.n_emg:
                if first is None or packet.t_us < first[0]:  # a restart: start over
                    first = (packet.t_us, rec.host_us)
                last = (packet.t_us, rec.host_us)
                if last[1] - first[1] > SPEED_PROBE_S * 1e6:
                    break
        if first is None or last is None or last[1] - first[1] < 1_000_000:
            return 1.0
        ratio = (last[0] - first[0]) / (last[1] - first[1])
        if abs(ratio - 1.0) < 0.1:
            return 1.0
        # Speeds are round numbers people type (2, 2.5, 10): take the shortest that fits.
        for digits in (1, 2, 3):
            speed = float(f"{ratio:.{digits}g}")
            if abs(speed / ratio - 1.0) < 0.005:
                return speed
        return float(f"{ratio:.3g}")

    def items(self) -> Iterator[LinkItem]:
        """Yield blocks and events exactly as the live link yielded them."""
        assembler: PacketAssembler | None = None
        self.bad_packets = 0
        for rec in iter_records(self.path):
            try:
                packet = decode_packet(rec.packet)
            except ProtocolError:
                self.bad_packets += 1
                continue
            if assembler is None:
                if isinstance(packet, Descriptor):
                    assembler = PacketAssembler(packet, self.clock_params)
                    self.stats = assembler.stats
                continue
            yield from assembler.feed(packet, rec.host_us)

    def blocks(self) -> Iterator[SampleBlock]:
        """Yield the sample blocks only (gaps ride on them as ``lost_samples``)."""
        for item in self.items():
            if isinstance(item, SampleBlock):
                yield item


def read_capture(path: str | Path) -> Iterator[SampleBlock]:
    """Yield the sample blocks (uV, g) of a capture file, in order."""
    return CaptureReader(path).blocks()
