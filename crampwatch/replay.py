"""Replay recorded nights through the live pipeline, as fast as the machine allows.

Each recording is streamed in chunks through :class:`crampwatch.pipeline.Pipeline`
(the same Detector and classifier a live session runs) and its events become JSON
lines (see :func:`event_line`). Several recordings run in parallel worker
processes (or as tasks on a Dask cluster, :mod:`crampwatch.replay_dask`); results
come back in the order the recordings were given. A recording that cannot be read
or fails comes back as a result carrying its error, never stopping the others, and
output files appear only complete (:class:`PendingFile`).
"""

from __future__ import annotations

import contextlib
import logging
import math
import multiprocessing
import os
import queue
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from crampwatch import events_tsv
from crampwatch.errors import UserError
from crampwatch.event_json import event_to_json
from crampwatch.frames import make_callable
from crampwatch.pipeline import build_pipeline, load_classifier
from crampwatch.prompt.night_clock import NightPrompter, event_prompts, no_prompt
from crampwatch.prompt.params import PromptParams
from crampwatch.prompt.policy import PromptDecision, PromptPolicy
from crampwatch.recordings.capture_source import CAPTURE_SUFFIX, CaptureRecording, is_capture
from crampwatch.recordings.edf_reader import (
    DEFAULT_CHUNK_S,
    EdfRecording,
    RecordingError,
    header_duration_s,
)
from crampwatch.recordings.edf_writer import EdfPlusWriter, SignalSpec
from models import DEFAULT_CLASSIFIER
from models.classifier import EpisodeClassifier
from sensor.quality import SignalQuality
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


class PendingFile:
    """A file written under a temporary name beside ``path`` and moved onto it by commit().

    Until commit() an existing file at ``path`` is left exactly as it was; a pending
    file that is closed uncommitted (an error, Ctrl-C) is deleted. The temporary name
    starts with a dot and ends in ``.partial``, so folder replays never pick it up.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise UserError(f"{self.path}: is a folder; give a file name to write")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle, name = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.",
                                            suffix=".partial")
        except OSError as exc:
            raise UserError(f"{self.path}: cannot write here ({exc.strerror or exc})") from None
        os.close(handle)
        self.temp_path = Path(name)
        self._done = False

    def commit(self) -> None:
        """Move the written file onto ``path`` (atomic on one file system)."""
        if self._done:
            return
        # mkstemp makes the file 0600: give it the mode an ordinary open() would have,
        # or the mode of the file it replaces.
        if self.path.exists():
            shutil.copymode(self.path, self.temp_path)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(self.temp_path, 0o666 & ~umask)
        os.replace(self.temp_path, self.path)
        self._done = True

    def discard(self) -> None:
        """Delete the temporary file; ``path`` is untouched."""
        if not self._done:
            self.temp_path.unlink(missing_ok=True)
            self._done = True

    def __enter__(self) -> PendingFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.discard()


def event_line(file: str, event: Event) -> dict[str, Any]:
    """Return the JSON object replay writes for one event: the recording, then the
    event's shared JSON (:func:`crampwatch.event_json.event_to_json`)."""
    return {"file": file, **event_to_json(event)}


def is_url(path: str | os.PathLike[str]) -> bool:
    """Return True for an fsspec URL (``s3://bucket/night.edf``), False for a local path."""
    return "://" in str(path)


