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
import time
from collections.abc import Callable

import serial

from firmware_bridge.framing import FrameDecoder, encode_frame
from firmware_bridge.link import BandLink, BandLinkError, CommandRejected, wall_clock_us
from firmware_bridge.protocol import ErrorCode, ProtocolError, Start

logger = logging.getLogger(__name__)

# 2 EMG x 2 kHz x 16 bit + ACC is ~9.5 kB/s framed; 460800 baud carries 46 kB/s (DESIGN.md).
DEFAULT_BAUD = 460_800
# How long one blocking read waits: bounds the shutdown delay, not the latency
# (a read returns as soon as bytes arrive).
READ_TIMEOUT_S = 0.05
WRITE_TIMEOUT_S = 1.0
# Reopening a port that vanished (cable pulled, adapter re-enumerated): first try after
# 0.25 s, then doubling up to 8 s between tries, as the BLE link backs off.
RECONNECT_FIRST_S = 0.25
RECONNECT_MAX_S = 8.0


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
    """A band on a serial port; ``SerialLink("/dev/ttyACM0")`` then the BandLink lifecycle.

    With ``reconnect=True`` a port that fails is reopened at the same path (give a
    stable one such as ``/dev/serial/by-id/...``) with backoff: the stream shows
    ``Disconnected(will_reconnect=True)``, then ``Reconnected`` and the samples lost
    meanwhile as gaps; a band that was streaming is told to START again if it stopped.
    ``max_reconnect_attempts`` (None = until closed) bounds the tries.
    """

    def __init__(
        self,
        port: str,
        baudrate: int = DEFAULT_BAUD,
        *,
        reconnect: bool = False,
        max_reconnect_attempts: int | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.url = port
        self.baudrate = baudrate
        self.reconnect = reconnect
        self.max_reconnect_attempts = max_reconnect_attempts
        self.decoder = FrameDecoder()
        self._port: serial.SerialBase | None = None
        self._reader: PortReader | None = None
        self._write_lock = asyncio.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._bad_seen = 0  # bad frames already reported (reader thread only)
        self._reconnect_task: asyncio.Task[None] | None = None

    async def _open(self) -> None:
        self._loop = asyncio.get_running_loop()
        port = await asyncio.to_thread(open_port, self.url, self.baudrate)
        # Bytes that waited in the driver belong to whatever ran before us.
        port.reset_input_buffer()
        self.decoder.resync()
        self._port = port
        self._reader = PortReader(port, self._on_data, self._on_error, self.host_clock_us)
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
            loop.call_soon_threadsafe(self._port_failed, reason)

    # --- reconnection ---------------------------------------------------------------------

    def _port_failed(self, reason: str) -> None:
        if self._closed or self._ended or self._reconnect_task is not None:
            return
        if not self.reconnect:
            self._transport_lost(reason, will_reconnect=False)
            return
        self._transport_lost(reason, will_reconnect=True)
        self._reconnect_task = asyncio.get_running_loop().create_task(self._reconnect(reason))

    async def _reconnect(self, reason: str) -> None:
        lost_at = time.monotonic()
        delay = RECONNECT_FIRST_S
        attempts = 0
        try:
            await self._close_transport()
            while not self._closed:
                await asyncio.sleep(delay)
                attempts += 1
                try:
                    await self._open()
                    await self._resume()
                except (BandLinkError, ProtocolError) as exc:
                    await self._close_transport()
                    limit = self.max_reconnect_attempts
                    if limit is not None and attempts >= limit:
                        self._transport_lost(
                            f"{reason}; gave up after {attempts} attempts to reopen "
                            f"{self.url}: {exc}", will_reconnect=False)
                        return
                    delay = min(2 * delay, RECONNECT_MAX_S)
                    continue
                self._transport_restored(attempts, time.monotonic() - lost_at)
                return
        finally:
            self._reconnect_task = None

    async def _resume(self) -> None:
        """Re-read the descriptor on a reopened port and make sure the band streams."""
        await self._load_descriptor()
        if self._streaming:
            # BUSY: it kept streaming (on battery) and sequence numbers show the loss.
            # OK: it had stopped or rebooted, and its new stream starts after a gap.
            ack = await self.send_command(Start(), check=False)
            if not ack.ok and ack.error != ErrorCode.BUSY:
                raise CommandRejected(ack)

    async def close(self) -> None:
        """Stop reconnecting, then close as every link does."""
        task = self._reconnect_task
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await super().close()
