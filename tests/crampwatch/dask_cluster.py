"""A throw-away Dask cluster of real processes on 127.0.0.1: `dask scheduler` and `dask worker`s.

Used by the cluster replay test and bench: the same command-line programs a lab
starts by hand or through dask-jobqueue, on free local ports, torn down after.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

DASK = Path(sys.executable).parent / "dask"


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen, log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dask scheduler exited ({process.returncode}):\n"
                               f"{log.read_text()[-2000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.2)
    raise TimeoutError(f"dask scheduler not listening on {port} after {timeout_s:.0f} s")


def _stop(processes: list[subprocess.Popen]) -> None:
    # Each was started in its own session: its group holds the nanny and its worker.
    for process in processes:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextlib.contextmanager
def dask_cluster(workdir: Path, n_workers: int = 2, timeout_s: float = 120.0) -> Iterator[str]:
    """Yield the address of a running scheduler with ``n_workers`` one-thread workers.

    Logs go to ``workdir``/scheduler.log and worker-N.log.
    """
    from distributed import Client

    workdir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    processes: list[subprocess.Popen] = []
    try:
        log = workdir / "scheduler.log"
        with log.open("wb") as out:
            processes.append(subprocess.Popen(
                [str(DASK), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                 "--no-dashboard"],
                stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True))
        _wait_for_port(port, processes[0], log, timeout_s)
        for i in range(n_workers):
            with (workdir / f"worker-{i}.log").open("wb") as out:
                processes.append(subprocess.Popen(
                    [str(DASK), "worker", address, "--name", f"worker-{i}", "--nthreads", "1",
                     "--nworkers", "1", "--host", "127.0.0.1", "--no-dashboard",
                     "--memory-limit", "0", "--local-directory", str(workdir / f"worker-{i}")],
                    stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True))
        with Client(address, timeout=timeout_s, set_as_default=False) as client:
            client.wait_for_workers(n_workers, timeout=timeout_s)
        yield address
    finally:
        _stop(processes)
