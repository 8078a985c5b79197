"""The virtual band on a pseudo-terminal: a serial port any serial program can open.

``os.openpty`` gives a master/slave pair; the band owns the master and speaks
framed packets (docs/protocol.md section 2) on it, the host opens the slave's path
(``/dev/pts/N``) with pyserial exactly as it would open ``/dev/ttyUSB0``. A
``disconnect`` fault closes the master, which is what unplugging a USB adapter looks
like to the host: the port reports hang-up and reads fail.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import select
import threading
import tty

from firmware_bridge.framing import FrameDecoder, encode_frame
from firmware_bridge.virtual_band import OutPacket, VirtualBand

logger = logging.getLogger(__name__)

# Bytes the band keeps while nobody reads the port; a real UART would drop them.
MAX_PENDING_BYTES = 256 * 1024
_MAX_WAIT_S = 0.05


def corrupt_frame(frame: bytes) -> bytes:
    """Return ``frame`` with one byte in its middle changed (never to 0x00, the delimiter)."""
    damaged = bytearray(frame)
    i = max(0, (len(frame) - 1) // 2)
    value = damaged[i] ^ 0x5A
    damaged[i] = value if value else 0xA5
    return bytes(damaged)


class PtyBand:
    """Runs a :class:`VirtualBand` on a pseudo-terminal in a background thread."""

    def __init__(self, band: VirtualBand) -> None:
        self.band = band
        self._master, self._slave = os.openpty()
        # Raw mode: no echo, no CR/LF translation, no flow-control characters: the
        # line must carry every byte value untouched.
        tty.setraw(self._master)
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self.port = os.ttyname(self._slave)
        self._pending = bytearray()
        self._decoder = FrameDecoder(synchronised=True)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.dead = False
        self.bytes_sent = 0
        self.overflow_bytes = 0

    def start(self) -> PtyBand:
        """Start serving the port; returns self."""
        self._thread = threading.Thread(target=self._run, name="virtual-band-pty", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop the band thread and close the pseudo-terminal."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._close_fds()

    def __enter__(self) -> PtyBand:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _close_fds(self) -> None:
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._master = self._slave = -1

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                if self.band.faults.disconnect:
                    # Closing every master and slave fd we hold hangs up the host's side.
                    # The fault is used up: the same band may be served again later.
                    self.band.faults.disconnect = False
                    self.dead = True
                    self._close_fds()
                    return
                self._queue(self.band.due())
                wait_s = (self.band.next_due_host_us() - self.band.now_us()) / 1e6
                wait_s = min(max(wait_s, 0.0), _MAX_WAIT_S)
                writers = [self._master] if self._pending else []
                readable, writable, _ = select.select([self._master], writers, [], wait_s)
                if readable:
                    self._read_commands()
                if writable or self._pending:
                    self._flush()
        except Exception:
            logger.exception("virtual band thread failed")
            self.dead = True
            raise

    def _queue(self, packets: list[OutPacket]) -> None:
        for out in packets:
            frame = encode_frame(out.packet)
            self._pending += corrupt_frame(frame) if out.corrupt else frame
        if len(self._pending) > MAX_PENDING_BYTES:
            # Nobody is reading: keep the newest bytes, resynchronised at a delimiter.
            cut = self._pending.find(b"\x00", len(self._pending) - MAX_PENDING_BYTES) + 1
            self.overflow_bytes += cut
            del self._pending[:cut]

    def _flush(self) -> None:
        while self._pending:
            try:
                n = os.write(self._master, self._pending)
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno == errno.EIO:  # nobody has the slave open right now
                    return
                raise
            self.bytes_sent += n
            del self._pending[:n]

    def _read_commands(self) -> None:
        try:
            data = os.read(self._master, 4096)
        except BlockingIOError:
            return
        except OSError as exc:
            if exc.errno == errno.EIO:
                return
            raise
        for payload in self._decoder.feed(data):
            self._queue(self.band.handle(payload))
