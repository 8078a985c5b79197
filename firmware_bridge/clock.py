"""Device clock -> host clock mapping with drift tracking, from packet arrival times.

Every packet's arrival gives one point (device time of its newest sample, host
arrival time). Transport latency only ever adds delay, so the lower envelope of
``host - device`` is the clock offset plus the smallest latency; its slope is the
drift of the band's oscillator (tens of ppm for a crystal). The mapping is kept
continuous and monotone: when a new estimate arrives the rate is changed, never the
position, and an offset error is slewed out over ``slew_s`` (as NTP slews).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ClockParams:
    """How the host tracks a band's clock."""

    window_s: float = 10.0  # one lower-envelope point per window of device time
    fit_windows: int = 30  # drift fitted over the last 30 windows (5 min)
    slew_s: float = 60.0  # offset errors are removed over this much time
    # Crystals are within +/-50 ppm, cheap RC oscillators ~1 %: 2 % bounds both (inference).
    max_drift_ppm: float = 20_000.0
    # A virtual band told to play N x faster than real time runs its clock N x fast.
    device_speed: float = 1.0


@dataclass(frozen=True)
class ClockEstimate:
    """The current mapping: drift of the device clock in ppm and the last offset seen."""

    drift_ppm: float
    offset_us: float
    windows: int


class ClockMapper:
    """Maps device microseconds to host microseconds; ``observe`` each packet arrival."""

    def __init__(self, params: ClockParams | None = None) -> None:
        self.params = params or ClockParams()
        self._anchor_d: float | None = None
        self._anchor_h = 0.0
        self._rate = 1.0 / self.params.device_speed
        self._win_start: float | None = None
        self._win_min: tuple[float, float] | None = None  # (device_us, host - device/speed)
        self._points: deque[tuple[float, float]] = deque(maxlen=self.params.fit_windows)
        self._drift_ppm = 0.0
        # The session clock follows the drift only: latency never moves it (see session_us).
        self._s_anchor_d = 0.0
        self._s_anchor_t = 0.0
        self._s_rate = 1.0

    @property
    def ready(self) -> bool:
        """True once at least one arrival was observed."""
        return self._anchor_d is not None

    def to_host_us(self, device_us: float) -> float:
        """Return the host time (us) at which the band's clock read ``device_us``."""
        if self._anchor_d is None:
            raise RuntimeError("ClockMapper has no observation yet: call observe() first")
        return self._anchor_h + (device_us - self._anchor_d) * self._rate

    def session_us(self, device_us: float) -> float:
        """Return drift-corrected elapsed time (us, in real-time seconds) at ``device_us``.

        Only differences matter. Unlike ``to_host_us`` it ignores the offset (which
        carries transport latency), so latency jitter and offset slewing never stretch
        or squeeze it; it changes rate when the drift estimate changes, continuously.
        """
        if self._anchor_d is None:
            raise RuntimeError("ClockMapper has no observation yet: call observe() first")
        return self._s_anchor_t + (device_us - self._s_anchor_d) * self._s_rate

    def observe(self, device_us: float, host_us: float) -> None:
        """Take one (device time, host arrival time) point into the drift estimate."""
        speed = self.params.device_speed
        offset = host_us - device_us / speed
        if self._anchor_d is None:
            self._anchor_d, self._anchor_h = device_us, host_us
            self._s_anchor_d = device_us
            self._win_start = device_us
            self._win_min = (device_us, offset)
            return
        if self._win_min is None or offset < self._win_min[1]:
            self._win_min = (device_us, offset)
        assert self._win_start is not None
        if (device_us - self._win_start) / speed >= self.params.window_s * 1e6:
            self._points.append(self._win_min)
            self._win_start = device_us
            self._win_min = (device_us, offset)
            self._refit(device_us)

    def _refit(self, device_us: float) -> None:
        speed = self.params.device_speed
        pts = np.array(self._points, dtype=np.float64)
        if len(pts) >= 3:
            d = pts[:, 0] / speed
            slope, intercept = np.polyfit(d - d[-1], pts[:, 1], 1)
            target = intercept + slope * (device_us / speed - d[-1]) + device_us / speed
        else:
            slope = 0.0
            target = float(pts[:, 1].min()) + device_us / speed
        limit = self.params.max_drift_ppm * 1e-6
        slope = float(np.clip(slope, -limit, limit))
        self._drift_ppm = slope * 1e6
        now = self.to_host_us(device_us)
        correction = (target - now) / (self.params.slew_s * 1e6)
        rate = (1.0 + slope + correction) / speed
        lo, hi = (1.0 - 2 * limit) / speed, (1.0 + 2 * limit) / speed
        self._anchor_h, self._anchor_d = now, device_us
        self._rate = float(np.clip(rate, lo, hi))
        self._s_anchor_t = self.session_us(device_us)
        self._s_anchor_d = device_us
        self._s_rate = 1.0 + slope

    def estimate(self) -> ClockEstimate:
        """Return the current drift estimate (ppm) and the lowest recent offset (us)."""
        offset = self._points[-1][1] if self._points else (
            self._win_min[1] if self._win_min else 0.0)
        return ClockEstimate(self._drift_ppm, offset, len(self._points))
