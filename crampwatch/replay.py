"""Replay recorded nights through the one night session, as fast as the machine allows.

A recording is the night's source: its blocks, on its own clock, go through a
:class:`crampwatch.night_session.NightSession` (the same pipeline, Detector, classifier
and prompt policy on the night's clock as a live session) to replay's sinks
(:mod:`crampwatch.replay_sinks`): the JSON lines with each final event's ``prompt``,
the signal-quality check, and the EDF+ copy with its events.tsv when asked. No
journal, outbox or status line. Many recordings at once:
:mod:`crampwatch.replay_parallel`; where recordings come from and how output files
appear: :mod:`crampwatch.recording_paths`.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from crampwatch.callable_modules import make_callable
from crampwatch.errors import UserError
from crampwatch.live.pipeline_feed import NEW_STREAM, NewStream, PipelineFeed
from crampwatch.live.session_report import SessionReport
from crampwatch.night_session import NightSession, NightSink
from crampwatch.pipeline import build_pipeline, load_classifier
from crampwatch.prompt.night_clock import NightPrompter
from crampwatch.prompt.params import PromptParams
from crampwatch.prompt.policy import PromptDecision, PromptPolicy
from crampwatch.recording_paths import local_copy
from crampwatch.recordings.capture_source import CaptureRecording, is_capture
from crampwatch.recordings.edf_reader import DEFAULT_CHUNK_S, EdfRecording
from crampwatch.replay_sinks import (
    QUALITY_ANNOTATION,
    EdfPlusCopy,
    EventLines,
    FirstLayoutOnly,
    QualityCheck,
    _record_s,
    event_line,
    sidecar_of,
)
from models import DEFAULT_CLASSIFIER
from models.classifier import EpisodeClassifier
from sensor.records import SampleBlock

__all__ = ["QUALITY_ANNOTATION", "RecordingBlocks", "ReplayOptions", "ReplayResult",
           "_record_s", "build_pipeline", "event_line", "load_classifier", "open_recording",
           "replay_file", "replay_or_report", "sidecar_of"]

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


def open_recording(
    path: str | os.PathLike[str],
    emg_labels: Sequence[str] | None = None,
    acc_labels: Sequence[str] | None = None,
) -> EdfRecording | CaptureRecording:
    """Return the recording at ``path``: a band capture (by its magic bytes) or EDF/EDF+."""
    if is_capture(path):
        return CaptureRecording(path, emg_labels, acc_labels)
    return EdfRecording(path, emg_labels, acc_labels)


class RecordingBlocks:
    """A recording as a night's source: its blocks in order, on its own clock.

    Before a block whose group's layout (rate, labels) changed (a capture whose band
    restarted with other settings) comes :data:`NEW_STREAM`: the night goes on with a
    fresh pipeline for the new layout, as in a live session, and :attr:`warnings` says so.
    """

    def __init__(self, blocks: Iterable[SampleBlock]) -> None:
        self.blocks = blocks
        self.warnings: list[str] = []

    def __iter__(self) -> Iterator[SampleBlock | NewStream]:
        layouts: dict[str, tuple[float, tuple[str, ...]]] = {}
        for block in self.blocks:
            layout = (block.fs_hz, block.labels)
            if layouts.setdefault(block.group, layout) != layout:
                layouts = {block.group: layout}
                self.warnings.append(
                    f"the band restarted at {block.t0_s:.1f} s with another "
                    f"{block.group.value} layout ({block.fs_hz:g} Hz, {list(block.labels)}): "
                    "replayed on with a new pipeline")
                yield NEW_STREAM
            yield block


def replay_file(
    path: str | os.PathLike[str],
    options: ReplayOptions | None = None,
    classifier: EpisodeClassifier | None = None,
    progress: Callable[[float], None] | None = None,
) -> ReplayResult:
    """Return the events of one recording replayed through the night session, as JSON lines.

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
        result = ReplayResult(file=file, duration_s=rec.duration_s, start=rec.start_datetime)
        lines = EventLines(file, options.include_provisional)
        quality = QualityCheck([h.label for h in rec.emg], expect_acc=bool(rec.acc))
        first_layout: list[NightSink] = [quality]
        edf_copy = None
        if options.edf_out is not None:
            edf_copy = EdfPlusCopy(stack, rec, options.edf_out, file, quality.quality)
            first_layout.append(edf_copy)
        stem = Path(file).stem
        make = functools.partial(build_pipeline, classifier, has_acc=bool(rec.acc))
        feed = PipelineFeed(make, stem, SessionReport(stem, 1), retry_refused=False)
        feed.start()
        night = NightSession(feed, NightPrompter(PromptPolicy(options.prompt)),
                             [lines, FirstLayoutOnly(first_layout)])
        source = RecordingBlocks(rec.blocks(options.chunk_s))
        emg_end_s = 0.0
        for index, item in enumerate(source):
            night.step(item)
            if index == 0 and feed.pipeline is not None:
                log.info("%s: %s", file, feed.pipeline.detector.describe_channels())
            if isinstance(item, SampleBlock) and item.group == "emg":
                emg_end_s = item.t_end_s
                if progress is not None:
                    progress(emg_end_s)
        night.end()
        result.lines, result.decisions, result.gaps = lines.lines, lines.decisions, lines.gaps
        result.warnings = quality.quality.warnings() + source.warnings
        for warning in result.warnings:
            log.info("%s: %s", file, warning)
        if not math.isfinite(result.duration_s):  # a capture's length is known once read
            result.duration_s = emg_end_s
        if edf_copy is not None:
            result.edf_out = edf_copy.path
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


# crampwatch.replay(paths) -> DataFrame of events (crampwatch.frames.replay).
make_callable(__name__, "replay")
