"""Episodes: bursts grouped into muscle-activity episodes, with running feature sums.

Grouping (bruxism scoring rule, DOMAIN.md): bursts less than 2 s apart belong to one
episode and 3 s of quiet ends it. In the 2-3 s zone the burst joins the open episode:
an episode stays open until ``end_quiet_s`` (3 s) of valid quiet signal has passed,
since splitting a fading clonic cramp whose relaxations lengthen would report it
twice. Frames that are not valid (a gap's settling time) do not count as quiet.

Frame statistics are committed to the episode only while a burst runs (up to the
current frame) and at a burst's end (up to its refined end), so the quiet tail after
the last burst is never part of a closed episode, and becomes part of it as soon as
another burst joins.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from sensor.features import NAN, burst_features, median_frequency_hz, safe_ratio

# Log2 histogram of envelope/baseline ratios for running medians: 1/4x .. 1024x in
# 1/20-octave bins (3.5 % resolution) without keeping every frame.
_HIST_LO, _HIST_HI, _HIST_BINS = -2.0, 10.0, 240
_HIST_WIDTH = (_HIST_HI - _HIST_LO) / _HIST_BINS
_sum = np.add.reduce


def _hist_add(hist: np.ndarray, ratios: np.ndarray) -> None:
    r = ratios[np.isfinite(ratios) & (ratios > 0)]
    if r.size == 0:
        return
    idx = ((np.log2(r) - _HIST_LO) / _HIST_WIDTH).astype(np.int64)
    # np.clip's result for integers, without its per-call wrapper (twice per update).
    idx = np.minimum(np.maximum(idx, 0), _HIST_BINS - 1)
    hist += np.bincount(idx, minlength=_HIST_BINS)


def _hist_median(hist: np.ndarray) -> float:
    total = hist.sum()
    if total == 0:
        return NAN
    i = int(np.searchsorted(np.cumsum(hist), 0.5 * total))
    return float(2.0 ** (_HIST_LO + (i + 0.5) * _HIST_WIDTH))


@dataclass
class FrameStats:
    """Sums over committed frames of an episode (all frames from onset to last end)."""

    n: int = 0
    invalid: int = 0
    sq_bp: float = 0.0
    sq_clean: float = 0.0
    lf2: float = 0.0
    clip: float = 0.0
    flat: int = 0
    coact: int = 0
    other_alone: int = 0  # frames with the other channel active and this one resting
    other_hist: np.ndarray = field(default_factory=lambda: np.zeros(_HIST_BINS))
    # Pearson sums of (this, other) envelope/baseline for the alternation index.
    pn: int = 0
    sx: float = 0.0
    sy: float = 0.0
    sxx: float = 0.0
    syy: float = 0.0
    sxy: float = 0.0


@dataclass
class BurstStats:
    """Sums over frames inside bursts."""

    n: int = 0
    rel_sum: float = 0.0
    rel_sq: float = 0.0
    rel_peak: float = 0.0
    hist: np.ndarray = field(default_factory=lambda: np.zeros(_HIST_BINS))
    spectrum: np.ndarray | None = None


@dataclass
class AccStats:
    """Sums over accelerometer samples of an episode."""

    n: int = 0
    upright: int = 0
    tilt_sum: float = 0.0
    dyn_sq: float = 0.0


@dataclass
class Episode:
    """One open episode of one channel."""

    episode_id: int
    start_s: float
    onset_frame: int
    baseline_uv: float
    committed_frame: int  # last global frame whose statistics are in ``frames``
    acc_cursor_s: float
    onsets_s: list[float] = field(default_factory=list)
    ends_s: list[float] = field(default_factory=list)
    peaks: list[float] = field(default_factory=list)
    frames: FrameStats = field(default_factory=FrameStats)
    bursts: BurstStats = field(default_factory=BurstStats)
    acc: AccStats = field(default_factory=AccStats)
    gap_s: float = 0.0
    tail_gap_s: float = 0.0  # lost time after the last burst (joins gap_s if a burst follows)
    quiet_s: float = 0.0
    last_emit_s: float = -math.inf
    burst_onset_frame: int = -1  # onset frame of the running burst (-1 when none)
    acc_pre_g: float = NAN
    acc_onset_g: float = NAN
    acc_onset_final: bool = False
    # Alone-time (sensor.features "alone_s"): the current and the longest run (s) of
    # updates at which the muscle was active alone on a still leg.
    alone_t: float = -math.inf
    alone_run_s: float = 0.0
    alone_max_s: float = 0.0
    alone_dip_sum: float = 0.0  # relaxation share x time, summed while alone
    alone_dip_s: float = 0.0
    alone_pulse_sum: float = 0.0  # envelope pulse strength x time, summed while alone
    alone_pulse_s: float = 0.0
    # Co-activation over the episode's first seconds (sensor.features
    # "onset_coact_fraction"), final once that window has passed.
    onset_coact: float = NAN
    onset_coact_final: bool = False

    @property
    def last_end_s(self) -> float:
        return self.ends_s[-1] if self.ends_s else self.start_s


def commit_frames(
    ep: Episode,
    h,
    c: int,
    o: int | None,
    k_to: int,
    in_burst_from: int,
    on_ratio: float,
) -> None:
    """Add frames (committed_frame, k_to] of channel c to the episode's sums.

    Frames from ``in_burst_from`` on are inside a burst and also go to the burst sums.
    """
    k_from = ep.committed_frame + 1
    if k_to < k_from:
        return
    i0, i1 = k_from - h.k0, k_to - h.k0 + 1
    if i0 < 0:
        raise RuntimeError("episode frames were dropped from history before being counted")
    fs = ep.frames
    valid = h.valid[i0:i1]
    # Once per update: np.add.reduce is what ndarray.sum runs, without its Python layer,
    # and np.count_nonzero counts a boolean mask as its sum does.
    fs.n += i1 - i0
    fs.invalid += valid.size - int(np.count_nonzero(valid))
    fs.sq_bp += float(_sum(h.sq_bp[i0:i1, c]))
    fs.sq_clean += float(_sum(h.sq_clean[i0:i1, c]))
    fs.lf2 += float(_sum(h.lf2[i0:i1, c]))
    fs.clip += float(_sum(h.clip[i0:i1, c]))
    fs.flat += int(np.count_nonzero(h.flat[i0:i1, c]))
    base_c = h.base[i0:i1, c]
    rel_c = h.env[i0:i1, c] / base_c
    if o is not None:
        base_o = h.base[i0:i1, o]
        env_o = h.env[i0:i1, o]
        with np.errstate(invalid="ignore", divide="ignore"):
            rel_o = env_o / base_o
        other_on = valid & (env_o > on_ratio * base_o)
        fs.coact += int(np.count_nonzero(other_on))
        fs.other_alone += int(np.count_nonzero(other_on & (rel_c <= on_ratio)))
        _hist_add(fs.other_hist, rel_o[valid])
        ok = valid & np.isfinite(rel_o) & np.isfinite(rel_c)
        x, y = rel_c[ok], rel_o[ok]
        fs.pn += int(x.size)
        fs.sx += float(_sum(x))
        fs.sy += float(_sum(y))
        fs.sxx += float(np.dot(x, x))
        fs.syy += float(np.dot(y, y))
        fs.sxy += float(np.dot(x, y))
    b0 = max(k_from, in_burst_from)
    if b0 <= k_to:
        j0 = b0 - h.k0
        sel = valid[j0 - i0 :]
        rel = rel_c[j0 - i0 :][sel]
        bs = ep.bursts
        if rel.size:
            bs.n += int(rel.size)
            bs.rel_sum += float(_sum(rel))
            bs.rel_sq += float(np.dot(rel, rel))
            bs.rel_peak = max(bs.rel_peak, float(rel.max()))
            _hist_add(bs.hist, rel)
        for key in h.spectra_keys(b0, k_to):
            spec = h.spectra[key][c]
            if spec.any():
                bs.spectrum = spec.copy() if bs.spectrum is None else bs.spectrum + spec
    ep.committed_frame = k_to


def emg_features(
    ep: Episode,
    now_s: float,
    running_burst_start_s: float | None,
    freqs_hz: np.ndarray,
    hop_s: float,
    has_other: bool,
) -> dict[str, float]:
    """Return the EMG features of the episode so far (see sensor.features.FEATURES)."""
    onsets = list(ep.onsets_s)
    ends = list(ep.ends_s)
    if running_burst_start_s is not None:  # its onset is already in onsets_s
        ends.append(now_s)
    cur_end = ends[-1] if ends else now_s
    duration = max(0.0, cur_end - ep.start_s)
    out = burst_features(onsets, ends, duration)
    bs, fs = ep.bursts, ep.frames
    mean = safe_ratio(bs.rel_sum, bs.n)
    var = safe_ratio(bs.rel_sq, bs.n) - mean * mean if bs.n else NAN
    out["amp_rel_median"] = _hist_median(bs.hist)
    out["amp_rel_peak"] = bs.rel_peak if bs.n else NAN
    out["envelope_cv"] = math.sqrt(max(var, 0.0)) / mean if bs.n and mean > 0 else NAN
    out["median_freq_hz"] = (
        median_frequency_hz(bs.spectrum, freqs_hz) if bs.spectrum is not None else NAN
    )
    out["mains_ratio"] = (
        min(1.0, max(0.0, (fs.sq_bp - fs.sq_clean) / fs.sq_bp)) if fs.sq_bp > 0 else NAN
    )
    out["lowfreq_ratio"] = safe_ratio(fs.lf2, fs.sq_bp)
    out["clip_fraction"] = safe_ratio(fs.clip, fs.n)
    out["flat_fraction"] = safe_ratio(fs.flat, fs.n)
    if has_other and fs.n:
        out["coact_rel"] = _hist_median(fs.other_hist)
        out["coact_fraction"] = safe_ratio(fs.coact, fs.n - fs.invalid)
        out["other_alone_fraction"] = safe_ratio(fs.other_alone, fs.n - fs.invalid)
        alt = NAN
        if fs.pn >= 3:
            cov = fs.sxy / fs.pn - (fs.sx / fs.pn) * (fs.sy / fs.pn)
            vx = fs.sxx / fs.pn - (fs.sx / fs.pn) ** 2
            vy = fs.syy / fs.pn - (fs.sy / fs.pn) ** 2
            if vx > 0 and vy > 0:
                alt = max(0.0, min(1.0, -cov / math.sqrt(vx * vy)))
        out["alternation"] = alt
    else:
        out["coact_rel"] = NAN
        out["coact_fraction"] = NAN
        out["other_alone_fraction"] = NAN
        out["alternation"] = NAN
    out["gap_s"] = ep.gap_s + fs.invalid * hop_s
    out["baseline_uv"] = ep.baseline_uv
    out["onset_s"] = ep.start_s
    return out
