"""Ground truth and detected events loaded from files, paired by recording name.

Truth comes from the generator's ``*.truth.json`` (see :mod:`crampwatch.synth.truth`)
or from an EDF+ file's own annotations: ``truth: <kind> (...)`` as the generator
writes them, or sleep-lab wording ("tonic cramp", "clonic cramp", "cramp", "PLM",
"movement"...). Events come from ``crampwatch replay`` JSON lines.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from crampwatch.errors import UserError
from crampwatch.evaluate.scoring import DetectedEvent
from crampwatch.recordings.edf_reader import EdfRecording
from crampwatch.synth.truth import NightTruth, TruthEvent, TruthFormatError
from sensor.records import EventKind

EDF_SUFFIXES = (".edf", ".bdf", ".rec")
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


class EvaluationInputError(UserError):
    """Truth or events cannot be read or paired."""


@dataclass
class TruthFile:
    """One recording's truth: its name (for pairing), length and events, and where its EDF is."""

    name: str
    duration_s: float
    events: list[TruthEvent]
    edf: Path | None


def recording_key(path_or_name: str) -> str:
    """Return the name used to pair truth with events: the file name without EDF suffix."""
    name = Path(path_or_name).name
    for suffix in (".truth.json", *EDF_SUFFIXES, ".json"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def _kind_of_annotation(text: str) -> tuple[EventKind, str] | None:
    tagged = _TRUTH_TAG.match(text.strip())
    if tagged:
        try:
            return EventKind(tagged.group(1).lower()), text.strip()
        except ValueError:
            return None
    lowered = text.lower()
    for word, kind in _KEYWORDS:
        if word in lowered:
            return kind, text.strip()
    return None


def truth_from_edf(path: Path) -> TruthFile:
    """Return the truth held in an EDF+ file's annotations (events with a known kind)."""
    with EdfRecording(path) as rec:
        events = []
        for ann in rec.annotations():
            found = _kind_of_annotation(ann.text)
            if found is None:
                continue
            kind, text = found
            events.append(TruthEvent(ann.onset_s, ann.onset_s + ann.duration_s, kind, text, ""))
        return TruthFile(recording_key(path.name), rec.duration_s, events, path)


def truth_from_json(path: Path) -> TruthFile:
    """Return the truth of a generator ``*.truth.json`` file (its EDF beside it)."""
    try:
        night = NightTruth.read(path)
    except TruthFormatError as exc:
        raise EvaluationInputError(str(exc)) from None
    edf = path.parent / night.recording
    return TruthFile(recording_key(night.recording), night.duration_s, night.events,
                     edf if edf.is_file() else None)


def load_truth(paths: Iterable[str | os.PathLike[str]]) -> list[TruthFile]:
    """Return truth for every truth JSON or EDF+ given (folders: their *.truth.json)."""
    files: list[TruthFile] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(path.glob("*.truth.json"))
            if not found:
                found = sorted(p for p in path.iterdir() if p.suffix.lower() in EDF_SUFFIXES)
            if not found:
                raise EvaluationInputError(f"{path}: no *.truth.json or EDF files in this folder")
            files.extend(load_truth(found))
        elif path.name.endswith(".json"):
            files.append(truth_from_json(path))
        elif path.suffix.lower() in EDF_SUFFIXES:
            files.append(truth_from_edf(path))
        else:
            raise EvaluationInputError(
                f"{path}: give a *.truth.json, an EDF+ file with annotations, or a folder"
            )
    names = [f.name for f in files]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise EvaluationInputError(
            f"several truth files for the same recording name: {sorted(duplicates)}"
        )
    return files


def _number(value: object) -> float | None:
    if value is None:
        return None
    number = float(value)  # type: ignore[arg-type]
    return number if math.isfinite(number) else None


def load_events(path: str | os.PathLike[str]) -> dict[str, list[DetectedEvent]]:
    """Return replay JSON lines grouped by recording name."""
    grouped: dict[str, list[DetectedEvent]] = defaultdict(list)
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as exc:
        raise EvaluationInputError(f"{path}: cannot read events ({exc})") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            event = DetectedEvent(
                file=str(data["file"]),
                event_id=str(data.get("event_id", f"{data['file']}#{number}")),
                start_s=float(data["start_s"]),
                end_s=_number(data.get("end_s")),
                kind=str(data["kind"]),
                channel=str(data.get("channel", "")),
                confidence=float(data.get("confidence", math.nan)),
                final=bool(data.get("final", True)),
                first_cramp_call_s=_number(data.get("first_cramp_call_s")),
            )
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise EvaluationInputError(
                f"{path}, line {number}: not a replay event ({exc}); expected JSON with "
                "file, start_s, end_s, kind"
            ) from None
        grouped[recording_key(event.file)].append(event)
    return dict(grouped)
