"""Ground truth read from its files: truth JSON, BIDS-style events.tsv or EDF+
annotations, one file or a folder of them (formats in :mod:`crampwatch.evaluate.inputs`)."""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from crampwatch.evaluate.truth_files import (
    EDF_SUFFIXES,
    EvaluationInputError,
    TruthFile,
    kind_of_label,
    recording_key,
)
from crampwatch.recordings.edf_reader import EdfRecording, header_duration_s
from crampwatch.synth.truth import TruthEvent

# Event fields of a truth JSON that are the event itself, not attributes to group by.
_EVENT_FIELDS = ("start_s", "end_s", "kind", "attributes")
# Night fields of a truth JSON that are structure, not attributes to group by.
_NIGHT_FIELDS = ("events", "format", "variation", "rest_rms_uv", "channels")


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
