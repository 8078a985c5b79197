"""Every feature an event can carry, in words: its group, what it says, and its unit.

Kept beside :mod:`sensor.features` (whose ``FEATURES`` say how each is computed) for the
people who read events: the clinician's event page groups and names features from here.
It covers the Detector's features, those :mod:`sensor.legs` adds for a leg's episode, the
ones the pipeline and the hub add to an event (when a call was made, the red flag, the
calibrated strength) and the classifier's derived inputs (:mod:`models.features`).

``unit`` is how a value is shown: ``scale`` multiplies the stored value first (a 0..1
fraction is shown as a percentage); "clock" is seconds on the night's clock, shown as the
time of night; "yes/no" is 1 or 0; "count" a number of things. "x rest" means a multiple
of the channel's resting level (its baseline, the RMS noise floor of the relaxed muscle).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass


class FeatureGroup(enum.StrEnum):
    """The groups features are shown in, in the order a clinician reads them."""

    TIMING = "timing"
    STRENGTH = "strength"
    BURSTS = "bursts and rhythm"
    MUSCLES = "muscles"
    MOVEMENT = "movement and posture"
    QUALITY = "signal quality"


@dataclass(frozen=True)
class FeatureEntry:
    """One feature in words: ``words`` says what it is, ``unit`` how it is shown."""

    name: str
    group: FeatureGroup
    words: str
    unit: str
    scale: float = 1.0


def _entries(group: FeatureGroup, *rows: tuple) -> dict[str, FeatureEntry]:
    return {row[0]: FeatureEntry(row[0], group, *row[1:]) for row in rows}


PERCENT = ("%", 100.0)

GLOSSARY: dict[str, FeatureEntry] = {
    **_entries(
        FeatureGroup.TIMING,
        ("duration_s", "Duration, from the onset to the end of the last burst", "s"),
        ("onset_s", "Onset", "clock"),
        ("known_at_s", "When the detector made this call", "clock"),
        ("first_cramp_call_s", "When the episode was first called a cramp", "clock"),
        ("calf_delay_s", "Calf onset after the leg's first activity (0: the calf led)", "s"),
        ("lead_s", "Onset before (-) or after (+) the other muscle's nearest burst", "s"),
        ("red_flag_over_10_min", "Lasted over 10 minutes (a red flag)", "yes/no"),
        ("is_final", "The episode had ended when classified", "yes/no"),
    ),
    **_entries(
        FeatureGroup.STRENGTH,
        ("amp_rel_median", "Typical strength within bursts", "x rest"),
        ("amp_rel_peak", "Peak strength within bursts", "x rest"),
        ("amp_rel_calibrated", "Typical strength, as a share of this sleeper's calibration "
         "contraction", *PERCENT),
        ("baseline_uv", "Resting level of this muscle at the onset (noise floor)", "µV"),
        ("envelope_cv", "Unsteadiness of the contraction's strength (low = steady, as in "
         "a tonic cramp)", "ratio"),
    ),
    **_entries(
        FeatureGroup.BURSTS,
        ("burst_count", "Bursts of activity", "count"),
        ("burst_rate_hz", "Bursts per second", "Hz"),
        ("burst_duration_median_s", "Typical burst length", "s"),
        ("burst_duration_max_s", "Longest burst", "s"),
        ("gap_median_s", "Typical relaxation between bursts", "s"),
        ("interval_cv", "Irregularity of the burst rhythm (0 = regular)", "ratio"),
        ("duty_cycle", "Share of the episode with the muscle active", *PERCENT),
        ("alone_dip_fraction", "Share of the time alone the muscle relaxed between jerks "
         "(high: clonic, near 0: tonic)", *PERCENT),
        ("recent_pulse_strength", "How strongly the muscle pulsed at 2-4 Hz in the last 3 s "
         "(faster than a cramp jerks: foot tremor)", "0–1"),
        ("alone_pulse_strength", "Same, averaged over the time the muscle was active alone",
         "0–1"),
    ),
    **_entries(
        FeatureGroup.MUSCLES,
        ("leg_muscles", "Muscles of the leg active in this episode", "count"),
        ("alone_s", "Longest stretch with this muscle active alone and the leg still (the "
         "involuntary part of a cramp)", "s"),
        ("alone_now_s", "Current such stretch (0 while the sleeper moves or stretches)", "s"),
        ("coact_rel", "Other muscle's strength during the episode", "x rest"),
        ("coact_fraction", "Share of the episode the other muscle was active too", *PERCENT),
        ("onset_coact_fraction", "Share of the first 2 s the other muscle was active too "
         "(both from the start: voluntary)", *PERCENT),
        ("coact_ratio", "Other muscle's strength over this muscle's", "ratio"),
        ("other_amp_rel_median", "Other muscle's typical strength in its own episode",
         "x rest"),
        ("other_baseline_uv", "Other muscle's resting level (noise floor)", "µV"),
        ("alternation", "Calf and shin taking turns (as in walking or tremor)", "0–1"),
        ("other_alone_fraction", "Share of the episode the other muscle fired while this "
         "one rested (taking turns, as in walking)", *PERCENT),
        ("recent_active_fraction", "Share of the last 3 s this muscle was active", *PERCENT),
        ("recent_amp_rel", "This muscle's typical strength in the last 3 s", "x rest"),
        ("recent_coact_fraction", "Share of the last 3 s the other muscle was active too",
         *PERCENT),
        ("role_calf", "This channel is a calf muscle", "yes/no"),
        ("role_shin", "This channel is a shin muscle", "yes/no"),
    ),
    **_entries(
        FeatureGroup.MOVEMENT,
        ("acc_upright", "Share of the episode with the lower leg upright (standing)", *PERCENT),
        ("acc_tilt_deg", "Lower leg's angle to vertical (90° = lying)", "°"),
        ("acc_motion_pre_g", "Leg movement in the 2 s before the onset", "g"),
        ("acc_motion_onset_g", "Leg movement around the onset (±1 s)", "g"),
        ("acc_motion_during_g", "Leg movement during the episode", "g"),
        ("recent_motion_g", "Leg movement in the last 3 s", "g"),
        ("acc_rhythm_hz", "Rhythm of the leg's movement (steps, tremor)", "Hz"),
        ("acc_rhythm_strength", "How rhythmic the leg's movement is", "0–1"),
        ("recent_rhythm_strength", "How rhythmic the leg's movement was in the last 5 s",
         "0–1"),
    ),
    **_entries(
        FeatureGroup.QUALITY,
        ("gap_s", "Signal lost during the episode", "s"),
        ("flat_fraction", "Share of a flat signal (electrode without contact)", *PERCENT),
        ("clip_fraction", "Share of the signal at the amplifier's limit", *PERCENT),
        ("mains_ratio", "Mains hum in the signal", *PERCENT),
        ("lowfreq_ratio", "Slow signal (motion artefact, below 20 Hz) over the muscle signal",
         "ratio"),
        ("median_freq_hz", "Median frequency of the muscle signal while active", "Hz"),
    ),
}


def entry(name: str) -> FeatureEntry | None:
    """Return the glossary entry of feature ``name``, or None if it has none."""
    return GLOSSARY.get(name)


def grouped(
    features: Mapping[str, float | None],
) -> list[tuple[FeatureGroup | None, list[tuple[str, FeatureEntry | None, float | None]]]]:
    """Return ``features`` by group in :class:`FeatureGroup` order, each group in glossary
    order, as (name, entry, value); names without an entry come last under group None."""
    order = {name: i for i, name in enumerate(GLOSSARY)}
    groups: list[tuple[FeatureGroup | None, list]] = []
    for group in FeatureGroup:
        rows = sorted(
            (name for name in features if name in GLOSSARY and GLOSSARY[name].group is group),
            key=order.__getitem__,
        )
        if rows:
            groups.append((group, [(name, GLOSSARY[name], features[name]) for name in rows]))
    unknown = sorted(name for name in features if name not in GLOSSARY)
    if unknown:
        groups.append((None, [(name, None, features[name]) for name in unknown]))
    return groups
