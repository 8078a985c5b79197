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
from firmware_bridge.events import FramesDropped, LinkItem
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
# A capture holds a night of the sleeper's signals: only its owner may read it.
CAPTURE_FILE_MODE = 0o600


class CaptureError(ValueError):
    """A file is not a capture, or its first records are unreadable."""


class CaptureTruncatedWarning(UserWarning):
    """A capture ends in a partial or damaged record (the writer was killed mid-record)."""


class CaptureCorruptWarning(UserWarning):
    """Damaged bytes inside a capture were skipped; reading resumed at the next good record."""


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
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, CAPTURE_FILE_MODE)
            self._file: BinaryIO | None = os.fdopen(fd, "wb")
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


@dataclass(frozen=True)
class CaptureDamage:
    """Bytes of a capture that hold no readable record: skipped, counted, explained."""

    offset: int  # file offset of the first unreadable byte
    bytes_lost: int
    reason: str
    at_end: bool  # nothing readable follows (a writer killed mid-record, a cut file)


# A record's host time is checked against the last good one: a valid CRC at a wrong
# offset (a damaged length, a resynchronisation attempt inside a packet) would also
# need 8 bytes that read as a time within this window, which random bytes never do.
_HOST_BACK_US = 1_000_000
_HOST_AHEAD_US = 86_400_000_000
_READ_BYTES = 1 << 16


def _record_at(buf: bytearray, i: int, last_host: int | None) -> tuple[str, object]:
    """Parse the record at ``buf[i:]``: ('ok', (host, packet, size)), ('short', None)
    when more bytes are needed to decide, or ('bad', reason)."""
    if len(buf) - i < _HEAD.size:
        return "short", "a partial record header"
    host_us, length = _HEAD.unpack_from(buf, i)
    if not 0 < length <= MAX_PACKET_BYTES:
        return "bad", f"a record claiming {length} bytes"
    if last_host is not None and not (
        last_host - _HOST_BACK_US <= host_us <= last_host + _HOST_AHEAD_US
    ):
        return "bad", f"a record whose host time {host_us} us is far from its neighbours'"
    size = _HEAD.size + length + 2
    if len(buf) - i < size:
        return "short", (f"a record cut after {len(buf) - i} of {size} bytes")
    packet = bytes(buf[i + _HEAD.size : i + _HEAD.size + length])
    if struct.unpack_from("<H", buf, i + _HEAD.size + length)[0] != crc16(packet):
        return "bad", "a record whose CRC does not match"
    return "ok", (host_us, packet, size)


def scan_records(path: str | Path) -> Iterator[CaptureRecord | CaptureDamage]:
    """Yield a capture's records, and a :class:`CaptureDamage` for each unreadable stretch.

    After a damaged record the reader resynchronises on the next offset where a whole
    record with a matching CRC and a plausible host time begins, so one bad record
    costs that record, not the rest of the night. Reads in 64 kB pieces: a whole
    night never sits in memory.
    """
    path = Path(path)
    try:
        f = open(path, "rb")  # noqa: SIM115 (closed in the finally below, across yields)
    except OSError as exc:
        raise CaptureError(f"cannot read capture {path}: {exc.strerror}") from exc
    try:
        if f.read(len(MAGIC)) != MAGIC:
            raise CaptureError(f"{path} is not a crampwatch capture (no {MAGIC!r} header)")
        buf = bytearray()
        base = len(MAGIC)  # file offset of buf[0]
        i = 0
        eof = False
        last_host: int | None = None

        def more() -> bool:
            nonlocal eof
            if eof:
                return False
            chunk = f.read(_READ_BYTES)
            if not chunk:
                eof = True
                return False
            buf.extend(chunk)
            return True

        while True:
            if i > _READ_BYTES:
                del buf[:i]
                base += i
                i = 0
            if i == len(buf) and not more():
                return
            verdict, value = _record_at(buf, i, last_host)
            if verdict == "short" and more():
                continue
            if verdict == "ok":
                host_us, packet, size = value  # type: ignore[misc]
                yield CaptureRecord(host_us, packet)
                last_host = host_us
                i += size
                continue
            # Damaged (or cut): find the next offset where a good record starts.
            reason = str(value)
            start = base + i
            j = i + 1
            while True:
                if j > _READ_BYTES:
                    del buf[:j]
                    base += j
                    j = 0
                found, _ = _record_at(buf, j, last_host)
                if found == "ok":
                    break
                if found == "short" and more():
                    continue
                if found == "short" and len(buf) - j <= _HEAD.size and eof:
                    j = len(buf)
                    break
                j += 1
                if j >= len(buf) and not more():
                    j = len(buf)
                    break
            at_end = j >= len(buf) and eof
            yield CaptureDamage(start, base + j - start, reason, at_end)
            i = j
    finally:
        f.close()


def iter_records(path: str | Path) -> Iterator[CaptureRecord]:
    """Yield the records of a capture, skipping damaged stretches with a warning.

    A stretch in the middle warns ``CaptureCorruptWarning`` and reading resumes at the
    next good record; a damaged tail warns ``CaptureTruncatedWarning``.
    """
    for item in scan_records(path):
        if isinstance(item, CaptureRecord):
            yield item
        else:
            _warn_damage(Path(path), item)


def _warn_damage(path: Path, damage: CaptureDamage) -> None:
    if damage.at_end:
        warnings.warn(CaptureTruncatedWarning(
            f"{path}: {damage.reason} at byte {damage.offset}; {damage.bytes_lost} "
            "trailing bytes ignored, everything before kept"), stacklevel=3)
    else:
        warnings.warn(CaptureCorruptWarning(
            f"{path}: {damage.reason} at byte {damage.offset}; {damage.bytes_lost} bytes "
            f"skipped, reading resumed at the next good record (byte "
            f"{damage.offset + damage.bytes_lost})"), stacklevel=3)


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
        self.damage: list[CaptureDamage] = []

    def _first_descriptor(self) -> Descriptor:
        # Damage is reported once, by items(); these look-ahead passes skip it quietly.
        for rec in scan_records(self.path):
            if isinstance(rec, CaptureDamage):
                continue
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
        for i, rec in enumerate(scan_records(self.path)):
            if i > SPEED_PROBE_RECORDS:
                break
            if isinstance(rec, CaptureDamage) or rec.packet[:1] != b"\x02":
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
        """Yield blocks and events exactly as the live link yielded them.

        A damaged stretch of the file is skipped with a warning and becomes a
        ``FramesDropped`` event; the packets it held show up as gaps.
        """
        assembler: PacketAssembler | None = None
        self.bad_packets = 0
        self.damage = []
        for rec in scan_records(self.path):
            if isinstance(rec, CaptureDamage):
                self.damage.append(rec)
                _warn_damage(self.path, rec)
                yield FramesDropped(1, f"capture: {rec.bytes_lost} unreadable bytes at byte "
                                       f"{rec.offset} skipped ({rec.reason})")
                continue
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
        if assembler is not None:
            yield from assembler.finish()

    @property
    def bytes_lost(self) -> int:
        """Bytes of the file skipped as unreadable in the last pass of :meth:`items`."""
        return sum(d.bytes_lost for d in self.damage)

    def blocks(self) -> Iterator[SampleBlock]:
        """Yield the sample blocks only (gaps ride on them as ``lost_samples``)."""
        for item in self.items():
            if isinstance(item, SampleBlock):
                yield item


def read_capture(path: str | Path) -> Iterator[SampleBlock]:
    """Yield the sample blocks (uV, g) of a capture file, in order."""
    return CaptureReader(path).blocks()
