"""Hostile band streams written as capture files, with the truth about what was lost.

A stream is a list of operations, one per DATA packet slot of a reference band (2 EMG
channels, 3 ACC axes, 20 ms packets) or between packets: packets dropped, sent twice,
sent with a wild sequence number, device time or sample index, records damaged on
disk, junk bytes, a band that reboots, a band that comes back with another rate or other
channel labels. ``write_hostile_capture`` writes the capture and returns what a hub
must make of it: the samples it must deliver and the samples it must report lost.

Losses only show when a later packet of the same stream arrives, so the builder keeps
the packet before a restart and the first two after it clean, and ends every stream
with two clean packets: a loss at the very end of a stream is invisible to anyone.
"""

from __future__ import annotations

import dataclasses
import enum
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from firmware_bridge.capture import MAGIC
from firmware_bridge.framing import crc16
from firmware_bridge.protocol import DataPacket, Descriptor, GroupSpec, pack_samples, quantise
from sensor.records import SignalGroup

EMG, ACC = SignalGroup.EMG, SignalGroup.ACC
PACKET_US = 20_000
LATENCY_US = 5_000
HOST0_US = 1_700_000_000_000_000


class Op(enum.Enum):
    OK = "ok"
    DROP = "drop"  # never arrives
    DUPLICATE = "duplicate"  # arrives twice
    WILD_SEQ = "wild_seq"  # any sequence number; samples and times right
    WILD_TIME = "wild_time"  # device time near 2^63 (or anywhere in u64)
    WILD_INDEX = "wild_index"  # EMG index jumps by 2^31 (or to anywhere)
    WILD_ACC_INDEX = "wild_acc_index"  # ACC index anywhere
    CORRUPT = "corrupt"  # one byte of its capture record damaged
    JUNK = "junk"  # junk bytes between two records (no packet consumed)
    REBOOT = "reboot"  # the band reboots: seq and indices from 0, its clock from boot
    NEW_DESCRIPTOR = "new_descriptor"  # the band comes back with another rate or labels
    CLOCK_STEP = "clock_step"  # the band's clock jumps; its samples run on


# Ops that take a packet's samples away from the hub (it never gets them, or must not
# believe them).
LOSING = {Op.DROP, Op.WILD_TIME, Op.WILD_INDEX, Op.WILD_ACC_INDEX, Op.CORRUPT}
BREAKS = {Op.REBOOT, Op.NEW_DESCRIPTOR, Op.CLOCK_STEP}

LABEL_SETS = (("EMG R Gastroc", "EMG R Tib Ant"), ("EMG L Gastroc", "EMG L Tib Ant"))
ACC_LABELS = ("ACC X", "ACC Y", "ACC Z")
EMG_RATES_MHZ = (2_000_000, 1_000_000)


def descriptor(rate_mhz: int = 2_000_000, labels: tuple[str, str] = LABEL_SETS[0]) -> Descriptor:
    """Return the reference band's descriptor with the given EMG rate and labels."""
    return Descriptor("CW-HOSTILE-1", "1.0", (
        GroupSpec(EMG, rate_mhz, 2, 0.5, labels, EMG_RATES_MHZ),
        GroupSpec(ACC, 100_000, 2, 0.001, ACC_LABELS),
    ))


@dataclass
class HostileStream:
    """What was written, and what a hub must make of it."""

    path: Path
    ops: list[Op]
    delivered: dict[SignalGroup, int] = field(default_factory=lambda: {EMG: 0, ACC: 0})
    lost: dict[SignalGroup, int] = field(default_factory=lambda: {EMG: 0, ACC: 0})
    packets: int = 0
    quarantined: int = 0  # packets written that a hub must not believe
    damaged_records: int = 0
    restarts: int = 0
    descriptors: int = 0
    clock_steps: int = 0


def normalise(ops: list[Op]) -> list[Op]:
    """Return ``ops`` with the clean packets that make every loss visible added.

    The stream starts with two clean packets; the packet before a restart and the two
    after it are clean; it ends with two clean packets.
    """
    out = [Op.OK, Op.OK]
    for op in ops:
        if op in BREAKS:
            if out[-1] is not Op.OK:
                out.append(Op.OK)
            out += [op, Op.OK, Op.OK]
        else:
            out.append(op)
    return [*out, Op.OK, Op.OK]


