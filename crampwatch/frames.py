"""Events, scores and synthetic truth as pandas DataFrames: crampwatch from a notebook.

``crampwatch.replay(...)``, ``crampwatch.evaluate(...)`` and ``crampwatch.synth(...)``
call the functions of the same name here. Those names are also the modules
(``crampwatch.replay.replay_file``, ``crampwatch.evaluate.load_truth``...), so each of
those modules is made callable (:func:`crampwatch.callable_modules.make_callable`):
importing one of them never hides the function. pandas is imported inside the
functions, so the command line does not pay for it.

Times are seconds from the recording's start (``start_s``, ``end_s``) and datetimes
on the recording's own clock (``start_time``, ``end_time``: the EDF header's start
plus those seconds, naive like the header; NaT when the recording states no start).
"""

from __future__ import annotations

import argparse
import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

# Re-exported: crampwatch.synth and crampwatch.evaluate take it from here.
from crampwatch.callable_modules import make_callable as make_callable

if TYPE_CHECKING:
    import pandas as pd

    from crampwatch.evaluate.inputs import TruthFile

PathLike = str | os.PathLike[str]
# Columns every replay DataFrame has, in this order; the features follow them.
EVENT_COLUMNS = ("file", "recording", "event_id", "kind", "channel", "muscle", "side",
                 "confidence", "final", "start_s", "end_s", "start_time", "end_time",
                 "known_at_s", "first_cramp_call_s", "detector_version", "model_version")
OUTCOME_COLUMNS = ("recording", "outcome", "kind", "start_s", "end_s", "start_time",
                   "end_time", "detected_kind", "kind_right", "onset_error_s",
                   "wakeup_latency_s", "woken", "fragments", "confidence", "event_id",
                   "channel")
TRUTH_COLUMNS = ("recording", "edf", "kind", "subtype", "channel", "start_s", "end_s",
                 "start_time", "end_time", "strength_uv", "strength_rel")


def _pandas() -> Any:
    try:
        import pandas
    except ImportError:
        raise ImportError("crampwatch's DataFrames need pandas: pip install pandas") from None
    return pandas


def _times(start: datetime | None, seconds: Sequence[float | None]) -> list[Any]:
    if start is None:
        return [None] * len(seconds)
    return [None if s is None or not math.isfinite(s) else start + timedelta(seconds=s)
            for s in seconds]


def _datetime_column(pd: Any, values: list[Any]) -> Any:
    return pd.to_datetime(pd.Series(values, dtype=object), errors="coerce").astype(
        "datetime64[us]")


def replay(
    paths: PathLike | Sequence[PathLike],
    *,
    provisional: bool = False,
    classifier: str = "rules",
    emg: Sequence[str] | None = None,
    acc: Sequence[str] | None = None,
    chunk_s: float = 10.0,
    jobs: int | None = None,
    scheduler: str | None = None,
    edf_out: PathLike | None = None,
    skip_unreadable: bool = False,
) -> pd.DataFrame:
    """Return the events of recordings replayed through the live pipeline, one row each.

    ``paths``: an EDF/EDF+ file, a band capture, a folder of them, or a list; the
    options are those of ``crampwatch replay`` (``provisional`` adds the calls made
    while an episode ran). Columns: :data:`EVENT_COLUMNS` (seconds from the start and
    datetimes on the recording's clock), then one column per feature
    (``sensor.features.FEATURES`` gives their meaning and units). A recording that
    cannot be replayed raises, naming every such recording; with
    ``skip_unreadable=True`` it is warned about and listed in ``df.attrs["not_replayed"]``.
    """
    from crampwatch.errors import UserError
    from crampwatch.event_json import channel_columns
    from crampwatch.recording_paths import expand_paths
    from crampwatch.replay import ReplayOptions
    from crampwatch.replay_parallel import failure_report, replay_all

    pd = _pandas()
    if jobs is not None and jobs < 1:
        raise ValueError(f"jobs must be 1 or more, got {jobs}")
    if chunk_s <= 0:
        raise ValueError(f"chunk_s must be positive, got {chunk_s}")
    given = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    files = expand_paths(given)
    out_dir = Path(edf_out) if edf_out is not None else None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    options = ReplayOptions(emg_labels=tuple(emg) if emg else None,
                            acc_labels=tuple(acc) if acc else None, chunk_s=chunk_s,
                            include_provisional=provisional, classifier=classifier,
                            edf_out=out_dir)
    rows: list[dict[str, Any]] = []
    features: dict[str, None] = {}  # every feature name met, in the order met
    failures = []
    for result in replay_all(files, options, jobs, scheduler):
        if not result.ok:
            failures.append(result)
            continue
        start = result.start
        for line in result.lines:
            row = {k: v for k, v in line.items() if k not in ("features", "envelope")}
            row.update(channel_columns(line))
            row["recording"] = Path(str(line["file"])).stem
            row["start_time"], row["end_time"] = _times(start, [line["start_s"],
                                                                line["end_s"]])
            for name, value in line["features"].items():
                # A feature never takes the place of an event column of the same name.
                key = name if name not in EVENT_COLUMNS else f"feature_{name}"
                features.setdefault(key)
                row[key] = math.nan if value is None else value
            rows.append(row)
    if failures and not skip_unreadable:
        raise UserError(failure_report(failures))
    for failure in failures:
        warnings.warn(f"not replayed: {failure.file}: {failure.error}", stacklevel=3)
    frame = pd.DataFrame(rows, columns=[*EVENT_COLUMNS, *features])
    for column in ("start_s", "end_s", "confidence", "known_at_s", "first_cramp_call_s",
                   *features):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    frame["final"] = frame["final"].astype(bool)
    for column in ("start_time", "end_time"):
        frame[column] = _datetime_column(pd, list(frame[column]))
    frame.attrs["not_replayed"] = {f.file: f.error for f in failures}
    return frame


