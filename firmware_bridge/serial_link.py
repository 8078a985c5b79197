"""The band over a serial port (USB CDC, UART, or a pty) on pyserial.

pyserial blocks, so one reader thread per port reads whatever has arrived,
stamps its arrival time, splits frames (``framing.FrameDecoder``) and hands the
packets to the event loop with ``call_soon_threadsafe``; commands are written
from a worker thread. A read that fails (USB unplugged, pty closed) ends the
stream with a ``Disconnected`` event and ``LinkLost``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable

import serial

from firmware_bridge.framing import FrameDecoder, encode_frame
from firmware_bridge.link import BandLink, BandLinkError, wall_clock_us

logger = logging.getLogger(__name__)

# 2 EMG x 2 kHz x 16 bit + ACC is ~9.5 kB/s framed; 460800 baud carries 46 kB/s (DESIGN.md).
DEFAULT_BAUD = 460_800
# How long one blocking read waits: bounds the shutdown delay, not the latency
# (a read returns as soon as bytes arrive).
READ_TIMEOUT_S = 0.05
WRITE_TIMEOUT_S = 1.0


class SerialPortError(BandLinkError):
    """The serial port cannot be opened or used."""


def open_port(url: str, baudrate: int) -> serial.SerialBase:
    """Return an open pyserial port for a path (``/dev/ttyACM0``, ``COM3``) or a URL."""
    try:
        port = serial.serial_for_url(
            url, baudrate=baudrate, timeout=READ_TIMEOUT_S, write_timeout=WRITE_TIMEOUT_S,
            do_not_open=True,
        )
        if isinstance(port, serial.Serial):
            port.exclusive = True  # a second reader would steal half the frames
        port.open()
    except (serial.SerialException, ValueError, OSError) as exc:
        raise SerialPortError(
            f"cannot open serial port {url!r}: {exc}. Check the path (ls /dev/ttyUSB* "
            "/dev/ttyACM*), that the band is plugged in, and that no other program has it open"
        ) from exc
    return port


class PortReader:
    """Reader thread of one open port: passes (chunk, arrival host time us) to ``on_data``."""

    def __init__(
        self,
        port: serial.SerialBase,
        on_data: Callable[[bytes, int], None],
        on_error: Callable[[str], None],
        host_clock_us: Callable[[], int] = wall_clock_us,
    ) -> None:
        self.port = port
        self._on_data = on_data
        self._on_error = on_error
        self._clock = host_clock_us
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"serial-{port.port}", daemon=True)

    def start(self) -> None:
        """Start the reader thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop reading and wait for the thread (it leaves within one read timeout)."""
        self._stop.set()
        with contextlib.suppress(
            AttributeError, NotImplementedError, serial.SerialException, OSError
        ):
            self.port.cancel_read()
        if threading.current_thread() is not self._thread and self._thread.is_alive():
            self._thread.join(timeout=2.0)

    def _run(self) -> None:
        port = self.port
        while not self._stop.is_set():
            try:
                data = port.read(max(1, port.in_waiting))
            except (serial.SerialException, OSError, TypeError) as exc:
                # TypeError: pyserial's posix read after a concurrent close() sees fd=None.
                if not self._stop.is_set():
                    self._on_error(f"serial port {port.port} stopped working: {exc}")
                return
            if data:
                self._on_data(data, self._clock())


class SerialLink(BandLink):
    """A band on a serial port; ``SerialLink("/dev/ttyACM0")`` then the BandLink lifecycle."""

    def __init__(self, port: str, baudrate: int = DEFAULT_BAUD, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.url = port
        self.baudrate = baudrate
        self.decoder = FrameDecoder()
        self._port: serial.SerialBase | None = None
        self._reader: PortReader | None = None
        self._write_lock = asyncio.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._bad_seen = 0  # bad frames already reported (reader thread only)

    async def _open(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._port = await asyncio.to_thread(open_port, self.url, self.baudrate)
        # Bytes that waited in the driver belong to whatever ran before us.
        self._port.reset_input_buffer()
        self._reader = PortReader(self._port, self._on_data, self._on_error, self.host_clock_us)
        self._reader.start()
        # One delimiter tells a band mid-frame where our first command starts.
        await self._write_raw(b"\x00")

    async def _close_transport(self) -> None:
        reader, port = self._reader, self._port
        self._reader = self._port = None
        if reader is not None:
            await asyncio.to_thread(reader.stop)
        if port is not None:
            await asyncio.to_thread(port.close)

    async def _write_packet(self, packet: bytes) -> None:
        await self._write_raw(encode_frame(packet))

    async def _write_raw(self, data: bytes) -> None:
        port = self._port
        if port is None:
            raise SerialPortError(f"serial port {self.url} is not open")
        async with self._write_lock:
            try:
                await asyncio.to_thread(port.write, data)
            except (serial.SerialException, OSError) as exc:
                raise SerialPortError(f"cannot write to serial port {self.url}: {exc}") from exc

    # --- reader thread -> event loop ------------------------------------------------------

    def _on_data(self, data: bytes, host_us: int) -> None:
        # Runs on the reader thread: the decoder and its counters belong to it.
        packets = self.decoder.feed(data)
        bad = self.decoder.stats.bad_frames - self._bad_seen
        self._bad_seen += bad
        if packets or bad:
            loop = self._loop
            if loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(self._deliver, packets, host_us, bad,
                                          self.decoder.stats.last_error)

    def _deliver(self, packets: list[bytes], host_us: int, bad: int, last_error: str) -> None:
        if bad:
            self._frames_dropped(bad, f"damaged serial frame(s) skipped: {last_error}")
        for payload in packets:
            self._packet_received(payload, host_us)

    def _on_error(self, reason: str) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._transport_lost, reason, False)
