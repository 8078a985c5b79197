"""The data of a synthetic episode: what it is, what it adds to the signals, and with what."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from crampwatch.synth.layout import Layout
from crampwatch.synth.real_emg import RealEmgLibrary
from sensor.records import EventKind


@dataclass
class Episode:
    """One labelled event: span in seconds, kind, main EMG column, strength and shape knobs."""

    kind: EventKind
    subtype: str
    start_s: float
    end_s: float
    columns: tuple[int, ...]  # EMG columns it shows on; first is the main one
    strength_uv: float  # RMS of the active part on the main column
    params: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    # What the truth file records about it: texture, response, trigger... (variation.py)
    attrs: dict[str, object] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass
class Rendering:
    """What an episode does to the signals, from its start sample onwards."""

    emg_start: int
    emg_add: np.ndarray  # (n, n_channels) uV
    acc_start: int
    acc_add: np.ndarray  # (m, 3) g, motion on top of gravity
    emg_replace: dict[int, np.ndarray] = field(default_factory=dict)

    @property
    def emg_stop(self) -> int:
        stops = [self.emg_start + self.emg_add.shape[0]]
        stops += [self.emg_start + r.shape[0] for r in self.emg_replace.values()]
        return max(stops)

    @property
    def acc_stop(self) -> int:
        return self.acc_start + self.acc_add.shape[0]


@dataclass(frozen=True)
class RenderContext:
    """Rates, channel layout and the real-EMG library (None to use only the model).

    ``acc_fs_hz`` is the rate motion is rendered at; a night without an accelerometer
    renders it at a low rate and does not write it.
    """

    emg_fs_hz: float
    acc_fs_hz: float
    layout: Layout
    library: RealEmgLibrary | None
    mains_hz: float
