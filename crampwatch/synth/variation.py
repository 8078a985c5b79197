"""Families of variation between synthetic nights, and the values one night drew.

A *family* is one way real recordings differ (DOMAIN.md "Recordings differ", issue 11):
the EMG rate, the accelerometer (its rate, or none), the leg, the channel labels, the
mains, a noise-floor step, and per cramp its texture, the sleeper's response and
whether a movement set it off. A :data:`Space` maps each varied family to the values
it is drawn from (uniformly, per night or per episode); a family left out of the
space keeps the night's fixed setting, so a family can be pinned (one value), held
out (a value excluded) or switched off (left out) without touching the others.

Values are strings so that the command line, the truth file and an evaluator that
groups results by family all speak the same words.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

# Every family and the values it can take when varied.
FAMILIES: Mapping[str, tuple[str, ...]] = {
    # Sleep labs 200-512 Hz, research amplifiers 1-2 kHz, hobby boards 250-1000 Hz
    # (DOMAIN.md "Recordings differ").
    "emg_fs_hz": ("256", "500", "512", "1000", "1024", "2000"),
    # The accelerometer: 25-100 Hz, or absent (DOMAIN.md "Signals": 50-100 Hz is plenty).
    "acc_fs_hz": ("25", "50", "100", "none"),
    "leg": ("R", "L"),
    # Label styles the recording readers understand (sensor/channels.py).
    "labels": ("emg", "calf_shin", "muscle", "sleep_lab"),
    "mains_hz": ("50", "60"),
    # Mains frequency wandering by a few tenths of a hertz through the night (Mewett 2004).
    "wandering": ("yes", "no"),
    # The floor rising 2-4x for the rest of the night (gel drying, a lead moved).
    "floor_step": ("yes", "no"),
    # Per episode: texture from real surface EMG or from the motor-unit model.
    "texture": ("real", "synthetic"),
    # Per real-texture episode: which real recording ("hdemg" only where the openhdemg
    # package is installed; see real_emg.py).
    "texture_source": ("uci", "hdemg"),
    # Per tonic cramp: what the sleeper does once woken (DOMAIN.md "During a cramp").
    "response": ("none", "stretch", "knead", "stand_walk"),
    # Per cramp: set off by a movement (a turn, pointing the foot) or rising from rest.
    "triggered_by_movement": ("yes", "no"),
    # Per PLM series: shin-led as scored (AASM) or recruiting the calf strongly.
    "plm": ("shin", "calf_heavy"),
}

# Short names accepted on the command line.
ALIASES: Mapping[str, str] = {
    "emg_fs": "emg_fs_hz", "emg_rate": "emg_fs_hz", "acc": "acc_fs_hz", "acc_fs": "acc_fs_hz",
    "acc_rate": "acc_fs_hz", "mains": "mains_hz", "label": "labels",
    "trigger": "triggered_by_movement", "triggered": "triggered_by_movement",
}

# Label templates per style: calf, shin, second calf channel (``{s}`` is L or R); EDF
# labels hold 16 characters.
LABEL_STYLES: Mapping[str, tuple[str, str, str]] = {
    "emg": ("EMG {s} Gastroc", "EMG {s} Tib Ant", "EMG {s} Soleus"),
    "calf_shin": ("Calf {s}", "Shin {s}", "Soleus {s}"),
    "muscle": ("{s} Gastrocnemius", "{s} Tibialis Ant", "{s} Soleus"),
    "sleep_lab": ("Gastroc {s}", "{s}AT", "Soleus {s}"),
}

# Cramp strength, uV RMS, log-uniform when nights are varied (issue 11: 30-600 uV).
VARIED_CRAMP_RMS_UV = (30.0, 600.0)

Space = Mapping[str, tuple[str, ...]]


class VariationError(ValueError):
    """A family or value that does not exist, or a space with nothing left to draw."""


def family_name(name: str) -> str:
    """Return the canonical family name for ``name`` (aliases and dashes allowed)."""
    key = name.strip().lower().replace("-", "_")
    key = ALIASES.get(key, key)
    if key not in FAMILIES:
        raise VariationError(
            f"unknown variation family {name!r}; known: {', '.join(FAMILIES)}"
        )
    return key


def normalise_value(family: str, value: str) -> str:
    """Return ``value`` spelled as in :data:`FAMILIES` ('500.0' -> '500', 'l' -> 'L')."""
    text = str(value).strip()
    if family == "leg":
        text = text.upper()
    elif family in ("emg_fs_hz", "acc_fs_hz", "mains_hz"):
        if text.lower() in ("none", "no", "off", "absent"):
            text = "none"
        else:
            try:
                number = float(text)
            except ValueError:
                number = float("nan")
            text = f"{number:g}" if np.isfinite(number) else text
    else:
        text = text.lower().replace("-", "_")
        if text in ("true", "1", "on"):
            text = "yes"
        elif text in ("false", "0", "off"):
            text = "no"
    return text


def parse_assignment(text: str) -> tuple[str, str]:
    """Return (family, value) from 'family=value' as typed on the command line."""
    if "=" not in text:
        raise VariationError(f"expected FAMILY=VALUE (e.g. emg_fs=500), got {text!r}")
    name, value = text.split("=", 1)
    family = family_name(name)
    return family, normalise_value(family, value)


def full_space() -> dict[str, tuple[str, ...]]:
    """Return every family with all its values: the widest nights."""
    return {family: tuple(values) for family, values in FAMILIES.items()}


def build_space(
    vary: str | Iterable[str] = "all",
    pins: Mapping[str, str] | None = None,
    exclude: Iterable[tuple[str, str]] = (),
    fixed: Mapping[str, str] | None = None,
) -> dict[str, tuple[str, ...]]:
    """Return the space of a set of nights.

    ``vary`` is "all", "none" or the family names to vary; ``pins`` fixes a family to
    one value (varied or not); ``exclude`` removes (family, value) pairs from what is
    drawn, so that family can be held out. A family excluded while not varied is
    varied over its other values, unless ``fixed`` says its fixed value is allowed.
    """
    if isinstance(vary, str):
        if vary == "all":
            names = list(FAMILIES)
        elif vary == "none":
            names = []
        else:
            names = [family_name(v) for v in vary.split(",") if v.strip()]
    else:
        names = [family_name(v) for v in vary]
    space = {name: tuple(FAMILIES[name]) for name in names}
    for name, value in (pins or {}).items():
        family = family_name(name)
        value = normalise_value(family, value)
        _check_value(family, value)
        space[family] = (value,)
    for name, value in exclude:
        family = family_name(name)
        value = normalise_value(family, value)
        _check_value(family, value)
        if family not in space:
            fixed_value = (fixed or {}).get(family)
            if fixed_value is not None and normalise_value(family, fixed_value) != value:
                continue
            space[family] = tuple(FAMILIES[family])
        left = tuple(v for v in space[family] if v != value)
        if not left:
            raise VariationError(
                f"excluding {family}={value} leaves nothing to draw for {family}"
            )
        space[family] = left
    return space


def _check_value(family: str, value: str) -> None:
    if value not in FAMILIES[family]:
        raise VariationError(
            f"{family} has no value {value!r}; choose from {', '.join(FAMILIES[family])}"
        )


def family_rng(key: Sequence[int], family: str) -> np.random.Generator:
    """Return the random stream of one family under ``key`` (a night or episode seed).

    Each family draws from its own stream, so pinning or holding out one family
    leaves what the others draw as it was.
    """
    return np.random.default_rng([*key, zlib.crc32(family.encode())])


def draw(space: Space, family: str, rng: np.random.Generator) -> str | None:
    """Return a value of ``family`` drawn uniformly from the space, or None if not varied."""
    values = space.get(family)
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return values[int(rng.integers(len(values)))]


@dataclass(frozen=True)
class FloorStep:
    """The noise floor rising ``factor`` times from ``start_s`` over ``ramp_s`` (0: a step)."""

    start_s: float
    factor: float
    ramp_s: float


@dataclass(frozen=True)
class NightVariation:
    """What one night drew: rates, leg, labels, mains and the floor step."""

    emg_fs_hz: float
    acc_fs_hz: float | None
    leg: str
    labels: str
    mains_hz: float
    wandering: bool
    mains_wander_sd_hz: float
    harmonics: tuple[float, float]  # 2nd and 3rd harmonic amplitude over the fundamental
    floor_step: FloorStep | None
    varied: tuple[str, ...]  # the families that were drawn (pinned ones included)

    def to_json(self) -> dict[str, object]:
        """Return the truth file's ``variation`` object."""
        step = self.floor_step
        return {
            "emg_fs_hz": self.emg_fs_hz,
            "acc_fs_hz": self.acc_fs_hz,
            "leg": self.leg,
            "labels": self.labels,
            "mains_hz": self.mains_hz,
            "wandering": self.wandering,
            "mains_wander_sd_hz": round(self.mains_wander_sd_hz, 4),
            "harmonics": [round(h, 4) for h in self.harmonics],
            "floor_step": step is not None,
            "floor_step_s": None if step is None else round(step.start_s, 3),
            "floor_step_factor": None if step is None else round(step.factor, 3),
            "floor_step_ramp_s": None if step is None else round(step.ramp_s, 3),
            "varied": list(self.varied),
        }


