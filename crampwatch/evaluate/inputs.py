"""Ground truth and detected events loaded from files, paired by recording name.

Truth comes from one of three plain formats:

- **JSON** ``{"events": [{"kind": "tonic", "start_s": 312.4, "end_s": 401.0}, ...]}``;
  optional top-level ``recording`` (or ``file``) names the recording, ``duration_s`` (or
  ``minutes``) its length, ``variation`` the night's attributes. The generator's
  ``*.truth.json`` (see :mod:`crampwatch.synth.truth`) is such a file with more fields;
  every extra field of an event (``texture``, ``response``, ``strength_uv``...) is kept
  as an attribute for grouping.
- **BIDS-style** ``*events.tsv``: tab-separated, columns ``onset`` and ``duration``
  (seconds; "n/a" is 0) and ``trial_type``; other columns are kept as attributes.
  ``sub-01_task-sleep_events.tsv`` pairs with ``sub-01_task-sleep_*.edf`` beside it.
- **EDF+ annotations**: ``truth: <kind> (...)`` as the generator writes them, or
  sleep-lab wording ("tonic cramp", "clonic cramp", "cramp", "PLM", "movement"...).

A kind is an event kind (``tonic``, ``plm``...) or wording as above ("clonic cramp",
"cramp" = tonic). Events come from ``crampwatch replay`` JSON lines. What looks wrong
but can still be scored (a truth file without events, events of no known recording,
an unknown length) is returned as warnings for the user, never dropped silently.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from crampwatch.errors import UserError
from crampwatch.evaluate.events import DetectedEvent, ReportedPrompt
from crampwatch.evaluate.wakeups import FINAL_ONLY
from crampwatch.event_json import channel_columns
from crampwatch.recordings.edf_reader import EdfRecording, header_duration_s
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
_EVENT_FIELDS = ("start_s", "end_s", "kind", "attributes")
# Night fields of a truth JSON that are structure, not attributes to group by.
_NIGHT_FIELDS = ("events", "format", "variation", "rest_rms_uv", "channels")


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


def _edf_duration_s(path: Path) -> float | None:
    try:
        with path.open("rb") as handle:
            return header_duration_s(handle.read(256))
    except OSError:
        return None


def truth_from_edf(path: Path) -> TruthFile:
    """Return the truth held in an EDF+ file's annotations (events with a known kind)."""
    with EdfRecording(path) as rec:
        events = []
        for ann in rec.annotations():
            kind = kind_of_label(ann.text)
            if kind is None:
                continue
            events.append(TruthEvent(ann.onset_s, ann.onset_s + ann.duration_s, kind,
                                     ann.text.strip(), ""))
        truth = TruthFile(recording_key(path.name), rec.duration_s, events, path, path)
    if not events:
        truth.warnings.append(f"{path}: no annotation names a cramp or look-alike; "
                              "scored as a night with no events")
    return truth


def _plain(value: object) -> object:
    return value if isinstance(value, (str, int, float, bool)) or value is None else (
        json.dumps(value, sort_keys=True))


def _event_from_json(raw: Mapping[str, object]) -> tuple[TruthEvent, dict[str, object]]:
    kind = kind_of_label(str(raw["kind"]))
    if kind is None:
        raise ValueError(f"unknown kind {raw['kind']!r}")
    start, end = float(raw["start_s"]), float(raw["end_s"])  # type: ignore[arg-type]
    if not (math.isfinite(start) and math.isfinite(end)) or end < start:
        raise ValueError(f"bad interval {start}..{end}")
    attributes = {k: _plain(v) for k, v in raw.items() if k not in _EVENT_FIELDS}
    nested = raw.get("attributes")
    if isinstance(nested, Mapping):
        attributes.update({str(k): _plain(v) for k, v in nested.items()})
    strength_uv = raw.get("strength_uv")
    strength_rel = raw.get("strength_rel")
    channels = raw.get("channels", ())
    event = TruthEvent(
        start_s=start,
        end_s=end,
        kind=kind,
        subtype=str(raw.get("subtype", raw["kind"])),
        channel=str(raw.get("channel", "")),
        channels=tuple(channels) if isinstance(channels, (list, tuple)) else (),
        strength_uv=float(strength_uv) if isinstance(strength_uv, (int, float)) else None,
        strength_rel=float(strength_rel) if isinstance(strength_rel, (int, float)) else None,
    )
    return event, attributes


