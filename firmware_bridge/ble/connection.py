"""A band connection over bleak that stays up: scan, connect, subscribe, watchdog, reconnect.

Bytes only. Each data notification becomes one :class:`ReceivedPacket` in a bounded
``asyncio.Queue`` that ends with ``None`` (bleak's examples' producer/consumer shape).
The band cannot be slowed down (notifications have no application flow control), so
when the consumer falls behind by a whole queue the newest packets are dropped and
counted in :attr:`ConnectionStats.overflow_packets`; the decoder then sees the hole in
the sequence numbers and reports it as a gap like any other loss.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bleak import BleakClient, BleakScanner
from bleak.backends.client import BaseBleakClient
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.exc import BleakError

from firmware_bridge.ble import gatt_profile

logger = logging.getLogger(__name__)


class BleLinkError(RuntimeError):
    """The band cannot be reached or keeps failing; the message says what to check."""


@dataclass(frozen=True)
class BleBackend:
    """Which bleak backend classes to use; the defaults (None) are bleak's platform backend.

    ``options`` are extra keyword arguments for both (e.g. ``air=`` for the bumble
    backend used by tests and the virtual band).
    """

    scanner: type[BaseBleakScanner] | None = None
    client: type[BaseBleakClient] | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BandSelector:
    """Which band to connect to: by address, else by advertised name, else the first band.

    Any band is recognised by the project service UUID in its advertisement.
    """

    address: str | None = None
    name: str | None = None

    def matches(self, device: BLEDevice, adv: AdvertisementData) -> bool:
        """Return True if this advertisement is the band we want."""
        if self.address is not None:
            return device.address.upper() == self.address.upper()
        if self.name is not None:
            return adv.local_name == self.name or device.name == self.name
        return gatt_profile.SERVICE_UUID in adv.service_uuids

    def describe(self) -> str:
        if self.address is not None:
            return f"band at {self.address}"
        if self.name is not None:
            return f"band named {self.name!r}"
        return "any band advertising the crampwatch service"


@dataclass(frozen=True)
class ReconnectPolicy:
    """When to give up on a dropped link and how long to wait between attempts.

    Exponential backoff from ``initial_backoff_s`` doubling to ``max_backoff_s``
    spreads attempts while a sleeper is out of range, and retries quickly after a
    brief glitch. ``max_attempts`` None: keep trying all night.
    """

    initial_backoff_s: float = 0.25
    max_backoff_s: float = 8.0
    max_attempts: int | None = None

    def __post_init__(self) -> None:
        if not 0 < self.initial_backoff_s <= self.max_backoff_s:
            raise ValueError(
                "need 0 < initial_backoff_s <= max_backoff_s, got "
                f"{self.initial_backoff_s} and {self.max_backoff_s}"
            )
        if self.max_attempts is not None and self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1 or None, got {self.max_attempts}")

    def backoff_s(self, attempt: int) -> float:
        """Return the wait before reconnect attempt ``attempt`` (1-based), in seconds."""
        return min(self.max_backoff_s, self.initial_backoff_s * 2.0 ** (attempt - 1))


@dataclass(frozen=True)
class BleConnectionParams:
    """Timeouts and sizes of a band connection (seconds, packets)."""

    scan_timeout_s: float = 10.0
    connect_timeout_s: float = 10.0
    # The band sends ~40 packets/s (2 EMG ch x 2 kHz, int16, one 244-byte packet per
    # ~50 samples): 2 s of silence is ~80 missing packets, not jitter.
    stall_timeout_s: float = 2.0
    queue_packets: int = 4096
    reconnect: ReconnectPolicy = field(default_factory=ReconnectPolicy)

    def __post_init__(self) -> None:
        for name in ("scan_timeout_s", "connect_timeout_s", "stall_timeout_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0 s, got {getattr(self, name)}")
        if self.queue_packets < 1:
            raise ValueError(f"queue_packets must be >= 1, got {self.queue_packets}")


@dataclass(frozen=True)
class ReceivedPacket:
    """One notification's bytes and when the host received it (time.monotonic, s)."""

    payload: bytes
    host_time_s: float
    connection_index: int  # 1 for the first connection, +1 for each reconnection


