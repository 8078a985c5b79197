"""EMG front end: raw blocks in, decimated per-frame measures out (vectorised, chunk-invariant).

Per block and channel: band-pass (and optional ECG high-pass), mains notch, then on a
fixed hop grid (10 ms): the RMS decision envelope, the onset envelope (RMS or TKEO over
a short window), the adaptive baseline, energies before and after the notch, a
low-frequency (1-20 Hz) energy, clipping and flat-line counts, and the spectrum of
active segments. Frames are numbered globally (across gaps) and timed by the end of
their hop (the time the data for them was complete).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from sensor.baseline import AdaptiveBaseline
from sensor.envelope import HopReducer, WindowSum, tkeo_delayed
from sensor.filters import (
    StreamingSOS,
    bandpass_corners_hz,
    design_bandpass,
    design_notches,
    detect_mains_hz,
)
from sensor.iir_design import butter_sos
from sensor.records import SampleBlock, SignalGap

LOWFREQ_BAND_HZ = (1.0, 20.0)  # motion artefact / baseline wander band (De Luca 2010)


@dataclass
class FrameBatch:
    """Consecutive frames of one continuous run; arrays are (n_frames, n_channels)."""

    k0: int  # global index of the first frame
    t_end: np.ndarray  # (n,) s, end of each frame's hop
    valid: np.ndarray  # (n,) bool: filters settled, envelope window full
    env: np.ndarray  # uV, decision RMS envelope
    onset_env: np.ndarray  # uV, short-window RMS or sqrt(TKEO) envelope
    base: np.ndarray  # uV, baseline in effect (NaN until learned)
    sq_bp: np.ndarray  # uV^2, mean square after band-pass, before the notch
    sq_clean: np.ndarray  # uV^2, mean square after the notch
    lf2: np.ndarray  # uV^2, squared 1-20 Hz component of the raw signal
    clip: np.ndarray  # fraction of the hop's samples that sit at a clipping rail
    flat: np.ndarray  # bool: hop's raw standard deviation below the flat-line limit
    spectra: dict[int, np.ndarray] = field(default_factory=dict)  # frame -> (n_ch, n_bins)

    ARRAYS = (
        "t_end", "valid", "env", "onset_env", "base", "sq_bp", "sq_clean", "lf2", "clip", "flat"
    )

    @property
    def n(self) -> int:
        return int(self.t_end.shape[0])


@dataclass
class GapMarker:
    """A gap in one signal group; the next frames start a new run."""

    gap: SignalGap


class TimelineError(ValueError):
    """Blocks of one signal group arrived out of order or changed shape mid-stream."""


def check_continuity(
    block: SampleBlock, expected_t0_s: float | None, fs_hz: float | None
) -> SignalGap | None:
    """Return the SignalGap before ``block`` (None if it is contiguous with the last one)."""
    if expected_t0_s is None:
        return None
    period = 1.0 / block.fs_hz
    if fs_hz is not None and block.fs_hz != fs_hz:
        raise TimelineError(
            f"{block.group.value} sample rate changed from {fs_hz:g} to {block.fs_hz:g} Hz "
            "mid-stream: start a new Detector for the new configuration"
        )
    jump = block.t0_s - expected_t0_s
    if jump < -0.5 * period:
        raise TimelineError(
            f"{block.group.value} block starts at {block.t0_s:.6f} s, before the end of the "
            f"previous block ({expected_t0_s:.6f} s): feed blocks in time order"
        )
    if jump > 0.5 * period or block.gap_before:
        lost = block.lost_samples or max(0, round(jump * block.fs_hz))
        start = expected_t0_s
        return SignalGap(block.group, start, max(block.t0_s, start), lost)
    return None


class EmgFrontEnd:
    """Streaming EMG preprocessing for all channels of the EMG group."""

    def __init__(self, config, labels: tuple[str, ...], fs_hz: float) -> None:
        self.cfg = config
        self.labels = labels
        self.fs_hz = fs_hz
        self.n_ch = len(labels)
        f, e, b = config.filter, config.envelope, config.baseline
        low = f.ecg_highpass_hz if f.ecg_suppression else f.low_hz
        self.low_hz, self.high_hz = bandpass_corners_hz(fs_hz, low, f.high_hz)
        self.hop = max(1, round(e.hop_s * fs_hz))
        self.hop_s = self.hop / fs_hz
        self.frame_rate_hz = fs_hz / self.hop
        self.win_frames = max(1, round(e.window_s / self.hop_s))
        self.onset_frames = max(1, round(e.onset_window_s / self.hop_s))
        self.settle_frames = max(self.win_frames, math.ceil(f.settle_s / self.hop_s))
        self.seg_frames = max(2, round(config.features.spectrum_segment_s / self.hop_s))
        self.seg_samples = self.seg_frames * self.hop
        self.freqs_hz = np.fft.rfftfreq(self.seg_samples, 1.0 / fs_hz)
        self._seg_window = np.hanning(self.seg_samples)[None, :]
        self._band_mask = (self.freqs_hz >= self.low_hz) & (self.freqs_hz <= self.high_hz)
        self.mains_hz: float | None = f.mains_hz
        self._detect_buffer: list[SampleBlock] = []
        self._detect_samples = round(f.mains_detect_s * fs_hz)
        self.bandpass = StreamingSOS(design_bandpass(fs_hz, self.low_hz, self.high_hz, f.order),
                                     self.n_ch)
        self.notch: StreamingSOS | None = None
        if self.mains_hz is not None:
            self._build_notch()
        lf_high = min(LOWFREQ_BAND_HZ[1], 0.45 * self.frame_rate_hz)
        self.lowfreq = StreamingSOS(
            butter_sos(2, (LOWFREQ_BAND_HZ[0], lf_high), "bandpass", self.frame_rate_hz),
            self.n_ch,
        )
        self.reducer = HopReducer(self.hop)
        self._mean_weights = np.full(self.hop, 1.0 / self.hop)
        self.env_sum = WindowSum(self.win_frames, self.n_ch)
        self.onset_sum = WindowSum(self.onset_frames, self.n_ch)
        seg_s = b.segment_s
        seg_n = max(1, round(seg_s / self.hop_s))
        self.baseline = AdaptiveBaseline(
            self.n_ch,
            seg_n,
            b.quantile,
            history_segments=max(1, round(b.history_s / seg_s)),
            admit_ratio=b.admit_ratio,
            hold_segments=max(1, round(b.hold_s / seg_s)),
            floor_uv=b.floor_uv,
            step_segments=max(1, round(b.step_hold_s / seg_s)),
            step_max_ratio=b.step_max_ratio,
            step_max_uv=b.step_max_uv,
            step_stationary_ratio=b.step_stationary_ratio,
        )
        self._tkeo_prev: np.ndarray | None = None
        self._raw_prev: np.ndarray | None = None
        self._rails_carried = False  # the reducer's partial hop may hold rail samples
        self._buffers: dict[str, np.ndarray] = {}  # see _work()
        self._seg_carry = np.zeros((self.n_ch, 0, self.hop))
        self._seg_env_carry = np.zeros((0, self.n_ch))
        self._run_t0 = 0.0
        self._run_frames = 0
        self._run_samples = 0
        self.next_k = 0  # global index of the next frame
        self.expected_t0_s: float | None = None
        self.started = False

    # ----------------------------------------------------------------------------------
    def _build_notch(self) -> None:
        f = self.cfg.filter
        sos = design_notches(self.fs_hz, self.mains_hz, f.notch_harmonics, f.notch_quality,
                             below_hz=self.high_hz + 10.0, depth=f.notch_depth)
        self.notch = StreamingSOS(sos, self.n_ch) if sos.shape[0] else None

    def _restart_run(self, t0_s: float) -> None:
        self.bandpass.reset()
        if self.notch is not None:
            self.notch.reset()
        self.lowfreq.reset()
        self.reducer.reset()
        self.env_sum.reset()
        self.onset_sum.reset()
        self.baseline.restart_segment()
        self._tkeo_prev = None
        self._raw_prev = None
        self._rails_carried = False
        self._seg_carry = np.zeros((self.n_ch, 0, self.hop))
        self._seg_env_carry = np.zeros((0, self.n_ch))
        self._run_t0 = t0_s
        self._run_frames = 0
        self._run_samples = 0

    def process(self, block: SampleBlock) -> list[FrameBatch | GapMarker]:
        """Return the frames (and a gap marker, if any) that became complete with ``block``."""
        if not np.isfinite(block.samples).all():
            # Checked on arrival (not after the mains-detection hold), so the refusal
            # names the block that holds them.
            raise TimelineError(
                f"EMG block at {block.t0_s:.3f} s holds NaN or infinite samples: a source "
                "must drop lost samples and flag the next block (gap_before/lost_samples)"
            )
        if block.labels != self.labels:
            raise TimelineError(
                f"EMG labels changed from {list(self.labels)} to {list(block.labels)} "
                "mid-stream: start a new Detector for the new montage"
            )
        if self.mains_hz is None:
            return self._buffer_for_mains(block)
        return self._process(block)

    def flush(self) -> list[FrameBatch | GapMarker]:
        """Return frames held back while the mains frequency was being detected."""
        if self.mains_hz is None and self._detect_buffer:
            return self._decide_mains_and_replay()
        if self.mains_hz is None:
            self.mains_hz = self.cfg.filter.mains_fallback_hz
            self._build_notch()
        return []

    def _buffer_for_mains(self, block: SampleBlock) -> list[FrameBatch | GapMarker]:
        # "auto" mains: hold the first seconds back, detect 50/60 Hz on them, then filter
        # them with the right notch (only the start of the stream waits).
        out: list[FrameBatch | GapMarker] = []
        if self._detect_buffer:
            last = self._detect_buffer[-1]
            if check_continuity(block, last.t_end_s, last.fs_hz) is not None:
                out = self._decide_mains_and_replay()
                return out + self._process(block)
        self._detect_buffer.append(block)
        if sum(b.n_samples for b in self._detect_buffer) >= self._detect_samples:
            return self._decide_mains_and_replay()
        return out

    def _decide_mains_and_replay(self) -> list[FrameBatch | GapMarker]:
        blocks, self._detect_buffer = self._detect_buffer, []
        x = np.concatenate([b.samples for b in blocks], axis=0)[: self._detect_samples]
        f = self.cfg.filter
        self.mains_hz = detect_mains_hz(x, self.fs_hz, f.mains_fallback_hz)
        self._build_notch()
        out: list[FrameBatch | GapMarker] = []
        for b in blocks:
            out.extend(self._process(b))
        return out

    def _work(self, name: str, n_samples: int,
              make: Callable[[tuple[int, int]], np.ndarray] = np.empty) -> np.ndarray:
        """Return a (n_channels, n_samples) float64 array kept for this use from block to block.

        A night's blocks mostly have one size: reusing their arrays spares fresh memory
        pages for every block (faulting them in cost as much as the TKEO itself). Its
        content is what the last block left there (``make`` fills a new one); nothing
        kept outlives the block.
        """
        buf = self._buffers.get(name)
        if buf is None or buf.shape[1] != n_samples:
            buf = self._buffers[name] = make((self.n_ch, n_samples))
        return buf

    # ----------------------------------------------------------------------------------
    def _process(self, block: SampleBlock) -> list[FrameBatch | GapMarker]:
        out: list[FrameBatch | GapMarker] = []
        gap = check_continuity(block, self.expected_t0_s, self.fs_hz if self.started else None)
        if not self.started:
            self.started = True
            self._restart_run(block.t0_s)
        elif gap is not None:
            out.append(GapMarker(gap))
            self._restart_run(block.t0_s)
        # The next block's start as counted from the run's start, so a gap's start does
        # not carry the rounding of however many block times were added up before it.
        self._run_samples += block.n_samples
        self.expected_t0_s = self._run_t0 + self._run_samples / self.fs_hz
        if block.n_samples == 0:
            return out
        n = block.n_samples
        raw = self._work("raw", n)  # (ch, n)
        np.copyto(raw, block.samples.T)
        bp = self.bandpass.process(raw, out=self._work("bp", n))
        clean = self.notch.process(bp, out=self._work("clean", n)) if self.notch is not None else bp
        psi, self._tkeo_prev = tkeo_delayed(clean, self._tkeo_prev, out=self._work("psi", n),
                                            scratch=self._work("scratch", n))
        cfg = self.cfg.features
        clipped, rails = self._rail_samples(raw)
        n_hops, (h_raw, h_bp, h_clean, h_psi, h_clip) = self.reducer.split(
            raw, bp, clean, psi, clipped
        )
        # Per-hop reductions as matrix products over contiguous rows (much faster than
        # ufunc reductions over a short last axis), then frames as (n_hops, n_channels).
        mean_w = self._mean_weights
        if rails.size or self._rails_carried:
            clip = (h_clip @ mean_w).T
        else:  # no rail sample in these hops: their shares are exact zeros
            clip = np.zeros((n_hops, self.n_ch))
        # The partial hop carried to the next block may hold rail samples of this one,
        # or of earlier ones when no hop was completed.
        self._rails_carried = bool(rails.size) or (self._rails_carried and n_hops == 0)
        clipped.reshape(-1)[rails] = 0.0  # the buffer is all zeros again
        if n_hops == 0:
            return out
        hop = self.hop
        sq_bp = (np.einsum("chs,chs->ch", h_bp, h_bp) / hop).T
        sq_clean = (np.einsum("chs,chs->ch", h_clean, h_clean) / hop).T
        psi_mean = (h_psi @ mean_w).T
        raw_mean = h_raw @ mean_w
        raw_sq = np.einsum("chs,chs->ch", h_raw, h_raw) / hop
        # Hop standard deviation of the raw signal (a flat line does not move).
        raw_var = np.maximum(raw_sq - raw_mean * raw_mean, 0.0)
        flat = (raw_var < cfg.flat_std_uv**2).T
        env_sums, env_counts = self.env_sum.process(sq_clean)
        env = np.sqrt(env_sums / env_counts[:, None])
        method = self.cfg.envelope.onset_method
        onset_in = psi_mean if method == "tkeo" else sq_clean
        on_sums, on_counts = self.onset_sum.process(onset_in)
        onset_env = np.sqrt(np.maximum(on_sums / on_counts[:, None], 0.0))
        lf = self.lowfreq.process(raw_mean).T
        run_idx = self._run_frames + np.arange(n_hops)
        valid = run_idx >= self.settle_frames
        base = self.baseline.process(env, valid)
        t_end = self._run_t0 + (run_idx + 1) * (hop / self.fs_hz)
        k0 = self.next_k
        batch = FrameBatch(
            k0=k0, t_end=t_end, valid=valid, env=env, onset_env=onset_env, base=base,
            sq_bp=sq_bp, sq_clean=sq_clean, lf2=lf * lf, clip=clip, flat=flat,
        )
        self._spectra(batch, h_clean, run_idx)
        self._run_frames += n_hops
        self.next_k += n_hops
        out.append(batch)
        return out

    def _rail_samples(self, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return (1.0 where a sample sits at a clipping rail, else 0.0; their flat indices).

        A sample equal to the one before it and beyond clip_min_uv sits at a rail. Loud
        samples are few (activity is rare), so only they are compared with their
        predecessors; the array returned is a kept all-zero buffer with ones written at
        the rails, which the caller zeroes again once the block's hops are reduced.
        """
        n = raw.shape[1]
        prev = raw[:, :1] if self._raw_prev is None else self._raw_prev
        self._raw_prev = raw[:, -1:].copy()
        clipped = self._work("zeros", n, np.zeros)
        flat = raw.reshape(-1)
        loud = np.flatnonzero(np.abs(raw, out=self._work("scratch", n))
                              >= self.cfg.features.clip_min_uv)
        if not loud.size:  # the usual quiet block
            return clipped, loud
        before = flat[loud - 1]  # index -1 (the first sample) is replaced just below
        first = loud % n == 0  # a channel's first sample: compared with the last block's
        before[first] = prev[loud[first] // n, 0]
        rails = loud[flat[loud] == before]
        clipped.reshape(-1)[rails] = 1.0
        return clipped, rails

    def _spectra(self, batch: FrameBatch, h_clean: np.ndarray, run_idx: np.ndarray) -> None:
        # Segments of seg_frames hops on the run's grid; only segments whose mean
        # envelope is over the onset threshold are transformed (activity is rare).
        carried = self._seg_carry.shape[1]
        if carried + h_clean.shape[1] < self.seg_frames:  # no segment completes (live)
            self._seg_carry = np.concatenate([self._seg_carry, h_clean], axis=1)
            self._seg_env_carry = np.concatenate([self._seg_env_carry, batch.env], axis=0)
            return
        # Segments run over the carried hops then this block's; only the first can
        # straddle the two, so the block is not copied behind the carry.
        old = self._seg_carry
        carried = old.shape[1]
        envs = np.concatenate([self._seg_env_carry, batch.env], axis=0)
        n_seg = (carried + h_clean.shape[1]) // self.seg_frames
        used = n_seg * self.seg_frames
        self._seg_carry = h_clean[:, used - carried :].copy()
        self._seg_env_carry = envs[used:].copy()
        # Frame (within this batch) that ends each segment.
        ends = np.arange(1, n_seg + 1) * self.seg_frames - 1 - carried
        seg_env = envs[:used].reshape(n_seg, self.seg_frames, self.n_ch).mean(axis=1)
        ratio = self.cfg.onset.on_ratio
        with np.errstate(invalid="ignore"):
            active = (seg_env > ratio * batch.base[ends]) & batch.valid[ends][:, None]
        rows = np.flatnonzero(active.any(axis=1))
        if not rows.size:
            return
        # The active segments side by side, (segment, channel, sample), for one transform.
        sf = self.seg_frames
        segs = np.empty((rows.size, self.n_ch, self.seg_samples))
        inside = rows
        if carried and rows[0] == 0:  # the first segment starts in the carried hops
            first = np.concatenate([old, h_clean[:, : sf - carried]], axis=1)
            segs[0] = first.reshape(self.n_ch, self.seg_samples)
            inside = rows[1:]
        if inside.size:
            s_in = 1 if carried else 0  # the first segment that lies in this block
            off = s_in * sf - carried
            whole = h_clean[:, off : off + (n_seg - s_in) * sf].reshape(
                self.n_ch, n_seg - s_in, self.seg_samples)
            segs[rows.size - inside.size :] = whole[:, inside - s_in].transpose(1, 0, 2)
        spec = np.abs(np.fft.rfft(segs * self._seg_window, axis=2)) ** 2
        spec[:, :, ~self._band_mask] = 0.0
        spec[~active[rows]] = 0.0
        for j, s in enumerate(rows.tolist()):
            batch.spectra[batch.k0 + int(ends[s])] = spec[j]
