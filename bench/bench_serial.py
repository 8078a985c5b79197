"""Serial path throughput: virtual band on a pty (own process) -> pyserial -> SerialLink.

Streams the reference configuration (2 EMG channels x 2 kHz, int16, plus a 3-axis
accelerometer at 100 Hz) for ``--seconds`` of signal at ``--speed`` x real time and
prints: packets/s and samples/s delivered, loss split into explained (faults the
band was told to inject) and unexplained, and the latency from the band sampling a
packet's newest sample (its device timestamp, mapped through the band's own clock) to
the block reaching the consumer, p50/p99/max.

    .venv/bin/python bench/bench_serial.py                 # 60 s at 10x
    .venv/bin/python bench/bench_serial.py --drop-every 200 --corrupt-every 333
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from firmware_bridge.capture import CaptureReader, CaptureWriter
from firmware_bridge.clock import ClockParams
from firmware_bridge.events import FramesDropped
from firmware_bridge.serial_link import SerialLink
from sensor.records import SampleBlock, SignalGap, SignalGroup

EMG_RATE_HZ = 2000.0
ACC_RATE_HZ = 100.0


def _band_process(conn, seconds: float, speed: float, drop_every: int, corrupt_every: int) -> None:
    """Child: serve the band on a pty, report its clock, inject faults, report what it did."""
    from firmware_bridge.pty_band import PtyBand
    from firmware_bridge.virtual_band import ArraySource, VirtualBand

    rng = np.random.default_rng(0)
    n = int(seconds * EMG_RATE_HZ)
    emg = rng.normal(0, 40, (n, 2))
    acc = rng.normal(0, 0.2, (int(seconds * ACC_RATE_HZ), 3))
    band = VirtualBand(ArraySource(emg, EMG_RATE_HZ, ("EMG R Gastroc", "EMG R Tib Ant"),
                                   acc, ACC_RATE_HZ), speed=speed)
    with PtyBand(band) as served:
        conn.send((served.port, band.boot_host_us, band.config.boot_offset_us,
                   band.frames_per_packet))
        drops = corrupts = 0
        while not conn.poll(0.005):
            sent = band.packets_sent + len(band.faults.dropped_seqs)
            if drop_every and sent // drop_every > drops:
                band.drop_next(1)
                drops += 1
            if corrupt_every and sent // corrupt_every > corrupts:
                band.corrupt_next(1)
                corrupts += 1
        conn.recv()
        conn.send({
            "emg_sampled": band.samples_taken(SignalGroup.EMG),
            "packets_sent": band.packets_sent,
            "dropped": len(band.faults.dropped_seqs),
            "corrupted": len(band.faults.corrupted_seqs),
            "overflow_bytes": served.overflow_bytes,
        })


async def _consume(port: str, total_emg: int, speed: float, boot_host_us: int, boot_dev_us: int,
                   capture_path: Path):
    link = SerialLink(port, clock=ClockParams(device_speed=speed),
                      capture=CaptureWriter(capture_path))
    latencies_ms: list[float] = []
    digest = hashlib.sha256()
    delivered = reported_lost = highest = 0
    packets_gap_events = corrupt_reports = 0
    async with link:
        t0_dev_us = await link.start()
        wall0 = time.perf_counter()
        cpu0 = time.process_time()
        async for item in link:
            now_us = time.time_ns() // 1000
            if isinstance(item, SampleBlock) and item.group == SignalGroup.EMG:
                # Index of the block's newest sample, from the session clock (no drift).
                last_index = round(item.t0_s * EMG_RATE_HZ) + item.n_samples - 1
                sampled_dev = t0_dev_us + last_index * 1e6 / EMG_RATE_HZ
                sampled_host = boot_host_us + (sampled_dev - boot_dev_us) / speed
                latencies_ms.append((now_us - sampled_host) / 1000)
                delivered += item.n_samples
                digest.update(item.samples.tobytes())
                highest = max(highest, last_index + 1)
                if delivered + reported_lost >= total_emg - 60:
                    break
            elif isinstance(item, SignalGap) and item.group == SignalGroup.EMG:
                reported_lost += item.lost_samples
                packets_gap_events += 1
            elif isinstance(item, FramesDropped):
                corrupt_reports += item.count
        wall = time.perf_counter() - wall0
        cpu = time.process_time() - cpu0
        stats = link.assembler.stats
    return {
        "highest": highest, "wall_s": wall, "cpu_s": cpu, "delivered": delivered,
        "reported_lost": reported_lost,
        "gap_events": packets_gap_events, "bad_frames": corrupt_reports,
        "packets": stats.packets, "packets_lost": stats.packets_lost,
        "latency_ms": np.array(latencies_ms), "digest": digest.hexdigest(),
    }


def _replay(path: Path, speed: float, n_emg: int) -> tuple[float, int, bool, str]:
    """Return (seconds, packets, bit-exact?, digest) replaying a capture's EMG blocks."""
    reader = CaptureReader(path, clock=ClockParams(device_speed=speed))
    digest = hashlib.sha256()
    seen = 0
    t = time.perf_counter()
    for block in reader.blocks():
        if block.group == SignalGroup.EMG and seen < n_emg:
            digest.update(block.samples.tobytes())
            seen += block.n_samples
    elapsed = time.perf_counter() - t
    assert reader.stats is not None
    return elapsed, reader.stats.packets, seen >= n_emg, digest.hexdigest()


