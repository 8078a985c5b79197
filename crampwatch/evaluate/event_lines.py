"""Detected events read from ``crampwatch replay`` output: JSON lines, a JSON array of
them, or the BIDS-style events.tsv it writes."""

from __future__ import annotations

import csv
import json
import math
import os
from collections import defaultdict
from pathlib import Path

from crampwatch.evaluate.events import DetectedEvent, ReportedPrompt
from crampwatch.evaluate.truth_files import EvaluationInputError, recording_key
from crampwatch.event_json import channel_columns


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
