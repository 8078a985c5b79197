"""Replay recorded nights through the live pipeline, as fast as the machine allows.

Each recording is streamed in chunks through :class:`crampwatch.pipeline.Pipeline`
(the same Detector and classifier a live session runs) and its events become JSON
lines (see :func:`event_line`). Several recordings run in parallel worker
processes; results come back in the order the recordings were given.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import queue
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from crampwatch.errors import UserError
from crampwatch.pipeline import FIRST_CRAMP_CALL, KNOWN_AT, Pipeline
from crampwatch.recordings.capture_source import CAPTURE_SUFFIX, CaptureRecording, is_capture
from crampwatch.recordings.edf_reader import DEFAULT_CHUNK_S, EdfRecording, RecordingError
from crampwatch.recordings.edf_writer import EdfPlusWriter, SignalSpec
from models.classifier import EpisodeClassifier
from sensor.detector import DETECTOR_VERSION, Detector, DetectorConfig
from sensor.records import Event, SampleBlock, SignalGap

log = logging.getLogger(__name__)

RECORDING_SUFFIXES = (".edf", ".bdf", ".rec", CAPTURE_SUFFIX)


@dataclass(frozen=True)
class ReplayOptions:
    """How to replay: channel choice, chunking, which events, classifier, EDF+ output."""

    emg_labels: tuple[str, ...] | None = None
    acc_labels: tuple[str, ...] | None = None
    chunk_s: float = DEFAULT_CHUNK_S
    include_provisional: bool = False
    classifier: str = "model"  # "model" (shipped, rules if missing), "rules", or a model path
    edf_out: Path | None = None


@dataclass
class ReplayResult:
    """The JSON lines of one recording and what happened while replaying it."""

    file: str
    lines: list[dict[str, Any]] = field(default_factory=list)
    duration_s: float = 0.0
    elapsed_s: float = 0.0
    gaps: int = 0
    edf_out: Path | None = None


def load_classifier(spec: str) -> EpisodeClassifier:
    """Return the classifier named by ``spec``: "model", "rules" or a model file path."""
    import models
    from models.persistence import ModelFileError
    from models.rules import RuleClassifier

    if spec == "rules":
        return RuleClassifier()
    try:
        if spec == "model":
            return models.load_default(fallback_to_rules=True)
        return models.load_default(spec)
    except ModelFileError as exc:
        raise UserError(f"cannot load classifier {spec!r}: {exc}") from None


def build_pipeline(
    classifier: EpisodeClassifier,
    session_id: str,
    has_acc: bool,
    config: DetectorConfig | None = None,
) -> Pipeline:
    """Return a fresh Pipeline (new Detector) for one session, with or without accelerometer."""
    detector = Detector(config or DetectorConfig(), expect_acc=has_acc)
    return Pipeline(detector, classifier, session_id, detector_version=DETECTOR_VERSION)


def _number(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def event_line(file: str, event: Event) -> dict[str, Any]:
    """Return the JSON object replay writes for one event (NaN written as null)."""
    features = {k: _number(v) for k, v in event.features.items()
                if k not in (KNOWN_AT, FIRST_CRAMP_CALL)}
    return {
        "file": file,
        "start_s": event.start_s,
        "end_s": event.end_s,
        "kind": str(event.kind),
        "channel": event.channel.label,
        "confidence": event.confidence,
        "final": event.final,
        "event_id": event.event_id,
        "muscle": str(event.channel.muscle),
        "side": str(event.channel.side),
        "known_at_s": _number(event.features.get(KNOWN_AT)),
        "first_cramp_call_s": _number(event.features.get(FIRST_CRAMP_CALL)),
        "detector_version": event.detector_version,
        "model_version": event.model_version,
        "features": features,
    }


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
    return f"crampwatch: {event.kind} {event.confidence:.2f}"


def replay_file(
    path: str | os.PathLike[str],
    options: ReplayOptions,
    classifier: EpisodeClassifier | None = None,
    progress: Callable[[float], None] | None = None,
) -> ReplayResult:
    """Return the events of one recording replayed through the pipeline, as JSON lines.

    ``progress`` is called with the recording seconds processed after each chunk.
    """
    file = str(path)
    started = time.perf_counter()
    classifier = classifier or load_classifier(options.classifier)
    with open_recording(path, options.emg_labels, options.acc_labels) as rec:
        pipeline = build_pipeline(classifier, Path(file).stem, has_acc=bool(rec.acc))
        result = ReplayResult(file=file, duration_s=rec.duration_s)
        writer = None
        if options.edf_out is not None:
            options.edf_out.mkdir(parents=True, exist_ok=True)
            result.edf_out = options.edf_out / f"{Path(file).stem}.events.edf"
            specs = [SignalSpec(h.label, "uV", h.fs_hz, h.physical_min, h.physical_max)
                     for h in rec.emg]
            specs += [SignalSpec(h.label, "g", h.fs_hz, h.physical_min, h.physical_max)
                      for h in rec.acc]
            writer = EdfPlusWriter(result.edf_out, specs, start=rec.start_datetime,
                                   record_s=_record_s([s.fs_hz for s in specs]))
            for ann in rec.annotations():
                writer.annotate(ann.onset_s, ann.duration_s, ann.text)
        try:
            for index, block in enumerate(rec.blocks(options.chunk_s)):
                if writer is not None:
                    _write_with_gap(writer, block)
                _collect(result, file, pipeline.process(block), options, writer)
                if index == 0:
                    log.info("%s: %s", file, pipeline.detector.describe_channels())
                if progress is not None and block.group == "emg":
                    progress(block.t_end_s)
            _collect(result, file, pipeline.finish(), options, writer)
        finally:
            if writer is not None:
                writer.close()
    result.elapsed_s = time.perf_counter() - started
    log.info("%s: %d events from %.0f s in %.1f s", file, len(result.lines), result.duration_s,
             result.elapsed_s)
    return result


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
             options: ReplayOptions, writer: EdfPlusWriter | None) -> None:
    for output in outputs:
        if isinstance(output, SignalGap):
            result.gaps += 1
            log.warning("%s: signal gap (%s) %.3f-%.3f s, %d samples lost", file, output.group,
                        output.start_s, output.end_s, output.lost_samples)
            continue
        if output.final and writer is not None and output.end_s is not None:
            writer.annotate(output.start_s, output.end_s - output.start_s, _annotation(output))
        if output.final or options.include_provisional:
            result.lines.append(event_line(file, output))


def expand_paths(paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """Return the recordings named: files as given, folders as their EDF/BDF files (sorted)."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            inside = sorted(p for p in path.iterdir()
                            if p.is_file() and p.suffix.lower() in RECORDING_SUFFIXES)
            if not inside:
                raise UserError(f"{path}: no EDF/BDF recordings in this folder")
            found.extend(inside)
        elif path.is_file():
            found.append(path)
        else:
            raise UserError(f"{path}: no such file or folder")
    return found


