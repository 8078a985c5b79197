"""Replay on an existing Dask cluster: one task per recording, results in the order given.

The cluster is the user's (``dask scheduler`` and ``dask worker`` by hand,
dask-jobqueue on Slurm, the Dask Helm chart or operator on Kubernetes): this module
only connects to its scheduler. Workers need crampwatch installed at the same
version, must see the recordings' paths (a shared file system) or reach their URLs
(fsspec), and must see the ``--edf-out`` folder when one is given. Each recording's
JSON lines come back to this process, which writes them in the order given as soon
as every earlier recording is done, exactly as a local run would.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from crampwatch.errors import UserError
from crampwatch.pipeline import load_classifier
from crampwatch.replay import ReplayOptions, ReplayResult, replay_or_report
from models.classifier import EpisodeClassifier

try:
    import distributed
except ImportError:
    raise UserError("--scheduler needs Dask's distributed package: "
                    "pip install 'crampwatch[cluster]'") from None

log = logging.getLogger(__name__)

PLUGIN_NAME = "crampwatch-replay"
# Workers report a recording's progress at most this often (one small message each).
PROGRESS_INTERVAL_S = 1.0
CONNECT_TIMEOUT_S = 15.0
# Packages whose versions decide the events: a worker with others gives other results.
RESULT_PACKAGES = ("crampwatch", "numpy", "scipy", "scikit-learn", "skops", "pyedflib")
# How often the client looks for finished tasks and progress messages.
POLL_S = 0.2


class ReplayWorkerPlugin(distributed.WorkerPlugin):
    """Keeps a worker's classifiers: each is loaded once per worker, not once per night."""

    name = PLUGIN_NAME

    def __init__(self) -> None:
        self._classifiers: dict[str, EpisodeClassifier] = {}
        self._lock: threading.Lock | None = None

    def setup(self, worker: Any) -> None:
        self._classifiers = {}
        self._lock = threading.Lock()

    def teardown(self, worker: Any) -> None:
        self._classifiers.clear()

    def classifier(self, spec: str) -> EpisodeClassifier:
        """Return the classifier named by ``spec`` ("model", "rules" or a model path)."""
        lock = self._lock or threading.Lock()
        with lock:
            if spec not in self._classifiers:
                self._classifiers[spec] = load_classifier(spec)
            return self._classifiers[spec]


def _replay_task(index: int, path: str, options: ReplayOptions, topic: str) -> ReplayResult:
    """Replay one recording on a worker; progress goes to the client as ``topic`` events."""
    from distributed import get_worker

    worker = get_worker()
    plugin = worker.plugins.get(PLUGIN_NAME)
    try:
        if isinstance(plugin, ReplayWorkerPlugin):
            classifier = plugin.classifier(options.classifier)
        else:
            classifier = load_classifier(options.classifier)
    except UserError as exc:
        return ReplayResult(file=path, error=f"on worker {worker.address}: {exc}")
    last = [0.0]

    def report(seconds: float) -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_INTERVAL_S:
            last[0] = now
            worker.log_event(topic, (index, seconds))

    return replay_or_report(path, options, classifier, report)


def connect(address: str) -> Any:
    """Return a dask.distributed Client connected to the scheduler at ``address``."""
    try:
        return distributed.Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise UserError(
            f"cannot reach the Dask scheduler at {address} ({exc}); is `dask scheduler` "
            "running there and its port (8786 by default) open from here?"
        ) from None


