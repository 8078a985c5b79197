"""The session clock: seconds of night time, following the stream and running on between blocks.

Stream time (the samples' own times) is the truth; between blocks, and while the band
is away, the clock runs on at the playback pace (1 for a real band, 20 for a night
played at 20x) so reminders still escalate during a disconnect. It never goes back.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class SessionClock:
    """Maps a monotonic wall clock to session seconds at ``pace`` session-s per wall-s."""

    def __init__(
        self, pace: float = 1.0, start_s: float = 0.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not pace > 0:
            raise ValueError(f"pace must be > 0 (session seconds per wall second), got {pace}")
        self.pace = pace
        self._mono = monotonic
        self._anchor_wall = monotonic()
        self._anchor_s = start_s
        self._last_s = start_s

    def observe(self, stream_s: float) -> None:
        """Re-anchor on a stream time just received (the end of a block)."""
        wall = self._mono()
        if stream_s >= self._extrapolate(wall):
            self._anchor_wall, self._anchor_s = wall, stream_s
        # A block behind the extrapolation (jitter, a slow link) leaves the clock running;
        # it does not pull the clock back.

    def restart_at(self, stream_s: float) -> None:
        """Anchor the clock at ``stream_s`` now (the run's first block: before it, the
        clock only waited for the band, and that wait is not night time)."""
        self._anchor_wall, self._anchor_s = self._mono(), stream_s
        self._last_s = stream_s

    def now_s(self) -> float:
        """Return the current session time in seconds (monotonic non-decreasing)."""
        self._last_s = max(self._last_s, self._extrapolate(self._mono()))
        return self._last_s

    def _extrapolate(self, wall: float) -> float:
        return self._anchor_s + (wall - self._anchor_wall) * self.pace