class HostileBand:
    """The band's state while the stream is written."""

    def __init__(self, rng: np.random.Generator | None = None) -> None:
        self.rng = rng if rng is not None else np.random.default_rng(0)
        self.desc = descriptor()
        self.variant = 0
        self.seq = 0
        self.emg_first = 0
        self.acc_first = 0
        self.boot_us = 5_000_000  # device time at the stream's first sample
        self.host_base_us = HOST0_US  # host time of the stream's first sample
        self.slot = 0  # packet slots since the stream began

    def restart(self, down_slots: int, new_descriptor: bool) -> None:
        end_host = self.host_base_us + self.slot * PACKET_US
        self.host_base_us = end_host + down_slots * PACKET_US
        self.boot_us = int(self.rng.integers(1_000_000, 10**12))
        self.seq = self.emg_first = self.acc_first = self.slot = 0
        if new_descriptor:
            self.variant += 1
            rate = EMG_RATES_MHZ[self.variant % 2]
            labels = LABEL_SETS[(self.variant // 2) % 2]
            self.desc = descriptor(rate, labels)

    def next_packet(self) -> tuple[DataPacket, int]:
        emg_spec, acc_spec = self.desc.emg, self.desc.acc
        assert acc_spec is not None
        n_emg = round(emg_spec.rate_hz * PACKET_US / 1e6)
        n_acc = round(acc_spec.rate_hz * PACKET_US / 1e6)
        t = np.arange(self.emg_first, self.emg_first + n_emg) / emg_spec.rate_hz
        burst = 1.0 + 30.0 * ((t % 7.0) < 1.5)  # a strong contraction every 7 s
        emg = self.rng.normal(0.0, 4.0, (n_emg, 2)) * burst[:, None]
        acc = np.array([0.0, 0.0, 1.0]) + self.rng.normal(0.0, 0.01, (n_acc, 3))
        samples = pack_samples(self.desc, quantise(emg, emg_spec), quantise(acc, acc_spec))
        t_us = self.boot_us + round(self.emg_first * 1e6 / emg_spec.rate_hz)
        packet = DataPacket(self.seq, t_us, self.emg_first, n_emg, self.acc_first, n_acc,
                            samples)
        # Sent once its newest sample is taken; arrives LATENCY_US later.
        newest_us = round((n_emg - 1) * 1e6 / emg_spec.rate_hz)
        host_us = self.host_base_us + self.slot * PACKET_US + newest_us + LATENCY_US
        self.seq = (self.seq + 1) % (1 << 32)
        self.emg_first += n_emg
        self.acc_first += n_acc
        self.slot += 1
        return packet, host_us


def record(host_us: int, packet: bytes) -> bytes:
    """Return one capture record (docs/protocol.md section 5), written as CaptureWriter does."""
    return struct.pack("<QH", host_us, len(packet)) + packet + struct.pack("<H", crc16(packet))


def write_hostile_capture(path: Path, ops: list[Op], seed: int = 0) -> HostileStream:
    """Write a capture playing ``normalise(ops)``; return the truth about it."""
    rng = np.random.default_rng(seed)
    ops = normalise(ops)
    band = HostileBand(rng)
    truth = HostileStream(path, ops)
    # Written byte by byte rather than through CaptureWriter: damaged records and junk
    # are what no writer of ours produces.
    with open(path, "xb") as raw:
        raw.write(MAGIC + record(HOST0_US - 1000, band.desc.encode()))
        for op in ops:
            if op is Op.JUNK:
                raw.write(rng.integers(0, 256, int(rng.integers(1, 300)), dtype=np.uint8)
                          .tobytes())
                continue
            if op is Op.CLOCK_STEP:
                # Forward or back, by anything from a second to a year.
                step = int(rng.integers(10**6, 366 * 86_400 * 10**6))
                back = rng.random() < 0.5 and band.boot_us >= step
                band.boot_us += -step if back else step
                truth.clock_steps += 1
                continue
            if op in BREAKS:
                down = int(rng.integers(1, 100))
                if op is Op.REBOOT:
                    band.restart(down, new_descriptor=False)
                    # Nothing numbers what a reboot lost; the host clock measures it.
                    truth.lost[EMG] += round(down * PACKET_US * band.desc.emg.rate_hz / 1e6)
                    truth.lost[ACC] += round(down * PACKET_US * 100 / 1e6)
                else:
                    band.restart(down, new_descriptor=True)
                    raw.write(record(band.host_base_us - 1000, band.desc.encode()))
                    truth.descriptors += 1
                truth.restarts += 1
                continue
            packet, host_us = band.next_packet()
            n = {EMG: packet.n_emg, ACC: packet.n_acc}
            if op is Op.DROP:
                for g in n:
                    truth.lost[g] += n[g]
                continue
            if op is Op.WILD_SEQ:
                packet = dataclasses.replace(packet, seq=int(rng.integers(0, 1 << 32)))
            elif op is Op.WILD_TIME:
                wild = (1 << 63) + int(rng.integers(-(1 << 20), 1 << 20)) if rng.random() < 0.5 \
                    else int(rng.integers(0, 1 << 63)) * 2 + 1
                packet = dataclasses.replace(packet, t_us=wild)
            elif op is Op.WILD_INDEX:
                jump = (1 << 31) if rng.random() < 0.5 else int(rng.integers(1 << 20, 1 << 32))
                wild = (packet.emg_first + jump) % (1 << 32)
                packet = dataclasses.replace(packet, emg_first=wild)
            elif op is Op.WILD_ACC_INDEX:
                jump = int(rng.integers(1 << 16, 1 << 32))
                wild = (packet.acc_first + jump) % (1 << 32)
                packet = dataclasses.replace(packet, acc_first=wild)
            rec = bytearray(record(host_us, packet.encode()))
            if op is Op.CORRUPT:
                # A damaged host-time high byte, length, packet byte or CRC.
                where = int(rng.choice([5, 6, 7, 8, 9, *range(10, len(rec))]))
                rec[where] ^= int(rng.integers(1, 256))
                truth.damaged_records += 1
            raw.write(bytes(rec))
            if op is Op.DUPLICATE:
                raw.write(bytes(rec))
            truth.packets += 1
            if op in LOSING:
                for g in n:
                    truth.lost[g] += n[g]
                truth.quarantined += op is not Op.CORRUPT
            else:
                for g in n:
                    truth.delivered[g] += n[g]
    return truth
