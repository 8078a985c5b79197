"""Replay recorded nights through the live pipeline, as fast as the machine allows.

Each recording is streamed in chunks through :class:`crampwatch.pipeline.Pipeline`
(the same Detector and classifier a live session runs), the prompt policy runs on the
recording's own clock (:class:`crampwatch.prompt.night_clock.NightPrompter`), and its
events become JSON lines (see :func:`event_line`). Many recordings at once:
:mod:`crampwatch.replay_parallel`; where recordings come from and how output files
appear: :mod:`crampwatch.recording_paths`.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from crampwatch import events_tsv
from crampwatch.callable_modules import make_callable
from crampwatch.errors import UserError
from crampwatch.event_json import event_to_json
from crampwatch.pipeline import build_pipeline, load_classifier
from crampwatch.prompt.night_clock import NightPrompter, event_prompts, no_prompt
from crampwatch.prompt.params import PromptParams
from crampwatch.prompt.policy import PromptDecision, PromptPolicy
from crampwatch.recording_paths import PendingFile, local_copy
from crampwatch.recordings.capture_source import CaptureRecording, is_capture
from crampwatch.recordings.edf_reader import (
    DEFAULT_CHUNK_S,
    EdfRecording,
    RecordingError,
)
from crampwatch.recordings.edf_writer import EdfPlusWriter, SignalSpec
from models import DEFAULT_CLASSIFIER
from models.classifier import EpisodeClassifier
from sensor.quality import SignalQuality
from sensor.records import Event, SampleBlock, SignalGap

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class ReplayOptions:
    """How to replay: channel choice, chunking, which events, classifier, EDF+ output."""

    emg_labels: tuple[str, ...] | None = None
    acc_labels: tuple[str, ...] | None = None
    chunk_s: float = DEFAULT_CHUNK_S
    include_provisional: bool = False
    classifier: str = DEFAULT_CLASSIFIER  # "rules", "model" (shipped), or a model path
    edf_out: Path | None = None
    prompt: PromptParams = field(default_factory=PromptParams)  # as `crampwatch run`


@dataclass
class ReplayResult:
    """The JSON lines of one recording and what happened while replaying it."""

    file: str
    lines: list[dict[str, Any]] = field(default_factory=list)
    duration_s: float = 0.0
    elapsed_s: float = 0.0
    gaps: int = 0
    edf_out: Path | None = None
    error: str | None = None  # why the recording could not be replayed; no lines then
    start: datetime | None = None  # the recording's clock at 0 s (EDF start), if it says
    # Signal-quality sentences (dead, flat, clipped or missing channels; stuck accelerometer).
    warnings: list[str] = field(default_factory=list)
    # What the prompt policy decided over the night, on the recording's own clock.
    decisions: list[PromptDecision] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None


def event_line(file: str, event: Event) -> dict[str, Any]:
    """Return the JSON object replay writes for one event: the recording, then the
    event's shared JSON (:func:`crampwatch.event_json.event_to_json`)."""
    return {"file": file, **event_to_json(event)}


def open_recording(
    path: str | os.PathLike[str],
    emg_labels: Sequence[str] | None = None,
    acc_labels: Sequence[str] | None = None,
) -> EdfRecording | CaptureRecording:
    """Return the recording at ``path``: a band capture (by its magic bytes) or EDF/EDF+."""
    if is_capture(path):
        return CaptureRecording(path, emg_labels, acc_labels)
    return EdfRecording(path, emg_labels, acc_labels)


def _record_s(rates: Sequence[float]) -> float:
    """Return the shortest data-record length (s, <= 60) every rate fills exactly."""
    for seconds in range(1, 61):
        if all(abs(r * seconds - round(r * seconds)) < 1e-6 for r in rates):
            return float(seconds)
    raise RecordingError(f"no EDF data record length up to 60 s fits sample rates {rates}")


def _annotation(event: Event) -> str:
    # The kind alone, so that viewers and MNE (events_from_annotations) give one event
    # type per kind; confidence and ids go to the events.tsv beside the EDF+.
    return str(event.kind)


