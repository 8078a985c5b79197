"""The Detector: EMG (and optional accelerometer) sample blocks in, episodes out.

Causal and stateful. ``process(block)`` returns what became known with that block;
feeding a night in one block per group, in 20 ms blocks or in random sizes gives the
same outputs, provided blocks arrive in time order (sorted by start time, EMG and ACC
interleaved). Per EMG channel: :class:`~sensor.emg_frontend.EmgFrontEnd` (filters,
envelopes, baseline) -> :class:`~sensor.onset.BurstDetector` -> episodes
(:mod:`sensor.episodes`) with features (:mod:`sensor.features`). Parameters live in
:mod:`sensor.detector_config` (re-exported here), recent frames in
:mod:`sensor.frame_history`; a closed episode carries its leg's envelopes
(:mod:`sensor.envelope_ring`).

Accelerometer alignment. Episode features include the accelerometer, so once an ACC
stream exists the detector decides only up to the time both groups have reached.
Whether ACC exists is told by ``expect_acc`` (True/False) or, when None, learned from
the stream: an ACC block seen before the second EMG block means yes; a second EMG
block (or ``finish()``) with no ACC block seen means no. Until then outputs are held
(one EMG block). If the ACC stream stalls more than ``accel.max_lag_s`` behind a new
EMG block, decisions go on without it (ACC features NaN for the stalled time).

Gaps (``gap_before``/``lost_samples`` or a jump of ``t0_s``): a :class:`SignalGap` is
emitted, the filters restart and the first ``filter.settle_s`` of the new run is not
used for decisions (no filter ringing passed off as muscle). A running burst ends at
the gap. An open episode survives a gap of up to ``episode.max_gap_s`` (a band
reconnect mid-cramp) and counts the lost and settling time in its ``gap_s`` feature;
a longer gap closes it at its last burst's end.

Timing. ``known_at_s`` is the time of the last sample a decision used (its frame's
end), not the arrival time of a block, so outputs do not depend on block sizes. With
``filter.mains_hz=None`` (detect 50/60 Hz) the first ``filter.mains_detect_s`` (2 s)
of EMG are held back once, at the start of the stream.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from sensor.accel import AccelStage, motion_rms_g
from sensor.channels import assign_roles, describe_roles
from sensor.detector_config import (
    AccelConfig,
    BaselineConfig,
    DetectorConfig,
    EnvelopeConfig,
    EpisodeConfig,
    FeatureConfig,
    FilterConfig,
    OnsetConfig,
)
from sensor.emg_frontend import EmgFrontEnd, FrameBatch, GapMarker
from sensor.envelope_ring import EnvelopeRing
from sensor.episodes import Episode, commit_frames, emg_features
from sensor.features import FEATURES, NAN, nearest_lead_s
from sensor.frame_history import FrameHistory, split_batch
from sensor.legs import LegFuser, leg_keys
from sensor.onset import BurstDetector, BurstKind
from sensor.recent_window import RecentFeatures, RecentWindow, recent_features
from sensor.records import (
    Burst,
    ChannelInfo,
    DetectorOutput,
    EpisodePhase,
    EpisodeUpdate,
    Role,
    SampleBlock,
    SignalGap,
    SignalGroup,
)

DETECTOR_VERSION = "1.0.0"
# Plans stop this much before an update falls due, so float rounding of the due time
# can only make the frame loop look one frame early, never skip the update.
_PLAN_MARGIN_S = 1e-6

__all__ = [
    "DETECTOR_VERSION",
    "AccelConfig",
    "BaselineConfig",
    "Detector",
    "DetectorConfig",
    "DetectorInputError",
    "EnvelopeConfig",
    "EpisodeConfig",
    "FeatureConfig",
    "FilterConfig",
    "FrameHistory",
    "OnsetConfig",
]


@dataclass
class _Track:
    """Per-channel detection state."""

    index: int
    info: ChannelInfo
    burst: BurstDetector
    other: int | None
    episode: Episode | None = None
    onsets: deque = field(default_factory=lambda: deque(maxlen=16))
    onset_col: np.ndarray | None = None


@dataclass
class _DueFeatures:
    """What an update still lacks until the leg fusion passes it on."""

    update: EpisodeUpdate
    window: RecentWindow
    rhythm_windows: tuple[float, float, float, float] | None  # episode's, recent (s)


class DetectorInputError(ValueError):
    """A block the detector cannot use (wrong group layout, ACC without EMG shape...)."""


class Detector:
    """Streaming muscle-activity detector over one session's EMG (and ACC) blocks."""

    def __init__(
        self,
        config: DetectorConfig | None = None,
        channel_overrides: Mapping[str, ChannelInfo] | None = None,
        *,
        expect_acc: bool | None = None,
    ) -> None:
        self.config = config or DetectorConfig()
        self.channel_overrides = dict(channel_overrides or {})
        self.expect_acc = expect_acc
        self._has_acc: bool | None = expect_acc
        self._emg: EmgFrontEnd | None = None
        self._acc: AccelStage | None = None
        self._channels: tuple[ChannelInfo, ...] = ()
        self._tracks: list[_Track] = []
        self._pending: list[FrameBatch | GapMarker] = []
        self._acc_gaps: list[SignalGap] = []
        self._hist = FrameHistory()
        self._emg_blocks = 0
        self._emg_end_s = -math.inf
        self._acc_floor_s = -math.inf
        self._next_id = 1
        self._finished = False
        self._last_t = -math.inf
        self._keep_frames = 0
        self._legs: LegFuser | None = None
        self._ring: EnvelopeRing | None = None
        self._leg_columns: dict[str, list[int]] = {}
        self._recent: RecentFeatures | None = None
        # Updates whose recent-window and rhythm features wait for the leg fusion: an
        # update of a muscle that does not speak for its leg is dropped there, and those
        # features are never read.
        self._due: dict[int, _DueFeatures] = {}

    # ---------------------------------------------------------------- public surface
    @property
    def channels(self) -> tuple[ChannelInfo, ...]:
        """The EMG channels with muscle, side and role (empty before the first EMG block)."""
        return self._channels

    def describe_channels(self) -> str:
        """Return one line saying which channel was taken for which role."""
        return describe_roles(self._channels)

    @property
    def mains_hz(self) -> float | None:
        """Mains frequency used by the notch (None until known)."""
        return None if self._emg is None else self._emg.mains_hz

    @property
    def has_acc(self) -> bool | None:
        """Whether an accelerometer stream is used (None while still undecided)."""
        return self._has_acc

    def process(self, block: SampleBlock) -> list[DetectorOutput]:
        """Return the episode updates and gaps that became known with ``block``."""
        if self._finished:
            raise DetectorInputError("process() after finish(): start a new Detector")
        if block.group is SignalGroup.EMG:
            self._on_emg(block)
        else:
            self._on_acc(block)
        outputs = self._fuse(self._advance(self._horizon()))
        self._trim()  # after the fusion: the rhythms it completes read the accelerometer
        return self._with_envelopes(outputs)

    def _fuse(self, outputs: list[DetectorOutput]) -> list[DetectorOutput]:
        if not self.config.episode.fuse_legs or not outputs:
            return outputs
        if self._legs is None:
            self._legs = LegFuser(self._channels, complete=self._complete)
        fused = self._legs.feed(outputs)
        self._due.clear()  # the rest were dropped by the fusion
        return fused

    def _complete(self, update: EpisodeUpdate) -> None:
        """Fill in the deferred features of an update the leg fusion passes on."""
        due = self._due.pop(id(update), None)
        if due is not None:
            self._fill_deferred(due)

    def _fill_deferred(self, due: _DueFeatures) -> None:
        assert self._recent is not None
        features = due.update.features
        self._recent.fill(self._hist, self._acc, due.window, features)
        if due.rhythm_windows is not None:
            self._fill_rhythms(features, due.rhythm_windows)

    def _fill_rhythms(self, features: dict[str, float],
                      windows: tuple[float, float, float, float]) -> None:
        """Set the episode's and the recent acceleration rhythm from their windows (s)."""
        acc = self._acc
        assert acc is not None
        a = self.config.accel
        w0, w1, r0, r1 = windows
        hz, strength = acc.rhythm(w0, w1, a.rhythm_low_hz, a.rhythm_high_hz)
        _, recent = acc.rhythm(r0, r1, a.rhythm_low_hz, a.rhythm_high_hz)
        features["acc_rhythm_hz"] = float(hz)
        features["acc_rhythm_strength"] = float(strength)
        features["recent_rhythm_strength"] = float(recent)

    def finish(self) -> list[DetectorOutput]:
        """Return everything still pending at the end of the stream; closes open episodes."""
        if self._finished:
            return []
        self._finished = True
        if self._emg is not None:
            self._pending.extend(self._emg.flush())
        if self._has_acc is None:
            self._has_acc = False
        out = self._advance(math.inf)
        for tr in self._tracks:
            if tr.episode is not None:
                if tr.burst.in_burst:
                    self._end_running_burst(tr, self._last_t, self._hist.k0 + self._hist.n - 1)
                out.append(self._close(tr, self._last_t))
        return self._with_envelopes(self._fuse(out))

    def _with_envelopes(self, outputs: list[DetectorOutput]) -> list[DetectorOutput]:
        """Attach to each closed episode the envelopes of its leg's muscles around it."""
        ring = self._ring
        if ring is None:
            return outputs
        for n, o in enumerate(outputs):
            if isinstance(o, EpisodeUpdate) and o.phase is EpisodePhase.CLOSED:
                columns = self._leg_columns.get(o.channel.label, [])
                if columns:
                    snippet = ring.snippet(columns, [self._channels[c] for c in columns],
                                           o.start_s, o.known_at_s)
                    outputs[n] = replace(o, envelope=snippet)
        # Decisions of later blocks come after this block's horizon: the ring keeps
        # what their snippets can reach back to.
        ring.trim_before(self._last_t - ring.keep_s)
        return outputs

    # ---------------------------------------------------------------- intake
    def _on_emg(self, block: SampleBlock) -> None:
        if self._emg is None:
            if block.n_channels == 0:
                raise DetectorInputError("EMG block has no channels: give at least one")
            self._emg = EmgFrontEnd(self.config, block.labels, block.fs_hz)
            self._channels = assign_roles(block.labels, self.channel_overrides)
            self._make_tracks()
            self._ring = EnvelopeRing(len(self._channels), self._emg.hop_s)
            self._recent = RecentFeatures(self.config.episode, self.config.onset.on_ratio,
                                          self._emg.hop_s)
            keys = leg_keys(self._channels)
            self._leg_columns = {
                info.label: [j for j, other in enumerate(keys) if other == key]
                for info, key in zip(self._channels, keys, strict=True)
            }
        self._emg_blocks += 1
        if not self._keep_frames:
            cfg = self.config
            self._keep_frames = 2 + math.ceil(
                max(cfg.onset.max_lookback_s + cfg.onset.min_on_s + cfg.onset.min_off_s,
                    cfg.episode.recent_window_s)
                / self._emg.hop_s
            )
        if self._has_acc is None and self._emg_blocks >= 2:
            self._has_acc = False
        if self._has_acc:  # also when the promised ACC stream never starts
            self._acc_floor_s = max(self._acc_floor_s, block.t0_s - self.config.accel.max_lag_s)
        self._pending.extend(self._emg.process(block))
        self._emg_end_s = max(self._emg_end_s, block.t_end_s)

    def _on_acc(self, block: SampleBlock) -> None:
        if self.expect_acc is False:
            return  # told there is no accelerometer worth using
        if self._acc is None:
            self._acc = AccelStage(self.config.accel, block.labels, block.fs_hz)
            if self._has_acc is None or self._has_acc is False:
                self._has_acc = True
        for marker in self._acc.process(block):
            self._acc_gaps.append(marker.gap)

    def _horizon(self) -> float:
        if self._has_acc is None:
            return -math.inf
        if self._has_acc:
            acc_end = -math.inf if self._acc is None else self._acc.end_s
            return min(self._emg_end_s, max(acc_end, self._acc_floor_s))
        return self._emg_end_s

    def _make_tracks(self) -> None:
        cfg = self.config
        fe = self._emg
        assert fe is not None
        infos = self._channels
        for c, info in enumerate(infos):
            self._tracks.append(
                _Track(
                    index=c,
                    info=info,
                    other=self._other_channel(c),
                    burst=BurstDetector(
                        on_ratio=cfg.onset.on_ratio,
                        off_ratio=cfg.onset.off_ratio,
                        refine_ratio=cfg.onset.refine_ratio,
                        min_on_frames=max(1, round(cfg.onset.min_on_s / fe.hop_s)),
                        min_off_frames=max(1, round(cfg.onset.min_off_s / fe.hop_s)),
                        lookback_frames=round(cfg.onset.max_lookback_s / fe.hop_s),
                        onset_window_s=fe.onset_frames * fe.hop_s,
                    ),
                )
            )

    def _other_channel(self, c: int) -> int | None:
        infos = self._channels
        me = infos[c]
        want = {Role.CALF: Role.SHIN, Role.SHIN: Role.CALF}.get(me.role)
        candidates = [j for j in range(len(infos)) if j != c]
        if not candidates:
            return None
        if want is not None:
            same_side = [j for j in candidates if infos[j].role is want
                         and infos[j].side is me.side]
            any_side = [j for j in candidates if infos[j].role is want]
            if same_side:
                return same_side[0]
            if any_side:
                return any_side[0]
        return candidates[0]

    # ---------------------------------------------------------------- decisions
    def _advance(self, horizon: float) -> list[DetectorOutput]:
        out: list[tuple[float, DetectorOutput]] = []
        while self._pending:
            item = self._pending[0]
            if isinstance(item, GapMarker):
                if item.gap.end_s > horizon:
                    break
                self._pending.pop(0)
                self._on_gap(item.gap, out)
                continue
            n_ok = int(np.searchsorted(item.t_end, horizon, side="right"))
            if n_ok == 0:
                break
            if n_ok < item.n:
                head, rest = split_batch(item, n_ok)
                self._pending[0] = rest
            else:
                head = item
                self._pending.pop(0)
            self._run(head, out)
        acc_gaps = [g for g in self._acc_gaps if g.end_s <= horizon] if self._acc_gaps else []
        if acc_gaps:
            self._acc_gaps = [g for g in self._acc_gaps if g.end_s > horizon]
            out.extend((g.end_s, g) for g in acc_gaps)
            out.sort(key=lambda pair: pair[0])
        return [o for _, o in out]

    def _trim(self) -> None:
        cfg = self.config
        fe = self._emg
        if fe is None or self._hist.n == 0:
            return
        # Frames still needed: the onset lookback, and every frame of an open episode
        # not yet committed to its sums.
        if self._hist.n < 2 * self._keep_frames + 200:
            return  # trimming is amortised: memory stays bounded, blocks stay cheap
        keep = self._hist.k0 + self._hist.n - self._keep_frames
        for tr in self._tracks:
            if tr.episode is not None:
                keep = min(keep, tr.episode.committed_frame + 1)
        self._hist.trim_before(keep)
        if self._acc is not None:
            t_keep = self._last_t - max(cfg.accel.rhythm_window_s, cfg.accel.pre_onset_s) - 5.0
            for tr in self._tracks:
                if tr.episode is not None:
                    t_keep = min(t_keep, tr.episode.acc_cursor_s - cfg.accel.rhythm_window_s)
            self._acc.trim_before(t_keep)

    def _on_gap(self, gap: SignalGap, out: list) -> None:
        out.append((gap.end_s, gap))
        last_k = self._hist.k0 + self._hist.n - 1
        for tr in self._tracks:
            ep = tr.episode
            if tr.burst.in_burst and ep is not None:
                self._end_running_burst(tr, gap.start_s, last_k)
            tr.burst.interrupt()
            if ep is not None:
                ep.tail_gap_s += gap.end_s - gap.start_s
                if gap.end_s - gap.start_s > self.config.episode.max_gap_s:
                    out.append((gap.end_s, self._close(tr, gap.end_s)))

    def _end_running_burst(self, tr: _Track, end_s: float, end_k: int) -> None:
        ep = tr.episode
        assert ep is not None
        ep.ends_s.append(max(end_s, ep.onsets_s[-1]))
        ep.peaks.append(tr.burst.peak_rel)
        commit_frames(ep, self._hist, tr.index, tr.other, end_k, ep.burst_onset_frame,
                      self.config.onset.on_ratio)
        ep.burst_onset_frame = -1
        ep.quiet_s = 0.0

    def _run(self, batch: FrameBatch, out: list) -> None:
        h = self._hist
        h.extend(batch)
        if self._ring is not None:
            self._ring.add(batch.k0, batch.t_end, batch.env)
        cfg = self.config
        hop_s = self._emg.hop_s
        i0 = batch.k0 - h.k0
        i1 = i0 + batch.n
        b_env, b_base = batch.env, batch.base
        with np.errstate(invalid="ignore"):
            above = batch.valid[:, None] & (b_env > cfg.onset.on_ratio * b_base)
            below = b_env < cfg.onset.off_ratio * b_base
        tracks = self._tracks
        if not above.any() and all(tr.episode is None and tr.burst.idle for tr in tracks):
            self._last_t = float(batch.t_end[-1])  # a quiet block (most blocks of a night)
            return
        # Frames (hist indices) where a channel's state could change: an idle channel
        # only when it rises above the onset threshold, a channel in a burst only when
        # it falls below the offset threshold or an update is due, an episode's quiet
        # tail when it rises, an update is due or the quiet time ends it. Frames in
        # between are skipped in bulk (most of a night), so the per-frame loop runs only
        # around onsets, offsets, updates and episode ends.
        dense = batch.n <= 8  # a live block: stepping every frame is cheaper than planning
        if not dense:
            rises = [np.flatnonzero(above[:, c]) + i0 for c in range(above.shape[1])]
            falls = [np.flatnonzero(below[:, c]) + i0 for c in range(below.shape[1])]
        t_batch = batch.t_end
        all_valid = bool(batch.valid.all())
        for tr in self._tracks:
            tr.onset_col = h.onset_env[:, tr.index]
        env, base, valid, t_end = h.env, h.base, h.valid, h.t_end
        tracks = self._tracks
        end_quiet = cfg.episode.end_quiet_s
        interval = cfg.episode.update_interval_s
        i = i0
        while i < i1:
            nxt = i if dense else i1
            for tr in tracks if not dense else ():
                b = tr.burst
                if b.run_on or b.run_off:
                    nxt = i
                    break
                ep = tr.episode
                c = tr.index
                if b.in_burst:
                    assert ep is not None
                    idx = falls[c]
                    p = int(np.searchsorted(idx, i))
                    n_c = int(idx[p]) if p < idx.size else i1
                    due = ep.last_emit_s + interval - 1e-9
                    n_c = min(n_c, i0 + int(np.searchsorted(t_batch, due)))
                elif ep is not None:  # quiet tail
                    idx = rises[c]
                    p = int(idx.searchsorted(i))
                    n_c = int(idx[p]) if p < idx.size else i1
                    due = ep.last_emit_s + interval - 1e-9 - _PLAN_MARGIN_S
                    n_c = min(n_c, i0 + int(t_batch.searchsorted(due)),
                              self._quiet_end_frame(ep.quiet_s, i, i1, all_valid))
                else:
                    idx = rises[c]
                    p = int(np.searchsorted(idx, i))
                    n_c = int(idx[p]) if p < idx.size else i1
                if n_c < nxt:
                    nxt = n_c
                    if nxt <= i:
                        break
            if nxt > i:
                for tr in tracks:
                    if tr.burst.in_burst:
                        c = tr.index
                        peak = float(np.max(env[i:nxt, c] / base[i:nxt, c]))
                        if peak > tr.burst.peak_rel:
                            tr.burst.peak_rel = peak
                    elif tr.episode is not None:
                        # The quiet time as the frame loop adds it, one valid frame at a time.
                        n_quiet = nxt - i if all_valid else int(np.count_nonzero(valid[i:nxt]))
                        quiet = tr.episode.quiet_s
                        for _ in range(n_quiet):
                            quiet += hop_s
                        tr.episode.quiet_s = quiet
                i = nxt
                if i >= i1:
                    break
            k = h.k0 + i
            t = float(t_end[i])
            v = bool(valid[i])
            for tr in tracks:
                c = tr.index
                ev = tr.burst.step(i, k, float(env[i, c]), float(base[i, c]), v,
                                   tr.onset_col, t_end, valid)
                ep = tr.episode
                emitted = False
                if ev is not None and ev.kind is BurstKind.ONSET:
                    tr.onsets.append(ev.time_s)
                    if ep is None:
                        ep = Episode(
                            episode_id=self._next_id,
                            start_s=ev.time_s,
                            onset_frame=ev.frame,
                            baseline_uv=float(base[i, c]),
                            committed_frame=ev.frame - 1,
                            acc_cursor_s=ev.time_s,
                        )
                        self._next_id += 1
                        tr.episode = ep
                        phase = EpisodePhase.OPENED
                    else:
                        ep.gap_s += ep.tail_gap_s
                        ep.tail_gap_s = 0.0
                        phase = EpisodePhase.UPDATED
                    ep.onsets_s.append(ev.time_s)
                    ep.burst_onset_frame = ev.frame
                    ep.quiet_s = 0.0
                    out.append((t, self._emit(tr, phase, t, k)))
                    emitted = True
                elif ev is not None:  # offset
                    assert ep is not None
                    self._end_running_burst(tr, ev.time_s, ev.frame)
                    ep.quiet_s = t - ev.time_s
                elif ep is not None and not tr.burst.in_burst and v:
                    ep.quiet_s += hop_s
                if ep is not None and not tr.burst.in_burst and ep.quiet_s >= end_quiet:
                    out.append((t, self._close(tr, t)))
                    continue
                if ep is not None and not emitted and t - ep.last_emit_s >= interval - 1e-9:
                    out.append((t, self._emit(tr, EpisodePhase.UPDATED, t, k)))
            self._last_t = t
            i += 1
        if batch.n:
            self._last_t = float(batch.t_end[-1])

    def _quiet_end_frame(self, quiet_s: float, i: int, i1: int, all_valid: bool) -> int:
        """Return the hist index of the frame whose quiet time ends an episode (i1: none yet)."""
        end_quiet = self.config.episode.end_quiet_s
        if quiet_s >= end_quiet:
            return i
        hop_s = self._emg.hop_s
        frames = 0
        while quiet_s < end_quiet:  # the same float sums as the frame loop's
            quiet_s += hop_s
            frames += 1
        if all_valid:
            return min(i + frames - 1, i1)
        at = np.flatnonzero(self._hist.valid[i:i1])
        return i + int(at[frames - 1]) if at.size >= frames else i1

    # ---------------------------------------------------------------- outputs
    def _emit(self, tr: _Track, phase: EpisodePhase, t: float, k: int) -> EpisodeUpdate:
        ep = tr.episode
        assert ep is not None
        running = tr.burst.in_burst
        if running:
            commit_frames(ep, self._hist, tr.index, tr.other, k, ep.burst_onset_frame,
                          self.config.onset.on_ratio)
        ep.last_emit_s = t
        return self._update(tr, phase, t, end_s=None)

    def _close(self, tr: _Track, t: float) -> EpisodeUpdate:
        ep = tr.episode
        assert ep is not None
        update = self._update(tr, EpisodePhase.CLOSED, t, end_s=ep.last_end_s)
        tr.episode = None
        return update

    def _update(
        self, tr: _Track, phase: EpisodePhase, t: float, end_s: float | None
    ) -> EpisodeUpdate:
        ep = tr.episode
        assert ep is not None
        running_start = ep.onsets_s[-1] if tr.burst.in_burst and end_s is None else None
        fe = self._emg
        assert fe is not None
        feats = emg_features(ep, t, running_start, fe.freqs_hz, fe.hop_s, tr.other is not None)
        other_onsets = list(self._tracks[tr.other].onsets) if tr.other is not None else []
        feats["lead_s"] = nearest_lead_s(ep.start_s, other_onsets,
                                         self.config.episode.lead_window_s)
        cur_end = t if running_start is not None else ep.last_end_s
        acc_ok = self._acc_usable(t)  # once per update: both feature sets need it
        feats.update(self._acc_features(ep, cur_end, t, acc_ok))
        assert self._recent is not None
        window = self._recent.measure(self._hist, self._acc, ep, tr.index, tr.other, t, acc_ok)
        feats.update(recent_features(ep, window))
        windows = None
        if acc_ok:
            a = self.config.accel
            windows = (max(ep.start_s, cur_end - a.rhythm_window_s), cur_end,
                       t - a.recent_rhythm_window_s, t)
        bursts = [Burst(s, e, p) for s, e, p in zip(ep.onsets_s, ep.ends_s, ep.peaks,
                                                   strict=False)]
        if running_start is not None:
            bursts.append(Burst(running_start, t, tr.burst.peak_rel))
        # Keep the documented key order; every documented feature is always present.
        features = {name: float(feats.get(name, NAN)) for name in FEATURES}
        update = EpisodeUpdate(
            phase=phase,
            episode_id=ep.episode_id,
            channel=tr.info,
            start_s=ep.start_s,
            end_s=end_s,
            known_at_s=t,
            bursts=tuple(bursts),
            features=features,
        )
        due = _DueFeatures(update, window, windows)
        if self.config.episode.fuse_legs:
            self._due[id(update)] = due
        else:
            self._fill_deferred(due)
        return update

    def _acc_usable(self, t: float) -> bool:
        """Return True when an accelerometer streams and is not stuck at time t."""
        acc = self._acc
        if not self._has_acc or acc is None:
            return False
        a = self.config.accel
        return not acc.stuck(t - a.stuck_s, t, a.stuck_tolerance_g)

    def _acc_features(self, ep: Episode, cur_end_s: float, now_s: float,
                      acc_ok: bool) -> dict[str, float]:
        names = ("acc_upright", "acc_tilt_deg", "acc_motion_pre_g", "acc_motion_onset_g",
                 "acc_motion_during_g")
        acc = self._acc
        if not acc_ok or acc is None:
            return dict.fromkeys(names, NAN)
        cfg = self.config.accel
        if cur_end_s > ep.acc_cursor_s:
            dyn, tilt = acc.window(ep.acc_cursor_s, cur_end_s)
            # The sums as ndarray.sum and np.sum run them, without their Python layers.
            ep.acc.n += int(tilt.size)
            ep.acc.upright += int(np.count_nonzero(tilt < cfg.upright_max_tilt_deg))
            ep.acc.tilt_sum += float(np.add.reduce(tilt))
            ep.acc.dyn_sq += float(np.add.reduce(dyn * dyn, axis=None))
            ep.acc_cursor_s = cur_end_s
        if math.isnan(ep.acc_pre_g):
            ep.acc_pre_g = motion_rms_g(acc.dynamic(ep.start_s - cfg.pre_onset_s, ep.start_s))
        if not ep.acc_onset_final:
            hw = cfg.onset_halfwidth_s
            # Only data up to now: what arrived beyond it depends on block sizes.
            ep.acc_onset_g = motion_rms_g(
                acc.dynamic(ep.start_s - hw, min(ep.start_s + hw, now_s))
            )
            ep.acc_onset_final = now_s >= ep.start_s + hw
        n = ep.acc.n
        # acc_rhythm_hz and acc_rhythm_strength: _fill_rhythms().
        return {
            "acc_upright": ep.acc.upright / n if n else NAN,
            "acc_tilt_deg": ep.acc.tilt_sum / n if n else NAN,
            "acc_motion_pre_g": ep.acc_pre_g,
            "acc_motion_onset_g": ep.acc_onset_g,
            "acc_motion_during_g": math.sqrt(ep.acc.dyn_sq / n) if n else NAN,
        }