def main() -> int:
    """Run the bench and print its figures; return 0."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="seconds of signal (default 60)")
    ap.add_argument("--speed", type=float, default=10.0, help="x real time (default 10)")
    ap.add_argument("--drop-every", type=int, default=0, help="drop 1 packet in N (explained loss)")
    ap.add_argument("--corrupt-every", type=int, default=0, help="corrupt 1 frame in N")
    args = ap.parse_args()

    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_band_process, args=(child, args.seconds, args.speed,
                                                   args.drop_every, args.corrupt_every))
    proc.start()
    port, boot_host_us, boot_dev_us, per_packet = parent.recv()
    total = int(args.seconds * EMG_RATE_HZ)
    with tempfile.TemporaryDirectory() as tmp:
        capture = Path(tmp) / "bench.cwcap"
        res = asyncio.run(_consume(port, total, args.speed, boot_host_us, boot_dev_us, capture))
        replay_s, replay_packets, _, replay_digest = _replay(capture, args.speed,
                                                             res["delivered"])
    parent.send("stop")
    band = parent.recv()
    proc.join(10)

    lat = res["latency_ms"]
    lost_by_faults = (band["dropped"] + band["corrupted"]) * per_packet
    # Samples the band took up to the last delivered one that neither arrived nor were
    # reported lost: silent loss, the kind that must be zero.
    covered = max(res["highest"], 1)
    silent = res["highest"] - res["delivered"] - res["reported_lost"]
    unexplained_reported = max(0, res["reported_lost"] - lost_by_faults)
    print(f"serial bench: {args.seconds:g} s of 2 EMG x {EMG_RATE_HZ:g} Hz + ACC "
          f"{ACC_RATE_HZ:g} Hz at {args.speed:g}x via pty + pyserial")
    print(f"  wall {res['wall_s']:.2f} s, host process CPU {res['cpu_s']:.2f} s "
          f"({100 * res['cpu_s'] / res['wall_s']:.0f} % of a core), "
          f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    print(f"  packets received {res['packets']} = {res['packets'] / res['wall_s']:.0f} packets/s, "
          f"EMG {res['delivered'] / res['wall_s']:.0f} samples/s "
          f"({res['delivered'] / res['wall_s'] / EMG_RATE_HZ:.1f}x real time)")
    print(f"  band sent {band['packets_sent']} packets; injected: {band['dropped']} dropped, "
          f"{band['corrupted']} corrupted ({lost_by_faults} EMG samples)")
    print(f"  loss: reported {res['reported_lost']} EMG samples in {res['gap_events']} gaps "
          f"({res['packets_lost']} packets, {res['bad_frames']} bad frames); explained by "
          f"injected faults {min(res['reported_lost'], lost_by_faults)}, unexplained "
          f"{unexplained_reported} ({100 * unexplained_reported / covered:.3f} %)")
    print(f"  silent loss (neither delivered nor reported as a gap): {silent} samples")
    print(f"  latency device timestamp -> block delivered: p50 {np.percentile(lat, 50):.2f} ms, "
          f"p99 {np.percentile(lat, 99):.2f} ms, max {lat.max():.2f} ms "
          f"({len(lat)} blocks)")
    night_packets = 8 * 3600 * res["packets"] / args.seconds
    print(f"  capture replay: {replay_packets} packets in {replay_s:.2f} s "
          f"({replay_packets / replay_s:.0f} packets/s, an 8-h night in "
          f"~{night_packets / (replay_packets / replay_s):.0f} s); EMG bit-exact with the live "
          f"blocks: {'yes' if replay_digest == res['digest'] else 'NO'}")
    if band["overflow_bytes"]:
        print(f"  WARNING: the band discarded {band['overflow_bytes']} bytes nobody read")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
