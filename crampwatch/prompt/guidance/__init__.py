"""Stretch guidance texts per muscle region and cramp kind, loaded from translatable TOML files.

Each ``<language>.toml`` next to this module holds every string the sleeper reads or
hears (DOMAIN.md, "What the sleeper is told"). The loader checks that a file has every
region x kind and every shared section, so a translation cannot silently miss a text.

Before standing, the sleeper hears the safety line (light on, hold on to something, sit
back down if dizzy: falls at night are the real danger for older sleepers, DOMAIN.md).
The loader puts ``[safety].before_standing`` in front of the first line of every list
that mentions one of ``[safety].standing_words``, so neither an edit nor a translation
can tell anyone to stand or walk before it.
"""

from __future__ import annotations

import enum
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sensor.records import EventKind, Muscle

GUIDANCE_DIR = Path(__file__).resolve().parent
DEFAULT_LANGUAGE = "en"


class GuidanceError(ValueError):
    """A guidance file is missing, unreadable, or lacks a text the prompt needs."""


class Region(enum.StrEnum):
    """Where the cramp is, as the sleeper would say it; picks which stretch to describe."""

    CALF = "calf"
    FOOT = "foot"
    SHIN = "shin"
    THIGH = "thigh"
    LEG = "leg"  # muscle not known


_REGION_OF_MUSCLE: dict[Muscle, Region] = {
    Muscle.GASTROCNEMIUS: Region.CALF,
    Muscle.GASTROCNEMIUS_MEDIAL: Region.CALF,
    Muscle.GASTROCNEMIUS_LATERAL: Region.CALF,
    Muscle.SOLEUS: Region.CALF,
    Muscle.FOOT: Region.FOOT,
    Muscle.TIBIALIS_ANTERIOR: Region.SHIN,
    Muscle.THIGH: Region.THIGH,
    Muscle.UNKNOWN: Region.LEG,
}

CRAMP_KINDS: tuple[EventKind, ...] = (EventKind.TONIC, EventKind.CLONIC)


def region_of(muscle: Muscle) -> Region:
    """Return the body region whose stretch guidance fits a muscle."""
    return _REGION_OF_MUSCLE.get(muscle, Region.LEG)


@dataclass(frozen=True)
class Guidance:
    """What to do now and afterwards for one region and cramp kind (plain sentences)."""

    region: Region
    kind: EventKind
    title: str
    now: tuple[str, ...]
    after: tuple[str, ...]


@dataclass(frozen=True)
class GuidanceBook:
    """All texts of one language: per-region guidance, the red flag, and shared sections."""

    language: str
    disclaimer: str
    ack_ok: str
    ack_stretched: str
    red_flag_title: str
    red_flag_text: tuple[str, ...]
    see_a_doctor_title: str
    see_a_doctor: tuple[str, ...]
    prevention: tuple[str, ...]
    entries: dict[tuple[Region, EventKind], Guidance]
    before_standing: str
    standing_words: tuple[str, ...]

    def mentions_standing(self, text: str) -> bool:
        """Return True when ``text`` tells the sleeper to stand or walk (not the safety line)."""
        return text != self.before_standing and _mentions(text, self.standing_words)

    def for_cramp(self, muscle: Muscle, kind: EventKind) -> Guidance:
        """Return the guidance for a cramp of ``kind`` in ``muscle``; refuses non-cramp kinds."""
        if not kind.is_cramp:
            raise GuidanceError(
                f"no stretch guidance for a {kind.value!r} event: it is not a cramp"
            )
        return self.entries[(region_of(muscle), kind)]


def available_languages() -> tuple[str, ...]:
    """Return the language codes that have a guidance file, sorted."""
    return tuple(sorted(p.stem for p in GUIDANCE_DIR.glob("*.toml")))


def load_guidance(language: str = DEFAULT_LANGUAGE, path: Path | None = None) -> GuidanceBook:
    """Return the guidance book for ``language`` (or the TOML file at ``path``), fully checked."""
    file = path if path is not None else GUIDANCE_DIR / f"{language}.toml"
    if not file.is_file():
        raise GuidanceError(
            f"no guidance file {file}; languages available: {', '.join(available_languages())}"
        )
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise GuidanceError(f"{file} is not valid UTF-8 TOML: {exc}") from exc

    def text(*keys: str) -> str:
        node: object = data
        for key in keys:
            if not isinstance(node, dict) or key not in node:
                raise GuidanceError(f"{file}: missing key {'.'.join(keys)}")
            node = node[key]
        if not isinstance(node, str) or not node.strip():
            raise GuidanceError(f"{file}: {'.'.join(keys)} must be a non-empty string")
        return node

    def lines(*keys: str) -> tuple[str, ...]:
        node: object = data
        for key in keys:
            if not isinstance(node, dict) or key not in node:
                raise GuidanceError(f"{file}: missing key {'.'.join(keys)}")
            node = node[key]
        if (
            not isinstance(node, list)
            or not node
            or not all(isinstance(s, str) and s.strip() for s in node)
        ):
            raise GuidanceError(f"{file}: {'.'.join(keys)} must be a list of non-empty strings")
        return tuple(node)

    safety = text("safety", "before_standing")
    standing = tuple(w.strip().lower() for w in lines("safety", "standing_words"))

    def steps(*keys: str) -> tuple[str, ...]:
        return _safety_first(lines(*keys), safety, standing)

    def title(*keys: str) -> str:
        value = text(*keys)
        if _mentions(value, standing):
            raise GuidanceError(
                f"{file}: {'.'.join(keys)} mentions standing; a title has no room for the "
                "safety line, so say it in the steps"
            )
        return value

    entries: dict[tuple[Region, EventKind], Guidance] = {}
    for region in Region:
        for kind in CRAMP_KINDS:
            entries[(region, kind)] = Guidance(
                region=region,
                kind=kind,
                title=title(region.value, kind.value, "title"),
                now=steps(region.value, kind.value, "now"),
                after=steps(region.value, kind.value, "after"),
            )
    return GuidanceBook(
        language=text("language"),
        disclaimer=title("disclaimer"),
        ack_ok=text("acknowledge", "ok"),
        ack_stretched=text("acknowledge", "stretched"),
        red_flag_title=title("red_flag", "title"),
        red_flag_text=steps("red_flag", "text"),
        see_a_doctor_title=title("see_a_doctor", "title"),
        see_a_doctor=steps("see_a_doctor", "text"),
        prevention=steps("prevention", "text"),
        entries=entries,
        before_standing=safety,
        standing_words=standing,
    )


def _mentions(text: str, words: Sequence[str]) -> bool:
    """Return True when a word of ``text`` starts with one of ``words`` (any case)."""
    lowered = text.lower()
    return any(re.search(r"(?<!\w)" + re.escape(w), lowered) for w in words)


def _safety_first(lines: tuple[str, ...], safety: str, words: Sequence[str]) -> tuple[str, ...]:
    """Return ``lines`` with ``safety`` before the first line that mentions standing."""
    for i, line in enumerate(lines):
        if line == safety:
            return lines  # already said before any standing
        if _mentions(line, words):
            return (*lines[:i], safety, *lines[i:])
    return lines
