"""Recent-window features of an episode update: the last seconds of a muscle and its partner.

At each update, over the frames of the last ``recent_window_s``: the share of time the
muscle was active, its median level, the share the other muscle was co-active, the
leg's motion, the other muscle's baseline and the envelope's pulse since the onset
(sensor.features). The muscle's alone-time (``alone_s`` and the sums behind
``alone_dip_fraction`` and ``alone_pulse_strength``) advances at every update, and
:meth:`RecentFeatures.measure` computes what that needs; the rest waits for
:meth:`RecentFeatures.fill`, called only for updates the leg fusion passes on. Both
read the same frames and acceleration (the Detector trims its history after the
fusion), so a feature has the same value whenever it is computed. Masks are counted with
``np.count_nonzero`` (their sum, without ``ndarray.sum``'s Python layer: several per update).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sensor.accel import AccelStage, motion_rms_g, rhythm
from sensor.detector_config import EpisodeConfig
from sensor.episodes import Episode
from sensor.features import NAN
from sensor.frame_history import FrameHistory
from sensor.quantiles import median, percentile_linear
from sensor.relaxation import relaxed_fraction


@dataclass
class RecentWindow:
    """One update's recent window of channel ``c`` and what is measured of it so far.

    Frames are global indices: [k_from, k_to) is the window, from ``k_onset`` on the
    episode. A measure that is None is not computed yet.
    """

    t: float
    c: int
    other: int | None
    k_from: int
    k_to: int
    k_onset: int
    acc_ok: bool
    active: float = NAN
    level: float | None = None
    coact: float | None = None
    other_base: float | None = None
    motion: float | None = None
    dip: float | None = None
    pulse: float | None = None


class RecentFeatures:
    """The recent-window features of one Detector's episode updates."""

    def __init__(self, config: EpisodeConfig, on_ratio: float, hop_s: float) -> None:
        self.config = config
        self.on_ratio = on_ratio
        self.hop_s = hop_s
        self._dip_min_frames = round(config.dip_min_s / hop_s)

    def measure(self, h: FrameHistory, acc: AccelStage | None, ep: Episode, c: int,
                other: int | None, t: float, acc_ok: bool) -> RecentWindow:
        """Return the window at time t (s); advance the episode's alone-time and onset co-act."""
        cfg = self.config
        w = RecentWindow(t, c, other, 0, 0, 0, acc_ok and acc is not None)
        if not w.acc_ok:
            w.motion = NAN
        n_ok = 0
        if h.n:
            t_end = h.t_end
            i1 = int(t_end.searchsorted(t, side="right"))
            i0 = int(t_end.searchsorted(t - cfg.recent_window_s, side="right"))
            k_on = int(t_end.searchsorted(ep.start_s, side="right"))
            w.k_from, w.k_to, w.k_onset = h.k0 + i0, h.k0 + i1, h.k0 + k_on
            valid = h.valid[i0:i1]
            n_ok = int(np.count_nonzero(valid))
            if n_ok:
                with np.errstate(invalid="ignore", divide="ignore"):
                    rel_c = h.env[i0:i1, c] / h.base[i0:i1, c]
                w.active = int(np.count_nonzero(valid & (rel_c > self.on_ratio))) / n_ok
                if other is not None and not ep.onset_coact_final:
                    k1 = min(i1, int(t_end.searchsorted(ep.start_s + cfg.onset_coact_s,
                                                        side="right")))
                    if k1 > k_on:
                        ep.onset_coact = self._coactive_share(h, c, other, k_on, k1)
                    ep.onset_coact_final = t >= ep.start_s + cfg.onset_coact_s
        if not n_ok:
            w.level = w.coact = w.other_base = w.dip = w.pulse = NAN
        elif other is None:
            w.coact = w.other_base = NAN
        dt = t - ep.alone_t if math.isfinite(ep.alone_t) else 0.0
        ep.alone_t = t
        if self._alone(h, acc, w):
            ep.alone_run_s += dt
            ep.alone_max_s = max(ep.alone_max_s, ep.alone_run_s)
            if dt > 0:
                dip, pulse = self._dip(h, w), self._pulse(h, w)
                if math.isfinite(dip):
                    ep.alone_dip_sum += dip * dt
                    ep.alone_dip_s += dt
                if math.isfinite(pulse):
                    ep.alone_pulse_sum += pulse * dt
                    ep.alone_pulse_s += dt
        else:
            ep.alone_run_s = 0.0
        return w

    def _alone(self, h: FrameHistory, acc: AccelStage | None, w: RecentWindow) -> bool:
        """Return True when the muscle is active alone on a still leg (measuring what it asks)."""
        cfg = self.config
        if not w.active >= cfg.alone_min_active:
            return False
        if w.coact is None:
            assert w.other is not None
            w.coact = self._coactive_share(h, w.c, w.other, w.k_from - h.k0, w.k_to - h.k0)
        if w.coact > cfg.alone_max_coact:
            return False
        return not self._motion(acc, w) > cfg.alone_max_motion_g

    def _motion(self, acc: AccelStage | None, w: RecentWindow) -> float:
        if w.motion is None:
            assert acc is not None
            w.motion = motion_rms_g(acc.dynamic(w.t - self.config.recent_window_s, w.t))
        return w.motion

    def _onset_envelope(self, h: FrameHistory, w: RecentWindow) -> tuple[np.ndarray, bool]:
        """Return the window's valid envelope from the onset on, and whether it starts there."""
        k0 = max(w.k_from, w.k_onset)
        i0, i1 = k0 - h.k0, w.k_to - h.k0
        return h.env[i0:i1, w.c][h.valid[i0:i1]], k0 == w.k_onset

    def _dip(self, h: FrameHistory, w: RecentWindow) -> float:
        """Return the window's relaxation share (from the onset on), measuring it once."""
        if w.dip is None:
            env_c, from_onset = self._onset_envelope(h, w)
            w.dip = NAN
            if env_c.size:
                # Relaxations: frames far below the window's contraction level, counted
                # from the onset on (the rest before it is no relaxation).
                cfg = self.config
                w.dip = relaxed_fraction(env_c, cfg.dip_level * percentile_linear(env_c, 90),
                                         self._dip_min_frames, from_onset=from_onset)
        return w.dip

    def _pulse(self, h: FrameHistory, w: RecentWindow) -> float:
        """Return the envelope's pulse over the window (from the onset on), measuring it once."""
        if w.pulse is None:
            env_c, _ = self._onset_envelope(h, w)
            w.pulse = NAN
            if env_c.size:
                _, w.pulse = rhythm(env_c[:, None], 1.0 / self.hop_s, self.config.pulse_low_hz,
                                    self.config.pulse_high_hz)
        return w.pulse

    def fill(self, h: FrameHistory, acc: AccelStage | None, w: RecentWindow,
             features: dict[str, float]) -> None:
        """Set the window's features not measured yet in ``features``."""
        i0, i1 = w.k_from - h.k0, w.k_to - h.k0
        if w.level is None:
            with np.errstate(invalid="ignore", divide="ignore"):
                rel_c = h.env[i0:i1, w.c] / h.base[i0:i1, w.c]
            w.level = median(rel_c[h.valid[i0:i1]])
        if w.coact is None:
            assert w.other is not None
            w.coact = self._coactive_share(h, w.c, w.other, i0, i1)
        if w.other_base is None:
            assert w.other is not None
            w.other_base = float(h.base[i1 - 1, w.other])
        features["recent_amp_rel"] = float(w.level)
        features["recent_coact_fraction"] = float(w.coact)
        features["recent_motion_g"] = float(self._motion(acc, w))
        features["other_baseline_uv"] = float(w.other_base)
        features["recent_pulse_strength"] = float(self._pulse(h, w))

    def _coactive_share(self, h: FrameHistory, c: int, o: int, i: int, j: int) -> float:
        """Return the share of valid history frames [i, j) with the other muscle co-active.

        Co-active: above its own onset threshold and at least ``coact_level`` of this
        muscle's envelope in uV (crosstalk is a share of this muscle's signal, volume
        conduction, whatever either channel's own floor). NaN with no valid frame.
        """
        valid = h.valid[i:j]
        n_ok = int(np.count_nonzero(valid))
        if not n_ok:
            return NAN
        env_o = h.env[i:j, o]
        with np.errstate(invalid="ignore", divide="ignore"):
            act_o = valid & (env_o / h.base[i:j, o] > self.on_ratio) & (
                env_o >= self.config.coact_level * h.env[i:j, c])
        return int(np.count_nonzero(act_o)) / n_ok


def recent_features(ep: Episode, w: RecentWindow) -> dict[str, float]:
    """Return the features of the update known at measure time (the rest NaN until filled)."""
    return {
        "recent_active_fraction": w.active,
        "alone_s": ep.alone_max_s,
        "alone_now_s": ep.alone_run_s,
        "onset_coact_fraction": ep.onset_coact,
        "alone_dip_fraction": (
            ep.alone_dip_sum / ep.alone_dip_s if ep.alone_dip_s > 0 else NAN
        ),
        "alone_pulse_strength": (
            ep.alone_pulse_sum / ep.alone_pulse_s if ep.alone_pulse_s > 0 else NAN
        ),
    }
