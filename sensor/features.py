"""Per-episode features: names, units and meaning (the classifier codes against these).

Every :class:`~sensor.records.EpisodeUpdate` carries all of ``FEATURES`` computed over
the episode so far (from its onset to the emission time, or to its end once closed);
a value is NaN where it cannot be computed (e.g. no accelerometer, too few bursts).
"the other channel" is the antagonist: for a calf channel the shin channel (same side
preferred), for a shin channel the calf channel, otherwise the first other EMG channel.
"active" means the decision envelope is above the onset threshold (on_ratio x baseline).
"""

from __future__ import annotations

import itertools
import math
import statistics

import numpy as np

FEATURES: dict[str, str] = {
    "duration_s": "s, onset to the end of the last burst (to now while a burst runs)",
    "burst_count": "bursts in the episode (a burst still running counts)",
    "burst_rate_hz": "Hz, burst_count / duration_s",
    "burst_duration_median_s": "s, median burst duration",
    "burst_duration_max_s": "s, longest burst",
    "gap_median_s": "s, median relaxation between consecutive bursts (NaN for 1 burst)",
    "interval_cv": "coefficient of variation of onset-to-onset intervals (NaN < 3 bursts)",
    "duty_cycle": "0..1, total burst time / duration_s",
    "amp_rel_median": "median decision envelope / baseline within bursts",
    "amp_rel_peak": "peak decision envelope / baseline within bursts",
    "envelope_cv": "std / mean of the decision envelope within bursts (low = steady)",
    "median_freq_hz": "Hz, spectral median frequency of the filtered EMG in active segments",
    "mains_ratio": "0..1, power removed by the mains notch / band-passed power",
    "lowfreq_ratio": "power of the raw signal at 1-20 Hz / power in the EMG band (band-passed)",
    "clip_fraction": "0..1, fraction of samples stuck at a rail (repeated value >= clip_min_uv)",
    "flat_fraction": "0..1, fraction of 10 ms hops whose raw SD < flat_std_uv (no contact)",
    "coact_rel": "median envelope / baseline of the other channel during the episode",
    "coact_fraction": "0..1, fraction of episode time the other channel is active too",
    "lead_s": "s, this onset minus the nearest other-channel burst onset within 2 s (NaN none)",
    "alternation": "0..1, anti-phase of the two envelopes: max(0, -Pearson r)",
    "other_alone_fraction": "0..1, fraction of episode time the other channel is active while "
    "this one rests (taking turns, as calf and shin do in walking)",
    "acc_upright": "0..1, fraction of episode time the shank is upright (tilt < 45 deg)",
    "acc_tilt_deg": "deg, mean angle of the shank to vertical (90 = lying)",
    "acc_motion_pre_g": "g, RMS dynamic acceleration in the 2 s before onset",
    "acc_motion_onset_g": "g, RMS dynamic acceleration within +-1 s of onset",
    "acc_motion_during_g": "g, RMS dynamic acceleration during the episode",
    "acc_rhythm_hz": "Hz, dominant 0.3-4 Hz rhythm of the acceleration (last 20 s)",
    "acc_rhythm_strength": "0..1, normalised autocorrelation at that rhythm",
    "recent_active_fraction": "0..1, share of the last 3 s this channel was active",
    "recent_amp_rel": "x baseline, this channel's median envelope over the last 3 s",
    "recent_coact_fraction": "0..1, share of the last 3 s the other channel was co-active "
    "(active, and >= 1/4 of this channel's envelope in uV: not crosstalk)",
    "onset_coact_fraction": "0..1, share of the episode's first 2 s the other channel was "
    "co-active (as recent_coact_fraction): both muscles from the start is voluntary",
    "other_baseline_uv": "uV, the other channel's baseline (RMS noise floor) now",
    "recent_motion_g": "g, RMS dynamic acceleration in the last 3 s",
    "alone_s": "s, longest stretch of the episode with this muscle active alone (other "
    "muscle not co-active, leg still): the involuntary part of a cramp",
    "recent_rhythm_strength": "0..1, acceleration rhythm (0.3-4 Hz) of the last 5 s",
    "alone_dip_fraction": "0..1, share of time the muscle relaxed (>= 0.3 s below 0.4 of "
    "its contraction level) while active alone: high for clonic, near 0 for tonic",
    "recent_pulse_strength": "0..1, rhythm of this channel's envelope at 2-4 Hz over the "
    "last 3 s (from the onset on): faster than a clonic cramp jerks, a foot tremor",
    "alone_pulse_strength": "0..1, recent_pulse_strength averaged over the time the muscle "
    "was active alone",
    "alone_now_s": "s, length of the current such stretch (0 while the other muscle or "
    "the leg moves: the sleeper responding)",
    "leg_muscles": "channels of the leg with activity in this episode (sensor.legs)",
    "calf_delay_s": "s, calf onset minus the leg episode's onset (0: the calf led; NaN: "
    "no calf activity)",
    "other_amp_rel_median": "median envelope / baseline of the other muscle's own episode "
    "(NaN when it had none)",
    "gap_s": "s, signal lost (and filter settling) inside the episode",
    "baseline_uv": "uV, the channel's baseline (RMS noise floor) at onset",
    "onset_s": "s, refined onset time (same as start_s)",
}

NAN = float("nan")


def safe_ratio(num: float, den: float) -> float:
    """Return num / den, NaN when the denominator is not positive."""
    return num / den if den > 0 else NAN


def median_frequency_hz(power: np.ndarray, freqs_hz: np.ndarray) -> float:
    """Return the frequency (Hz) splitting the power spectrum into two equal halves."""
    total = float(power.sum())
    if total <= 0:
        return NAN
    c = np.cumsum(power)
    return float(freqs_hz[int(np.searchsorted(c, 0.5 * total))])


def burst_features(
    onsets_s: list[float], ends_s: list[float], duration_s: float
) -> dict[str, float]:
    """Return the burst-timing features from burst onsets and ends (s)."""
    # Plain Python: episodes hold a handful of bursts, where numpy's per-call cost
    # would dominate an update.
    n = len(onsets_s)
    durations = [e - s for s, e in zip(onsets_s, ends_s, strict=True)]
    gaps = [s - e for s, e in zip(onsets_s[1:], ends_s[:-1], strict=True)]
    intervals = [b - a for a, b in itertools.pairwise(onsets_s)]
    cv = NAN
    if n >= 3:
        mean = statistics.fmean(intervals)
        cv = statistics.pstdev(intervals, mean) / mean if mean > 0 else NAN
    return {
        "duration_s": duration_s,
        "burst_count": float(n),
        "burst_rate_hz": safe_ratio(n, duration_s),
        "burst_duration_median_s": statistics.median(durations) if n else NAN,
        "burst_duration_max_s": max(durations) if n else NAN,
        "gap_median_s": statistics.median(gaps) if gaps else NAN,
        "interval_cv": cv,
        "duty_cycle": min(1.0, safe_ratio(math.fsum(durations), duration_s)) if n else NAN,
    }


def nearest_lead_s(onset_s: float, other_onsets_s: list[float], window_s: float) -> float:
    """Return onset minus the nearest other onset within ``window_s`` (NaN if none)."""
    best = NAN
    for t in other_onsets_s:
        d = onset_s - t
        if abs(d) <= window_s and (math.isnan(best) or abs(d) < abs(best)):
            best = d
    return best
