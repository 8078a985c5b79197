"""Throughput and latency of the BLE path: virtual band -> bumble GATT -> bleak -> BleLink.

Streams the reference band (2 EMG channels at 2 kHz int16 + 3-axis ACC at 100 Hz) for
``--seconds`` of signal at ``--speed`` x real time over the in-process VirtualAir, and
prints packets/s, loss and the latency from a sample being taken (device timestamp,
mapped to the host clock exactly, since the virtual band's clock is known) to the
block holding it being delivered to the consumer, p50/p99. ``--profile`` shows where
the time goes.

    .venv/bin/python bench/bench_ble.py                # 60 s of stream at 10x
    .venv/bin/python bench/bench_ble.py --speed 20 --profile
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import time

import numpy as np

from firmware_bridge.ble.air import VirtualAir
from firmware_bridge.ble.bleak_bumble import BumbleBleakClient, BumbleBleakScanner
from firmware_bridge.ble.connection import BandSelector, BleBackend, BleConnectionParams
from firmware_bridge.ble.link import BleLink
from firmware_bridge.ble.virtual_peripheral import BleVirtualBand
from firmware_bridge.clock import ClockParams
from firmware_bridge.events import Disconnected, FramesDropped
from firmware_bridge.virtual_band import ArraySource, VirtualBand, host_clock_us
from sensor.records import SampleBlock, SignalGap, SignalGroup

EMG_HZ, ACC_HZ = 2000.0, 100.0


def reference_source(seconds: float) -> ArraySource:
    """Return seconds of EMG-like noise (2 ch, uV) and a slowly turning ACC (g)."""
    rng = np.random.default_rng(7)
    emg = rng.normal(0.0, 40.0, (int(seconds * EMG_HZ), 2))
    m = int(seconds * ACC_HZ)
    phase = np.arange(m) / ACC_HZ
    acc = np.column_stack([np.sin(phase), np.cos(phase), rng.normal(0.0, 0.02, m)])
    return ArraySource(emg, EMG_HZ, ("EMG R Gastroc", "EMG R Tib Ant"), acc, ACC_HZ)


async def run(seconds: float, speed: float) -> dict[str, float]:
    source = reference_source(seconds)
    band = VirtualBand(source, speed=speed)
    air = VirtualAir()
    emg_total = int(seconds * EMG_HZ)
    acc_total = int(seconds * ACC_HZ)
    latencies_us: list[float] = []
    counts = {"emg": 0, "acc": 0, "lost_emg": 0, "lost_acc": 0, "gaps": 0, "drops": 0}
    async with BleVirtualBand(band, air) as peripheral:
        link = BleLink(
            BandSelector(name=peripheral.name),
            BleConnectionParams(),
            BleBackend(BumbleBleakScanner, BumbleBleakClient, {"air": air}),
            clock=ClockParams(device_speed=speed),
        )
        async with link:
            cpu0, wall0 = time.process_time(), time.perf_counter()
            t0_dev_us = await link.start()
            emg_pos = acc_pos = 0
            # The whole stream, plus slack for a slow machine; a stream that never
            # completes (its last packets lost) is reported, not waited on forever.
            budget_s = 3.0 * seconds / speed + 10.0
            try:
                async with asyncio.timeout(budget_s):
                    async for item in link:
                        now_us = host_clock_us()
                        if isinstance(item, SampleBlock):
                            if item.group == SignalGroup.EMG:
                                emg_pos += item.lost_samples + item.n_samples
                                counts["emg"] += item.n_samples
                                counts["lost_emg"] += item.lost_samples
                                newest_dev_us = t0_dev_us + (emg_pos - 1) * 1e6 / EMG_HZ
                                latencies_us.append(now_us - band.host_time_us(newest_dev_us))
                            else:
                                counts["acc"] += item.n_samples
                                counts["lost_acc"] += item.lost_samples
                                acc_pos += item.lost_samples + item.n_samples
                        elif isinstance(item, SignalGap):
                            counts["gaps"] += 1
                        elif isinstance(item, Disconnected | FramesDropped):
                            counts["drops"] += 1
                        if emg_pos >= emg_total and acc_pos >= acc_total:
                            break
            except TimeoutError:
                print(f"stream incomplete after {budget_s:g} s: {emg_pos} of {emg_total} samples")
            wall_s = time.perf_counter() - wall0
            cpu_s = time.process_time() - cpu0
            mtu = link.mtu
        assembler = link.assembler
        assert assembler is not None
        lat = np.asarray(latencies_us) / 1000.0
        return {
            "signal_s": emg_pos / EMG_HZ,
            "wall_s": wall_s,
            "pace_x": emg_pos / EMG_HZ / wall_s,
            "packets": assembler.stats.packets,
            "packets_per_s": assembler.stats.packets / wall_s,
            "packets_lost": assembler.stats.packets_lost,
            "emg_samples": counts["emg"],
            "emg_lost": counts["lost_emg"],
            "acc_samples": counts["acc"],
            "acc_lost": counts["lost_acc"],
            "gap_events": counts["gaps"],
            "link_events": counts["drops"],
            # Packets the band sent before the host subscribed (its first STATUS).
            "unheard_on_air": peripheral.stats.unheard,
            "latency_p50_ms": float(np.percentile(lat, 50)),
            "latency_p99_ms": float(np.percentile(lat, 99)),
            "latency_max_ms": float(lat.max()),
            "cpu_s": cpu_s,
            "cpu_pct_of_core": 100.0 * cpu_s / wall_s,
            "frames_per_packet": band.frames_per_packet,
            "att_mtu": mtu,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="seconds of signal")
    parser.add_argument("--speed", type=float, default=10.0, help="x real time")
    parser.add_argument("--profile", action="store_true", help="print the top functions")
    args = parser.parse_args()
    profiler = cProfile.Profile() if args.profile else None
    if profiler is not None:
        profiler.enable()
    result = asyncio.run(run(args.seconds, args.speed))
    if profiler is not None:
        profiler.disable()
    target_pace = args.speed
    print(f"BLE path, {args.seconds:g} s of 2 EMG ch x 2 kHz + ACC 100 Hz at {args.speed:g}x")
    for key, value in result.items():
        print(
            f"  {key:18s} {value:12.3f}" if isinstance(value, float) else f"  {key:18s} {value:12d}"
        )
    achieved = result["pace_x"]
    verdict = (
        "met" if achieved >= 0.98 * target_pace else f"MISSED by {target_pace - achieved:.2f}x"
    )
    print(f"  pace target {target_pace:g}x: {verdict}")
    print(
        "  unexplained loss: "
        f"{result['emg_lost'] + result['acc_lost'] + result['packets_lost']} "
        "(samples + packets; no faults were injected)"
    )
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(18)


if __name__ == "__main__":
    main()
