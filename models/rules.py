"""A transparent rule classifier: published cramp and look-alike criteria as soft rules.

Each kind of episode (tonic and clonic cramps and every look-alike of DOMAIN.md) has
one rule: a few conditions on the Detector's features, each a soft threshold (a
logistic step of a named width around a named, sourced number), combined by product.
The rule with the largest truth value names the kind; its confidence is that truth
value discounted by how close the runner-up came, so an episode two rules fit equally
well is never called with high confidence.

Open episodes get provisional calls: a tonic cramp is called while it runs once the
calf has been active without pause, with a quiet leg and a quiet antagonist, for
``provisional_tonic_confidence``'s first knot; confidence then grows with its age.
Look-alike rules veto a cramp call, so a provisional call never wakes for one.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field, fields, replace

from models.classifier import Classification
from models.decision import DecisionParams, decision_age_s
from models.features import channel_role, coact_ratio, feature_value
from sensor.records import EpisodePhase, EpisodeUpdate, EventKind, Role

RULES_VERSION = "rules-1"


@dataclass(frozen=True)
class RuleParams:
    """Numbers of the rule classifier; times in s, rates in Hz, motion in g, ratios 0..1."""

    # --- artefact (DOMAIN.md "Look-alikes": electrode lift, contact loss, motion artefact)
    # Mains share of EMG power above which the channel is junk (inference: "mains dominates").
    artifact_mains_ratio: float = 0.5
    # Share of clipped samples that marks a saturated channel (inference: "clipping").
    artifact_clip_fraction: float = 0.02
    # Share of flat (stuck) samples that marks contact loss (inference: "flat line").
    artifact_flat_fraction: float = 0.2
    # Power at 1-20 Hz over the 20-450 Hz band above which the "activity" is motion
    # artefact or wander, not muscle (De Luca 2010); counted only with a still leg, as a
    # moving leg's artefact belongs to its movement (inference).
    artifact_lowfreq_ratio: float = 1.0
    # A decision envelope steadier than this (std / mean within bursts) has no motor-unit
    # structure: stationary noise, a lifted electrode (DOMAIN.md "no motor-unit
    # structure"); 100 ms RMS of band-passed noise varies by ~0.08 at 1-2 kHz, muscle
    # activity swings more (inference).
    artifact_steady_cv: float = 0.12
    # The other channel this many times stronger (each relative to its own baseline):
    # this channel only carries its volume-conducted shadow (inference).
    crosstalk_ratio: float = 4.0

    # --- hypnic jerk / fragmentary myoclonus: 75-250 ms bursts, myoclonus <= 150 ms (ATS);
    # anything shorter than the 0.5 s PLM minimum (AASM) is a jerk, not a limb movement.
    jerk_max_duration_s: float = 0.5
    # A run of bursts each no longer than this is fragmentary myoclonus (ATS: <= 150 ms),
    # with margin for the envelope's smoothing (inference).
    myoclonus_max_burst_s: float = 0.25

    # --- periodic limb movement: tibialis anterior, 0.5-10 s (AASM, nsrr documentation)
    plm_min_duration_s: float = 0.5
    plm_max_duration_s: float = 10.0
    # PLM are scored on the shin; a calf episode of PLM length is weighted down but kept,
    # so a closed 5 s calf burst is not forced into "tonic" (inference).
    plm_calf_weight: float = 0.6

    # --- foot tremor / alternating leg muscle activation: bursts 0.1-0.7 s at 0.3-4 Hz,
    # trains of 10-20 s (Chervin 2003; Yang & Winkelman 2010)
    tremor_burst_min_s: float = 0.1
    tremor_burst_max_s: float = 0.7
    tremor_rate_min_hz: float = 0.3
    tremor_rate_max_hz: float = 4.0
    tremor_min_bursts: int = 4
    # A tremor is a rhythm: burst-to-burst intervals vary little, unlike the irregular
    # relaxations of a clonic cramp (inference).
    tremor_max_interval_cv: float = 0.3
    # ... and it shakes the foot: acceleration autocorrelation at 0.3-4 Hz above this is a
    # rhythmic leg; a still leg's noise stays near 0.2-0.3, a cramp's twitches too
    # (inference).
    tremor_rhythm_strength: float = 0.5
    # ... or the muscle's own envelope pulses at 2-4 Hz, faster than a clonic cramp jerks
    # (the Detector's recent/alone_pulse_strength): above this the bursts are a tremor's,
    # merged by the envelope into what would read as a sustained hold. A cramp's envelope
    # (motor units firing irregularly, Minetto 2009) shows no such rhythm: one 3 s window
    # reaches ~0.45 by chance, seldom ~0.65, so its average over the time alone is read
    # (inference; docs/detection-families.md "The pulse of a tremor").
    tremor_pulse_strength: float = 0.55

    # --- walking after waking: upright, alternating calf/shin at step rate, rhythmic
    # acceleration (inference). Step rate: a cadence of 60-150 steps/min, one calf burst
    # per stride, 0.5-2.5 Hz at one leg (inference from gait cadence).
    walking_upright: float = 0.5  # acc_upright above this is upright
    walking_rate_min_hz: float = 0.5
    walking_rate_max_hz: float = 2.5
    # ... calf and shin taking turns: the shin fires while the calf rests (the swing
    # phase, tibialis anterior ~30-40 % of each stride, the calf quiet then) for at least
    # this share of the episode. A cramp's shin fires on its own only once the sleeper
    # pulls the toes up between jerks (inference; docs/detection-families.md "Taking
    # turns").
    walking_shin_alone: float = 0.1
    # Acceleration autocorrelation peak of a gait; a still leg's sensor noise reaches ~0.25
    # (inference).
    walking_rhythm_strength: float = 0.4
    walking_alternation: float = 0.5  # calf/shin alternation index (inference)

    # --- turning over / large movement: 3-45 s, both channels, accelerometer change
    # (Ferri 2021, Sleep). Motion at onset above this many g (RMS of the gravity-free
    # acceleration) is a leg that moves, not a sleeper lying still (inference).
    movement_motion_g: float = 0.08
    movement_min_duration_s: float = 3.0
    movement_max_duration_s: float = 45.0
    # A cramp starts with "little leg motion at onset" (DOMAIN.md): below this many g.
    # Above a cramp's own pull on the foot as it takes hold and a clonic cramp's twitches
    # (up to ~0.05 g), below a turn (>= 0.08 g) (inference).
    cramp_quiet_motion_g: float = 0.065

    # --- voluntary stretch: agonist and antagonist active together (DOMAIN.md, inference)
    stretch_coact_fraction: float = 0.5
    # ... at a comparable level: crosstalk from a cramping calf reaches the shin at a few
    # per cent of its amplitude, a voluntary co-contraction at tens of per cent (inference).
    stretch_coact_ratio: float = 0.25

    # --- tonic cramp: sustained activity > ~10 s on a calf channel, little leg motion at
    # onset (DOMAIN.md, inference from the bruxism tonic rule, AASM)
    tonic_min_duration_s: float = 10.0
    # Share of the episode the calf is active: sustained, no relaxation (inference).
    tonic_min_duty_cycle: float = 0.8
    # A cramp is loud: 30-600 uV over a 2-5 uV floor, >= 6x rest; a step of the noise
    # floor (gel drying) is 2-4x (DOMAIN.md "Recordings differ"; issue 11). Bursts of
    # 2x rest (AASM bruxism rule) are muscle activity, not yet a cramp (inference).
    cramp_min_amp_rel: float = 5.0
    # ... or loud in itself: a contraction of this many uV RMS is muscle whatever the
    # floor (rest is a few uV, a stepped floor 2-4x that; cramps are tens to hundreds of
    # uV: DOMAIN.md "Signals", issue 11), so a cramp on a floor that stepped up is found.
    cramp_min_amp_uv: float = 25.0
    # The calf leads a cramp: a leg episode whose calf joined later than this after
    # another muscle started is shin-led (PLM) or a whole-leg movement (inference).
    cramp_max_calf_delay_s: float = 0.5
    # The calf active alone on a still leg this long is involuntary, however the
    # episode began (a turn or a pointed foot can set a cramp off, DOMAIN.md): a
    # voluntary movement ends with its motion and a PLM fires the shin; the sleeper may
    # wake and respond a few seconds after the trigger. Counted from the leg being still
    # for the Detector's recent window (3 s), so a turn's last motion is behind it
    # (inference).
    cramp_alone_s: float = 2.5
    # Without an accelerometer a still leg is not known (a walk's calf can fire alone for
    # seconds): the calf must go on alone this long instead (inference).
    cramp_alone_no_acc_s: float = 8.0

    # --- clonic cramp: >= 3-4 bursts separated by relaxation, lying, not at step rate
    # (DOMAIN.md; bruxism phasic: >= 3 bursts of 0.25-2 s)
    clonic_min_bursts: int = 3
    clonic_burst_min_s: float = 0.25
    clonic_burst_max_s: float = 2.0
    clonic_max_duty_cycle: float = 0.8
    # Relaxations that do not fall back to rest merge the jerks into one long burst: its
    # envelope then swings (CV of the envelope within bursts above this), a tonic cramp's
    # holds steady once its rise is over (inference from "jerky tension", DOMAIN.md).
    tonic_max_envelope_cv: float = 0.4
    # A clonic cramp relaxes: relaxations (the Detector's alone_dip_fraction: >= 0.3 s
    # below 40 % of its level, with contraction after; not the rise nor the letting go)
    # in cycles of <= 2 s ("jerky tension alternating with relaxation", DOMAIN.md) are
    # >= 20 % of its time; a tonic cramp "does not let go": a few per cent, though one
    # carrying real EMG texture (datasets/uci-lower-limb-emg in `crampwatch synth`
    # nights) relaxes that way for up to ~15-20 % (inference). Judged once alone this
    # long.
    clonic_min_relaxed: float = 0.2
    dip_min_alone_s: float = 2.0

    # --- provisional calls on open episodes. (age_s, confidence) knots of the tonic
    # call's confidence, linear in between: called from 1 s of sustained calf activity
    # so a prompt (min confidence 0.6) can fire within the ~3 s alert budget (DESIGN.md),
    # growing to the closed-episode confidence at the 10 s tonic threshold (inference).
    provisional_tonic_confidence: tuple[tuple[float, float], ...] = (
        (1.0, 0.55),
        (2.0, 0.75),
        (10.0, 0.95),
    )

    # --- soft-threshold widths: how far past a threshold a rule is ~73 % true (1 width)
    width_duration_s: float = 0.5
    width_ratio: float = 0.05
    width_motion_g: float = 0.01
    width_rate_hz: float = 0.1
    width_count: float = 0.35
    width_amp_rel: float = 0.3
    width_amp_uv: float = 1.5
    width_burst_s: float = 0.05
    # A catch-all "movement" truth value: an episode no rule explains is a movement of
    # some kind, called with low confidence (never a cramp by default).
    unexplained_movement: float = 0.15

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float | int) and not (math.isfinite(value) and value >= 0):
                raise ValueError(f"RuleParams.{f.name} must be a finite number >= 0, got {value}")
        knots = self.provisional_tonic_confidence
        if not knots or any(b[0] <= a[0] for a, b in itertools.pairwise(knots)):
            raise ValueError(
                "provisional_tonic_confidence must be (age_s, confidence) knots with "
                f"increasing ages, got {knots}"
            )
        if any(not 0.0 <= c <= 1.0 for _, c in knots):
            raise ValueError(f"provisional confidences must be within 0..1, got {knots}")


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def _above(x: float, threshold: float, width: float, unknown: float) -> float:
    """Return the truth of x > threshold in 0..1 (``unknown`` when x is NaN)."""
    if math.isnan(x):
        return unknown
    return _sigmoid((x - threshold) / max(width, 1e-9))


def _below(x: float, threshold: float, width: float, unknown: float) -> float:
    """Return the truth of x < threshold in 0..1 (``unknown`` when x is NaN)."""
    if math.isnan(x):
        return unknown
    return _sigmoid((threshold - x) / max(width, 1e-9))


def _within(x: float, lo: float, hi: float, width: float, unknown: float) -> float:
    """Return the truth of lo < x < hi in 0..1 (``unknown`` when x is NaN)."""
    if math.isnan(x):
        return unknown
    return _above(x, lo, width, unknown) * _below(x, hi, width, unknown)


def _interp(x: float, knots: tuple[tuple[float, float], ...]) -> float:
    """Return the piecewise-linear value at x through (x, y) knots, 0 before the first."""
    if x < knots[0][0]:
        return 0.0
    for (x0, y0), (x1, y1) in itertools.pairwise(knots):
        if x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return knots[-1][1]


@dataclass(frozen=True)
class RuleTrace:
    """The truth value of every kind's rule for one update (for explanation and tests)."""

    scores: dict[EventKind, float] = field(default_factory=dict)
    # How well the course fits each cramp kind, before the cramp gate (onset, site,
    # loudness): what tells tonic from clonic once an episode is known to be a cramp.
    shapes: dict[EventKind, float] = field(default_factory=dict)

    def best(self) -> tuple[EventKind, float, float]:
        """Return (kind, truth, runner-up truth) of the best-fitting rule."""
        ranked = sorted(self.scores.items(), key=lambda kv: kv[1], reverse=True)
        kind, top = ranked[0]
        second = ranked[1][1] if len(ranked) > 1 else 0.0
        return kind, top, second


