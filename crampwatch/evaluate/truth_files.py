"""One recording's ground truth, the name that pairs it with its events, and the event
kind a truth label names."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from crampwatch.errors import UserError
from crampwatch.synth.truth import TruthEvent
from sensor.records import EventKind

EDF_SUFFIXES = (".edf", ".bdf", ".rec")
TSV_SUFFIXES = ("_events.tsv", ".events.tsv", "events.tsv")
_TRUTH_TAG = re.compile(r"^truth:\s*([a-z]+)", re.IGNORECASE)
# Free-text annotation words and the kind they denote, checked in order.
_KEYWORDS: tuple[tuple[str, EventKind], ...] = (
    ("clonic", EventKind.CLONIC),
    ("tonic", EventKind.TONIC),
    ("cramp", EventKind.TONIC),
    ("plm", EventKind.PLM),
    ("limb movement", EventKind.PLM),
    ("hypnic", EventKind.JERK),
    ("myoclon", EventKind.JERK),
    ("jerk", EventKind.JERK),
    ("tremor", EventKind.TREMOR),
    ("alma", EventKind.TREMOR),
    ("walk", EventKind.WALKING),
    ("stretch", EventKind.STRETCH),
    ("movement", EventKind.MOVEMENT),
    ("turn", EventKind.MOVEMENT),
    ("artifact", EventKind.ARTIFACT),
    ("artefact", EventKind.ARTIFACT),
    ("lead off", EventKind.ARTIFACT),
)
# Event fields of a truth JSON that are the event itself, not attributes to group by.


class EvaluationInputError(UserError):
    """Truth or events cannot be read or paired."""


@dataclass
class TruthFile:
    """One recording's truth: its name (for pairing), length and events, and where its EDF is.

    ``attributes`` holds one mapping per event (same order) and ``night`` the night's
    attributes, both for grouping; ``warnings`` what the user should hear about it.
    """

    name: str
    duration_s: float
    events: list[TruthEvent]
    edf: Path | None
    source: Path | None = None
    attributes: list[dict[str, object]] = field(default_factory=list)
    night: dict[str, object] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.attributes:
            self.attributes = [{} for _ in self.events]


def recording_key(path_or_name: str) -> str:
    """Return the name used to pair truth with events: the file name without its suffix."""
    name = Path(path_or_name).name
    for suffix in (".truth.json", *TSV_SUFFIXES, *EDF_SUFFIXES, ".json"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def kind_of_label(text: str) -> EventKind | None:
    """Return the event kind a truth label or annotation names, None if it names none."""
    text = text.strip()
    tagged = _TRUTH_TAG.match(text)
    if tagged:
        text = tagged.group(1)
    try:
        return EventKind(text.lower())
    except ValueError:
        pass
    if tagged:
        return None
    lowered = text.lower().replace("_", " ")
    for word, kind in _KEYWORDS:
        if word in lowered:
            return kind
    return None