def _edf_beside(path: Path, name: str) -> Path | None:
    for suffix in EDF_SUFFIXES:
        candidate = path.parent / f"{name}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def _duration(truth: TruthFile, given: float | None) -> None:
    """Set the truth's length from the file, else its EDF, else its last event (warned)."""
    if given is not None:
        truth.duration_s = given
        return
    from_edf = _edf_duration_s(truth.edf) if truth.edf is not None else None
    if from_edf is not None:
        truth.duration_s = from_edf
        return
    truth.duration_s = max((e.end_s for e in truth.events), default=0.0)
    truth.warnings.append(
        f"{truth.source}: recording length unknown (no duration in the file, no EDF beside "
        f"it); taken as the last truth event's end, {truth.duration_s:.0f} s, so rates per "
        "8 h are only approximate")


def truth_from_json(path: Path) -> TruthFile:
    """Return the truth of a JSON truth file: the plain format or the generator's superset."""
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise EvaluationInputError(f"{path}: cannot read ground truth ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("events"), list):
        raise EvaluationInputError(
            f"{path}: not a truth file; expected JSON like "
            '{"events": [{"kind": "tonic", "start_s": 10.0, "end_s": 70.0}]}')
    recording = data.get("recording") or data.get("file")
    name = recording_key(str(recording)) if recording else recording_key(path.name)
    events: list[TruthEvent] = []
    attributes: list[dict[str, object]] = []
    warnings: list[str] = []
    for number, raw in enumerate(data["events"], start=1):
        try:
            if not isinstance(raw, Mapping):
                raise TypeError("not an object")
            event, attrs = _event_from_json(raw)
        except (KeyError, TypeError, ValueError) as exc:
            raise EvaluationInputError(
                f"{path}, event {number}: not a truth event ({exc}); expected "
                "kind, start_s, end_s") from None
        events.append(event)
        attributes.append(attrs)
    night = {k: _plain(v) for k, v in data.items() if k not in _NIGHT_FIELDS}
    variation = data.get("variation")
    if isinstance(variation, Mapping):
        night.update({str(k): _plain(v) for k, v in variation.items()})
    edf = (path.parent / Path(str(recording)).name) if recording else None
    if edf is None or not edf.is_file():
        edf = _edf_beside(path, name)
    truth = TruthFile(name, 0.0, events, edf, path, attributes, night, warnings)
    given = data.get("duration_s")
    if given is None and data.get("minutes") is not None:
        given = float(data["minutes"]) * 60.0
    _duration(truth, float(given) if given is not None else None)
    if not events:
        truth.warnings.append(f"{path}: no events in this truth file; scored as a night "
                              "with no cramps (is it the right file?)")
    return truth


def _bids_name(path: Path) -> str:
    key = recording_key(path.name)
    return key or path.parent.name


def truth_from_tsv(path: Path) -> TruthFile:
    """Return the truth of a BIDS-style events.tsv (onset, duration, trial_type)."""
    try:
        with path.open(newline="") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
            columns = rows[0].keys() if rows else _header(path)
    except (OSError, csv.Error, UnicodeDecodeError) as exc:
        raise EvaluationInputError(f"{path}: cannot read events.tsv ({exc})") from None
    missing = [c for c in ("onset", "duration", "trial_type") if c not in columns]
    if missing:
        raise EvaluationInputError(
            f"{path}: a BIDS events.tsv needs tab-separated columns onset, duration, "
            f"trial_type; missing {missing}")
    name = _bids_name(path)
    events: list[TruthEvent] = []
    attributes: list[dict[str, object]] = []
    warnings: list[str] = []
    unknown: set[str] = set()
    for number, row in enumerate(rows, start=2):
        label = (row.get("trial_type") or "").strip()
        kind = kind_of_label(label)
        if kind is None:
            unknown.add(label)
            continue
        try:
            onset = float(row["onset"])
            duration = 0.0 if row["duration"].strip() in ("", "n/a") else float(row["duration"])
        except (TypeError, ValueError) as exc:
            raise EvaluationInputError(f"{path}, line {number}: bad onset or duration "
                                       f"({exc})") from None
        events.append(TruthEvent(onset, onset + duration, kind, label, ""))
        attributes.append({k: _tsv_value(v) for k, v in row.items()
                           if k not in ("onset", "duration", "trial_type") and k is not None})
    if unknown:
        warnings.append(f"{path}: trial types naming no cramp or look-alike ignored: "
                        f"{sorted(unknown)}")
    # BIDS names the recording <entities>_<modality>.edf beside <entities>_events.tsv.
    edfs = sorted(p for p in path.parent.iterdir() if p.suffix.lower() in EDF_SUFFIXES
                  and (recording_key(p.name) == name or p.name.startswith(name + "_")))
    edf = edfs[0] if len(edfs) == 1 else None
    given = None
    for sidecar in sorted(path.parent.glob(f"{name}_*.json")):
        try:
            info = json.loads(sidecar.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(info, dict) and isinstance(info.get("RecordingDuration"), (int, float)):
            given = float(info["RecordingDuration"])
            break
    truth = TruthFile(recording_key(edf.name) if edf else name, 0.0, events, edf, path,
                      attributes, {}, warnings)
    _duration(truth, given)
    if not events:
        truth.warnings.append(f"{path}: no events in this truth file; scored as a night "
                              "with no cramps (is it the right file?)")
    return truth


def _header(path: Path) -> list[str]:
    first = path.read_text().splitlines()[:1]
    return first[0].split("\t") if first else []


def _tsv_value(value: str | None) -> object:
    if value is None or value.strip() == "n/a":
        return None
    try:
        return float(value)
    except ValueError:
        return value.strip()


def _is_tsv(path: Path) -> bool:
    return path.name.lower().endswith("events.tsv")


def _folder_truth(path: Path) -> list[Path]:
    found = sorted(path.glob("*.truth.json"))
    if not found:
        found = sorted(p for p in path.iterdir() if _is_tsv(p))
    if not found:
        found = sorted(p for p in path.glob("*.json") if _has_events(p))
    if not found:
        found = sorted(p for p in path.iterdir() if p.suffix.lower() in EDF_SUFFIXES)
    return found


def _has_events(path: Path) -> bool:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return False
    return isinstance(data, dict) and isinstance(data.get("events"), list)


def load_truth(paths: Iterable[str | os.PathLike[str]]) -> list[TruthFile]:
    """Return truth for every truth JSON, events.tsv or EDF+ given (folders: what they hold)."""
    files: list[TruthFile] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = _folder_truth(path)
            if not found:
                raise EvaluationInputError(
                    f"{path}: no *.truth.json, *events.tsv, truth JSON or EDF files in this folder")
            files.extend(load_truth(found))
        elif not path.exists():
            raise EvaluationInputError(f"{path}: no such file")
        elif path.name.lower().endswith(".json"):
            files.append(truth_from_json(path))
        elif _is_tsv(path):
            files.append(truth_from_tsv(path))
        elif path.suffix.lower() in EDF_SUFFIXES:
            files.append(truth_from_edf(path))
        else:
            raise EvaluationInputError(
                f"{path}: give a truth JSON, a BIDS events.tsv, an EDF+ file with "
                "annotations, or a folder")
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


def _lines_of_tsv(path: str | os.PathLike[str], text: str) -> list[tuple[int, str]]:
    """Return the rows of a ``replay --events x.tsv`` file as replay JSON lines."""
    rows = list(csv.DictReader(text.splitlines(), delimiter="\t"))
    missing = [c for c in ("onset", "duration", "trial_type", "file") if rows and c not in rows[0]]
    if missing:
        raise EvaluationInputError(f"{path}: not a `crampwatch replay --events x.tsv` file "
                                   f"(missing columns {missing})")
    items = []
    for number, row in enumerate(rows, start=2):
        value = {k: (None if v in ("n/a", "") else v) for k, v in row.items()}
        try:
            onset = float(value["onset"])  # type: ignore[arg-type]
            duration = value["duration"]
            line = {**value, "start_s": onset, "kind": value["trial_type"],
                    "end_s": None if duration is None else onset + float(duration),
                    "final": value.get("final") != "false"}
        except (TypeError, ValueError) as exc:
            raise EvaluationInputError(f"{path}, line {number}: bad onset or duration "
                                       f"({exc})") from None
        items.append((number, json.dumps(line)))
    return items


def load_events(path: str | os.PathLike[str]) -> dict[str, list[DetectedEvent]]:
    """Return replay events grouped by recording name: JSON lines, a JSON array of them, or
    the BIDS-style events.tsv that ``replay --events x.tsv`` writes."""
    grouped: dict[str, list[DetectedEvent]] = defaultdict(list)
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise EvaluationInputError(f"{path}: cannot read events ({exc})") from None
    if str(path).lower().endswith(".tsv"):
        items = _lines_of_tsv(path, text)
    elif text.lstrip().startswith("["):
        try:
            items = [(i, json.dumps(x)) for i, x in enumerate(json.loads(text), start=1)]
        except json.JSONDecodeError as exc:
            raise EvaluationInputError(f"{path}: not a JSON array of events ({exc})") from None
    else:
        items = list(enumerate(text.splitlines(), start=1))
    for number, line in items:
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            confidence = data.get("confidence")
            event = DetectedEvent(
                file=str(data["file"]),
                event_id=str(data.get("event_id", f"{data['file']}#{number}")),
                start_s=float(data["start_s"]),
                end_s=_number(data.get("end_s")),
                kind=str(data["kind"]).lower(),
                channel=channel_columns(data)["channel"],
                confidence=float(confidence) if confidence is not None else math.nan,
                final=bool(data.get("final", True)),
                first_cramp_call_s=_number(data.get("first_cramp_call_s")),
                known_at_s=_number(data.get("known_at_s")),
                prompt=ReportedPrompt.from_line(data.get("prompt")),
            )
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise EvaluationInputError(
                f"{path}, line {number}: not a replay event ({exc}); expected JSON with "
                "file, start_s, end_s, kind"
            ) from None
        grouped[recording_key(event.file)].append(event)
    return dict(grouped)


def pair_events(truth: Sequence[TruthFile], events: Mapping[str, list[DetectedEvent]]
                ) -> tuple[dict[str, list[DetectedEvent]], list[str]]:
    """Return events by truth name, and the recording names that match no truth.

    A recording pairs with the truth of the same name, else with a truth whose name
    is its BIDS prefix (``sub-01_task-sleep_eeg`` -> ``sub-01_task-sleep``).
    """
    names = {t.name for t in truth}
    paired: dict[str, list[DetectedEvent]] = {n: [] for n in names}
    unmatched: list[str] = []
    for key, items in events.items():
        if key in names:
            paired[key].extend(items)
            continue
        prefixes = [n for n in names if key.startswith(n + "_")]
        if prefixes:
            paired[max(prefixes, key=len)].extend(items)
        else:
            unmatched.append(key)
    return paired, sorted(unmatched)


def pairing_warnings(truth: Sequence[TruthFile], paired: Mapping[str, Sequence[DetectedEvent]],
                     unmatched: Sequence[str], basis: Mapping[str, str]) -> list[str]:
    """Return what the user must hear before trusting the figures (empty when all is well)."""
    out = [w for t in truth for w in t.warnings]
    if unmatched:
        out.append(f"events for recordings without truth ignored: {list(unmatched)}")
    empty = [t.name for t in truth if not paired.get(t.name)]
    if truth and len(empty) == len(truth):
        out.append("no detected event matches any truth recording: every cramp counts as "
                   "missed; check that the events' 'file' names the same recordings as "
                   f"the truth ({sorted(t.name for t in truth)[:5]})")
    elif empty:
        out.append(f"no detected events at all for {empty}: scored as nothing detected")
    for t in truth:
        late = [e for e in t.events if t.duration_s > 0 and e.start_s >= t.duration_s]
        if late:
            out.append(f"{t.name}: {len(late)} truth events start after the recording's end "
                       f"({t.duration_s:.0f} s); wrong file or units?")
    final_only = sorted(name for name, b in basis.items()
                        if b == FINAL_ONLY and paired.get(name))
    if final_only:
        out.append(
            f"only final events given for {len(final_only)} recording(s) "
            f"({final_only[:3]}{'...' if len(final_only) > 3 else ''}): the live prompt "
            "policy acts on provisional calls, so false wake-ups and wake-up latency are "
            "estimated (each episode taken as a cramp call from its first_cramp_call_s, or "
            "its start, until its end; erring towards waking); give the JSON lines of "
            "`crampwatch replay` (each final event's prompt is the policy's own decision), "
            "with --provisional for the calls it acted on, or evaluate --replay")
    return out