@dataclass(frozen=True)
class RuleClassifier:
    """Classifies episodes with the published criteria; the baseline and the fallback."""

    params: RuleParams = field(default_factory=RuleParams)
    decision: DecisionParams = field(default_factory=DecisionParams)

    @property
    def version(self) -> str:
        return RULES_VERSION

    def classify(self, update: EpisodeUpdate) -> Classification:
        """Return the kind and a 0..1 confidence for an open (provisional) or closed episode."""
        trace = self.trace(update)
        kind, top, second = trace.best()
        if kind.is_cramp:
            # Waking depends on "a cramp, either kind": its truth is both cramp rules'
            # together, set against the best look-alike alone.
            top = min(1.0, sum(v for k, v in trace.scores.items() if k.is_cramp))
            second = max((v for k, v in trace.scores.items() if not k.is_cramp), default=0.0)
        # Discounted by how close the runner-up came: nothing when two rules tie.
        confidence = top * (1.0 - (second / top) ** 2) if top > 0 else 0.0
        final = update.phase == EpisodePhase.CLOSED
        d = self.decision
        floor = d.final_min_cramp if final else d.provisional_min_cramp
        too_young = decision_age_s(update) < (
            d.final_min_duration_s if final else d.provisional_min_age_s
        )
        if kind.is_cramp and (confidence < floor or too_young):
            # Not sure enough to wake anyone: the most likely look-alike, with its share
            # of all the rules' truth.
            others = {k: v for k, v in trace.scores.items() if not k.is_cramp}
            kind = max(others, key=others.__getitem__)
            confidence = others[kind] / max(sum(trace.scores.values()), 1e-9)
        return Classification(kind=kind, confidence=min(1.0, max(0.0, confidence)))

    def trace(self, update: EpisodeUpdate) -> RuleTrace:
        """Return every rule's truth value for the update (what ``classify`` decides on)."""
        p = self.params
        f = update.features

        def g(name: str) -> float:
            return feature_value(f, name)

        final = update.phase == EpisodePhase.CLOSED
        role = channel_role(update)
        duration = g("duration_s")
        if math.isnan(duration):
            end = update.end_s if update.end_s is not None else update.known_at_s
            duration = max(0.0, end - update.start_s)
        bursts = g("burst_count")
        if math.isnan(bursts) and update.bursts:
            bursts = float(len(update.bursts))
        burst_med = g("burst_duration_median_s")
        rate = g("burst_rate_hz")
        duty = g("duty_cycle")
        amp = g("amp_rel_median")
        coact = g("coact_fraction")
        alternation = g("alternation")
        upright = g("acc_upright")
        motion_onset = _nanmax(g("acc_motion_onset_g"), g("acc_motion_pre_g"))
        rhythm_hz = g("acc_rhythm_hz")
        rhythm_strength = g("acc_rhythm_strength")

        calf = 1.0 if role is Role.CALF else (0.5 if role is Role.OTHER else 0.0)
        shin = 1.0 if role is Role.SHIN else 0.0

        # An accelerometer that is absent says nothing: posture unknown counts as lying
        # (a night recording), motion unknown as quiet, with the rules that need them
        # weighted down instead. Only slightly below certain: a night without an
        # accelerometer must still wake the sleeper within the alert budget.
        lying = _below(upright, p.walking_upright, p.width_ratio, 0.95)
        quiet_onset = _below(motion_onset, p.cramp_quiet_motion_g, p.width_motion_g, 0.95)
        # Motion later in an episode is no veto: a sleeper woken by a cramp grabs the leg.
        moving = _above(motion_onset, p.movement_motion_g, p.width_motion_g, 0.0)
        ratio = _uv_ratio(f)
        # Artefact: any one sign of a junk channel is enough.
        artifact = max(
            _above(g("mains_ratio"), p.artifact_mains_ratio, p.width_ratio, 0.0),
            _above(g("clip_fraction"), p.artifact_clip_fraction, p.width_ratio / 25, 0.0),
            _above(g("flat_fraction"), p.artifact_flat_fraction, p.width_ratio, 0.0),
            _above(g("lowfreq_ratio"), p.artifact_lowfreq_ratio, p.width_ratio * 4, 0.0)
            * (1.0 - moving),
            _above(ratio, p.crosstalk_ratio, p.width_ratio * 10, 0.0)
            * _above(coact, p.stretch_coact_fraction, p.width_ratio, 0.0),
            _below(g("envelope_cv"), p.artifact_steady_cv, p.width_ratio / 2.5, 0.0),
        )
        cocontraction = _above(coact, p.stretch_coact_fraction, p.width_ratio, 0.0) * _above(
            ratio, p.stretch_coact_ratio, p.width_ratio, 0.5
        )
        no_coact = 1.0 - cocontraction if not math.isnan(coact) else 0.8
        base_uv = g("baseline_uv")

        def loud_at(rel: float, unknown: float) -> float:
            """Truth of "at cramp strength": rel x rest, or in uV over this floor."""
            return max(_above(rel, p.cramp_min_amp_rel, p.width_amp_rel, unknown),
                       _above(rel * base_uv, p.cramp_min_amp_uv, p.width_amp_uv, 0.0))

        loud = loud_at(amp, 0.7)
        calf_step_rate = _within(rate, p.walking_rate_min_hz, p.walking_rate_max_hz,
                                 p.width_rate_hz, 0.0)
        step_rate = max(
            _within(rhythm_hz, p.walking_rate_min_hz, p.walking_rate_max_hz, p.width_rate_hz, 0.0)
            * _above(rhythm_strength, p.walking_rhythm_strength, p.width_ratio, 0.0),
            calf_step_rate * max(
                _above(alternation, p.walking_alternation, p.width_ratio, 0.0),
                _above(g("other_alone_fraction"), p.walking_shin_alone, p.width_ratio / 4, 0.0),
            ),
        )
        many_bursts = _above(bursts, p.clonic_min_bursts - 0.5, p.width_count, 0.0)
        not_junk = 1.0 - artifact

        scores: dict[EventKind, float] = {}
        scores[EventKind.ARTIFACT] = artifact
        short_bursts = _below(
            g("burst_duration_max_s"), p.myoclonus_max_burst_s, p.width_burst_s, 0.0
        )
        scores[EventKind.JERK] = not_junk * max(
            _below(duration, p.jerk_max_duration_s, p.width_duration_s / 5, 0.0) if final else 0.0,
            short_bursts * _above(duration, p.jerk_max_duration_s, p.width_duration_s / 5, 0.0),
        )
        # Without an accelerometer, calf and shin alternating at step rate is walking's
        # own signature (DOMAIN.md look-alikes), so unknown posture weighs little.
        walking_like = _above(upright, p.walking_upright, p.width_ratio, 0.7) * step_rate
        scores[EventKind.WALKING] = walking_like * not_junk
        # Both muscles with a leg that moves a lot is a turn, not a stretch in place.
        scores[EventKind.STRETCH] = cocontraction * (1.0 - 0.5 * moving) * not_junk
        if final:
            movement_length = _within(
                duration,
                p.movement_min_duration_s,
                p.movement_max_duration_s,
                p.width_duration_s,
                0.0,
            )
        else:
            movement_length = _above(duration, p.movement_min_duration_s, p.width_duration_s, 0.0)
        # Motion at any length vetoes a cramp call; the movement rule itself wants the
        # published 3-45 s, with shorter moves still a movement at half weight.
        scores[EventKind.MOVEMENT] = max(
            moving * max(movement_length, 0.5) * lying * not_junk, p.unexplained_movement
        )
        plm_length = _within(
            duration, p.plm_min_duration_s, p.plm_max_duration_s, p.width_duration_s / 2, 0.0
        ) * _above(g("burst_duration_max_s"), p.plm_min_duration_s, p.width_burst_s, 1.0)
        if not final:
            # While it runs, a PLM is only known not to be longer than 10 s yet.
            plm_length = _below(duration, p.plm_max_duration_s, p.width_duration_s, 0.0)
        plm_site = shin if not final else max(shin, calf * p.plm_calf_weight)
        scores[EventKind.PLM] = plm_length * plm_site * quiet_onset * no_coact * not_junk
        tremor_bursts = _within(
            burst_med, p.tremor_burst_min_s, p.tremor_burst_max_s, p.width_burst_s, 0.0
        )
        rhythmic = (
            _above(rhythm_strength, p.tremor_rhythm_strength, p.width_ratio, 0.0)
            * _within(rhythm_hz, p.tremor_rate_min_hz, p.tremor_rate_max_hz, p.width_rate_hz, 0.0)
            * lying
        )
        # A pulsing muscle, over the time it was active alone (a few seconds of a 3 s
        # window's rhythm can reach the threshold by chance; a tremor pulses throughout).
        pulsing = _above(g("alone_pulse_strength"), p.tremor_pulse_strength,
                         p.width_ratio / 2, 0.0)
        # Without a shaking foot, a run of short bursts is as likely a clonic cramp.
        shaking = _above(rhythm_strength, p.tremor_rhythm_strength, p.width_ratio, 0.7)
        tremor_bursts_rule = shaking * (
            tremor_bursts
            * _within(rate, p.tremor_rate_min_hz, p.tremor_rate_max_hz, p.width_rate_hz, 0.0)
            * _above(bursts, p.tremor_min_bursts - 0.5, p.width_count, 0.0)
            * _below(g("interval_cv"), p.tremor_max_interval_cv, p.width_ratio, 0.5)
            * (1.0 - walking_like)
            * not_junk
        )
        scores[EventKind.TREMOR] = max(tremor_bursts_rule, rhythmic * not_junk)

        calf_led = _below(g("calf_delay_s"), p.cramp_max_calf_delay_s, p.width_duration_s / 5,
                          1.0)
        # Both muscles from the start is a voluntary stretch, turn or step (DOMAIN.md),
        # however the other muscle's share thins out as the episode goes on. With an
        # accelerometer the onset's motion tells that (quiet_onset): a foot pointed in
        # bed that sets off a cramp is still a quiet onset. Without one it is the sign.
        no_acc = math.isnan(g("recent_motion_g"))
        together_at_onset = _above(g("onset_coact_fraction"), p.stretch_coact_fraction,
                                   p.width_ratio, 0.0) if no_acc else 0.0
        # Involuntary from its onset: calf-led, lying, a still leg, no co-contraction ...
        onset_involuntary = (
            lying * quiet_onset * no_coact * (1.0 - together_at_onset) * calf_led
            * (1.0 - walking_like) * (1.0 - rhythmic) * (1.0 - pulsing)
        )
        if not final:
            # ... on a leg that stayed still until it is called: one that moves on after
            # a quiet start is a turn taking shape (a called cramp keeps its call through
            # the sleeper's response, models.tracking).
            onset_involuntary *= _below(g("acc_motion_during_g"), p.movement_motion_g,
                                        p.width_motion_g, 1.0)
        # ... or the calf went on alone, on a still leg, long after whatever set it off.
        # Shaking now (the last seconds), not a turn that is over: a tremor goes on.
        rhythmic_now = _above(g("recent_rhythm_strength"), p.tremor_rhythm_strength,
                              p.width_ratio, rhythmic)
        # ... at a cramp's strength now: the faint tail of a turn that fades out slowly
        # is no cramp, however long the calf stays above its onset threshold.
        loud_now = loud_at(g("recent_amp_rel"), loud)
        alone_needed = p.cramp_alone_no_acc_s if no_acc else p.cramp_alone_s
        persists = _above(g("alone_s"), alone_needed, p.width_duration_s, 0.0) * (
            1.0 - rhythmic_now
        ) * (1.0 - pulsing) * loud_now
        cramp_gate = calf * loud * not_junk * max(onset_involuntary, persists)
        # A look-alike ends with its motion (DOMAIN.md): one that outlasts it is none.
        for kind in (EventKind.JERK, EventKind.WALKING, EventKind.STRETCH, EventKind.MOVEMENT,
                     EventKind.PLM):
            scores[kind] *= 1.0 - persists
        # A shaking leg that went still is no tremor; short rhythmic EMG bursts still are.
        scores[EventKind.TREMOR] = max(tremor_bursts_rule, pulsing * not_junk,
                                       rhythmic * not_junk * (1 - persists))
        long_burst = _above(g("burst_duration_max_s"), p.tonic_min_duration_s,
                            p.width_duration_s * 2, 0.0)
        # Active most of the time, however its bursts are cut (clonic jerks that never
        # relax to rest merge and split as the envelope crosses the onset threshold).
        mostly_active = _above(duty, p.tonic_min_duty_cycle, p.width_ratio, 0.0)
        sustained = mostly_active
        if final:
            tonic_length = _above(duration, p.tonic_min_duration_s, p.width_duration_s * 2, 0.0)
            # One unbroken contraction past the tonic length is tonic, whatever followed.
            sustained = max(sustained, long_burst)
        else:
            tonic_length = max(_interp(duration, p.provisional_tonic_confidence), persists)
            # A run of separate bursts is not (yet) a sustained contraction.
            sustained *= _below(bursts, 1.5, p.width_count / 3, 1.0)
            sustained = max(sustained, long_burst)
        # The envelope's steadiness counts once the rise is over (past the tonic length).
        settled = final or duration >= p.tonic_min_duration_s
        # Relaxing while alone (before any response) is the clearest sign of a clonic
        # cramp; the envelope's swing speaks where that is not known yet.
        dip = g("alone_dip_fraction")
        if not math.isnan(dip) and g("alone_s") >= p.dip_min_alone_s:
            jerky = _above(dip, p.clonic_min_relaxed, p.width_ratio / 2, 0.0)
        else:
            jerky = (
                _above(g("envelope_cv"), p.tonic_max_envelope_cv, p.width_ratio, 0.0)
                if settled
                else 0.0
            )
        clonic_bursts = _within(
            burst_med, p.clonic_burst_min_s, p.clonic_burst_max_s, p.width_burst_s, 0.5
        )
        relaxes = _below(duty, p.clonic_max_duty_cycle, p.width_ratio, 0.5)
        shapes = {
            EventKind.TONIC: sustained * tonic_length * (1.0 - jerky),
            EventKind.CLONIC: max(
                many_bursts * relaxes * clonic_bursts * (1.0 - long_burst),
                max(sustained, mostly_active) * tonic_length * jerky,
            ),
        }
        for kind, shape in shapes.items():
            scores[kind] = cramp_gate * shape
        return RuleTrace(scores, shapes)

    def cramp_kind(self, update: EpisodeUpdate) -> EventKind | None:
        """Return tonic or clonic, whichever course the update shows if it is a cramp.

        Judged as if the episode ended with this update (None when neither fits at all).
        """
        if update.phase is not EpisodePhase.CLOSED:
            end = update.end_s if update.end_s is not None else update.known_at_s
            update = replace(update, phase=EpisodePhase.CLOSED, end_s=end)
        shapes = self.trace(update).shapes
        kind = max(shapes, key=shapes.__getitem__)
        return kind if shapes[kind] > 0.05 else None


def _nanmax(*values: float) -> float:
    """Return the largest value that is not NaN (NaN when all are)."""
    known = [v for v in values if not math.isnan(v)]
    return max(known) if known else math.nan


def _uv_ratio(f) -> float:
    """Return the other muscle's activity over this one's, in uV above each floor.

    Crosstalk is a few per cent of this muscle's signal in uV whatever either floor,
    so levels relative to two different floors would mistake a quiet-floored muscle's
    co-contraction for crosstalk; falls back to ``coact_ratio`` without the floors.
    """
    other_rel, own_rel = feature_value(f, "coact_rel"), feature_value(f, "amp_rel_median")
    other_base, own_base = feature_value(f, "other_baseline_uv"), feature_value(f, "baseline_uv")
    if any(math.isnan(v) for v in (other_rel, own_rel, other_base, own_base)) or own_rel <= 1:
        return coact_ratio(f)
    return max(0.0, other_rel - 1.0) * other_base / ((own_rel - 1.0) * own_base)
