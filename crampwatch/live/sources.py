"""Where a live session's samples come from: one shape for every source.

A :class:`LiveSource` connects (and reconnects) and yields link items: ``SampleBlock``s
plus the firmware bridge's events (status, gaps, disconnects). Bands (serial, BLE, the
virtual band on a pseudo-terminal) go through the real :class:`~firmware_bridge.link.
BandLink` and can buzz; recordings (EDF, raw capture) are played at a pace and cannot.
"""

from __future__ import annotations

import abc
import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime
from pathlib import Path

from crampwatch.errors import UserError
from crampwatch.frames import recording_start
from crampwatch.prompt.channels.band import BuzzPattern
from firmware_bridge.capture import CaptureWriter
from firmware_bridge.clock import ClockParams
from firmware_bridge.events import LinkItem
from firmware_bridge.link import BandLink, BandLinkError, CommandRejected
from sensor.records import SampleBlock

# A recording's start outside these years is not a real date: the event store keeps
# nights of the years 2000-2999.
MIN_RECORDING_YEAR = 2000
MAX_RECORDING_YEAR = 2999


class LiveSource(abc.ABC):
    """A source of link items for one session."""

    description: str = "source"
    can_buzz: bool = False
    reconnects: bool = False  # after a loss, try connect() again
    pace: float = 1.0  # session seconds per wall second
    # Wall time of the stream's second 0 when the source knows it (a recording's header
    # start); None for a band, whose night starts when the run does.
    recorded_start: datetime | None = None

    @abc.abstractmethod
    async def connect(self, capture_path: Path | None) -> AsyncIterator[LinkItem]:
        """Open the source and return its item stream (raises on failure)."""

    async def buzz(self, pattern: BuzzPattern) -> None:
        """Vibrate the band (only sources with ``can_buzz``)."""
        raise NotImplementedError(f"{self.description} cannot buzz")

    async def disconnect(self) -> None:  # noqa: B027 - recordings hold nothing open
        """Close the current connection (the stream ends)."""


class LinkSource(LiveSource):
    """A band reached through a BandLink made fresh for every (re)connection."""

    can_buzz = True
    reconnects = True

    def __init__(self, make_link: Callable[[CaptureWriter | None], BandLink], description: str):
        self._make_link = make_link
        self.description = description
        self.link: BandLink | None = None

    async def connect(self, capture_path: Path | None) -> AsyncIterator[LinkItem]:
        capture = CaptureWriter(capture_path) if capture_path is not None else None
        link = self._make_link(capture)
        try:
            await link.connect()
            try:
                await link.start()
            except CommandRejected:
                # Still streaming to a host that went away (our last connection): stop
                # that stream and start a fresh one.
                await link.stop()
                await link.start()
        except BaseException:
            await link.close()
            raise
        self.link = link
        return link.items()

    async def buzz(self, pattern: BuzzPattern) -> None:
        link = self.link
        if link is None:
            raise ConnectionError("the band is not connected")
        try:
            await link.buzz(pattern.pulses, pattern.on_ms, pattern.off_ms, pattern.intensity_pct)
        except BandLinkError as exc:
            raise ConnectionError(f"{type(exc).__name__}: {exc}") from exc

    async def disconnect(self) -> None:
        link, self.link = self.link, None
        if link is not None:
            await link.close()


def serial_source(port: str, baudrate: int | None = None) -> LinkSource:
    """Return a source for a band on a serial port (path or pyserial URL)."""
    from firmware_bridge.serial_link import DEFAULT_BAUD, SerialLink

    baud = baudrate or DEFAULT_BAUD
    return LinkSource(lambda cap: SerialLink(port, baud, capture=cap), f"serial band on {port}")


def ble_source(address_or_name: str) -> LinkSource:
    """Return a source for a band over BLE, by address (AA:BB:...) or advertised name."""
    from firmware_bridge.ble.connection import BandSelector
    from firmware_bridge.ble.link import BleLink

    is_address = re.fullmatch(r"([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}", address_or_name) is not None
    selector = (
        BandSelector(address=address_or_name) if is_address else BandSelector(name=address_or_name)
    )
    return LinkSource(lambda cap: BleLink(selector, capture=cap), f"BLE band {address_or_name}")


