"""Episode feature vectors for the classifiers: a fixed order of named features per update.

The Detector reports features by name (``sensor.features``); a learned model needs
them as a vector in one fixed order, stored with the model so a file trained on one
order is never fed another. Besides the Detector's own features, three come from the
update itself: the channel's role (calf agonist or shin antagonist) and whether the
call is provisional (episode still open) or final; and one is derived from two of the
Detector's: ``coact_ratio``, the other channel's level over this one's (both relative
to their own baselines). Volume conduction puts a few per cent of a cramping calf on
the shin, so the shin looks "active" during every strong cramp; a voluntary stretch
drives the antagonist at a comparable level. The ratio tells the two apart where
``coact_fraction`` cannot.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from sensor.records import EpisodePhase, EpisodeUpdate, Muscle, Role

# Features the Detector computes for every episode update (NaN where not computable).
# ``onset_s`` (time of night) and ``baseline_uv`` (absolute, sleeper- and electrode-
# dependent) are left out on purpose: a model must not learn a sleeper's skin or the
# hour a synthetic generator put its cramps at.
DETECTOR_FEATURES: tuple[str, ...] = (
    "duration_s",
    "burst_count",
    "burst_rate_hz",
    "burst_duration_median_s",
    "burst_duration_max_s",
    "gap_median_s",
    "interval_cv",
    "duty_cycle",
    "amp_rel_median",
    "amp_rel_peak",
    "envelope_cv",
    "median_freq_hz",
    "mains_ratio",
    "lowfreq_ratio",
    "clip_fraction",
    "flat_fraction",
    "coact_rel",
    "coact_fraction",
    "lead_s",
    "alternation",
    "acc_upright",
    "acc_tilt_deg",
    "acc_motion_pre_g",
    "acc_motion_onset_g",
    "acc_motion_during_g",
    "acc_rhythm_hz",
    "acc_rhythm_strength",
    "gap_s",
)

# Features derived from the update record rather than the signal.
DERIVED_FEATURES: tuple[str, ...] = ("role_calf", "role_shin", "is_final", "coact_ratio")

FEATURE_NAMES: tuple[str, ...] = DETECTOR_FEATURES + DERIVED_FEATURES

# Bumped whenever the meaning or order of FEATURE_NAMES changes; a model file trained
# on another schema is refused at load time.
FEATURE_SCHEMA_VERSION = "1"

_CALF_MUSCLES = frozenset(
    {
        Muscle.GASTROCNEMIUS,
        Muscle.GASTROCNEMIUS_MEDIAL,
        Muscle.GASTROCNEMIUS_LATERAL,
        Muscle.SOLEUS,
    }
)


def channel_role(update: EpisodeUpdate) -> Role:
    """Return the channel's role, taking the muscle when the role was left as OTHER.

    Either head of the gastrocnemius (medial or lateral) and the soleus count as calf;
    tibialis anterior as shin; either leg the same (DOMAIN.md: a cramp is localized,
    one head can cramp while the other is silent).
    """
    role = Role(update.channel.role)
    if role is not Role.OTHER:
        return role
    if update.channel.muscle in _CALF_MUSCLES:
        return Role.CALF
    if update.channel.muscle == Muscle.TIBIALIS_ANTERIOR:
        return Role.SHIN
    return Role.OTHER


def feature_value(features: Mapping[str, float], name: str) -> float:
    """Return one feature as a float, NaN when missing, None-valued or not a number."""
    value = features.get(name, math.nan)
    if value is None:
        return math.nan
    try:
        out = float(value)
    except (TypeError, ValueError):
        return math.nan
    return out if math.isfinite(out) else math.nan


def coact_ratio(features: Mapping[str, float]) -> float:
    """Return the other channel's level above its rest over this channel's (NaN when unknown).

    Levels are envelope / baseline, so 1 is rest: a quiet antagonist scores 0 whatever
    this channel does, and a weak contraction is not taken for co-contraction.
    """
    other = feature_value(features, "coact_rel")
    own = feature_value(features, "amp_rel_median")
    if math.isnan(other) or math.isnan(own) or own <= 1.0:
        return math.nan
    return max(0.0, other - 1.0) / (own - 1.0)


def feature_vector(update: EpisodeUpdate, names: Sequence[str] = FEATURE_NAMES) -> np.ndarray:
    """Return the update's features in ``names`` order (float64, NaN where unknown)."""
    role = channel_role(update)
    derived = {
        "role_calf": 1.0 if role is Role.CALF else 0.0,
        "role_shin": 1.0 if role is Role.SHIN else 0.0,
        "is_final": 1.0 if update.phase == EpisodePhase.CLOSED else 0.0,
        "coact_ratio": coact_ratio(update.features),
    }
    out = np.empty(len(names), dtype=np.float64)
    for i, name in enumerate(names):
        out[i] = derived[name] if name in derived else feature_value(update.features, name)
    return out


def feature_matrix(
    updates: Sequence[EpisodeUpdate], names: Sequence[str] = FEATURE_NAMES
) -> np.ndarray:
    """Return an (n_updates, n_features) float64 matrix in ``names`` order."""
    if not updates:
        return np.empty((0, len(names)), dtype=np.float64)
    return np.vstack([feature_vector(u, names) for u in updates])
