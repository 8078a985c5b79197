"""One episode per leg: the channels of a leg fuse into one episode with per-muscle evidence.

A cramp in the calf shows on the shin too (volume conduction), and the sleeper's
response (pulling the toes up fires the shin) gives the shin an episode of its own
while the calf still cramps (DOMAIN.md, "During a cramp"). Counted per channel, one
contraction would be two events, often called differently. :class:`LegFuser` turns the
Detector's per-channel episode updates into per-leg ones:

- channels are grouped by side (a channel of unknown side joins the only known side,
  or all unknown channels form one leg);
- a leg episode opens with the first channel episode of that leg and holds every
  channel episode that opens while it is open; it closes when the last of them closes
  (start: the earliest onset; end: the latest end);
- its features and bursts are those of its primary muscle, the calf when the calf
  took part (a cramp is the calf's involuntary activity), else the first muscle;
  across several calf episodes in one leg episode, the longest;
- per-muscle evidence is added (``sensor.features``): ``leg_muscles``,
  ``calf_delay_s`` (0 when the calf led), ``other_amp_rel_median``.

The fusion is a function of the update sequence alone, so it keeps the Detector's
chunk invariance.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from sensor.features import NAN
from sensor.records import (
    ChannelInfo,
    DetectorOutput,
    EpisodePhase,
    EpisodeUpdate,
    Role,
    Side,
)


def leg_keys(channels: Sequence[ChannelInfo]) -> list[str]:
    """Return a leg key per channel: its side, or the only known side for unknown ones."""
    known = {c.side for c in channels if c.side is not Side.UNKNOWN}
    only = next(iter(known)) if len(known) == 1 else Side.UNKNOWN
    return [str(c.side if c.side is not Side.UNKNOWN else only) for c in channels]


@dataclass
class _LegEpisode:
    episode_id: int
    start_s: float
    end_s: float
    open_ids: set[int] = field(default_factory=set)
    channels: set[str] = field(default_factory=set)
    primary: EpisodeUpdate | None = None  # latest update of the primary muscle's episode
    calf_start_s: float = NAN
    other_amp: float = NAN


class LegFuser:
    """Per-channel episode updates in, one episode per leg out (gaps pass through)."""

    def __init__(self, channels: Sequence[ChannelInfo],
                 complete: Callable[[EpisodeUpdate], None] | None = None) -> None:
        self._leg_of = {c.label: k for c, k in zip(channels, leg_keys(channels), strict=True)}
        self._open: dict[str, _LegEpisode] = {}
        # Called on each update that comes to speak for its leg, before its features
        # are read: the Detector fills in there what only such an update needs.
        self._complete = complete

    def feed(self, outputs: Sequence[DetectorOutput]) -> list[DetectorOutput]:
        """Return the leg-level outputs for a sequence of channel-level ones, in order."""
        out: list[DetectorOutput] = []
        for o in outputs:
            if isinstance(o, EpisodeUpdate):
                fused = self._on_update(o)
                if fused is not None:
                    out.append(fused)
            else:
                out.append(o)
        return out

    def _on_update(self, u: EpisodeUpdate) -> EpisodeUpdate | None:
        """Return the leg update for u (None for a mere update of a secondary muscle)."""
        leg_key = self._leg_of.get(u.channel.label, u.channel.label)
        leg = self._open.get(leg_key)
        if u.phase is EpisodePhase.OPENED and leg is None:
            leg = _LegEpisode(u.episode_id, u.start_s, u.start_s)
            self._open[leg_key] = leg
            phase = EpisodePhase.OPENED
        else:
            phase = EpisodePhase.UPDATED
        if leg is None:  # an update of an episode this fuser never saw open
            leg = _LegEpisode(u.episode_id, u.start_s, u.start_s)
            self._open[leg_key] = leg
        if u.phase is EpisodePhase.OPENED:
            leg.open_ids.add(u.episode_id)
            leg.channels.add(u.channel.label)
            if u.channel.role is Role.CALF and math.isnan(leg.calf_start_s):
                leg.calf_start_s = u.start_s
        leg.start_s = min(leg.start_s, u.start_s)
        if u.end_s is not None:
            leg.end_s = max(leg.end_s, u.end_s)
        primary = self._is_primary(leg, u)
        if primary:
            if self._complete is not None:
                self._complete(u)
            leg.primary = u
        else:
            leg.other_amp = u.features.get("amp_rel_median", NAN)
        if u.phase is EpisodePhase.CLOSED:
            leg.open_ids.discard(u.episode_id)
            if not leg.open_ids:
                del self._open[leg_key]
                phase = EpisodePhase.CLOSED
        if phase is EpisodePhase.UPDATED and not primary and u.phase is EpisodePhase.UPDATED:
            return None  # the primary muscle's own updates carry the leg episode
        return self._leg_update(leg, phase, u.known_at_s)

    @staticmethod
    def _is_primary(leg: _LegEpisode, u: EpisodeUpdate) -> bool:
        p = leg.primary
        if p is None:
            return True
        p_calf, u_calf = p.channel.role is Role.CALF, u.channel.role is Role.CALF
        if p_calf != u_calf:
            return u_calf
        if p.channel.label != u.channel.label or p.episode_id == u.episode_id:
            return p.episode_id == u.episode_id
        # A later episode of the same muscle: the longer one speaks for the leg.
        return _duration(u) >= _duration(p)

    @staticmethod
    def _leg_update(leg: _LegEpisode, phase: EpisodePhase, known_at_s: float) -> EpisodeUpdate:
        p = leg.primary
        assert p is not None
        features = dict(p.features)
        features["leg_muscles"] = float(len(leg.channels))
        features["calf_delay_s"] = leg.calf_start_s - leg.start_s
        features["other_amp_rel_median"] = float(leg.other_amp)
        return replace(
            p,
            phase=phase,
            episode_id=leg.episode_id,
            start_s=leg.start_s,
            end_s=leg.end_s if phase is EpisodePhase.CLOSED else None,
            known_at_s=known_at_s,
            features=features,
        )


def _duration(u: EpisodeUpdate) -> float:
    d = u.features.get("duration_s", NAN)
    return d if math.isfinite(d) else 0.0