def recording_start(path: PathLike | None) -> datetime | None:
    """Return the start date and time an EDF/BDF header states, None when it cannot say."""
    if path is None:
        return None
    try:
        with open(path, "rb") as handle:
            raw = handle.read(256)
        day, month, year = (int(x) for x in raw[168:176].decode("ascii").split("."))
        hour, minute, second = (int(x) for x in raw[176:184].decode("ascii").split("."))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    # EDF's two-digit year: 85-99 are 1985-1999, the rest 2000-2084 (EDF+ clipping date).
    year += 1900 if year >= 85 else 2000
    try:
        return datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None


def evaluate(
    truth: PathLike | Sequence[PathLike],
    events: PathLike | pd.DataFrame | None = None,
    *,
    tolerance_s: float | None = None,
    min_confidence: float | None = None,
    min_duration_s: float | None = None,
    classifier: str = "rules",
    jobs: int | None = None,
) -> pd.DataFrame:
    """Return one row per scored event: every truth cramp (found or missed), every cramp
    call on no cramp, every false wake-up; with the figures in ``df.attrs["summary"]``.

    ``truth``: truth JSON, BIDS events.tsv, EDF+ with annotations, or folders (as
    ``crampwatch evaluate --truth``). ``events``: replay JSON lines, a DataFrame from
    :func:`replay`, or None to replay the truth's recordings here (with provisional
    calls, as ``evaluate --replay``). ``outcome`` is "found", "missed", "false call" or
    "false wake-up"; a truth cramp's own attributes (texture, response...) and its
    night's (emg_fs_hz...) follow as columns, for ``groupby``. The summary is the
    dict ``crampwatch evaluate --json`` writes.
    """
    from dataclasses import replace

    from crampwatch.evaluate.evaluation import evaluate as score
    from crampwatch.evaluate.inputs import load_events, load_truth
    from crampwatch.evaluate.scoring import DEFAULT_TOLERANCE_S
    from crampwatch.prompt.policy import PromptParams

    pd = _pandas()
    truth_files = load_truth([truth] if isinstance(truth, (str, os.PathLike)) else truth)
    if events is None:
        missing = [t.name for t in truth_files if t.edf is None]
        if missing:
            raise ValueError(f"no recording beside the truth of {missing}: give events")
        events = replay([str(t.edf) for t in truth_files if t.edf], provisional=True,
                        classifier=classifier, jobs=jobs)
    detected = _events_of(events, load_events)
    prompt = PromptParams()
    if min_confidence is not None:
        prompt = replace(prompt, min_confidence=min_confidence)
    if min_duration_s is not None:
        prompt = replace(prompt, min_duration_s=min_duration_s)
    result = score(truth_files, detected,
                   DEFAULT_TOLERANCE_S if tolerance_s is None else tolerance_s, prompt)
    for warning in result.warnings:
        warnings.warn(warning, stacklevel=3)
    rows = _outcome_rows(truth_files, result)
    extra = sorted({k for row in rows for k in row} - set(OUTCOME_COLUMNS))
    frame = pd.DataFrame(rows, columns=[*OUTCOME_COLUMNS, *extra])
    for column in ("start_s", "end_s", "onset_error_s", "wakeup_latency_s", "confidence"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    frame["fragments"] = frame["fragments"].astype("int64")
    frame["event_id"] = frame["event_id"].astype(object)
    for column in ("start_time", "end_time"):
        frame[column] = _datetime_column(pd, list(frame[column]))
    frame.attrs["summary"] = asdict(result.summary)
    frame.attrs["warnings"] = list(result.warnings)
    return frame


def _events_of(events: Any, load_events: Any) -> Any:
    """Return detected events by recording name from a path or a replay DataFrame."""
    if isinstance(events, (str, os.PathLike)):
        return load_events(events)
    import json
    import tempfile

    # Through the same reader as a file, so both meet the same checks.
    columns = [c for c in EVENT_COLUMNS if c in events.columns]
    lines = events[columns].to_dict("records")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "events.jsonl"
        with path.open("w") as out:
            for line in lines:
                clean = {k: (None if _missing(v) else v) for k, v in line.items()
                         if k not in ("start_time", "end_time")}
                out.write(json.dumps(clean, default=str) + "\n")
        return load_events(path)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _outcome_rows(truth_files: Sequence[TruthFile], result: Any) -> list[dict[str, Any]]:
    starts = {t.name: recording_start(t.edf) for t in truth_files}
    nights = {t.name: t.night for t in truth_files}
    rows: list[dict[str, Any]] = []
    for score in result.scores:
        start = starts.get(score.file)
        night = {k: v for k, v in nights.get(score.file, {}).items()
                 if k not in ("recording", "duration_s", "seed", "file")}
        for outcome in score.outcomes:
            t = outcome.truth
            row = {**night, **dict(outcome.attributes),
                   "recording": score.file, "outcome": "found" if outcome.found else "missed",
                   "kind": str(t.kind), "start_s": t.start_s, "end_s": t.end_s,
                   "detected_kind": outcome.matched_kind, "kind_right": outcome.kind_right,
                   "onset_error_s": outcome.onset_error_s,
                   "wakeup_latency_s": outcome.wakeup_latency_s, "woken": outcome.woken,
                   "fragments": outcome.fragments, "channel": t.channel}
            rows.append(row)
        wakeups = list(zip(score.false_alarms, score.false_wakeup_at_s, strict=True))
        for outcome_name, events in (("false call", [(e, None) for e in
                                                     score.false_call_events]),
                                     ("false wake-up", wakeups)):
            for event, at_s in events:
                rows.append({**night, "recording": score.file, "outcome": outcome_name,
                             "kind": event.kind, "start_s": event.start_s,
                             "end_s": event.end_s, "detected_kind": event.kind,
                             "kind_right": False, "confidence": event.confidence,
                             "event_id": event.event_id, "channel": event.channel,
                             "wakeup_latency_s": None, "woken": at_s
                             is not None, "fragments": 0, "prompt_at_s": at_s})
        for row in rows:
            if row["recording"] == score.file and "start_time" not in row:
                row["start_time"], row["end_time"] = _times(start, [row["start_s"],
                                                                    row["end_s"]])
    return rows


def synth(out: PathLike, nights: int = 1, *, minutes: float | None = None,
          hours: float | None = None, seed: int = 0, **options: Any) -> pd.DataFrame:
    """Return the truth events of the labelled nights written to ``out``, one row each.

    Writes ``<prefix>-NNN.edf`` and ``.truth.json`` exactly as ``crampwatch synth``
    does; ``options`` are that command's other options by their Python names
    (``vary="none"``, ``emg_fs=1000``, ``no_acc=True``, ``cramps=(1, 2)``,
    ``exclude=["response=stand_walk"]``...). Default length: 8 hours. Columns:
    :data:`TRUTH_COLUMNS`, then each event's attributes and its night's variation.
    """
    from crampwatch.commands import synth as command
    from crampwatch.commands.parser import CommandParser
    from crampwatch.synth.truth import NightTruth

    pd = _pandas()
    parser = argparse.ArgumentParser(prog="crampwatch")
    command.register(parser.add_subparsers(parser_class=CommandParser))
    args = parser.parse_args(["synth", "--out", str(out)])
    unknown = sorted(set(options) - set(vars(args)) - {"func"})
    if unknown:
        raise TypeError(f"synth() got unknown options {unknown}; see `crampwatch synth --help`")
    for name, value in {**options, "nights": nights, "minutes": minutes, "hours": hours,
                        "seed": seed, "out": Path(out)}.items():
        setattr(args, name, list(value) if name in ("exclude", "pin") else value)
    command.run(args)
    rows: list[dict[str, Any]] = []
    for i in range(nights):
        path = Path(out) / f"{args.prefix}-{i:03d}.truth.json"
        night = NightTruth.read(path)
        edf = path.parent / night.recording
        start = recording_start(edf)
        variation = dict(night.variation or {})
        for event in sorted(night.events, key=lambda e: e.start_s):
            row = {**variation, **dict(event.attributes), "recording": path.name.removesuffix(
                ".truth.json"), "edf": str(edf), "kind": str(event.kind),
                "subtype": event.subtype, "channel": event.channel,
                "start_s": event.start_s, "end_s": event.end_s,
                "strength_uv": event.strength_uv, "strength_rel": event.strength_rel}
            row["start_time"], row["end_time"] = _times(start, [event.start_s, event.end_s])
            rows.append(row)
    extra = sorted({k for row in rows for k in row} - set(TRUTH_COLUMNS))
    frame = pd.DataFrame(rows, columns=[*TRUTH_COLUMNS, *extra])
    for column in ("start_s", "end_s", "strength_uv", "strength_rel"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    for column in ("start_time", "end_time"):
        frame[column] = _datetime_column(pd, list(frame[column]))
    return frame
