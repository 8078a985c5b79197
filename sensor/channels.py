"""Channel labels parsed into muscle and side, and the role each EMG channel plays.

Labels come from band descriptors and EDF headers ("EMG R Gastroc", "EMG L Tib Ant",
"EMG LGM", "EMG MGM R", sleep-lab "LAT"/"RAT", "Leg L", "Calf L", "Shin R", "EMG1").
Rules (DOMAIN.md, "Signals"):

- Sleep-lab leg channels ("LAT", "RAT", "Leg L", "LLEG", "RLEG2") are tibialis anterior:
  the AASM montage records limb movements there.
- "LGM"/"MGM" are lateral/medial gastrocnemius (not "left ..."); "LG"/"MG" likewise.
- A side is a separate token ("L", "R", "Left", "Rt") or the leading letter of a
  sleep-lab tibialis token ("LAT", "RTA", "LLEG").
- Labels naming a non-leg signal (chin, ECG, EOG, EEG, respiration) are never
  given a leg role.

Role assignment (:func:`assign_roles`): calf muscles (gastrocnemius, soleus) are
``Role.CALF``, tibialis anterior is ``Role.SHIN``, thigh and foot are ``Role.OTHER``.
When no channel is recognised as calf, the first leg channel with an unknown muscle
is taken as calf (a band's first channel is its calf electrode by convention); when
no shin is recognised, the next unknown leg channel is taken as shin. A user
override for a label replaces the parsed muscle, side and role.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace

from sensor.records import ChannelInfo, Muscle, Role, Side

_LEFT = {"L", "LEFT", "LT", "LFT", "SX"}
_RIGHT = {"R", "RIGHT", "RT", "RGT", "DX"}

_NON_LEG = {
    "CHIN", "SUBMENTAL", "SUBMENT", "MENTALIS", "ECG", "EKG", "EOG", "EEG", "RESP",
    "THOR", "ABDO", "ABD", "SPO2", "SAO2", "PULSE", "SNORE", "FLOW", "MASSETER", "ARM",
}

# Sleep-lab tibialis tokens that carry the side as their first letter.
_SIDED_TA = re.compile(r"^([LR])(AT|TA|TIB|LEG|ATIB)\d*$")
# Side glued to the end: "TAL", "TAR", "GASL", "LEG1R" is not handled (ambiguous).
_TA_SIDED = re.compile(r"^(AT|TA|LEG)\d*([LR])$")

_MUSCLE_WORDS: tuple[tuple[Muscle, tuple[str, ...]], ...] = (
    (Muscle.GASTROCNEMIUS_MEDIAL, ("MGM", "MG", "GM", "GASTROCMED", "MEDGASTROC", "GCM")),
    (Muscle.GASTROCNEMIUS_LATERAL, ("LGM", "LG", "GL", "GASTROCLAT", "LATGASTROC", "GCL")),
    (Muscle.SOLEUS, ("SOL", "SOLEUS")),
    (Muscle.TIBIALIS_ANTERIOR, ("TA", "AT", "TIBANT", "TIBIALIS", "TIB", "SHIN", "LEG")),
    (Muscle.FOOT, ("FOOT", "TOE", "TOES", "FDB", "AH", "EDB", "PLANTAR")),
    (Muscle.THIGH, ("THIGH", "QUAD", "QUADRICEPS", "RF", "VL", "VM", "BF", "ST",
                    "HAMSTRING", "FEMORIS", "VASTUS", "SEMITENDINOSUS")),
    (Muscle.GASTROCNEMIUS, ("GASTROC", "GASTROCNEMIUS", "GAS", "GASTR", "CALF", "TS")),
)

_WORD_TO_MUSCLE = {word: muscle for muscle, words in _MUSCLE_WORDS for word in words}

_CALF_MUSCLES = {
    Muscle.GASTROCNEMIUS,
    Muscle.GASTROCNEMIUS_MEDIAL,
    Muscle.GASTROCNEMIUS_LATERAL,
    Muscle.SOLEUS,
}


class ChannelOverrideError(ValueError):
    """A channel override names a label the source does not have."""


def _tokens(label: str) -> list[str]:
    upper = label.upper()
    # "Tib Ant" / "Gastroc Med" read as single words so they are not split into sides.
    upper = re.sub(r"TIB(IALIS)?\.?\s*ANT(ERIOR)?\.?", " TIBANT ", upper)
    upper = re.sub(r"GASTROC(NEMIUS)?\.?\s*MED(IAL(IS)?)?\.?", " GASTROCMED ", upper)
    upper = re.sub(r"GASTROC(NEMIUS)?\.?\s*LAT(ERAL(IS)?)?\.?", " GASTROCLAT ", upper)
    upper = re.sub(r"MED(IAL)?\.?\s*GASTROC(NEMIUS)?", " MEDGASTROC ", upper)
    upper = re.sub(r"LAT(ERAL)?\.?\s*GASTROC(NEMIUS)?", " LATGASTROC ", upper)
    upper = re.sub(r"RECTUS\s+FEMORIS|BICEPS\s+FEMORIS", " FEMORIS ", upper)
    return [t for t in re.split(r"[^A-Z0-9]+", upper) if t]


def is_leg_label(label: str) -> bool:
    """Return False when the label names a non-leg signal (chin EMG, ECG, EOG, ...)."""
    return not any(tok.rstrip("0123456789") in _NON_LEG for tok in _tokens(label))


def parse_label(label: str) -> ChannelInfo:
    """Return the channel's muscle and side parsed from its label (role left as OTHER)."""
    muscle = Muscle.UNKNOWN
    side = Side.UNKNOWN
    tokens = _tokens(label)
    if not is_leg_label(label):
        return ChannelInfo(label=label)
    for tok in tokens:
        sided = _SIDED_TA.match(tok)
        if sided is not None:
            muscle = Muscle.TIBIALIS_ANTERIOR
            side = Side.LEFT if sided.group(1) == "L" else Side.RIGHT
            continue
        glued = _TA_SIDED.match(tok)
        if glued is not None:
            muscle = Muscle.TIBIALIS_ANTERIOR
            side = Side.LEFT if glued.group(2) == "L" else Side.RIGHT
            continue
        if tok in _LEFT:
            side = Side.LEFT
            continue
        if tok in _RIGHT:
            side = Side.RIGHT
            continue
        bare = tok.rstrip("0123456789")
        candidate = _WORD_TO_MUSCLE.get(bare)
        if candidate is None:
            continue
        # A head (medial/lateral) refines a plain "gastrocnemius" already seen.
        refines = muscle is Muscle.GASTROCNEMIUS and candidate in (
            Muscle.GASTROCNEMIUS_MEDIAL,
            Muscle.GASTROCNEMIUS_LATERAL,
        )
        if muscle is Muscle.UNKNOWN or refines:
            muscle = candidate
    return ChannelInfo(label=label, muscle=muscle, side=side)


