"""Words the pages use for the pipeline's vocabulary: muscles, sides, event kinds."""

from __future__ import annotations

import datetime as dt

from sensor.feature_glossary import FeatureEntry
from sensor.records import EventKind, Muscle, Role, Side

MUSCLE_WORDS = {
    Muscle.GASTROCNEMIUS: "calf (gastrocnemius)",
    Muscle.GASTROCNEMIUS_MEDIAL: "calf (inner gastrocnemius)",
    Muscle.GASTROCNEMIUS_LATERAL: "calf (outer gastrocnemius)",
    Muscle.SOLEUS: "calf (soleus)",
    Muscle.TIBIALIS_ANTERIOR: "shin (tibialis anterior)",
    Muscle.FOOT: "foot",
    Muscle.THIGH: "thigh",
    Muscle.UNKNOWN: "muscle not named",
}
ROLE_WORDS = {Role.CALF: "calf", Role.SHIN: "shin", Role.OTHER: "other muscle"}
KIND_WORDS = {
    EventKind.TONIC: "tonic cramp",
    EventKind.CLONIC: "clonic cramp",
    EventKind.PLM: "periodic limb movement",
    EventKind.MOVEMENT: "movement, turning over",
    EventKind.JERK: "jerk",
    EventKind.TREMOR: "foot tremor",
    EventKind.WALKING: "walking",
    EventKind.STRETCH: "stretch",
    EventKind.ARTIFACT: "signal artefact",
}


def muscle_words(muscle: Muscle | str, side: Side | str, role: Role | str | None = None) -> str:
    """Return a muscle in words with its side, e.g. 'right calf (gastrocnemius)'."""
    muscle, side = Muscle(muscle), Side(side)
    words = MUSCLE_WORDS[muscle]
    if muscle is Muscle.UNKNOWN and role is not None and Role(role) is not Role.OTHER:
        words = ROLE_WORDS[Role(role)]
    side_words = "" if side is Side.UNKNOWN else f"{side.value} "
    return f"{side_words}{words}"


def kind_words(kind: EventKind | str) -> str:
    """Return an event kind in words, e.g. 'periodic limb movement'."""
    return KIND_WORDS[EventKind(kind)]


def feature_value_text(
    item: FeatureEntry | None, value: float | None, event_start_at: dt.datetime, start_s: float
) -> str:
    """Return a feature's value as shown on a page, in the unit of its glossary entry;
    session times (unit "clock") as the time of night, from the event's start."""
    if value is None:
        return "not computable"
    if item is None:
        return f"{value:.4g}"
    if item.unit == "clock":
        at = event_start_at + dt.timedelta(seconds=value - start_s)
        return f"{at:%H:%M:%S}"
    if item.unit == "yes/no":
        return "yes" if value else "no"
    shown = value * item.scale
    if item.unit == "%":
        return f"{shown:.0f} %"
    number = f"{shown:.3g}" if abs(shown) < 1000 else f"{shown:.0f}"
    unit = {"x rest": "× rest", "ratio": "", "0–1": "(0–1)", "count": ""}.get(item.unit, item.unit)
    return f"{number} {unit}".strip()
