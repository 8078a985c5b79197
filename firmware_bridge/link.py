"""The live-link shape every band transport shares (serial, BLE), BrainFlow-style.

Lifecycle: ``connect()`` (open the transport, read the descriptor) -> ``start()`` ->
iterate items -> ``stop()`` -> ``close()``. ``send_command`` writes one command and
waits for its ACK. Items (:data:`firmware_bridge.events.LinkItem`) come through an
``asyncio.Queue`` ended by a sentinel, as in bleak's examples; the iterator raises
:class:`LinkLost` after a ``Disconnected`` event when the link gives up.

A transport subclass supplies four things: ``_open``, ``_close_transport``,
``_write_packet`` and, optionally, ``_read_descriptor_bytes``; it hands every
received packet to ``_packet_received`` (on the event loop's thread) and reports
``_transport_lost`` / ``_transport_restored``. The codec, the assembler and the
capture file are shared, so every transport decodes the same bytes the same way.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from firmware_bridge.assembler import PacketAssembler
from firmware_bridge.capture import CaptureError, CaptureWriter
from firmware_bridge.clock import ClockParams
from firmware_bridge.events import (
    CaptureStopped,
    Disconnected,
    FramesDropped,
    LinkItem,
    Reconnected,
)
from firmware_bridge.protocol import (
    Ack,
    Buzz,
    Command,
    DataPacket,
    Descriptor,
    GetDescriptor,
    GetStatus,
    ProtocolError,
    SetRate,
    Start,
    StatusPacket,
    Stop,
    TimeSync,
    decode_packet,
)
from sensor.records import SignalGroup

logger = logging.getLogger(__name__)

# Items buffered for a slow consumer before the link gives up: ~2 minutes of the
# reference stream (36 packets/s, 2 items each). A consumer that falls this far
# behind would only fall further; stopping loudly beats dropping samples quietly.
DEFAULT_MAX_QUEUED_ITEMS = 10_000


class BandLinkError(Exception):
    """A link failed in a way the caller must hear about."""


class LinkLost(BandLinkError):
    """The transport went away and the link will not come back by itself."""


class LinkOverrun(BandLinkError):
    """The consumer fell too far behind: the link stopped instead of dropping samples."""


class CommandTimeout(BandLinkError, TimeoutError):
    """The band did not acknowledge a command in time."""


class CommandRejected(BandLinkError):
    """The band acknowledged a command with an error code."""

    def __init__(self, ack: Ack) -> None:
        super().__init__(f"band rejected {ack.command_name}: {ack.error_name}")
        self.ack = ack


@dataclass(frozen=True)
class TimeSyncResult:
    """One TIME_SYNC exchange: device clock minus host clock (us) and the round trip (us)."""

    offset_us: float
    round_trip_us: int


@dataclass
class LinkStats:
    """Transport-level counters; the assembler's sit in ``BandLink.assembler.stats``."""

    packets_in: int = 0
    bad_packets: int = 0
    packets_before_descriptor: int = 0
    late_acks: int = 0


def wall_clock_us() -> int:
    """Return the host clock in microseconds since the Unix epoch."""
    return time.time_ns() // 1000


_END = object()


class LinkItems:
    """What a link hands its consumer: blocks and events in order, ended once.

    ``max_items`` bounds the queue: a consumer that falls that far behind ends the
    stream with LinkOverrun rather than losing samples silently (None: no bound).
    Iterating after the end raises the failure that ended it, if any.
    """

    def __init__(self, max_items: int | None = None) -> None:
        self.max_items = max_items
        self.ended = False
        self.failure: BandLinkError | None = None
        self._queue: asyncio.Queue[object] = asyncio.Queue()

    def put(self, item: object) -> None:
        if self.ended:
            return
        if self.max_items is not None and self._queue.qsize() >= self.max_items:
            self.end(
                LinkOverrun(
                    f"{self.max_items} items waited for the consumer: it is too slow "
                    "for the band's stream (the link stopped instead of dropping samples)"
                )
            )
            return
        self._queue.put_nowait(item)

    def end(self, failure: BandLinkError | None = None) -> None:
        if self.ended:
            return
        self.ended = True
        self.failure = failure
        self._queue.put_nowait(_END)

    async def __aiter__(self) -> AsyncIterator[LinkItem]:
        while True:
            item = await self._queue.get()
            if item is _END:
                self._queue.put_nowait(_END)  # later iterators end too
                if self.failure is not None:
                    raise self.failure
                return
            yield item  # type: ignore[misc]