def _role_of(muscle: Muscle) -> Role:
    if muscle in _CALF_MUSCLES:
        return Role.CALF
    if muscle is Muscle.TIBIALIS_ANTERIOR:
        return Role.SHIN
    return Role.OTHER


def assign_roles(
    labels: Sequence[str], overrides: Mapping[str, ChannelInfo] | None = None
) -> tuple[ChannelInfo, ...]:
    """Return one ChannelInfo per label with muscle, side and role (calf, shin or other).

    ``overrides`` maps a label to the ChannelInfo the user wants for it (its role is
    taken as given). Raises :class:`ChannelOverrideError` for an override whose label
    is not among ``labels``.
    """
    overrides = dict(overrides or {})
    unknown_overrides = sorted(set(overrides) - set(labels))
    if unknown_overrides:
        raise ChannelOverrideError(
            f"channel override for {unknown_overrides} but the source has channels "
            f"{list(labels)}: use one of those labels"
        )
    infos: list[ChannelInfo] = []
    fixed: list[bool] = []
    for label in labels:
        if label in overrides:
            infos.append(replace(overrides[label], label=label))
            fixed.append(True)
        else:
            parsed = parse_label(label)
            infos.append(replace(parsed, role=_role_of(parsed.muscle)))
            fixed.append(False)

    def fallback(role: Role) -> None:
        if any(info.role is role for info in infos):
            return
        for i, info in enumerate(infos):
            if (
                not fixed[i]
                and info.muscle is Muscle.UNKNOWN
                and info.role is Role.OTHER
                and is_leg_label(info.label)
            ):
                infos[i] = replace(info, role=role)
                return

    fallback(Role.CALF)
    fallback(Role.SHIN)
    return tuple(infos)


def describe_roles(channels: Sequence[ChannelInfo]) -> str:
    """Return one human line saying which channel was taken for which role and why."""
    parts = []
    for info in channels:
        what = info.muscle.value.replace("_", " ")
        side = "" if info.side is Side.UNKNOWN else f"{info.side.value} "
        if info.muscle is Muscle.UNKNOWN and info.role is not Role.OTHER:
            why = f"unknown muscle, taken as {info.role.value} by position"
        else:
            why = f"{side}{what}"
        parts.append(f"{info.role.value}: {info.label!r} ({why})")
    return "EMG channels: " + "; ".join(parts) if parts else "EMG channels: none"
