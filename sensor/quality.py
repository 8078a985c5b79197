"""Signal quality of a whole recording: dead, flat, clipped or missing channels.

:class:`SignalQuality` is fed the same :class:`~sensor.records.SampleBlock` s as the
Detector and keeps, per EMG channel, the seconds seen, flat and clipped and the RMS,
and per accelerometer the seconds it was stuck. :meth:`SignalQuality.warnings` turns
them into plain sentences for the person reading a night's results. Each block costs
a few vectorised numpy operations over its samples (no per-sample Python).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from sensor.detector import AccelConfig, FeatureConfig
from sensor.records import SampleBlock, SignalGroup


@dataclass(frozen=True)
class QualityConfig:
    """What counts as flat, clipped or stuck, and how much of it is worth a warning."""

    # EMG is judged in hops of this length: the Detector's 10 ms feature hop.
    hop_s: float = 0.01
    # A hop varying less than this is a flat line (no contact); the Detector's own limits.
    flat_std_uv: float = FeatureConfig.flat_std_uv
    # Repeated samples at or above this magnitude are clipping.
    clip_min_uv: float = FeatureConfig.clip_min_uv
    # A hop is clipped when its extreme value is held by this many samples: a real peak
    # seldom repeats a 16-bit value three times in 10 ms, a saturated amplifier does.
    clip_run: int = 3
    # Flat (or flat + clipped) for at least this share of the night: the channel is dead
    # and its calls would rest on nothing.
    dead_fraction: float = 0.5
    # Flat for at least this share (but less than dead): contact was lost for a good part.
    flat_fraction: float = 0.1
    # Clipped for at least this share: amplitudes and spectra are distorted that often.
    clip_fraction: float = 0.05
    # The accelerometer is judged in hops of this length; a hop in which no axis moves
    # by more than stuck_tolerance_g is stuck (a working sensor's noise moves its last
    # bits every sample), as AccelConfig.stuck_tolerance_g.
    acc_hop_s: float = 1.0
    stuck_tolerance_g: float = AccelConfig.stuck_tolerance_g
    # Stuck for at least this share of the night: posture and motion are unknown then.
    stuck_fraction: float = 0.1


@dataclass
class _GroupState:
    """Per signal group: labels, hop length in samples and the samples not yet in a hop."""

    labels: tuple[str, ...]
    hop: int
    rest: np.ndarray


@dataclass
class ChannelQuality:
    """One EMG channel over the recording."""

    label: str
    seen_s: float = 0.0
    flat_s: float = 0.0
    clipped_s: float = 0.0
    sum_sq: float = 0.0
    n_samples: int = 0

    @property
    def rms_uv(self) -> float:
        return math.sqrt(self.sum_sq / self.n_samples) if self.n_samples else math.nan

    @property
    def flat_share(self) -> float:
        return self.flat_s / self.seen_s if self.seen_s > 0 else 0.0

    @property
    def clipped_share(self) -> float:
        return self.clipped_s / self.seen_s if self.seen_s > 0 else 0.0


@dataclass
class AccelQuality:
    """One accelerometer (its axes) over the recording."""

    labels: tuple[str, ...]
    seen_s: float = 0.0
    stuck_s: float = 0.0

    @property
    def stuck_share(self) -> float:
        return self.stuck_s / self.seen_s if self.seen_s > 0 else 0.0


@dataclass
class SignalQuality:
    """Accumulates signal quality from SampleBlocks; :meth:`warnings` says what was wrong.

    ``emg_labels`` and ``expect_acc`` are what the recording declares: an EMG channel
    that never sends a sample, or a missing accelerometer, is warned about too.
    """

    emg_labels: Sequence[str] = ()
    expect_acc: bool = True
    config: QualityConfig = field(default_factory=QualityConfig)

    def __post_init__(self) -> None:
        self.emg: dict[str, ChannelQuality] = {
            label: ChannelQuality(label) for label in self.emg_labels}
        self.acc: AccelQuality | None = None
        self._groups: dict[SignalGroup, _GroupState] = {}

    def add(self, block: SampleBlock) -> None:
        """Take one block (EMG or ACC); other groups are ignored."""
        if block.group not in (SignalGroup.EMG, SignalGroup.ACC):
            return
        hop_s = self.config.hop_s if block.group == SignalGroup.EMG else self.config.acc_hop_s
        state = self._groups.get(block.group)
        if state is None or state.labels != block.labels or block.gap_before:
            # A gap or a new channel set: a hop never spans it.
            hop = max(1, round(hop_s * block.fs_hz))
            state = _GroupState(block.labels, hop,
                                np.empty((0, block.n_channels), dtype=np.float32))
            self._groups[block.group] = state
        data = block.samples if not state.rest.shape[0] else np.concatenate(
            (state.rest, block.samples))
        n_hops = data.shape[0] // state.hop
        used = n_hops * state.hop
        state.rest = data[used:].copy()
        if not n_hops:
            return
        hops = data[:used].reshape(n_hops, state.hop, data.shape[1])
        seconds = state.hop / block.fs_hz
        if block.group == SignalGroup.EMG:
            self._add_emg(block.labels, hops, seconds)
        else:
            self._add_acc(block.labels, hops, seconds)

    def _add_emg(self, labels: tuple[str, ...], hops: np.ndarray, hop_s: float) -> None:
        cfg = self.config
        n = hops.shape[1]
        # Finite sums of squares: every sample is finite (an overflow to inf only takes
        # the general branch, which gives the same figures for finite samples).
        sum_sq = np.einsum("ijk,ijk->k", hops, hops)
        if np.isfinite(sum_sq).all():
            x = hops
            ok = np.ones((hops.shape[0], hops.shape[2]), dtype=bool)
            counts = np.full(hops.shape[2], hops.shape[0] * n)
        else:
            finite = np.isfinite(hops)
            x = np.where(finite, hops, np.float32(0.0))
            ok = finite.all(axis=1)  # (n_hops, n_channels)
            counts = finite.sum(axis=(0, 1))
            sum_sq = np.einsum("ijk,ijk->k", x, x)
        # Only a hop whose range is small can have an SD below flat_std_uv (SD >= range /
        # sqrt(2 n)), and only one reaching clip_min_uv can be clipped: the rest are skipped.
        small_range = cfg.flat_std_uv * math.sqrt(2 * n)
        flat = np.zeros_like(ok)
        clipped = np.zeros_like(ok)
        # Flat candidates: a hop whose first sample is small_range or more from its
        # middle or last one has a range at least as large (in float32 too: rounding
        # keeps the order), so it is no candidate; the others' range is checked.
        first = x[:, 0, :]
        spread = np.maximum(np.abs(first - x[:, n // 2, :]), np.abs(first - x[:, -1, :]))
        hop_i, chan = np.nonzero(spread < small_range)
        if hop_i.size:
            rows = x[hop_i, :, chan]
            near = rows.max(axis=1) - rows.min(axis=1) < small_range
            hop_i, chan = hop_i[near], chan[near]
            flat[hop_i, chan] = rows[near].astype(np.float64).std(axis=1) < cfg.flat_std_uv
        # Clipped: the hop's extreme (beyond clip_min_uv) is held by clip_run samples.
        # Only hops in a run of hops that reaches a rail need their max and min (an
        # eighth of a night's hops, none in most blocks).
        loud = _loud_hops(x, cfg.clip_min_uv)
        if loud.size:
            top, bottom = _hop_max_min(x[loud])
            for extreme, reached in ((top, top >= cfg.clip_min_uv),
                                     (bottom, bottom <= -cfg.clip_min_uv)):
                row, chan = np.nonzero(reached)
                if row.size:
                    hop_i = loud[row]
                    held = (x[hop_i, :, chan] == extreme[row, chan][:, None]).sum(axis=1)
                    clipped[hop_i, chan] |= held >= cfg.clip_run
        flat &= ~clipped & ok
        clipped &= ok
        seen = ok.sum(axis=0) * hop_s
        n_flat = flat.sum(axis=0) * hop_s
        n_clip = clipped.sum(axis=0) * hop_s
        for c, label in enumerate(labels):
            ch = self.emg.get(label)
            if ch is None:
                ch = self.emg[label] = ChannelQuality(label)
            ch.seen_s += float(seen[c])
            ch.flat_s += float(n_flat[c])
            ch.clipped_s += float(n_clip[c])
            ch.sum_sq += float(sum_sq[c])
            ch.n_samples += int(counts[c])

    def _add_acc(self, labels: tuple[str, ...], hops: np.ndarray, hop_s: float) -> None:
        if self.acc is None:
            self.acc = AccelQuality(labels)
        # NaN spans compare False: samples that are not numbers are not "stuck".
        top, bottom = _hop_max_min(hops)
        spread = top - bottom  # np.ptp's arithmetic
        stuck = (spread <= self.config.stuck_tolerance_g).all(axis=1)
        self.acc.seen_s += hops.shape[0] * hop_s
        self.acc.stuck_s += float(stuck.sum()) * hop_s

    def warnings(self) -> list[str]:
        """Return one plain sentence per problem found (empty for a healthy recording)."""
        return [sentence for sentence, _ in self._findings()]

    def short_warnings(self) -> list[str]:
        """Return :meth:`warnings` as a few words each (at most 24 characters, EDF+ notes)."""
        return [short[:24] for _, short in self._findings()]

    def _findings(self) -> list[tuple[str, str]]:
        cfg = self.config
        out: list[tuple[str, str]] = []
        dead = set()
        for ch in self.emg.values():
            if ch.seen_s <= 0 or ch.flat_share + ch.clipped_share >= cfg.dead_fraction:
                dead.add(ch.label)
        usable = [label for label in self.emg if label not in dead]
        fallback = (f"calls use {_names(usable)} only" if usable
                    else "no EMG channel carries muscle activity: no calls can be trusted")
        for ch in self.emg.values():
            name = f"channel {ch.label!r}"
            if ch.seen_s <= 0:
                out.append((f"{name} carried no samples: {fallback}", f"no data {ch.label}"))
            elif ch.label in dead:
                if ch.clipped_share >= ch.flat_share:
                    out.append((f"{name} was pinned at its limit for {_pct(ch.clipped_share)} "
                                f"of the night (amplifier saturated or lead broken): {fallback}",
                                f"pinned {ch.label}"))
                else:
                    out.append((f"{name} was flat for {_pct(ch.flat_share)} of the night "
                                f"(electrode off or dead): {fallback}", f"dead {ch.label}"))
            else:
                if ch.flat_share >= cfg.flat_fraction:
                    out.append((f"{name} was flat for {_pct(ch.flat_share)} of the night "
                                "(electrode contact lost at times): nothing is called on it "
                                "then", f"flat {ch.label}"))
                if ch.clipped_share >= cfg.clip_fraction:
                    out.append((f"{name} was clipped for {_pct(ch.clipped_share)} of the "
                                "night (gain too high or a loose lead): amplitudes and spectra "
                                "are distorted then", f"clipped {ch.label}"))
        if len(self.emg) == 1:
            (label,) = self.emg
            out.append((f"only one EMG channel ({label!r}): no co-activation evidence",
                        "one EMG channel"))
        if not self.expect_acc:
            out.append(("no accelerometer in this recording: posture and motion unknown",
                        "no accelerometer"))
        elif self.acc is None or self.acc.seen_s <= 0:
            if self.emg and any(ch.seen_s > 0 for ch in self.emg.values()):
                out.append(("the accelerometer sent no samples: posture and motion unknown",
                            "no accelerometer data"))
        elif self.acc.stuck_share >= cfg.stuck_fraction:
            out.append((f"the accelerometer was stuck for {_pct(self.acc.stuck_share)} of "
                        "the night: posture and motion unknown", "accelerometer stuck"))
        return out


def _pct(share: float) -> str:
    return f"{round(100 * share)} %"


def _names(labels: Sequence[str]) -> str:
    return ", ".join(repr(label) for label in labels)


# Hops per run whose max and min are looked at together before each hop's are needed.
_LOUD_RUN_HOPS = 10


def _loud_hops(hops: np.ndarray, level: float) -> np.ndarray:
    """Return the indices of the hops in runs of ``_LOUD_RUN_HOPS`` hops that reach +-level.

    Every hop whose samples reach the level is among them (a superset: max and min are
    exact); a last run of fewer hops is returned whole.
    """
    n_hops = hops.shape[0]
    whole = n_hops - n_hops % _LOUD_RUN_HOPS
    runs = hops[:whole].reshape(whole // _LOUD_RUN_HOPS, _LOUD_RUN_HOPS * hops[0].size)
    reach = (runs.max(axis=1) >= level) | (runs.min(axis=1) <= -level)
    hop_i = (np.flatnonzero(reach)[:, None] * _LOUD_RUN_HOPS
             + np.arange(_LOUD_RUN_HOPS)).ravel()
    return np.concatenate([hop_i, np.arange(whole, n_hops)]) if whole < n_hops else hop_i


def _hop_max_min(hops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return each hop's max and min per channel of (hops, samples, channels).

    Many hops (a replayed chunk): each hop's row of samples is halved again and again,
    a handful of element-wise max/min calls over the whole block; a reduction over the
    middle axis, or a transposed copy first, costs two to ten times as much. Few hops (a
    live block): segment reductions over the samples as they lie. Max and min are
    exact, so both ways give the same values.
    """
    n_hops, hop, n_ch = hops.shape
    if n_hops < 64:
        samples = hops.reshape(-1, n_ch)
        starts = np.arange(0, samples.shape[0], hop)
        return (np.maximum.reduceat(samples, starts, axis=0),
                np.minimum.reduceat(samples, starts, axis=0))
    top = bottom = hops.reshape(n_hops, hop * n_ch)  # a hop's samples, channels interleaved
    width = hop
    while width > 1:
        half = width // 2
        cut = half * n_ch  # whole samples: channel c stays at the columns c, c + n_ch, ...
        new_top = np.maximum(top[:, :cut], top[:, cut : 2 * cut])
        new_bottom = np.minimum(bottom[:, :cut], bottom[:, cut : 2 * cut])
        if width % 2:  # the odd sample left over joins the first
            np.maximum(new_top[:, :n_ch], top[:, 2 * cut :], out=new_top[:, :n_ch])
            np.minimum(new_bottom[:, :n_ch], bottom[:, 2 * cut :], out=new_bottom[:, :n_ch])
        top, bottom, width = new_top, new_bottom, half
    return top, bottom
