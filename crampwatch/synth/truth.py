"""Ground truth of a labelled night: the JSON the generator writes and evaluation reads.

File format ``crampwatch-truth/1``::

    {"format": "crampwatch-truth/1", "recording": "night-000.edf", "duration_s": 1800.0,
     "seed": 7, "channels": ["EMG R Gastroc", ...], "rest_rms_uv": {"EMG R Gastroc": 2.9},
     "events": [{"start_s": 312.4, "end_s": 401.0, "kind": "tonic", "subtype": "tonic_cramp",
                 "channel": "EMG R Gastroc", "channels": ["EMG R Gastroc"],
                 "strength_uv": 85.0, "strength_rel": 29.3}, ...]}

``kind`` is a :class:`sensor.records.EventKind` value; ``strength_uv`` is the RMS of the
event's EMG on its main channel (band 20-450 Hz), ``strength_rel`` that RMS over the
channel's resting RMS at the event's onset.

Optional, for grouping results by family (:mod:`crampwatch.synth.variation`): a
night-level ``"variation"`` object (``emg_fs_hz``, ``acc_fs_hz`` or null, ``leg``,
``labels``, ``mains_hz``, ``wandering``, ``floor_step_s`` or null, ...) and per event
attributes written beside its fields: for a cramp ``texture`` ("real"/"synthetic"),
``response`` ("none"/"stretch"/"knead"/"stand_walk"), ``triggered_by_movement``
(bool), ``trigger``, ``wake_s``; for a look-alike its ``texture`` and, for PLM, ``plm``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sensor.records import EventKind

TRUTH_FORMAT = "crampwatch-truth/1"


_EVENT_FIELDS = frozenset({"start_s", "end_s", "kind", "subtype", "channel", "channels",
                           "strength_uv", "strength_rel"})


class TruthFormatError(ValueError):
    """A ground-truth file is not in the expected format."""


@dataclass(frozen=True)
class TruthEvent:
    """One labelled event: seconds from the recording start, kind, and where it shows."""

    start_s: float
    end_s: float
    kind: EventKind
    subtype: str
    channel: str
    channels: tuple[str, ...] = ()
    strength_uv: float | None = None
    strength_rel: float | None = None
    # Family attributes (texture, response, triggered_by_movement...), written flat.
    attributes: Mapping[str, object] = field(default_factory=dict, compare=False, hash=False)

    @property
    def is_cramp(self) -> bool:
        return EventKind(self.kind).is_cramp

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        del data["attributes"]
        data["kind"] = str(EventKind(self.kind))
        data["channels"] = list(self.channels)
        for key in ("start_s", "end_s", "strength_uv", "strength_rel"):
            if data[key] is not None:
                data[key] = round(float(data[key]), 4)
        for key, value in self.attributes.items():
            data.setdefault(key, value)
        return data


@dataclass
class NightTruth:
    """All labelled events of one recording plus what the generator knew about it."""

    recording: str
    duration_s: float
    events: list[TruthEvent]
    seed: int | None = None
    channels: tuple[str, ...] = ()
    rest_rms_uv: dict[str, float] = field(default_factory=dict)
    variation: dict[str, object] | None = None

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {
            "format": TRUTH_FORMAT,
            "recording": self.recording,
            "duration_s": self.duration_s,
            "seed": self.seed,
            "channels": list(self.channels),
            "rest_rms_uv": {k: round(v, 3) for k, v in self.rest_rms_uv.items()},
        }
        if self.variation is not None:
            data["variation"] = dict(self.variation)
        data["events"] = [e.to_json() for e in sorted(self.events, key=lambda e: e.start_s)]
        return data

    def write(self, path: str | os.PathLike[str]) -> None:
        Path(path).write_text(json.dumps(self.to_json(), indent=1) + "\n")

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> NightTruth:
        """Return the truth stored in a ``crampwatch-truth/1`` JSON file."""
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise TruthFormatError(f"{path}: cannot read ground truth ({exc})") from None
        if not isinstance(data, dict) or data.get("format") != TRUTH_FORMAT:
            raise TruthFormatError(
                f"{path}: not a {TRUTH_FORMAT} ground-truth file (missing or other 'format')"
            )
        try:
            events = [
                TruthEvent(
                    start_s=float(e["start_s"]),
                    end_s=float(e["end_s"]),
                    kind=EventKind(e["kind"]),
                    subtype=str(e.get("subtype", e["kind"])),
                    channel=str(e.get("channel", "")),
                    channels=tuple(e.get("channels", ())),
                    strength_uv=e.get("strength_uv"),
                    strength_rel=e.get("strength_rel"),
                    attributes={k: v for k, v in e.items() if k not in _EVENT_FIELDS},
                )
                for e in data["events"]
            ]
            return cls(
                recording=str(data["recording"]),
                duration_s=float(data["duration_s"]),
                events=events,
                seed=data.get("seed"),
                channels=tuple(data.get("channels", ())),
                rest_rms_uv=dict(data.get("rest_rms_uv", {})),
                variation=data.get("variation"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise TruthFormatError(f"{path}: malformed ground-truth event ({exc})") from None


def cramps(events: Sequence[TruthEvent]) -> list[TruthEvent]:
    """Return the cramp events (tonic or clonic) in start order."""
    return sorted((e for e in events if e.is_cramp), key=lambda e: e.start_s)