def sidecar_of(edf_out: Path) -> Path:
    """Return the events.tsv written beside an ``--edf-out`` file (``x.events.edf`` -> ``.tsv``)."""
    return edf_out.with_suffix(".tsv")


QUALITY_ANNOTATION = "signal quality: "


def replay_file(
    path: str | os.PathLike[str],
    options: ReplayOptions | None = None,
    classifier: EpisodeClassifier | None = None,
    progress: Callable[[float], None] | None = None,
) -> ReplayResult:
    """Return the events of one recording replayed through the pipeline, as JSON lines.

    ``options`` default to those of ``crampwatch replay``; ``progress`` is called with
    the recording seconds processed after each chunk. For a DataFrame of events, call
    ``crampwatch.replay(path)``.
    """
    options = options or ReplayOptions()
    file = str(path)
    started = time.perf_counter()
    classifier = classifier or load_classifier(options.classifier)
    with contextlib.ExitStack() as stack:
        local = stack.enter_context(local_copy(path))
        rec = stack.enter_context(open_recording(local, options.emg_labels, options.acc_labels))
        pipeline = build_pipeline(classifier, Path(file).stem, has_acc=bool(rec.acc))
        result = ReplayResult(file=file, duration_s=rec.duration_s, start=rec.start_datetime)
        quality = SignalQuality(tuple(h.label for h in rec.emg), expect_acc=bool(rec.acc))
        writer = None
        pending = None
        sidecar = None
        if options.edf_out is not None:
            # Written beside its final name and moved there only once complete.
            pending = stack.enter_context(
                PendingFile(options.edf_out / f"{Path(file).stem}.events.edf"))
            sidecar = stack.enter_context(PendingFile(sidecar_of(pending.path)))
            specs = [SignalSpec(h.label, "uV", h.fs_hz, h.physical_min, h.physical_max)
                     for h in rec.emg]
            specs += [SignalSpec(h.label, "g", h.fs_hz, h.physical_min, h.physical_max)
                      for h in rec.acc]
            writer = EdfPlusWriter(pending.temp_path, specs, start=rec.start_datetime,
                                   record_s=_record_s([s.fs_hz for s in specs]))
            stack.callback(writer.close)
            for ann in rec.annotations():
                writer.annotate(ann.onset_s, ann.duration_s, ann.text)
        prompter = NightPrompter(PromptPolicy(options.prompt))
        emg_end_s = stream_end_s = 0.0
        layouts: dict[str, tuple[float, tuple[str, ...]]] = {}
        first_layouts: dict[str, tuple[float, tuple[str, ...]]] = {}
        restarts = 0
        for index, block in enumerate(rec.blocks(options.chunk_s)):
            layout = (block.fs_hz, block.labels)
            first_layouts.setdefault(block.group, layout)
            if layouts.setdefault(block.group, layout) != layout:
                # The band restarted with other settings (a capture): the night goes on
                # with a fresh pipeline for the new layout, as in a live session.
                restarts += 1
                _collect(result, file, pipeline.finish(), options, writer, prompter)
                pipeline = build_pipeline(classifier, f"{Path(file).stem}.{restarts + 1}",
                                          has_acc=bool(rec.acc))
                layouts = {block.group: layout}
                result.warnings.append(
                    f"the band restarted at {block.t0_s:.1f} s with another "
                    f"{block.group.value} layout ({block.fs_hz:g} Hz, {list(block.labels)}): "
                    "replayed on with a new pipeline")
            if layout == first_layouts[block.group]:
                # Quality and the EDF+ copy follow the recording's first layout.
                quality.add(block)
                if writer is not None:
                    _write_with_gap(writer, block)
            _collect(result, file, pipeline.process(block), options, writer, prompter)
            stream_end_s = max(stream_end_s, block.t_end_s)
            if index == 0:
                log.info("%s: %s", file, pipeline.detector.describe_channels())
            if block.group == "emg":
                emg_end_s = block.t_end_s
                if progress is not None:
                    progress(emg_end_s)
        _collect(result, file, pipeline.finish(), options, writer, prompter)
        result.decisions += prompter.advance(stream_end_s)
        prompts = event_prompts(result.decisions)
        for line in result.lines:
            if line["final"]:
                line["prompt"] = prompts.get(line["event_id"]) or no_prompt()
        result.warnings = quality.warnings() + result.warnings
        for warning in result.warnings:
            log.info("%s: %s", file, warning)
        if writer is not None:
            # EDF+ notes hold 40 characters: the short form (the sentences go to stderr,
            # the ReplayResult and the --events sidecar).
            for short in quality.short_warnings():
                writer.annotate(0.0, 0.0, QUALITY_ANNOTATION + short)
        if not math.isfinite(result.duration_s):  # a capture's length is known once read
            result.duration_s = emg_end_s
        if writer is not None and pending is not None and sidecar is not None:
            writer.close()
            with sidecar.temp_path.open("w") as out:
                out.write(events_tsv.header())
                finals = sorted((line for line in result.lines if line["final"]),
                                key=lambda line: line["start_s"])
                out.writelines(events_tsv.row(line) for line in finals)
            pending.commit()
            sidecar.commit()
            result.edf_out = pending.path
    result.elapsed_s = time.perf_counter() - started
    log.info("%s: %d events from %.0f s in %.1f s", file, len(result.lines), result.duration_s,
             result.elapsed_s)
    return result