class BandLink(abc.ABC):
    """A connection to one band; subclasses provide the transport."""

    command_timeout_s: float = 1.0
    descriptor_timeout_s: float = 2.0

    def __init__(
        self,
        *,
        clock: ClockParams | None = None,
        capture: CaptureWriter | None = None,
        max_queued_items: int = DEFAULT_MAX_QUEUED_ITEMS,
        host_clock_us: Callable[[], int] = wall_clock_us,
    ) -> None:
        self.clock_params = clock or ClockParams()
        self.capture = capture
        self.max_queued_items = max_queued_items
        self.host_clock_us = host_clock_us
        self.stats = LinkStats()
        self.descriptor: Descriptor | None = None
        self.assembler: PacketAssembler | None = None
        self.last_status: StatusPacket | None = None
        self._items: LinkItems | None = None
        self._acks: dict[int, asyncio.Future[Ack]] = {}
        self._descriptor_waiter: asyncio.Future[Descriptor] | None = None
        self._token = 0
        self._streaming = False
        self._closed = False

    @property
    def _ended(self) -> bool:
        return self._items is not None and self._items.ended

    @property
    def _failure(self) -> BandLinkError | None:
        return None if self._items is None else self._items.failure

    # --- transport hooks ----------------------------------------------------------------

    @abc.abstractmethod
    async def _open(self) -> None:
        """Open the transport; received packets start flowing to ``_packet_received``."""

    @abc.abstractmethod
    async def _close_transport(self) -> None:
        """Close the transport; no ``_packet_received`` call may follow."""

    @abc.abstractmethod
    async def _write_packet(self, packet: bytes) -> None:
        """Send one packet to the band (the transport frames it as it must)."""

    async def _read_descriptor_bytes(self) -> bytes | None:
        """Return the descriptor packet read directly (BLE read), or None to ask for it."""
        return None

    # --- lifecycle ------------------------------------------------------------------------

    @property
    def streaming(self) -> bool:
        """True between an acknowledged START and STOP (or the link's end)."""
        return self._streaming

    async def connect(self) -> Descriptor:
        """Open the transport and return the band's descriptor."""
        if self._closed:
            raise BandLinkError("this link was closed: create a new one to reconnect")
        self._items = LinkItems(self.max_queued_items)
        await self._open()
        try:
            return await self._load_descriptor()
        except BaseException:
            await self._close_transport()
            raise

    async def _load_descriptor(self) -> Descriptor:
        loop = asyncio.get_running_loop()
        self._descriptor_waiter = loop.create_future()
        raw = await self._read_descriptor_bytes()
        if raw is not None:
            self._packet_received(raw)
        else:
            await self.send_command(GetDescriptor())
        try:
            return await asyncio.wait_for(self._descriptor_waiter, self.descriptor_timeout_s)
        except TimeoutError:
            raise CommandTimeout(
                f"band sent no descriptor within {self.descriptor_timeout_s:g} s: is it a "
                "crampwatch band (docs/protocol.md) and is the baud rate right?"
            ) from None
        finally:
            self._descriptor_waiter = None

    async def start(self) -> int:
        """Start streaming; return the device time (us) of the stream's first sample."""
        self._require_descriptor()
        ack = await self.send_command(Start())
        self._streaming = True
        return ack.result_u64()

    async def stop(self) -> None:
        """Stop streaming (the band stays connected)."""
        await self.send_command(Stop())
        self._streaming = False

    async def close(self) -> None:
        """Stop streaming if possible, close the transport, end the item stream."""
        if self._closed:
            return
        self._closed = True
        if self._streaming and self._failure is None:
            try:
                await self.send_command(Stop(), timeout_s=0.5)
            except (BandLinkError, OSError) as exc:
                logger.info("band did not take STOP while closing: %s", exc)
        self._streaming = False
        try:
            await self._close_transport()
        finally:
            for fut in self._acks.values():
                if not fut.done():
                    fut.set_exception(LinkLost("link closed while waiting for an ACK"))
            self._acks.clear()
            if self.capture is not None:
                self.capture.close()
            self._end()

    async def __aenter__(self) -> BandLink:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- commands ---------------------------------------------------------------------------

    async def send_command(
        self, command: Command, timeout_s: float | None = None, check: bool = True
    ) -> Ack:
        """Return the band's ACK to ``command``; CommandRejected on an error code if ``check``."""
        if self._failure is not None:
            raise self._failure
        if self._items is None:
            raise BandLinkError("connect() the link before sending commands")
        loop = asyncio.get_running_loop()
        self._token = (self._token + 1) % 256
        cmd = command.with_token(self._token)
        fut: asyncio.Future[Ack] = loop.create_future()
        self._acks[cmd.token] = fut
        timeout = self.command_timeout_s if timeout_s is None else timeout_s
        try:
            await self._write_packet(cmd.encode())
            ack = await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            raise CommandTimeout(
                f"band did not acknowledge {type(command).__name__} within {timeout:g} s"
            ) from None
        finally:
            self._acks.pop(cmd.token, None)
        if check and not ack.ok:
            raise CommandRejected(ack)
        return ack

    async def buzz(self, pulses: int, on_ms: int, off_ms: int, intensity_pct: int) -> None:
        """Vibrate the band: ``pulses`` x ``on_ms`` on / ``off_ms`` off; 0 pulses stops."""
        await self.send_command(Buzz(0, pulses, on_ms, off_ms, intensity_pct))

    async def set_rate(self, group: SignalGroup, rate_hz: float) -> Descriptor:
        """Select a sample rate (Hz) while stopped; return the band's new descriptor."""
        loop = asyncio.get_running_loop()
        self._descriptor_waiter = loop.create_future()
        try:
            await self.send_command(SetRate(0, SignalGroup(group), round(rate_hz * 1000)))
            return await asyncio.wait_for(self._descriptor_waiter, self.descriptor_timeout_s)
        finally:
            self._descriptor_waiter = None

    async def time_sync(self) -> TimeSyncResult:
        """Return the device-minus-host clock offset (us) from one TIME_SYNC round trip."""
        sent = self.host_clock_us()
        ack = await self.send_command(TimeSync(0, sent))
        received = self.host_clock_us()
        device = ack.result_u64()
        return TimeSyncResult(device - (sent + received) / 2, received - sent)

    async def request_status(self) -> None:
        """Ask the band for a STATUS packet (it arrives as a ``BandStatus`` item)."""
        await self.send_command(GetStatus())

    # --- items ------------------------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[LinkItem]:
        return self.items()

    async def items(self) -> AsyncIterator[LinkItem]:
        """Yield blocks and events until the link closes; raise LinkLost if it died."""
        if self._items is None:
            raise BandLinkError("connect() the link before reading from it")
        async for item in self._items:
            yield item

    # --- called by the transport (on the event loop) -------------------------------------------

    def _packet_received(self, payload: bytes, host_us: int | None = None) -> None:
        """Decode one received packet and route it: ACK, descriptor, status or data."""
        if self._ended:
            return
        host_us = self.host_clock_us() if host_us is None else host_us
        self.stats.packets_in += 1
        try:
            packet = decode_packet(payload)
        except ProtocolError as exc:
            self.stats.bad_packets += 1
            self._emit(FramesDropped(1, str(exc)))
            return
        if isinstance(packet, Command):
            self.stats.bad_packets += 1
            self._emit(FramesDropped(1, f"band sent a host command ({type(packet).__name__})"))
            return
        if self.capture is not None:
            self._capture(payload, host_us)
        if isinstance(packet, StatusPacket):
            self.last_status = packet
        if isinstance(packet, Descriptor):
            self._descriptor_arrived(packet, host_us)
        elif self.assembler is not None:
            for item in self.assembler.feed(packet, host_us):
                self._emit(item)
        elif isinstance(packet, DataPacket):
            self.stats.packets_before_descriptor += 1
        if isinstance(packet, Ack):
            fut = self._acks.get(packet.token)
            if fut is not None and not fut.done():
                fut.set_result(packet)
            else:
                self.stats.late_acks += 1

    def _capture(self, payload: bytes, host_us: int) -> None:
        # A sleeper's detection matters more than the research copy: when the disk
        # fails, stop capturing, say so in the stream, and keep the live data flowing.
        capture = self.capture
        assert capture is not None
        try:
            capture.append(payload, host_us)
        except CaptureError as exc:
            self.capture = None
            with contextlib.suppress(CaptureError, OSError):
                capture.close()
            logger.error("raw capture stopped: %s", exc)
            self._emit(CaptureStopped(str(capture.path), str(exc)))

    def _descriptor_arrived(self, descriptor: Descriptor, host_us: int) -> None:
        self.descriptor = descriptor
        if self.assembler is None:
            self.assembler = PacketAssembler(descriptor, self.clock_params)
        else:
            for item in self.assembler.feed(descriptor, host_us):
                self._emit(item)
        if self._descriptor_waiter is not None and not self._descriptor_waiter.done():
            self._descriptor_waiter.set_result(descriptor)

    def _frames_dropped(self, count: int, reason: str) -> None:
        """Report damaged frames the transport skipped (serial CRC/COBS failures)."""
        if count:
            self._emit(FramesDropped(count, reason))

    def _transport_lost(self, reason: str, will_reconnect: bool) -> None:
        """The transport died; without reconnection the item stream ends with LinkLost."""
        if self._ended:
            return
        self._emit(Disconnected(reason, will_reconnect))
        if not will_reconnect:
            self._streaming = False
            for fut in self._acks.values():
                if not fut.done():
                    fut.set_exception(LinkLost(reason))
            if self.capture is not None:
                self.capture.flush(sync=True)
            self._end(LinkLost(reason))

    def _transport_restored(self, attempts: int, down_s: float) -> None:
        self._emit(Reconnected(attempts, down_s))

    def _emit(self, item: object) -> None:
        if self._items is not None:
            self._items.put(item)

    def _end(self, failure: BandLinkError | None = None) -> None:
        if self._items is not None:
            try:
                if self.assembler is not None and not self._items.ended:
                    # A packet held back for checking is decided now, not lost silently.
                    for item in self.assembler.finish():
                        self._items.put(item)
            finally:
                self._items.end(failure)

    def _require_descriptor(self) -> Descriptor:
        if self.descriptor is None:
            raise BandLinkError("connect() the link first: the band's descriptor is unknown")
        return self.descriptor