# -- parallel replay ----------------------------------------------------------------

_progress_queue: Any = None


def _init_worker(progress_queue: Any) -> None:
    global _progress_queue
    _progress_queue = progress_queue


def _worker(index: int, path: str, options: ReplayOptions) -> ReplayResult:
    def report(seconds: float) -> None:
        if _progress_queue is not None:
            _progress_queue.put((index, seconds))

    return replay_file(path, options, progress=report)


def replay_many(
    paths: Sequence[Path],
    options: ReplayOptions,
    jobs: int | None = None,
    progress: Callable[[int, float], None] | None = None,
) -> Iterator[ReplayResult]:
    """Yield each recording's result in the order given, replaying up to ``jobs`` at once.

    ``progress(index, seconds_done)`` is called as recordings advance. A recording
    that fails raises its error once the recordings before it have been yielded.
    """
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(paths)))
    if jobs == 1:
        classifier = load_classifier(options.classifier)
        for i, path in enumerate(paths):
            yield replay_file(path, options, classifier,
                              progress=(lambda s, i=i: progress(i, s)) if progress else None)
        return
    context = multiprocessing.get_context("spawn")
    progress_queue = context.Queue()
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=_init_worker,
                             initargs=(progress_queue,)) as pool:
        futures: list[Future[ReplayResult]] = [
            pool.submit(_worker, i, str(p), options) for i, p in enumerate(paths)
        ]
        next_index = 0
        try:
            while next_index < len(futures):
                try:
                    index, seconds = progress_queue.get(timeout=0.2)
                    if progress is not None:
                        progress(index, seconds)
                except queue.Empty:
                    pass
                while next_index < len(futures) and futures[next_index].done():
                    yield futures[next_index].result()
                    next_index += 1
        finally:
            for f in futures:
                f.cancel()
