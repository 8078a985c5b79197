"""Records that flow through the pipeline: sample blocks in, episodes and events out.

Every room speaks these shapes (DESIGN.md, "One path, live and replay"):
a source yields :class:`SampleBlock`, the Detector yields :class:`EpisodeUpdate`
and :class:`SignalGap`, the classifier turns episodes into :class:`Event`.
Times are seconds on the session clock (0 = first sample of the session or
recording); amplitudes are physical units (uV for EMG, g for acceleration).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np


class SignalGroup(enum.StrEnum):
    """Which kind of signal a block carries; each group has one physical unit."""

    EMG = "emg"
    ACC = "acc"

    @property
    def unit(self) -> str:
        return _UNITS[self]


_UNITS = {SignalGroup.EMG: "uV", SignalGroup.ACC: "g"}


class SampleBlockError(ValueError):
    """A block does not have the shape or values a source promised."""


@dataclass(frozen=True, eq=False)
class SampleBlock:
    """Consecutive samples of one signal group, in physical units.

    ``samples`` is (n_samples, n_channels) float32; ``t0_s`` is the time of the
    first sample; ``gap_before`` says samples were lost between the previous
    block of this group and this one (``lost_samples`` of them when the source
    can count them, from packet sequence numbers or timestamps).
    """

    group: SignalGroup
    fs_hz: float
    t0_s: float
    samples: np.ndarray
    labels: tuple[str, ...]
    gap_before: bool = False
    lost_samples: int = 0

    def __post_init__(self) -> None:
        samples = np.asarray(self.samples)
        if samples.ndim != 2:
            raise SampleBlockError(
                f"samples must be 2-D (n_samples, n_channels), got shape {samples.shape}"
            )
        if samples.dtype != np.float32:
            samples = samples.astype(np.float32)
        object.__setattr__(self, "samples", samples)
        object.__setattr__(self, "group", SignalGroup(self.group))
        object.__setattr__(self, "labels", tuple(self.labels))
        if len(self.labels) != samples.shape[1]:
            raise SampleBlockError(
                f"{len(self.labels)} labels for {samples.shape[1]} channels: "
                "give one label per column"
            )
        if not (self.fs_hz > 0 and np.isfinite(self.fs_hz)):
            raise SampleBlockError(f"sample rate must be a positive number, got {self.fs_hz!r}")
        if not np.isfinite(self.t0_s):
            raise SampleBlockError(f"t0_s must be finite, got {self.t0_s!r}")
        if self.lost_samples < 0:
            raise SampleBlockError(f"lost_samples must be >= 0, got {self.lost_samples}")
        if self.lost_samples and not self.gap_before:
            object.__setattr__(self, "gap_before", True)

    @property
    def n_samples(self) -> int:
        return int(self.samples.shape[0])

    @property
    def n_channels(self) -> int:
        return int(self.samples.shape[1])

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.fs_hz

    @property
    def t_end_s(self) -> float:
        """Time just after the last sample (t0 of a following contiguous block)."""
        return self.t0_s + self.duration_s


class Side(enum.StrEnum):
    LEFT = "left"
    RIGHT = "right"
    UNKNOWN = "unknown"


class Muscle(enum.StrEnum):
    GASTROCNEMIUS_MEDIAL = "gastrocnemius_medial"
    GASTROCNEMIUS_LATERAL = "gastrocnemius_lateral"
    GASTROCNEMIUS = "gastrocnemius"
    SOLEUS = "soleus"
    TIBIALIS_ANTERIOR = "tibialis_anterior"
    FOOT = "foot"
    THIGH = "thigh"
    UNKNOWN = "unknown"


class Role(enum.StrEnum):
    """What a channel is used for in cramp detection (DOMAIN.md: agonist vs antagonist)."""

    CALF = "calf"  # cramping agonist (gastrocnemius, soleus)
    SHIN = "shin"  # antagonist (tibialis anterior)
    OTHER = "other"


@dataclass(frozen=True)
class ChannelInfo:
    """One EMG channel: its label as the source gave it, parsed into muscle and side."""

    label: str
    muscle: Muscle = Muscle.UNKNOWN
    side: Side = Side.UNKNOWN
    role: Role = Role.OTHER


class EpisodePhase(enum.StrEnum):
    OPENED = "opened"
    UPDATED = "updated"
    CLOSED = "closed"


@dataclass(frozen=True)
class Burst:
    """One stretch of muscle activity above the onset threshold."""

    start_s: float
    end_s: float
    peak_rel: float  # envelope peak / channel baseline (dimensionless)


@dataclass(frozen=True)
class EnvelopeSnippet:
    """One event's muscles around it, for the event page: RMS envelopes, decimated.

    ``values_uv[i][j]`` is channel ``channels[i]``'s envelope (uV) at
    ``start_s + j * step_s`` on the session clock. It spans from some seconds
    before the onset to what was known when the event closed.
    """

    start_s: float
    step_s: float
    channels: tuple[ChannelInfo, ...]
    values_uv: tuple[tuple[float, ...], ...]

    def __post_init__(self) -> None:
        if self.step_s <= 0:
            raise ValueError(f"step_s must be > 0, got {self.step_s}")
        if len(self.channels) != len(self.values_uv):
            raise ValueError("one row of values per channel is needed")


@dataclass(frozen=True)
class EpisodeUpdate:
    """What the Detector learned about one episode with one block.

    ``end_s`` is None while the episode is open. ``known_at_s`` is the stream
    time at which this became known (for latency: known_at_s - start_s).
    ``features`` maps feature names (documented in ``sensor.features``) to values
    in the units their names carry; NaN where a feature cannot be computed.
    """

    phase: EpisodePhase
    episode_id: int
    channel: ChannelInfo
    start_s: float
    end_s: float | None
    known_at_s: float
    bursts: tuple[Burst, ...] = ()
    features: Mapping[str, float] = field(default_factory=dict)
    envelope: EnvelopeSnippet | None = None  # on CLOSED updates, where the Detector kept it


@dataclass(frozen=True)
class SignalGap:
    """Samples of a signal group were lost (or the stream restarted) in [start_s, end_s)."""

    group: SignalGroup
    start_s: float
    end_s: float
    lost_samples: int


DetectorOutput = EpisodeUpdate | SignalGap


class EventKind(enum.StrEnum):
    """Tonic and clonic are cramps; every other kind is a look-alike that must not wake anyone."""

    TONIC = "tonic"
    CLONIC = "clonic"
    PLM = "plm"  # periodic limb movement
    MOVEMENT = "movement"  # turning over, large movement
    JERK = "jerk"  # hypnic jerk, fragmentary myoclonus
    TREMOR = "tremor"  # foot tremor, alternating leg muscle activation
    WALKING = "walking"
    STRETCH = "stretch"  # voluntary in-bed stretch (co-contraction)
    ARTIFACT = "artifact"  # electrode lift, contact loss, motion artefact

    @property
    def is_cramp(self) -> bool:
        return self in (EventKind.TONIC, EventKind.CLONIC)


@dataclass(frozen=True)
class Event:
    """A classified episode: the record that is logged, prompted on and shown to clinicians.

    ``start_s``/``end_s`` are seconds on the session clock; ``end_s`` is None while
    the episode runs. ``final`` is False for a provisional call made while it runs.
    """

    event_id: str
    session_id: str
    channel: ChannelInfo
    start_s: float
    end_s: float | None
    kind: EventKind
    confidence: float
    features: Mapping[str, float]
    detector_version: str
    model_version: str
    final: bool
    envelope: EnvelopeSnippet | None = None  # on final events: the muscles around the event
    # Stream time this call was made (NaN where a file read back did not record it).
    known_at_s: float = math.nan
    # Stream time the episode was first called a cramp, provisional or final; None if never.
    first_cramp_call_s: float | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence must be within 0..1, got {self.confidence}")

    @property
    def is_cramp(self) -> bool:
        return self.kind.is_cramp

    @property
    def duration_s(self) -> float | None:
        return None if self.end_s is None else self.end_s - self.start_s
