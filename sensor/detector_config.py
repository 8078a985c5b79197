"""The Detector's parameters, in physical units, grouped by stage (one dataclass a stage).

Each default carries its source (DOMAIN.md, the cited study) or says it is an inference.
:class:`DetectorConfig` holds one of each; ``sensor.detector`` re-exports them all.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FilterConfig:
    """Pre-filtering of the EMG."""

    low_hz: float = 20.0  # SENIAM 10-20 Hz high-pass (DOMAIN.md "Signals")
    high_hz: float = 450.0  # ~500 Hz low-pass, capped at 0.45 fs (DOMAIN.md "Signals")
    order: int = 4  # Butterworth order per edge (issue 2)
    mains_hz: float | None = None  # 50 or 60; None = detect from the first seconds
    mains_fallback_hz: float = 50.0  # used when "auto" finds no mains lines
    mains_detect_s: float = 2.0  # signal held back at the start to detect mains
    # 50-250 or 60-300 Hz: the odd harmonics of non-linear loads reach the 3rd and 5th
    # (Mewett 2004: harmonics matter); each notch is 5 Hz wide, so a mains frequency that
    # wanders by tenths of a hertz stays within it at every harmonic (how deep it falls
    # there: notch_depth).
    notch_harmonics: int = 5
    notch_quality: float = 10.0  # 5 Hz wide at 50 Hz: tolerates drift (Mewett 2004), short ring
    # Each notch twice: hum from a loose electrode reaches tens of uV, 10x a 2-5 uV floor,
    # and a line that wanders 0.3 Hz off (0.9 Hz at the 3rd harmonic) must still fall
    # below the floor; one notch takes it down 20 dB there, two 40 dB (issue 11).
    notch_depth: int = 2
    # Raise the low corner to ecg_highpass_hz: the heart's QRS leaks into leg EMG at a few
    # to tens of uV, mostly below 30 Hz, and beat by beat it would read as muscle bursts on
    # a quiet floor; EMG loses little of its power there (Drake & Callaghan 2006).
    ecg_suppression: bool = True
    ecg_highpass_hz: float = 30.0  # 30 Hz high-pass against ECG (Drake & Callaghan 2006)
    settle_s: float = 1.0  # filter settling after a start or gap (notch Q30 decays < 1 s)


@dataclass(frozen=True)
class EnvelopeConfig:
    """RMS envelopes on a decimated frame grid."""

    hop_s: float = 0.01  # 100 frames/s
    window_s: float = 0.1  # decision window 100-250 ms (St-Amant 1998, DOMAIN.md)
    onset_window_s: float = 0.03  # onset-timing window 25-100 ms (St-Amant 1998)
    onset_method: str = "tkeo"  # "tkeo" (Solnik 2010: better onset timing) or "rms"

    def __post_init__(self) -> None:
        if self.onset_method not in ("tkeo", "rms"):
            raise ValueError(
                f"onset_method must be 'tkeo' or 'rms', got {self.onset_method!r}"
            )
        if not 0 < self.hop_s <= self.window_s:
            raise ValueError(f"need 0 < hop_s <= window_s, got {self.hop_s}, {self.window_s}")


@dataclass(frozen=True)
class BaselineConfig:
    """Adaptive noise floor (see sensor.baseline)."""

    segment_s: float = 1.0  # minimum-statistics segment
    quantile: float = 0.5  # segment median of the RMS envelope = rest RMS level
    history_s: float = 20.0  # rises of the floor (< admit_ratio) are followed within this
    admit_ratio: float = 2.0  # >= 2x rest is activity, not rest (bruxism rule, DOMAIN.md)
    hold_s: float = 900.0  # a level held longer than any cramp (10 min, DOMAIN.md) is floor
    floor_uv: float = 1.0  # below: flat line / no contact (rest EMG is a few uV, DOMAIN.md)
    # A floor step (gel drying, a moved cable: the floor rises 2-4x and stays, DOMAIN.md
    # "Recordings differ"; issue 11) is learned once it has held this steady this long:
    step_hold_s: float = 8.0  # (inference: longer than a PLM's 0.5-10 s core, << 60 s)
    step_max_ratio: float = 4.5  # at most 4.5x the old floor (2-4x steps; a cramp is louder)
    # ... or at most this level, whatever the old floor: a floor that was low (1-2 uV)
    # can step 5-8x and stay a few uV, while a cramp is loud in itself (>= 25 uV, the
    # rules' cramp_min_amp_uv; cramps are 30-600 uV, issue 11) (inference).
    step_max_uv: float = 12.0
    step_stationary_ratio: float = 1.5  # 1 s levels within 1.5x of each other (inference)


@dataclass(frozen=True)
class OnsetConfig:
    """Double threshold with hysteresis (Bonato 1998)."""

    on_ratio: float = 2.0  # burst >= 2x resting amplitude (bruxism rule, DOMAIN.md)
    off_ratio: float = 1.5  # hysteresis: ends below 1.5x rest (inference)
    min_on_s: float = 0.05  # shortest event of interest: 75 ms hypnic jerk (DOMAIN.md)
    min_off_s: float = 0.2  # relaxation shorter than this does not split a burst (inference)
    refine_ratio: float = 1.5  # onset refined back to the first frame above 1.5x rest
    max_lookback_s: float = 0.5  # refinement searches at most this far back


@dataclass(frozen=True)
class EpisodeConfig:
    """Grouping bursts into episodes."""

    # Bursts < 2 s apart merge and >= 3 s of quiet ends an episode (bruxism rule,
    # DOMAIN.md); a burst in the 2-3 s zone joins the open episode (sensor.episodes).
    end_quiet_s: float = 3.0
    # One episode per leg (sensor.legs): the channels of a leg fuse (DESIGN.md).
    fuse_legs: bool = True
    update_interval_s: float = 0.5  # an open episode is re-reported at least this often
    max_gap_s: float = 5.0  # an episode survives a lost-signal gap this long (BLE reconnect)
    lead_window_s: float = 2.0  # other-channel onsets within this are paired for lead_s
    # "Recent" features look back this far from each update: the sleeper's response
    # (shin firing, leg moving) is told from the cramp's own course second by second.
    # 3 s spans a clonic cramp's relaxation (bursts <= 2 s apart, DOMAIN.md) (inference).
    recent_window_s: float = 3.0
    # The muscle counts as active alone while, over the recent window, it is active at
    # least this share of the time (a clonic cramp's duty cycle; inference) ...
    alone_min_active: float = 0.3
    # ... the other muscle is co-active at a comparable level (>= coact_level of this
    # one's envelope in uV: crosstalk is a few per cent, a voluntary co-contraction
    # tens of per cent; inference) at most this share of the time ...
    alone_max_coact: float = 0.2
    coact_level: float = 0.25
    # ... and the leg is still: "little leg motion" (DOMAIN.md), above a clonic cramp's
    # own twitches (~0.04 g) (inference).
    alone_max_motion_g: float = 0.05
    # A voluntary stretch or turn has both muscles "from the start" (DOMAIN.md): the
    # co-activation of the episode's first seconds is kept apart from the sleeper's
    # response, which comes 5-40 s in (as long as the accelerometer's onset window,
    # AccelConfig.onset_halfwidth_s either side; inference).
    onset_coact_s: float = 2.0
    # A relaxation is below this share of the window's contraction level (its 90th
    # percentile envelope) for at least dip_min_s: a clonic cramp relaxes, often not to
    # rest ("bursts with incomplete relaxation"), for >= 0.3 s at a time; a tonic
    # cramp's 100 ms RMS dips below 40 % of its level only for moments (inference).
    dip_level: float = 0.4
    dip_min_s: float = 0.3
    # A muscle whose envelope pulses faster than a clonic cramp can jerk and relax
    # (bursts >= 0.25 s, DOMAIN.md bruxism phasic rule, and relaxations >= dip_min_s:
    # cycles > 0.5 s) but within a foot tremor's 0.3-4 Hz (Chervin 2003; Yang & Winkelman
    # 2010) is shaking, not cramping: its recent envelope's rhythm in this band
    # (sensor.features "recent_pulse_strength") (inference).
    pulse_low_hz: float = 2.0
    pulse_high_hz: float = 4.0

    def __post_init__(self) -> None:
        if self.end_quiet_s < 2.0:
            raise ValueError(
                f"end_quiet_s ({self.end_quiet_s}) must be >= 2 s: bursts less than 2 s "
                "apart belong to one episode"
            )
        if not 0 < self.pulse_low_hz < self.pulse_high_hz:
            raise ValueError(
                f"need 0 < pulse_low_hz < pulse_high_hz, got {self.pulse_low_hz} and "
                f"{self.pulse_high_hz} Hz: the envelope pulse is read in that band"
            )


@dataclass(frozen=True)
class FeatureConfig:
    """Signal-quality and spectrum features."""

    spectrum_segment_s: float = 0.128  # ~8 Hz resolution for the median frequency
    clip_min_uv: float = 50.0  # repeated samples above this are clipping, not rest
    flat_std_uv: float = 0.2  # a 10 ms hop varying less than this is a flat line (no contact)


@dataclass(frozen=True)
class AccelConfig:
    """Accelerometer posture, motion and rhythm (PAM-RL style, DOMAIN.md)."""

    gravity_cutoff_hz: float = 0.3  # below the 0.3-4 Hz movement band
    leg_axis: int = 0  # band axis along the shank (x); tilt is its angle to vertical
    upright_max_tilt_deg: float = 45.0  # shank within 45 deg of vertical = upright
    pre_onset_s: float = 2.0  # motion before onset window
    onset_halfwidth_s: float = 1.0  # motion at onset window (+-)
    rhythm_low_hz: float = 0.3  # tremor/ALMA/walking band (Chervin 2003; Yang 2010)
    rhythm_high_hz: float = 4.0
    rhythm_window_s: float = 20.0  # ALMA trains last 10-20 s (DOMAIN.md)
    max_lag_s: float = 10.0  # go on without ACC when it stalls this far behind EMG
    # An accelerometer whose axes all repeat one value (within this) for this long is
    # stuck: its features are unknown, not "still" (a 12-16 bit sensor's noise moves
    # its last bits every sample; inference).
    stuck_s: float = 5.0
    stuck_tolerance_g: float = 1e-6
    # Rhythm of the last seconds only (is the leg shaking now?): long enough for two
    # cycles at 0.5 Hz, short enough that a finished turn leaves it soon (inference).
    recent_rhythm_window_s: float = 5.0


@dataclass(frozen=True)
class DetectorConfig:
    """All detector parameters, in physical units, grouped by stage."""

    filter: FilterConfig = field(default_factory=FilterConfig)
    envelope: EnvelopeConfig = field(default_factory=EnvelopeConfig)
    baseline: BaselineConfig = field(default_factory=BaselineConfig)
    onset: OnsetConfig = field(default_factory=OnsetConfig)
    episode: EpisodeConfig = field(default_factory=EpisodeConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    accel: AccelConfig = field(default_factory=AccelConfig)
