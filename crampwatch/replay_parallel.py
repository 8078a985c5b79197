"""Many recordings replayed at once: worker processes here, or tasks on a Dask cluster.

Results come back in the order the recordings were given; a recording that cannot be
read or fails comes back as a result carrying its error, never stopping the others.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from crampwatch.errors import UserError
from crampwatch.pipeline import load_classifier
from crampwatch.replay import ReplayOptions, ReplayResult, replay_or_report


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
