"""The band over Bluetooth LE: a BandLink whose transport is a reconnecting bleak connection.

Everything protocol-level (decoding, acknowledgements, sample blocks, gaps, clock
drift, capture) is :class:`~firmware_bridge.link.BandLink`'s, shared with the serial
link; this class adds what BLE needs: find the band, read its descriptor
characteristic, subscribe, write commands to the control characteristic, and keep
the link up: a watchdog that reconnects a band which went silent while streaming,
and automatic reconnection with backoff after a drop. After each reconnection it
re-reads the descriptor and, if the host was streaming, makes sure the band is too;
the packets missed meanwhile come out as gaps with their sample counts.

In the field ``backend`` is left at its default (bleak's platform backend); tests and
the virtual band pass the bumble backend on a VirtualAir.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from firmware_bridge.ble.connection import (
    BandSelector,
    BleBackend,
    BleBandConnection,
    BleConnectionParams,
    BleLinkError,
)
from firmware_bridge.link import BandLink, BandLinkError
from firmware_bridge.protocol import (
    Descriptor,
    ErrorCode,
    PacketType,
    ProtocolError,
    Start,
    decode_packet,
)

logger = logging.getLogger(__name__)


def _is_data_packet(payload: bytes) -> bool:
    return payload[:1] == bytes([PacketType.DATA])


class BleLink(BandLink):
    """A band link over BLE (bleak). ``connect()`` finds and connects to the band."""

    # docs/protocol.md 1.4: over BLE a host waits 2 s for an ACK.
    command_timeout_s = 2.0

    def __init__(
        self,
        selector: BandSelector | None = None,
        params: BleConnectionParams | None = None,
        backend: BleBackend | None = None,
        **link_options: Any,
    ) -> None:
        """``link_options`` are BandLink's (clock, capture, max_queued_items, host_clock_us)."""
        super().__init__(**link_options)
        self.selector = selector or BandSelector()
        # Only DATA packets show the stream is alive: STATUS keeps coming from a band
        # whose sampling has stopped.
        self.connection = BleBandConnection(
            self.selector, self, params, backend, feeds_watchdog=_is_data_packet
        )
        self._runner: asyncio.Task[None] | None = None
        self._first_connection: asyncio.Future[None] | None = None
        self._resume_tasks: set[asyncio.Task[None]] = set()

    # --- BandLink transport hooks --------------------------------------------------------

    async def _open(self) -> None:
        loop = asyncio.get_running_loop()
        self._first_connection = loop.create_future()
        self._runner = asyncio.create_task(self._run_connection(), name="ble-link")
        try:
            await self._first_connection
        except BleLinkError as exc:
            await self._stop_runner()
            raise BandLinkError(str(exc)) from exc

    async def _run_connection(self) -> None:
        try:
            await self.connection.run()
        except BleLinkError as exc:
            if self._first_connection is not None and not self._first_connection.done():
                self._first_connection.set_exception(exc)
            # Otherwise lost(..., will_reconnect=False) has ended the item stream.

    async def _read_descriptor_bytes(self) -> bytes | None:
        raw = self.connection.descriptor
        if raw is None:
            return None
        # Check it here: a protocol-version mismatch must reach the user as such, not as
        # a dropped packet followed by a descriptor timeout.
        try:
            packet = decode_packet(raw)
        except ProtocolError as exc:
            raise BandLinkError(f"the band's descriptor cannot be read: {exc}") from exc
        if not isinstance(packet, Descriptor):
            raise BandLinkError(
                f"the band's descriptor characteristic holds a {type(packet).__name__} "
                "packet, not a DESCRIPTOR: is this a crampwatch band (docs/protocol.md)?"
            )
        return raw

    async def _write_packet(self, packet: bytes) -> None:
        try:
            await self.connection.write_control(packet)
        except BleLinkError as exc:
            raise BandLinkError(str(exc)) from exc
        except Exception as exc:  # bleak raises platform-specific errors on a dying link
            raise BandLinkError(f"command not delivered to the band: {exc}") from exc

    async def _close_transport(self) -> None:
        for task in list(self._resume_tasks):
            task.cancel()
        await self.connection.close()
        await self._stop_runner()

    async def _stop_runner(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await self.connection.close()
            with contextlib.suppress(asyncio.CancelledError, BleLinkError):
                await runner

    # --- streaming: the watchdog only expects data while the band streams ----------------

    async def start(self) -> int:
        t0_us = await super().start()
        self.connection.arm_watchdog(True)
        return t0_us

    async def stop(self) -> None:
        self.connection.arm_watchdog(False)
        await super().stop()

    @property
    def mtu(self) -> int:
        """Return the negotiated ATT_MTU in bytes."""
        return self.connection.mtu

    # --- ConnectionListener ---------------------------------------------------------------

    async def connected(self, descriptor: bytes, index: int, down_s: float) -> None:
        if index == 1:
            if self._first_connection is not None and not self._first_connection.done():
                self._first_connection.set_result(None)
            return
        self._transport_restored(self.connection.stats.failed_attempts_since_loss + 1, down_s)
        # The band may have changed rate (or firmware) while away: feed the descriptor
        # as a received packet, so the assembler follows it and reports a change.
        self._packet_received(descriptor)
        if self.streaming:
            # Sending a command waits for its ACK, which arrives through this same
            # connection: do it outside the connection's own (re)connect step.
            task = asyncio.create_task(self._resume_streaming(), name="ble-resume")
            self._resume_tasks.add(task)
            task.add_done_callback(self._resume_tasks.discard)

    async def _resume_streaming(self) -> None:
        """Make sure a band that was streaming still is (it answers BUSY if so)."""
        try:
            ack = await self.send_command(Start(), check=False)
        except BandLinkError as exc:
            logger.warning("band did not confirm it streams after reconnecting: %s", exc)
            return
        if ack.error not in (ErrorCode.OK, ErrorCode.BUSY):
            logger.error("band refused START after reconnecting: %s", ack.error_name)

    def data_received(self, payload: bytes) -> None:
        self._packet_received(payload)

    def indication_received(self, payload: bytes) -> None:
        self._packet_received(payload)

    def lost(self, reason: str, will_reconnect: bool) -> None:
        if self._first_connection is not None and not self._first_connection.done():
            return  # connect() is still waiting: it raises instead
        self._transport_lost(reason, will_reconnect)
