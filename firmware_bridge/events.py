"""What a band link yields besides sample blocks: gaps, status, connection changes.

A link's stream is a sequence of :data:`LinkItem`: ``SampleBlock`` for samples and
the events below. Lost samples appear twice on purpose: as a ``SignalGap`` event
when they are found, and as ``gap_before``/``lost_samples`` on the next block of
that group, so a consumer that only reads blocks still sees every loss.
Times are seconds on the session clock (0 = first sample of the session).
"""

from __future__ import annotations

from dataclasses import dataclass

from firmware_bridge.protocol import Descriptor, StatusPacket
from sensor.records import SampleBlock, SignalGap


@dataclass(frozen=True)
class BandStatus:
    """Battery and electrode contact as the band last reported them."""

    t_s: float
    battery_pct: int | None
    battery_mv: int | None
    electrodes_off: tuple[str, ...]
    streaming: bool
    charging: bool
    buzzing: bool

    @classmethod
    def from_packet(cls, packet: StatusPacket, t_s: float, n_emg_channels: int) -> BandStatus:
        """Return the event for a STATUS packet seen at session time ``t_s``."""
        return cls(
            t_s=t_s,
            battery_pct=packet.battery_pct if packet.battery_known else None,
            battery_mv=packet.battery_mv or None,
            electrodes_off=tuple(packet.electrodes_off(n_emg_channels)),
            streaming=packet.streaming,
            charging=packet.charging,
            buzzing=packet.buzzing,
        )


@dataclass(frozen=True)
class StreamRestarted:
    """The band's stream began again (START sent, or the band rebooted: ``unexpected``)."""

    t_s: float
    unexpected: bool
    reason: str


@dataclass(frozen=True)
class DescriptorChanged:
    """The band sent a new descriptor (after SET_RATE); later blocks follow it."""

    descriptor: Descriptor


@dataclass(frozen=True)
class FramesDropped:
    """Frames or packets were damaged and skipped; their samples show up as gaps."""

    count: int
    reason: str


@dataclass(frozen=True)
class SequenceIgnored:
    """A DATA packet's samples continued the stream but its sequence number did not.

    The samples were delivered; the number was not believed (no packets counted lost).
    """

    seq: int
    expected: int


@dataclass(frozen=True)
class ClockStepped:
    """The band's clock jumped by ``step_s`` while its samples ran on: clock re-learned.

    Two packets agreed on the new clock and their indices continue the stream; the
    new time is placed by the host clock, nothing counted lost.
    """

    t_s: float
    step_s: float


@dataclass(frozen=True)
class Disconnected:
    """The transport went away; ``will_reconnect`` says whether the link tries again."""

    reason: str
    will_reconnect: bool


@dataclass(frozen=True)
class Reconnected:
    """The transport is back after ``attempts`` tries; missed packets follow as gaps."""

    attempts: int
    down_s: float


@dataclass(frozen=True)
class CaptureStopped:
    """The raw capture could not be written (disk full?); the live stream goes on without it.

    Everything appended before the failure stays readable.
    """

    path: str
    reason: str


LinkEvent = (
    SignalGap | BandStatus | StreamRestarted | DescriptorChanged | FramesDropped
    | SequenceIgnored | ClockStepped | Disconnected | Reconnected | CaptureStopped
)
LinkItem = SampleBlock | LinkEvent
