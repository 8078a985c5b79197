"""Replay events as a BIDS-style ``events.tsv``: what MNE-BIDS, pandas and EEGLAB read as is.

Columns follow the BIDS events file (``onset`` and ``duration`` in seconds from the
recording's start, ``trial_type`` the event kind: ``tonic``, ``plm``...), then ours
(:data:`EXTRA_COLUMNS`: confidence, channel, event_id, ...). Missing values are "n/a"
as BIDS asks; a provisional event still running has ``duration`` "n/a". The features
stay in the JSON lines and the DataFrame (``crampwatch.replay``): their set is not
fixed before the first event, and a TSV header is.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

BIDS_COLUMNS = ("onset", "duration", "trial_type")
EXTRA_COLUMNS = ("confidence", "channel", "muscle", "side", "event_id", "final", "file",
                 "known_at_s", "first_cramp_call_s", "detector_version", "model_version")
COLUMNS = BIDS_COLUMNS + EXTRA_COLUMNS

# The BIDS sidecar that says what each column holds (written beside the TSV).
DESCRIPTIONS: dict[str, dict[str, str]] = {
    "onset": {"Description": "event start, seconds from the recording's start",
              "Units": "s"},
    "duration": {"Description": "event length; n/a while a provisional event runs",
                 "Units": "s"},
    "trial_type": {"Description": "event kind: tonic or clonic (cramps) or a look-alike "
                                  "(plm, movement, jerk, tremor, walking, stretch, artifact)"},
    "confidence": {"Description": "classifier confidence in the kind, 0-1"},
    "channel": {"Description": "EMG channel label the event was found on"},
    "muscle": {"Description": "muscle of that channel (gastrocnemius, soleus, "
                              "tibialis_anterior, ...; unknown when the label does not say)"},
    "side": {"Description": "leg: left or right (unknown when the label does not say)"},
    "event_id": {"Description": "crampwatch event id; provisional and final calls of one "
                                "episode share it"},
    "final": {"Description": "true for the final call, false for a call made while the "
                             "episode ran (replay --provisional)"},
    "file": {"Description": "recording the event comes from"},
    "known_at_s": {"Description": "when the call was made, seconds from the recording's start",
                   "Units": "s"},
    "first_cramp_call_s": {"Description": "when the episode was first called a cramp, seconds "
                                          "from the recording's start; n/a if never",
                           "Units": "s"},
    "detector_version": {"Description": "version of the detector (sensor.Detector)"},
    "model_version": {"Description": "version of the classifier"},
}


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6f}".rstrip("0").rstrip(".") or "0"
    # A tab or line break inside a cell would shift every column after it.
    return str(value).replace("\t", " ").replace("\r", " ").replace("\n", " ")


def header() -> str:
    """Return the TSV header line (with its newline)."""
    return "\t".join(COLUMNS) + "\n"


def row(line: Mapping[str, Any]) -> str:
    """Return one TSV line (with its newline) for one replay JSON line."""
    from crampwatch.event_json import channel_columns

    end = line.get("end_s")
    start = float(line["start_s"])
    values = {
        **line,
        **channel_columns(line),
        "onset": start,
        "duration": None if end is None else max(float(end) - start, 0.0),
        "trial_type": line["kind"],
    }
    return "\t".join(_cell(values.get(column)) for column in COLUMNS) + "\n"


def is_tsv(path: str | Path) -> bool:
    """Return True when ``path`` names a TSV file (by its suffix)."""
    return Path(path).suffix.lower() == ".tsv"


def sidecar_path(path: str | Path) -> Path:
    """Return the BIDS JSON sidecar beside ``path`` (``x_events.tsv`` -> ``x_events.json``)."""
    return Path(path).with_suffix(".json")


def sidecar_text() -> str:
    """Return the BIDS JSON sidecar describing every column."""
    return json.dumps(DESCRIPTIONS, indent=1) + "\n"
