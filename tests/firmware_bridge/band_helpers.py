"""A virtual band driven by a hand-moved clock, and the signals tests play on it."""

from __future__ import annotations

import numpy as np

from firmware_bridge.assembler import PacketAssembler
from firmware_bridge.clock import ClockParams
from firmware_bridge.events import LinkItem
from firmware_bridge.protocol import Descriptor, Start, decode_packet, quantise, to_physical
from firmware_bridge.virtual_band import ArraySource, BandConfig, VirtualBand
from sensor.records import SampleBlock, SignalGroup

EMG_LABELS = ("EMG R Gastroc", "EMG R Tib Ant")


class ManualClock:
    """Host clock (us) that only moves when told."""

    def __init__(self, start_us: int = 1_700_000_000_000_000) -> None:
        self.now_us = start_us

    def __call__(self) -> int:
        return self.now_us


def signal(seconds: float, seed: int = 0, emg_rate_hz: float = 2000.0, acc_rate_hz: float = 100.0):
    """Return (emg uV, acc g): noise with bursts, and gravity with a slow tilt."""
    rng = np.random.default_rng(seed)
    n = round(seconds * emg_rate_hz)
    emg = rng.normal(0, 20, (n, 2)) * (1 + 20 * (np.arange(n)[:, None] % 4000 < 800))
    m = round(seconds * acc_rate_hz)
    tilt = np.linspace(0, 1, m)
    acc = np.column_stack([np.sin(tilt), np.zeros(m), np.cos(tilt)]) + rng.normal(0, 0.01, (m, 3))
    return emg, acc


def make_band(seconds: float = 2.0, seed: int = 0, clock: ManualClock | None = None,
              config: BandConfig | None = None, speed: float = 1.0):
    emg, acc = signal(seconds, seed)
    src = ArraySource(emg, 2000.0, EMG_LABELS, acc, 100.0)
    clock = clock or ManualClock()
    return VirtualBand(src, config, speed=speed, host_clock=clock), clock, emg, acc


def expected_physical(desc: Descriptor, emg: np.ndarray, acc: np.ndarray):
    """Return what a decoder must deliver for the source: quantised, then scaled back."""
    return (to_physical(quantise(emg, desc.emg), desc.emg),
            to_physical(quantise(acc, desc.acc), desc.acc))


def run_band(band: VirtualBand, clock: ManualClock, seconds: float, latency_us: int = 2000,
             step_us: int = 5000, assembler: PacketAssembler | None = None,
             clock_params: ClockParams | None = None, start: bool = True):
    """Start the band, move the clock, feed every DATA/STATUS packet to an assembler.

    Returns (assembler, items, raw packets with their arrival times).
    """
    asm = assembler or PacketAssembler(band.descriptor, clock_params)
    items: list[LinkItem] = []
    raw: list[tuple[bytes, int]] = []
    if start:
        for out in band.handle(Start(1).encode()):
            raw.append((out.packet, clock.now_us + latency_us))
            items += asm.feed(decode_packet(out.packet), clock.now_us + latency_us)
    end = clock.now_us + int(seconds * 1e6)
    while clock.now_us < end:
        clock.now_us += step_us
        for out in band.due():
            if out.corrupt:
                continue
            raw.append((out.packet, clock.now_us + latency_us))
            items += asm.feed(decode_packet(out.packet), clock.now_us + latency_us)
    return asm, items, raw


def blocks_of(items, group: SignalGroup) -> list[SampleBlock]:
    return [i for i in items if isinstance(i, SampleBlock) and i.group == group]


def concat(blocks: list[SampleBlock]) -> np.ndarray:
    return np.concatenate([b.samples for b in blocks]) if blocks else np.zeros((0, 0))
