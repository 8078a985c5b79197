"""A band connection over bleak that stays up: scan, connect, subscribe, watchdog, reconnect.

Bytes only: each data notification and each control indication is handed, on the
event loop, to the callbacks of a :class:`ConnectionListener` (``BleLink`` decodes
them and queues the resulting items for its consumer). Link changes are reported
there too: lost (and whether a reconnection follows), restored after how long.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from bleak import BleakClient, BleakScanner
from bleak.backends.client import BaseBleakClient
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.exc import BleakError

from firmware_bridge.ble import gatt_profile

logger = logging.getLogger(__name__)


DISCONNECT_TIMEOUT_S = 5.0


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
    # The reference band sends a DATA packet every 25 ms and a STATUS every second while
    # connected (docs/protocol.md 1.2, 1.3): 2 s of silence is not jitter.
    stall_timeout_s: float = 2.0
    # A band not found at start is a set-up problem to report at once; once a band has
    # been connected, losing it is retried as ``reconnect`` says.
    first_connection_attempts: int = 1
    reconnect: ReconnectPolicy = field(default_factory=ReconnectPolicy)

    def __post_init__(self) -> None:
        for name in ("scan_timeout_s", "connect_timeout_s", "stall_timeout_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0 s, got {getattr(self, name)}")
        if self.first_connection_attempts < 1:
            raise ValueError(
                f"first_connection_attempts must be >= 1, got {self.first_connection_attempts}"
            )


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
    failed_attempts_since_loss: int = 0  # reconnection attempts that failed this outage
    packets: int = 0


class ConnectionListener(Protocol):
    """What a connection reports to its owner, always on the event loop."""

    async def connected(self, descriptor: bytes, index: int, down_s: float) -> None:
        """A (re)connection is ready: notifications on, descriptor read. ``index`` is 1
        for the first connection; ``down_s`` is how long the link was down before it."""

    def data_received(self, payload: bytes) -> None:
        """One notification of the data characteristic (a DATA/STATUS/DESCRIPTOR packet)."""

    def indication_received(self, payload: bytes) -> None:
        """One indication of the control characteristic (an ACK packet)."""

    def lost(self, reason: str, will_reconnect: bool) -> None:
        """The link went down; ``will_reconnect`` False means the connection has given up."""


class BleBandConnection:
    """Keeps one band connected and hands its notifications to a listener.

    ``run()`` is the supervisor: run it as a task; ``close()`` makes it disconnect and
    return. It raises :class:`BleLinkError` when the reconnect policy gives up.
    """

    def __init__(
        self,
        selector: BandSelector,
        listener: ConnectionListener,
        params: BleConnectionParams | None = None,
        backend: BleBackend | None = None,
        feeds_watchdog: Callable[[bytes], bool] = lambda _payload: True,
    ) -> None:
        """``feeds_watchdog`` says which notifications prove the stream is alive (a band
        may keep sending status packets after its samples stopped)."""
        self.selector = selector
        self._feeds_watchdog = feeds_watchdog
        self.params = params or BleConnectionParams()
        self.backend = backend or BleBackend()
        self._listener = listener
        self.stats = ConnectionStats()
        self.state = LinkState.SCANNING
        self.descriptor: bytes | None = None
        self._client: BleakClient | None = None
        self._closing = asyncio.Event()
        self._link_lost = asyncio.Event()
        self._watchdog_armed = False
        self._last_data_s = 0.0
        self._down_since_s: float | None = None
        self._hanging_up = False
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
        """Expect stream data (after start) or not (after stop): only then is silence a stall."""
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
                reason = ""
                try:
                    await self._connect_once()
                    attempt = 0
                    reason = await self._supervise()
                except (BleakError, TimeoutError, BleLinkError, OSError) as exc:
                    self.stats.failed_attempts += 1
                    self.stats.failed_attempts_since_loss += 1
                    attempt += 1
                    reason = str(exc) or type(exc).__name__
                    logger.warning("%s: %s", self.selector.describe(), reason)
                    limit = (
                        self.params.reconnect.max_attempts
                        if self.stats.connections
                        else self.params.first_connection_attempts
                    )
                    if limit is not None and attempt >= limit:
                        raise BleLinkError(
                            f"gave up on the {self.selector.describe()} after {attempt} "
                            f"failed attempts (last: {reason}); check the band is charged, "
                            "switched on and within range"
                        ) from exc
                finally:
                    was_connected = self.state is LinkState.CONNECTED
                    await self._drop_client()
                    if was_connected and self._down_since_s is None:
                        self._down_since_s = time.monotonic()
                if self._closing.is_set():
                    break
                if was_connected:
                    self._listener.lost(reason, will_reconnect=True)
                attempt = max(attempt, 1)
                self.state = LinkState.WAITING
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._closing.wait(), self.params.reconnect.backoff_s(attempt)
                    )
        except BleLinkError as exc:
            self.error = exc
            self._listener.lost(str(exc), will_reconnect=False)
            raise
        finally:
            self.state = LinkState.CLOSED
            await self._drop_client()

    async def close(self) -> None:
        """Ask the supervisor to stop; run() then disconnects and returns."""
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
        self._hanging_up = False
        await client.connect()
        descriptor = bytes(await client.read_gatt_char(gatt_profile.DESCRIPTOR_CHAR_UUID))
        self.descriptor = descriptor
        self.stats.connections += 1
        index = self.stats.connections
        await client.start_notify(
            gatt_profile.CONTROL_CHAR_UUID,
            lambda _char, data: self._listener.indication_received(bytes(data)),
        )
        await client.start_notify(
            gatt_profile.DATA_CHAR_UUID, lambda _char, data: self._on_data(bytes(data))
        )
        self.state = LinkState.CONNECTED
        logger.info(
            "connected to %s (%s), ATT_MTU %d", device.name, device.address, client.mtu_size
        )
        now = time.monotonic()
        self._last_data_s = now
        down_s = 0.0 if self._down_since_s is None else now - self._down_since_s
        self._down_since_s = None
        await self._listener.connected(descriptor, index, down_s)
        self.stats.failed_attempts_since_loss = 0

    async def _supervise(self) -> str:
        """Return why the link ended: dropped, stalled (we drop it) or closed ("")."""
        check_s = self.params.stall_timeout_s / 4.0
        while not self._link_lost.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._link_lost.wait(), check_s)
            if self._link_lost.is_set():
                break
            silent_s = time.monotonic() - self._last_data_s
            if self._watchdog_armed and silent_s > self.params.stall_timeout_s:
                self.stats.stalls += 1
                reason = f"stalled: no data for {silent_s:.1f} s while streaming"
                logger.warning("%s %s; reconnecting", self.selector.describe(), reason)
                return reason
        if self._closing.is_set():
            return ""
        logger.warning("%s dropped the link; reconnecting", self.selector.describe())
        return "the band dropped the link (out of range, or switched off?)"

    def _on_disconnected(self, _client: BleakClient) -> None:
        # Some platform backends also call back when we hang up ourselves.
        if not (self._closing.is_set() or self._hanging_up):
            self.stats.drops += 1
        self._link_lost.set()

    def _on_data(self, payload: bytes) -> None:
        if self._feeds_watchdog(payload):
            self._last_data_s = time.monotonic()
        self.stats.packets += 1
        self._listener.data_received(payload)

    async def _drop_client(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        self._hanging_up = True
        # A link that is already gone can leave a platform disconnect waiting for an
        # event that never comes: bound it so shutdown always finishes.
        with contextlib.suppress(BleakError, OSError, TimeoutError):
            await asyncio.wait_for(client.disconnect(), DISCONNECT_TIMEOUT_S)