@contextlib.contextmanager
def local_copy(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a local path for ``path``: itself, or for a URL a temporary copy (deleted after).

    The EDF reader needs a real file; URLs are fetched through fsspec, which must be
    installed with the scheme's backend (s3fs, gcsfs, ...) where the replay runs.
    """
    if not is_url(path):
        yield Path(path)
        return
    fsspec = _import_fsspec()
    url = str(path)
    suffix = Path(url.split("?", 1)[0]).suffix
    handle, name = tempfile.mkstemp(prefix="crampwatch-", suffix=suffix)
    try:
        try:
            with fsspec.open(url, "rb") as src, os.fdopen(handle, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 22)
        except (OSError, ValueError, ImportError) as exc:
            raise RecordingError(f"{url}: cannot fetch ({exc})") from None
        try:
            yield Path(name)
        except RecordingError as exc:
            # Name the recording the user gave, not the temporary copy.
            raise RecordingError(str(exc).replace(name, url)) from None
    finally:
        Path(name).unlink(missing_ok=True)


def _import_fsspec() -> Any:
    try:
        import fsspec
    except ImportError:
        raise UserError("recordings given as URLs need fsspec: pip install "
                        "'crampwatch[cluster]' (and s3fs/gcsfs for those stores)") from None
    return fsspec


def stated_duration_s(path: str | os.PathLike[str]) -> float:
    """Return a recording's length (s) as its EDF header states it; 0 when it cannot say.

    Reads 256 bytes (through fsspec for a URL), so sizing a run costs no full read.
    """
    try:
        if is_url(path):
            with _import_fsspec().open(str(path), "rb") as fh:
                header = fh.read(256)
        else:
            with open(path, "rb") as fh:
                header = fh.read(256)
    except (OSError, ValueError, ImportError, UserError):
        return 0.0
    return header_duration_s(header) or 0.0


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


def quality_path(events: Path) -> Path:
    """Return the signal-quality sidecar of a JSON-lines events file (``<events>.quality.json``)."""
    return events.with_name(events.name + ".quality.json")


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


def expand_paths(paths: Sequence[str | os.PathLike[str]]) -> list[str]:
    """Return the recordings named: files as given, folders as their EDF/BDF files (sorted).

    A URL (``s3://bucket/cohort/``) is listed through fsspec the same way.
    """
    found: list[str] = []
    for raw in paths:
        if is_url(raw):
            found.extend(_expand_url(str(raw)))
            continue
        path = Path(raw)
        if path.is_dir():
            inside = sorted(p for p in path.iterdir()
                            if p.is_file() and p.suffix.lower() in RECORDING_SUFFIXES)
            if not inside:
                raise UserError(f"{path}: no EDF/BDF recordings in this folder")
            found.extend(str(p) for p in inside)
        elif path.is_file():
            found.append(str(path))
        else:
            raise UserError(f"{path}: no such file or folder")
    return found


def _expand_url(url: str) -> list[str]:
    fsspec = _import_fsspec()
    try:
        fs, root = fsspec.core.url_to_fs(url)
        if fs.isdir(root):
            inside = sorted(name for name in fs.ls(root, detail=False)
                            if Path(name).suffix.lower() in RECORDING_SUFFIXES)
            if not inside:
                raise UserError(f"{url}: no EDF/BDF recordings in this folder")
            return [fs.unstrip_protocol(name) for name in inside]
        if fs.isfile(root):
            return [url]
    except (OSError, ValueError, ImportError) as exc:
        raise UserError(f"{url}: cannot list ({exc})") from None
    raise UserError(f"{url}: no such file or folder")


def replay_all(
    paths: Sequence[str],
    options: ReplayOptions,
    jobs: int | None = None,
    scheduler: str | None = None,
    progress: Callable[[int, float], None] | None = None,
    status: Callable[[dict[str, int]], None] | None = None,
) -> Iterator[ReplayResult]:
    """Yield each recording's result in the order given: local processes, or a Dask cluster.

    With ``scheduler`` (``tcp://host:8786``) every recording is one task on that
    cluster (see :mod:`crampwatch.replay_dask`; ``status`` hears of its workers);
    otherwise up to ``jobs`` at once here.
    """
    if scheduler:
        from crampwatch.replay_dask import replay_on_cluster

        yield from replay_on_cluster(paths, options, scheduler, progress, status)
    else:
        yield from replay_many(paths, options, jobs, progress)


@dataclass(frozen=True)
class RunSummary:
    """What a run replayed: recordings, hours of signal, wall time and throughput."""

    replayed: int
    failed: int
    signal_s: float
    wall_s: float

    @property
    def hours(self) -> float:
        return self.signal_s / 3600.0

    def text(self) -> str:
        """Return one line: hours of signal, wall time, real-time factor, hours per minute."""
        wall = max(self.wall_s, 1e-9)
        return (f"{self.hours:.2f} h of signal in {self.wall_s:.1f} s wall time: "
                f"{self.signal_s / wall:.0f}x real time, {60.0 * self.hours / wall:.2f} h "
                "per minute")


def failure_report(failures: Sequence[ReplayResult]) -> str:
    """Return the list of recordings not replayed, one per line with its reason."""
    lines = [f"{len(failures)} recording(s) not replayed:"]
    lines += [f"  {r.file}: {r.error}" for r in failures]
    return "\n".join(lines)


# -- parallel replay ----------------------------------------------------------------

# One worker process's state: its progress queue and the classifier it loaded once.
_worker_state: dict[str, Any] = {}


def _init_worker(progress_queue: Any) -> None:
    _worker_state["progress"] = progress_queue


def _worker(index: int, path: str, options: ReplayOptions) -> ReplayResult:
    progress_queue = _worker_state.get("progress")

    def report(seconds: float) -> None:
        if progress_queue is not None:
            progress_queue.put((index, seconds))

    try:
        classifier = _worker_state.get(options.classifier)
        if classifier is None:
            classifier = _worker_state[options.classifier] = load_classifier(options.classifier)
    except UserError as exc:
        return ReplayResult(file=path, error=str(exc))
    return replay_or_report(path, options, classifier, progress=report)


def replay_many(
    paths: Sequence[str | os.PathLike[str]],
    options: ReplayOptions,
    jobs: int | None = None,
    progress: Callable[[int, float], None] | None = None,
) -> Iterator[ReplayResult]:
    """Yield each recording's result in the order given, replaying up to ``jobs`` at once.

    ``progress(index, seconds_done)`` is called as recordings advance. A recording
    that fails is yielded as a result with its ``error``; the others go on.
    """
    if not paths:
        return
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(paths)))
    if jobs == 1:
        classifier = load_classifier(options.classifier)
        for i, path in enumerate(paths):
            yield replay_or_report(path, options, classifier,
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
                    try:
                        result = futures[next_index].result()
                    except Exception as exc:  # the worker process died (BrokenProcessPool)
                        result = ReplayResult(file=str(paths[next_index]),
                                              error=f"{type(exc).__name__}: {exc}")
                    yield result
                    next_index += 1
        finally:
            for f in futures:
                f.cancel()


# crampwatch.replay(paths) -> DataFrame of events (crampwatch.frames.replay).
make_callable(__name__, "replay")