class LinkState(enum.StrEnum):
    SCANNING = "scanning"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    WAITING = "waiting to reconnect"
    CLOSED = "closed"


@dataclass
class ConnectionStats:
    """Counters a user or a benchmark reads to see what the link went through."""

    connections: int = 0
    drops: int = 0  # unsolicited disconnections
    stalls: int = 0  # watchdog fired: connected but no data for stall_timeout_s
    failed_attempts: int = 0
    packets: int = 0
    overflow_packets: int = 0


# Called after each (re)connection, once notifications are on: the link sends its
# start/time-sync commands here. Receives the descriptor characteristic's bytes.
OnConnected = Callable[[bytes], Awaitable[None]]


class BleBandConnection:
    """Keeps one band connected and turns its notifications into a packet queue.

    ``run()`` is the supervisor: run it as a task; ``close()`` ends it cleanly, puts
    ``None`` at the end of :attr:`packets` and disconnects.
    """

    def __init__(
        self,
        selector: BandSelector,
        on_connected: OnConnected,
        on_indication: Callable[[bytes], None],
        params: BleConnectionParams | None = None,
        backend: BleBackend | None = None,
    ) -> None:
        self.selector = selector
        self.params = params or BleConnectionParams()
        self.backend = backend or BleBackend()
        self._on_connected = on_connected
        self._on_indication = on_indication
        self.packets: asyncio.Queue[ReceivedPacket | None] = asyncio.Queue(
            self.params.queue_packets
        )
        self.stats = ConnectionStats()
        self.state = LinkState.SCANNING
        self.descriptor: bytes | None = None
        self._client: BleakClient | None = None
        self._closing = asyncio.Event()
        self._link_lost = asyncio.Event()
        self._watchdog_armed = False
        self._last_data_s = 0.0
        self._ended = False
        self.error: BaseException | None = None

    @property
    def mtu(self) -> int:
        """Return the negotiated ATT_MTU in bytes (23 when not connected)."""
        client = self._client
        return client.mtu_size if client is not None and client.is_connected else 23

    @property
    def connected(self) -> bool:
        return self.state is LinkState.CONNECTED

    def arm_watchdog(self, armed: bool) -> None:
        """Expect data (after start) or not (after stop): only then is silence a stall."""
        self._watchdog_armed = armed
        self._last_data_s = time.monotonic()

    async def write_control(self, payload: bytes) -> None:
        """Write one command to the control characteristic (write with response)."""
        client = self._client
        if client is None or not client.is_connected:
            raise BleLinkError(f"not connected to the {self.selector.describe()}: command not sent")
        await client.write_gatt_char(gatt_profile.CONTROL_CHAR_UUID, payload, response=True)

    async def run(self) -> None:
        """Connect and reconnect until close() or the reconnect policy gives up."""
        attempt = 0
        try:
            while not self._closing.is_set():
                try:
                    await self._connect_once()
                    attempt = 0
                    await self._supervise()
                except (BleakError, TimeoutError, BleLinkError, OSError) as exc:
                    self.stats.failed_attempts += 1
                    logger.warning("%s: %s", self.selector.describe(), exc)
                    attempt += 1
                    limit = self.params.reconnect.max_attempts
                    if limit is not None and attempt >= limit:
                        raise BleLinkError(
                            f"gave up on the {self.selector.describe()} after {attempt} "
                            f"failed attempts (last: {exc}); check the band is charged, "
                            "switched on and within range"
                        ) from exc
                finally:
                    await self._drop_client()
                if self._closing.is_set():
                    break
                attempt = max(attempt, 1)
                self.state = LinkState.WAITING
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._closing.wait(), self.params.reconnect.backoff_s(attempt)
                    )
        except BaseException as exc:
            self.error = exc
            raise
        finally:
            self.state = LinkState.CLOSED
            self._end_queue()

    async def close(self) -> None:
        """Ask the supervisor to stop; it disconnects and ends the packet queue."""
        self._closing.set()
        self._link_lost.set()

    async def _find_device(self) -> BLEDevice:
        self.state = LinkState.SCANNING
        device = await BleakScanner.find_device_by_filter(
            self.selector.matches,
            timeout=self.params.scan_timeout_s,
            backend=self.backend.scanner,
            **self.backend.options,
        )
        if device is None:
            raise BleLinkError(
                f"no {self.selector.describe()} seen in {self.params.scan_timeout_s:g} s of "
                "scanning"
            )
        return device

    async def _connect_once(self) -> None:
        device = await self._find_device()
        self.state = LinkState.CONNECTING
        self._link_lost.clear()
        client = BleakClient(
            device,
            disconnected_callback=self._on_disconnected,
            timeout=self.params.connect_timeout_s,
            backend=self.backend.client,
            **self.backend.options,
        )
        self._client = client
        await client.connect()
        descriptor = bytes(await client.read_gatt_char(gatt_profile.DESCRIPTOR_CHAR_UUID))
        self.descriptor = descriptor
        self.stats.connections += 1
        index = self.stats.connections
        await client.start_notify(
            gatt_profile.CONTROL_CHAR_UUID,
            lambda _char, data: self._on_indication(bytes(data)),
        )
        await client.start_notify(
            gatt_profile.DATA_CHAR_UUID,
            lambda _char, data: self._on_data(bytes(data), index),
        )
        self.state = LinkState.CONNECTED
        logger.info(
            "connected to %s (%s), ATT_MTU %d", device.name, device.address, client.mtu_size
        )
        self._last_data_s = time.monotonic()
        await self._on_connected(descriptor)

    async def _supervise(self) -> None:
        """Return when the link dropped, stalled (then drop it) or close() was called."""
        check_s = self.params.stall_timeout_s / 4.0
        while not self._link_lost.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._link_lost.wait(), check_s)
            if self._link_lost.is_set():
                break
            silent_s = time.monotonic() - self._last_data_s
            if self._watchdog_armed and silent_s > self.params.stall_timeout_s:
                self.stats.stalls += 1
                logger.warning(
                    "%s stalled: no data for %.1f s; reconnecting",
                    self.selector.describe(),
                    silent_s,
                )
                return
        if not self._closing.is_set():
            logger.warning("%s dropped the link; reconnecting", self.selector.describe())

    def _on_disconnected(self, _client: BleakClient) -> None:
        if not self._closing.is_set():
            self.stats.drops += 1
        self._link_lost.set()

    def _on_data(self, payload: bytes, connection_index: int) -> None:
        now = time.monotonic()
        self._last_data_s = now
        self.stats.packets += 1
        try:
            self.packets.put_nowait(ReceivedPacket(payload, now, connection_index))
        except asyncio.QueueFull:
            self.stats.overflow_packets += 1
            if self.stats.overflow_packets == 1 or self.stats.overflow_packets % 1000 == 0:
                logger.error(
                    "packet consumer is %d packets behind: %d packets dropped so far "
                    "(reported as gaps)",
                    self.packets.maxsize,
                    self.stats.overflow_packets,
                )

    async def _drop_client(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        with contextlib.suppress(BleakError, OSError, TimeoutError):
            await client.disconnect()

    def _end_queue(self) -> None:
        if self._ended:
            return
        self._ended = True
        # The end marker must get in even when the consumer is behind: make room by
        # dropping the oldest packet (counted, and visible as a gap) rather than
        # leaving the consumer waiting forever.
        while True:
            try:
                self.packets.put_nowait(None)
                return
            except asyncio.QueueFull:
                self.packets.get_nowait()
                self.stats.overflow_packets += 1