def replay_on_cluster(
    paths: Sequence[str],
    options: ReplayOptions,
    scheduler: str,
    progress: Callable[[int, float], None] | None = None,
    status: Callable[[dict[str, int]], None] | None = None,
) -> Iterator[ReplayResult]:
    """Yield each recording's result in the order given, each replayed as one cluster task.

    ``progress(index, seconds_done)`` is called as recordings advance on the workers;
    ``status`` with the cluster's worker and thread counts and this run's tasks done.
    A recording that fails (unreadable, or its worker died) is yielded with ``error``.
    """
    if not paths:
        return
    client = connect(scheduler)
    futures: list[Any] = []
    try:
        _warn_on_version_mismatch(client)
        client.register_plugin(ReplayWorkerPlugin(), name=PLUGIN_NAME)
        topic = f"crampwatch-replay-{uuid.uuid4().hex}"
        messages: queue.SimpleQueue[tuple[int, float]] = queue.SimpleQueue()
        client.subscribe_topic(topic, lambda event: messages.put(event[1]))
        token = uuid.uuid4().hex[:8]
        futures = [
            client.submit(_replay_task, i, str(path), options, topic, pure=False,
                          key=f"crampwatch-replay-{Path(str(path)).name}-{i}-{token}")
            for i, path in enumerate(paths)
        ]
        index_of = {f.key: i for i, f in enumerate(futures)}
        finished = distributed.as_completed(futures, loop=client.loop)
        results: dict[int, ReplayResult] = {}
        next_index = 0
        last_status = 0.0
        warned_no_workers = False
        while next_index < len(futures):
            for future in finished.next_batch(block=False):
                i = index_of[future.key]
                results[i] = _result_of(future, str(paths[i]), client, scheduler)
                futures[i] = None  # let the cluster forget the task's result
                future.release()
                if progress is not None:
                    progress(i, results[i].duration_s)
                _check_edf_out(results[i])
            while next_index in results:
                yield results.pop(next_index)
                next_index += 1
            while True:
                try:
                    i, seconds = messages.get_nowait()
                except queue.Empty:
                    break
                if progress is not None and i >= next_index and i not in results:
                    progress(i, seconds)
            now = time.monotonic()
            if now - last_status >= 2.0:
                last_status = now
                try:
                    workers = client.nthreads()  # {worker address: threads}, a small reply
                except (OSError, TimeoutError) as exc:
                    if client.status not in ("closing", "closed"):
                        continue
                    # The scheduler is gone for good: what is done is kept, the rest named.
                    for i in range(next_index, len(futures)):
                        if i not in results:
                            results[i] = ReplayResult(
                                file=str(paths[i]), error=f"the Dask scheduler at {scheduler} "
                                f"went away before this recording was done ({exc})")
                            futures[i] = None
                    continue
                if not workers and not warned_no_workers:
                    warned_no_workers = True
                    log.warning("the cluster at %s has no workers yet: the recordings wait "
                                "for one", scheduler)
                if status is not None:
                    status({"workers": len(workers),
                            "threads": sum(workers.values()),
                            "done": next_index + len(results), "total": len(futures)})
            if next_index < len(futures) and next_index not in results:
                time.sleep(POLL_S)
    finally:
        pending = [f for f in futures if f is not None]
        with contextlib.suppress(OSError, TimeoutError), _quiet_if_lost(client):
            if pending and client.status == "running":
                client.cancel(pending)
            client.close()


@contextlib.contextmanager
def _quiet_if_lost(client: Any) -> Iterator[None]:
    """Silence distributed's tracebacks of its cancelled reconnection when the scheduler died.

    The loss is already reported per recording; the traceback adds nothing.
    """
    if client.status == "running":
        yield
        return
    loggers = [logging.getLogger(name) for name in ("distributed.utils", "distributed.client")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _warn_on_version_mismatch(client: Any) -> None:
    """Log each worker whose result-deciding packages differ from this machine's."""
    try:
        versions = client.get_versions(packages=list(RESULT_PACKAGES))
    except (OSError, TimeoutError, ValueError) as exc:
        log.warning("could not compare package versions with the workers (%s)", exc)
        return
    mine = versions["client"]["packages"]
    for address, info in versions.get("workers", {}).items():
        theirs = info.get("packages", {})
        differ = [f"{name} {theirs.get(name)} (here {mine.get(name)})"
                  for name in RESULT_PACKAGES if theirs.get(name) != mine.get(name)]
        if differ:
            log.warning("worker %s runs %s: its events may differ from a local run; install "
                        "the same versions there", address, ", ".join(differ))


def _result_of(future: Any, path: str, client: Any, scheduler: str) -> ReplayResult:
    """Return the task's result, or one carrying why the task itself failed."""
    if future.status == "finished":
        result = future.result()
        if isinstance(result, ReplayResult):
            return result
        return ReplayResult(file=path, error=f"the task returned {type(result).__name__}")
    if future.status == "error":
        exc = future.exception()
        # KilledWorker: the worker died replaying this file (out of memory, a crash).
        return ReplayResult(file=path, error=f"{type(exc).__name__} on the cluster: {exc}")
    if client.status != "running":
        return ReplayResult(file=path, error=f"the Dask scheduler at {scheduler} went away "
                                             "before this recording was done")
    return ReplayResult(file=path, error=f"task {future.status} on the cluster")


def _check_edf_out(result: ReplayResult) -> None:
    if result.ok and result.edf_out is not None and not Path(result.edf_out).exists():
        log.warning("%s: the worker wrote %s, which this machine cannot see: give --edf-out "
                    "a folder on a file system the workers and this machine share",
                    result.file, result.edf_out)
