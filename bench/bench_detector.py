"""Detector speed: live cost per 20 ms block, and replay throughput and memory of a night.

Prints (never asserts) the figures for the issue's budgets:
(a) live: one 20 ms block of 2 EMG channels at 2 kHz plus ACC (3 axes, 100 Hz), median
    and p99 in microseconds (target <= 100 us);
(b) replay: an 8-hour, 2-channel, 2 kHz night with ACC, fed in 60 s chunks, as a
    real-time factor (target >= 5,000x on one core) and peak traced memory for 1 hour
    and 8 hours (target: does not grow with the night's length).
The night is generated chunk by chunk from a small pool of recorded-like noise chunks
(resting EMG plus bursts), never held whole.

Run: .venv/bin/python bench/bench_detector.py [--hours 8] [--live-seconds 120]
"""

from __future__ import annotations

import argparse
import os
import time
import tracemalloc
from collections.abc import Iterator

import numpy as np
from scipy import signal

from sensor import Detector
from sensor.records import SampleBlock, SignalGroup

FS_HZ = 2000.0
ACC_FS_HZ = 100.0
LABELS = ("EMG R Gastroc", "EMG R Tib Ant")
ACC_LABELS = ("acc x", "acc y", "acc z")
CHUNK_S = 60.0


def _pool(n_chunks: int, seed: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Return EMG (n, 2) and ACC (n, 3) chunks of CHUNK_S: rest EMG, the first with bursts.

    The active chunk holds a 20 s calf contraction and a series of 5 shin bursts, so a
    night cycling through the pool has 12 such minutes an hour (far busier than a real
    night: the busy figure is the conservative one).
    """
    rng = np.random.default_rng(seed)
    sos = signal.butter(2, [30.0, 200.0], btype="bandpass", fs=FS_HZ, output="sos")
    n = int(CHUNK_S * FS_HZ)
    emg, acc = [], []
    t = np.arange(n) / FS_HZ
    for i in range(n_chunks):
        x = signal.sosfilt(sos, rng.standard_normal((n, 2)), axis=0)
        x *= 3.0 / x.std(axis=0)
        x += 20.0 * np.sin(2 * np.pi * 50.0 * t)[:, None]  # mains hum
        if i == 0:  # a 20 s contraction on the calf, bursts on the shin
            a, b = int(10 * FS_HZ), int(30 * FS_HZ)
            x[a:b, 0] += 150.0 * signal.sosfilt(sos, rng.standard_normal(b - a))
            for s in range(5):
                a = int((40 + 2 * s) * FS_HZ)
                x[a : a + 1000, 1] += 60.0 * signal.sosfilt(sos, rng.standard_normal(1000))
        emg.append(x.astype(np.float32))
        m = int(CHUNK_S * ACC_FS_HZ)
        g = np.array([0.1, 0.05, 0.99]) + 0.01 * rng.standard_normal((m, 3))
        acc.append(g.astype(np.float32))
    return emg, acc


def night(hours: float, chunk_s: float = CHUNK_S) -> Iterator[SampleBlock]:
    """Yield the night's EMG and ACC chunks in time order, built from a reused pool."""
    emg_pool, acc_pool = _pool(5, 1)
    n_chunks = round(hours * 3600 / CHUNK_S)
    for i in range(n_chunks):
        t0 = i * CHUNK_S
        yield SampleBlock(SignalGroup.EMG, FS_HZ, t0, emg_pool[i % 5], LABELS)
        yield SampleBlock(SignalGroup.ACC, ACC_FS_HZ, t0, acc_pool[i % 5], ACC_LABELS)


def replay(hours: float) -> tuple[float, float, int]:
    """Return (wall s, CPU s of detector time, episodes closed) for a night of ``hours``."""
    det = Detector(expect_acc=True)
    wall = cpu = 0.0
    closed = 0
    for block in night(hours):
        t, c = time.perf_counter(), time.thread_time()
        out = det.process(block)
        wall += time.perf_counter() - t
        cpu += time.thread_time() - c
        closed += sum(1 for o in out if getattr(o, "phase", None) == "closed")
    t, c = time.perf_counter(), time.thread_time()
    det.finish()
    wall += time.perf_counter() - t
    cpu += time.thread_time() - c
    return wall, cpu, closed


def peak_memory_mb(hours: float) -> float:
    """Return the peak traced memory (MB) of a replay of ``hours``, blocks included."""
    tracemalloc.start()
    det = Detector(expect_acc=True)
    for block in night(hours):
        det.process(block)
    det.finish()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1e6


def live(seconds: float, active: bool) -> tuple[np.ndarray, np.ndarray]:
    """Return per-20-ms-block (wall, CPU) costs in us of EMG + ACC blocks after 10 s.

    ``active`` repeats the pool's active minute (a contraction and a burst series, with
    episode updates every 0.5 s); otherwise a quiet minute (rest EMG and mains hum).
    """
    emg_pool, acc_pool = _pool(2, 2)
    k = 0 if active else 1
    emg, acc = emg_pool[k], acc_pool[k]
    det = Detector(expect_acc=True)
    costs, cpu = [], []
    n_blocks = int(seconds / 0.02)
    per = emg.shape[0] // 40
    for i in range(n_blocks):
        j = i % per
        t0 = i * 0.02
        eb = SampleBlock(SignalGroup.EMG, FS_HZ, t0, emg[40 * j : 40 * j + 40], LABELS)
        ab = SampleBlock(SignalGroup.ACC, ACC_FS_HZ, t0, acc[2 * j : 2 * j + 2], ACC_LABELS)
        t, c = time.perf_counter(), time.thread_time()
        det.process(eb)
        det.process(ab)
        costs.append(time.perf_counter() - t)
        cpu.append(time.thread_time() - c)
    skip = int(10 / 0.02)
    return np.asarray(costs[skip:]) * 1e6, np.asarray(cpu[skip:]) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=8.0)
    parser.add_argument("--live-seconds", type=float, default=120.0)
    args = parser.parse_args()

    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
          "(wall times inflate under load; CPU times are this process's own)")
    for active in (False, True):
        costs, cpu = live(args.live_seconds, active)
        what = "active minute" if active else "quiet minute"
        for name, c in (("wall", costs), ("CPU", cpu)):
            print(f"live, {what} ({name}): {c.size} blocks of 20 ms (2 EMG ch @ 2 kHz + "
                  f"ACC 3 ch @ 100 Hz): median {np.median(c):.0f} us, p99 "
                  f"{np.percentile(c, 99):.0f} us (target <= 100 us; median "
                  f"{100 * np.median(c) / 20000:.2f} % of a core)")

    wall, cpu_s, episodes = replay(args.hours)
    night_s = args.hours * 3600
    print(f"replay: {args.hours:g} h night (2 EMG ch @ 2 kHz + ACC, 60 s chunks): wall "
          f"{wall:.2f} s = {night_s / wall:,.0f}x real time; CPU {cpu_s:.2f} s = "
          f"{night_s / cpu_s:,.0f}x (target >= 5,000x); {episodes} episodes")
    mem_1h = peak_memory_mb(1.0)
    mem_all = peak_memory_mb(args.hours)
    print(f"replay peak traced memory: {mem_1h:.1f} MB for 1 h, {mem_all:.1f} MB for "
          f"{args.hours:g} h (60 s chunks; should not grow with the night)")


if __name__ == "__main__":
    main()