class VirtualBandSource(LinkSource):
    """The virtual band on a pseudo-terminal, reached through the real serial link.

    A disconnect fault kills the pty like an unplugged USB adapter; reconnecting
    plugs the same band (same signal, carrying on) into a new pty.
    """

    def __init__(self, blocks: Iterator[SampleBlock], speed: float = 1.0) -> None:
        from firmware_bridge.pty_band import PtyBand
        from firmware_bridge.serial_link import SerialLink
        from firmware_bridge.virtual_band import BlockSource, VirtualBand

        self.band = VirtualBand(BlockSource(blocks), speed=speed)
        self.pace = speed
        self._pty_cls = PtyBand
        self.pty: PtyBand | None = None
        self.plugs = 0

        def make(cap: CaptureWriter | None) -> BandLink:
            if self.pty is None or self.pty.dead:
                if self.pty is not None:
                    self.pty.close()
                self.band.faults.disconnect = False
                self.pty = self._pty_cls(self.band).start()
                self.plugs += 1
            # The band's clock runs ``speed`` x fast: session time stays in signal seconds.
            return SerialLink(self.pty.port, capture=cap, clock=ClockParams(device_speed=speed))

        super().__init__(make, f"virtual band (pty, {speed:g}x)")

    @property
    def finished(self) -> bool:
        """True once the band has played its whole signal."""
        return self.band.exhausted

    async def disconnect(self) -> None:
        await super().disconnect()

    def close(self) -> None:
        """Stop the band's thread and free the pseudo-terminal."""
        if self.pty is not None:
            self.pty.close()


class PacedBlocks(LiveSource):
    """Blocks from a recording, released at ``pace`` x real time as a band would send them.

    The recording may also yield link events (a capture's gaps, restarts, quarantined
    packets): they pass at once, in order, for the session to count.
    """

    def __init__(self, open_blocks: Callable[[], Iterator[LinkItem]], description: str,
                 pace: float = 1.0, recorded_start: datetime | None = None) -> None:
        if not pace > 0:
            raise ValueError(f"pace must be > 0, got {pace}")
        self.recorded_start = recorded_start
        self._open = open_blocks
        self.description = description
        self.pace = pace

    async def connect(self, capture_path: Path | None) -> AsyncIterator[LinkItem]:
        blocks = self._open()
        return self._paced(blocks)

    async def _paced(self, items: Iterator[LinkItem]) -> AsyncIterator[LinkItem]:
        start = time.monotonic()
        for item in items:
            if isinstance(item, SampleBlock):
                due = start + item.t_end_s / self.pace
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            else:
                await asyncio.sleep(0)  # a long run of events still lets the loop breathe
            yield item


def edf_source(path: str, pace: float = 1.0, chunk_s: float = 0.1) -> PacedBlocks:
    """Return a source playing an EDF/EDF+ recording at ``pace``."""
    from crampwatch.recordings import EdfRecording

    def open_blocks() -> Iterator[SampleBlock]:
        with EdfRecording(path) as rec:
            yield from rec.blocks(chunk_s)

    if not Path(path).is_file():
        raise UserError(f"no recording at {path}")
    start = recording_start(path)
    if start is not None and not MIN_RECORDING_YEAR <= start.year <= MAX_RECORDING_YEAR:
        start = None  # a placeholder (anonymised files say 01.01.85): the night starts now
    # The header's start is the recording site's local time; read as this hub's.
    return PacedBlocks(open_blocks, f"recording {path} at {pace:g}x", pace,
                       None if start is None else start.astimezone())


def capture_source(path: str, pace: float = 1.0) -> PacedBlocks:
    """Return a source replaying a raw capture at ``pace``: blocks as the band sent them,
    and the link's events (gaps, restarts, new descriptors, quarantined packets)."""
    from firmware_bridge.capture import CaptureReader

    if not Path(path).is_file():
        raise UserError(f"no capture file at {path}")

    def open_blocks() -> Iterator[LinkItem]:
        return CaptureReader(path).items()

    return PacedBlocks(open_blocks, f"capture {path} at {pace:g}x", pace)
