"""The night's clock: session seconds and the wall time each one stands for.

Session second 0 is the night's ``started_at``: a recording's own start time when
the source is a file, the moment the night began for a band. Every sample, event and
prompt is timed in session seconds; its wall time is ``started_at`` plus those
seconds, whatever the pace a file was played at. :class:`Timeline` places each
connection's blocks on that clock (re-timing after gaps, reconnections and new
stream layouts).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from crampwatch.live.clock import SessionClock
from sensor.records import SampleBlock, SignalGap, SignalGroup


def wall_time(started_at: datetime, session_s: float) -> datetime:
    """Return the wall time (UTC) of session second ``session_s`` of a night."""
    return (started_at + timedelta(seconds=session_s)).astimezone(UTC)


def night_time(started_at: datetime, session_s: float) -> str:
    """Return :func:`wall_time` as ISO 8601 text (what the journal and the API store)."""
    return wall_time(started_at, session_s).isoformat()


@dataclass(frozen=True)
class LayoutChange:
    """A group's stream changed its rate or labels (or began again after a new descriptor)."""

    group: SignalGroup
    old: tuple[float, tuple[str, ...]]
    new: tuple[float, tuple[str, ...]]
    described: bool  # announced by a new descriptor (already counted and queued)


@dataclass(frozen=True)
class Retimed:
    """A block placed on the night's clock, and what placing it showed."""

    block: SampleBlock
    # The gap recorded at a new stream layout (the fresh pipeline cannot see it).
    boundary: SignalGap | None = None
    # (night time the band went away, seconds until its samples resumed) on a reconnection.
    reconnect: tuple[float, float] | None = None


class Timeline:
    """The night's clock for one run: stream time, re-timing, and wall time.

    Each connection's blocks carry the band's (or the file's) own times; the first block
    of a connection fixes the offset that puts them on the night's clock: the run's
    start for its first block, where the night has got to after a reconnection (the
    time between is a gap). A block never overlaps the one before it of its group; a
    jump forward is a gap with the samples it lost. :attr:`clock` runs on at the pace
    between blocks; :meth:`wall_time` says when a session second happened.
    """

    def __init__(self, started_at: datetime, clock: SessionClock, run_start_s: float) -> None:
        self.started_at = started_at
        self.clock = clock
        self.run_start_s = run_start_s
        self._offset_s: float | None = None
        self._group_end: dict[SignalGroup, float] = {}
        self._layout: dict[SignalGroup, tuple[float, tuple[str, ...]]] = {}
        self._new_stream_groups: set[SignalGroup] = set()  # awaiting their first new block

    @property
    def started(self) -> bool:
        """Return True once a block has been placed (before it there is no night time)."""
        return bool(self._group_end)

    def wall_time(self, session_s: float) -> datetime:
        return wall_time(self.started_at, session_s)

    def new_connection(self) -> None:
        """The next block starts a new connection: its clock is placed afresh."""
        self._offset_s = None

    def descriptor_changed(self) -> bool:
        """A new descriptor restarts every stream; return True if any had begun."""
        if not self._group_end:
            return False
        self._new_stream_groups = set(self._group_end)
        return True

    def awaits_new_stream(self, group: SignalGroup) -> bool:
        return group in self._new_stream_groups

    def layout_change(self, block: SampleBlock) -> LayoutChange | None:
        """Return how ``block`` changes its group's rate or labels mid-night, else None."""
        layout = (block.fs_hz, tuple(block.labels))
        old = self._layout.get(block.group)
        self._layout[block.group] = layout
        # The first block after a new descriptor starts a new stream whatever its layout.
        described = block.group in self._new_stream_groups
        self._new_stream_groups.discard(block.group)
        if old is None or (old == layout and not described):
            return None
        return LayoutChange(block.group, old, layout, described)

    def retime(self, block: SampleBlock, new_layout: bool = False) -> Retimed:
        """Return ``block`` on the night clock; a jump since the last block is a gap.

        At a ``new_layout`` the gap is returned as the boundary, with the samples the
        source counted lost (a restart of the band loses none).
        """
        reconnect = None
        if self._offset_s is None:
            if not self._group_end:
                # The run's first block starts the run's night time.
                base = self.run_start_s
                self.clock.restart_at(base)
            else:
                # After a reconnection the band's clock restarted: place its samples at
                # the night time they arrive; the time in between is a gap.
                base = max(self.clock.now_s(), *self._group_end.values())
                prev = max(self._group_end.values())
                reconnect = (prev, base - prev)
            self._offset_s = base - block.t0_s
        t0 = block.t0_s + self._offset_s
        prev_end = self._group_end.get(block.group)
        lost = block.lost_samples
        gap = block.gap_before
        boundary = None
        if prev_end is not None and t0 < prev_end:
            t0 = prev_end  # never overlap the previous block of this group
        if new_layout and prev_end is not None:
            boundary = SignalGap(block.group, prev_end, t0, lost)
        elif prev_end is not None and t0 - prev_end > 0.5 / block.fs_hz:
            gap = True
            lost = max(lost, round((t0 - prev_end) * block.fs_hz))
        retimed = dataclasses.replace(block, t0_s=t0, gap_before=gap, lost_samples=lost)
        self._group_end[block.group] = retimed.t_end_s
        self.clock.observe(retimed.t_end_s)
        return Retimed(retimed, boundary, reconnect)
