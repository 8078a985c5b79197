"""How a live session runs (its parameters) and what it did (its report)."""

from __future__ import annotations

from dataclasses import dataclass, field

from crampwatch.live.quality import ElectrodeQuality
from crampwatch.prompt.policy import PromptDecision
from sensor.records import Event, SignalGap, SignalGroup


@dataclass(frozen=True)
class SessionParams:
    """How the session runs; wall-clock seconds unless the name says session time."""

    # ~3 min of the reference stream at real-time pace (2 groups x ~50 blocks/s, a few
    # MB): a slow moment of the DSP thread never pushes back on the link, and a backlog
    # is then processed in large merged blocks.
    queue_blocks: int = 20_000
    consume_batch: int = 64  # link items taken in a row before other tasks get a turn
    tick_s: float = 0.1  # how often time alone may escalate a prompt
    status_s: float = 1.0  # status line refresh
    progress_s: float = 1.0  # how often the journal records how far the night got
    reconnect_first_s: float = 0.5
    reconnect_max_s: float = 10.0
    give_up_after_s: float = 600.0  # no band for this long (session time): end the night
    final_upload_s: float = 5.0  # last try of the outboxes at shutdown
    keep_open_every_s: float = 5.0  # session s between kept versions of an open episode


@dataclass
class SessionReport:
    """What the session did, for the summary and the tests."""

    night_id: str
    run: int
    session_s: float = 0.0  # the session clock when the run ended
    stream_end_s: float = 0.0  # the last sample processed, on the same clock
    blocks: int = 0
    events: list[Event] = field(default_factory=list)
    gaps: list[SignalGap] = field(default_factory=list)
    decisions: list[PromptDecision] = field(default_factory=list)
    connections: int = 0
    disconnects: int = 0
    quality_at_start: list[ElectrodeQuality] = field(default_factory=list)
    # (night time the band went away, seconds until its samples resumed) per reconnection
    reconnect_gaps: list[tuple[float, float]] = field(default_factory=list)
    ended_by: str = ""
    # Samples the pipeline processed, and samples reported lost before them, per group.
    samples: dict[SignalGroup, int] = field(default_factory=dict)
    lost_samples: dict[SignalGroup, int] = field(default_factory=dict)
    corrupt_packets: int = 0  # quarantined packets and skipped frames the link reported
    sequence_ignored: int = 0  # packets whose samples fitted but whose seq did not
    clock_steps: int = 0  # the band's clock jumped under a continuing stream (re-learned)
    stream_restarts: int = 0  # the band's stream began again (START, reboot, descriptor)
    layout_changes: int = 0  # a new rate or new labels: a fresh pipeline took over
    refused_blocks: int = 0  # blocks the pipeline refused twice (old and fresh): dropped
    refused_samples: int = 0  # their samples

    @property
    def night_end_s(self) -> float:
        """Where the night ends: its last sample, however fast it was played and however
        long the hub waited after it (the session clock when no sample came)."""
        return self.stream_end_s or self.session_s