# Mains wander: within +/-0.1 Hz normally (grid regulation), a few tenths when
# "wandering" (DOMAIN.md; Mewett 2004 shows a fixed notch failing at 0.5 Hz).
STEADY_WANDER_SD_HZ = 0.04
WANDERING_SD_HZ = (0.12, 0.25)
# Harmonics of mains hum relative to the fundamental (inference: rectifier loads).
REFERENCE_HARMONICS = (0.0, 0.2)
HARMONIC_2_RANGE = (0.05, 0.4)
HARMONIC_3_RANGE = (0.1, 0.5)
# Floor step: 2-4x, at any time after the first 5 % of the night; half of them ramp
# over 1-5 s, the others are a step (issue 11; inference for the ramp).
FLOOR_STEP_FACTOR = (2.0, 4.0)
FLOOR_STEP_RAMP_S = (1.0, 5.0)
FLOOR_STEP_WINDOW = (0.05, 0.9)


def draw_night(
    space: Space,
    duration_s: float,
    key: Sequence[int],
    emg_fs_hz: float,
    acc_fs_hz: float | None,
    leg: str,
    mains_hz: float,
) -> NightVariation:
    """Return one night's variation: drawn families from ``space``, the fixed settings else.

    ``key`` seeds the night's family streams (:func:`family_rng`).
    """
    def pick(family: str) -> str | None:
        return draw(space, family, family_rng(key, family))

    value = pick("emg_fs_hz")
    emg = float(value) if value is not None else float(emg_fs_hz)
    value = pick("acc_fs_hz")
    acc = acc_fs_hz
    if value is not None:
        acc = None if value == "none" else float(value)
    leg_value = pick("leg") or leg.upper()
    labels = pick("labels") or "emg"
    value = pick("mains_hz")
    mains = float(value) if value is not None else float(mains_hz)
    rng = family_rng(key, "wandering")
    wandering = draw(space, "wandering", rng) == "yes"
    wander_sd = (float(rng.uniform(*WANDERING_SD_HZ)) if wandering else STEADY_WANDER_SD_HZ)
    harmonics = REFERENCE_HARMONICS
    if "mains_hz" in space or "wandering" in space:
        rng = family_rng(key, "harmonics")
        harmonics = (float(rng.uniform(*HARMONIC_2_RANGE)), float(rng.uniform(*HARMONIC_3_RANGE)))
    step = None
    rng = family_rng(key, "floor_step")
    if draw(space, "floor_step", rng) == "yes":
        lo, hi = FLOOR_STEP_WINDOW
        ramp = float(rng.uniform(*FLOOR_STEP_RAMP_S)) if rng.random() < 0.5 else 0.0
        step = FloorStep(
            start_s=float(rng.uniform(lo * duration_s, hi * duration_s)),
            factor=float(rng.uniform(*FLOOR_STEP_FACTOR)),
            ramp_s=ramp,
        )
    return NightVariation(
        emg_fs_hz=emg, acc_fs_hz=acc, leg=leg_value, labels=labels, mains_hz=mains,
        wandering=wandering, mains_wander_sd_hz=wander_sd, harmonics=harmonics,
        floor_step=step, varied=tuple(f for f in FAMILIES if f in space),
    )
