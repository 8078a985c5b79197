"""Burst onset/offset: double threshold with hysteresis against the adaptive baseline.

After Bonato 1998 (DOMAIN.md "Onset detection"): a burst starts when the decision
envelope stays above ``on_ratio`` x baseline for ``min_on_s`` and ends when it stays
below ``off_ratio`` x baseline for ``min_off_s``. Since the decision is made later
than the muscle turned on, the onset is refined backwards on the short onset envelope
(RMS or TKEO, Solnik 2010): the earliest contiguous frame above ``refine_ratio`` x
baseline, at most ``max_lookback_s`` back. The offset is refined the same way forwards
from the burst: the last frame above ``refine_ratio`` x baseline. A frame's time is
the centre of its onset window.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np


class BurstKind(enum.Enum):
    """What a confirmed burst event says: the muscle turned on, or off."""

    ONSET = "onset"
    OFFSET = "offset"


@dataclass
class BurstEvent:
    """A burst confirmed (``onset``) or ended (``offset``) at a decision frame."""

    kind: BurstKind
    time_s: float  # refined onset or offset time
    frame: int  # global frame index of the refined time


class BurstDetector:
    """Per-channel double-threshold state machine over envelope frames."""

    def __init__(
        self,
        on_ratio: float,
        off_ratio: float,
        refine_ratio: float,
        min_on_frames: int,
        min_off_frames: int,
        lookback_frames: int,
        onset_window_s: float,
    ) -> None:
        self.on_ratio = on_ratio
        self.off_ratio = off_ratio
        self.refine_ratio = refine_ratio
        self.min_on = min_on_frames
        self.min_off = min_off_frames
        self.lookback = lookback_frames
        self.half_window_s = 0.5 * onset_window_s
        self.in_burst = False
        self.run_on = 0
        self.run_off = 0
        self.onset_frame = -1
        self.peak_rel = 0.0

    @property
    def idle(self) -> bool:
        return not self.in_burst and self.run_on == 0

    def interrupt(self) -> None:
        """Forget partial evidence at a gap (a burst in progress is ended by the caller)."""
        self.in_burst = False
        self.run_on = 0
        self.run_off = 0

    def step(
        self,
        i: int,
        k: int,
        env: float,
        base: float,
        valid: bool,
        onset_env: np.ndarray,
        t_end: np.ndarray,
        frame_valid: np.ndarray,
    ) -> BurstEvent | None:
        """Advance one frame (hist index i, global index k); return a confirmed event."""
        if not valid or base != base:  # settling, or no baseline yet (NaN)
            self.run_on = 0
            return None
        if not self.in_burst:
            if env > self.on_ratio * base:
                self.run_on += 1
                if self.run_on >= self.min_on:
                    first = i - self.run_on + 1
                    j = first
                    thr = self.refine_ratio * base
                    stop = max(0, first - self.lookback)
                    while j - 1 >= stop and frame_valid[j - 1] and onset_env[j - 1] > thr:
                        j -= 1
                    self.in_burst = True
                    self.run_on = 0
                    self.run_off = 0
                    self.onset_frame = k - (i - j)
                    self.peak_rel = env / base
                    return BurstEvent(BurstKind.ONSET, float(t_end[j]) - self.half_window_s,
                                      self.onset_frame)
            else:
                self.run_on = 0
            return None
        rel = env / base
        if rel > self.peak_rel:
            self.peak_rel = rel
        if env < self.off_ratio * base:
            self.run_off += 1
            if self.run_off >= self.min_off:
                first_below = i - self.run_off + 1
                j = first_below
                thr = self.refine_ratio * base
                # Not before the burst's onset, and at most max_lookback back (a bound
                # that does not depend on how much history a block size leaves).
                lowest = max(i - (k - self.onset_frame), first_below - self.lookback - 1)
                while j - 1 > lowest and onset_env[j - 1] <= thr:
                    j -= 1
                j = max(j - 1, lowest)  # last frame still above the refine threshold
                self.in_burst = False
                self.run_off = 0
                end_s = float(t_end[j]) - self.half_window_s
                return BurstEvent(BurstKind.OFFSET, end_s, k - (i - j))
        else:
            self.run_off = 0
        return None