def replay_or_report(
    path: str | os.PathLike[str],
    options: ReplayOptions,
    classifier: EpisodeClassifier | None = None,
    progress: Callable[[float], None] | None = None,
) -> ReplayResult:
    """Return :func:`replay_file`'s result, or one whose ``error`` says why it failed.

    A recording's failure (unreadable, damaged, a bug met on its data) never raises
    here, so the other recordings of a run go on; Ctrl-C still does.
    """
    started = time.perf_counter()
    try:
        return replay_file(path, options, classifier, progress)
    except UserError as exc:
        error = str(exc)
    except Exception as exc:
        log.debug("%s failed", path, exc_info=True)
        error = f"{type(exc).__name__}: {exc}"
    prefix = f"{path}: "
    error = error.removeprefix(prefix) if error.startswith(prefix) else error
    log.info("%s: not replayed: %s", path, error)
    return ReplayResult(file=str(path), elapsed_s=time.perf_counter() - started, error=error)


def _write_with_gap(writer: EdfPlusWriter, block: SampleBlock) -> None:
    """Write a block to a continuous EDF+, zeros standing in for samples the band lost."""
    if block.lost_samples:
        zeros = np.zeros((block.lost_samples, block.n_channels), dtype=np.float32)
        writer.write_block(SampleBlock(block.group, block.fs_hz,
                                       block.t0_s - block.lost_samples / block.fs_hz,
                                       zeros, block.labels))
        writer.annotate(block.t0_s - block.lost_samples / block.fs_hz,
                        block.lost_samples / block.fs_hz, f"signal lost ({block.group})")
    elif block.gap_before:
        log.warning("%s samples lost before %.3f s in an unknown number: the EDF+ copy is "
                    "shifted in time from here", block.group, block.t0_s)
    writer.write_block(block)


def _collect(result: ReplayResult, file: str, outputs: list[Event | SignalGap],
             options: ReplayOptions, writer: EdfPlusWriter | None,
             prompter: NightPrompter) -> None:
    for output in outputs:
        if isinstance(output, SignalGap):
            result.gaps += 1
            log.warning("%s: signal gap (%s) %.3f-%.3f s, %d samples lost", file, output.group,
                        output.start_s, output.end_s, output.lost_samples)
            continue
        if output.final and writer is not None and output.end_s is not None:
            writer.annotate(output.start_s, output.end_s - output.start_s, _annotation(output))
        result.decisions += prompter.on_event(output)
        if output.final or options.include_provisional:
            result.lines.append(event_line(file, output))


# crampwatch.replay(paths) -> DataFrame of events (crampwatch.frames.replay).
make_callable(__name__, "replay")
