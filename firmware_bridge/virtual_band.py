"""A virtual leg band: plays any signal as protocol packets, obeys commands, injects faults.

The band is a peer of a real one (BrainFlow's synthetic board is the model): it
speaks docs/protocol.md byte for byte, so the links, the assembler and the capture
files are exercised exactly as with hardware. It is transport-independent: a
transport (``pty_band`` for serial, the BLE peripheral) asks it for the packets
due by a host time and hands it the commands it receives.

Signals come from a :class:`SignalSource` in physical units (EMG uV, ACC g) and are
quantised per the band's descriptor, so what a link decodes equals
``to_physical(quantise(source))`` bit for bit.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
from scipy.signal import resample_poly

from firmware_bridge.protocol import (
    DATA_HEADER_BYTES,
    MAX_FRAMES_PER_PACKET,
    STATUS_FLAG_BUZZING,
    STATUS_FLAG_STREAMING,
    Ack,
    Buzz,
    Command,
    CommandArgumentError,
    DataPacket,
    Descriptor,
    ErrorCode,
    GetDescriptor,
    GetStatus,
    GroupSpec,
    ProtocolError,
    SetRate,
    Start,
    StatusPacket,
    Stop,
    TimeSync,
    decode_packet,
    pack_samples,
    quantise,
)
from sensor.records import SampleBlock, SignalGroup

# int16 at 0.25 uV/LSB spans +/-8.2 mV: above the strongest surface EMG of a calf
# (a few mV) with a step far below resting noise (a few uV) (DOMAIN.md, Signals).
DEFAULT_EMG_UV_PER_LSB = 0.25
# +/-8 g in int16, the usual range setting of MEMS accelerometers on wearables.
DEFAULT_ACC_G_PER_LSB = 1 / 4096
# A packet every 25 ms keeps latency low and fits 50 frames of 2 x int16 + ACC in 244 B.
DEFAULT_PACKET_INTERVAL_S = 0.025
# 247-byte ATT MTU minus the 3-byte notification header: the BLE budget, used on serial too.
DEFAULT_MAX_PACKET_BYTES = 244
STATUS_INTERVAL_S = 1.0  # protocol 1.3


# --- signal sources ---------------------------------------------------------------------


class SignalSource:
    """Samples in physical units, pulled group by group at the band's current rates."""

    def labels(self, group: SignalGroup) -> tuple[str, ...]:
        """Return the channel labels of ``group``."""
        raise NotImplementedError

    def rate_hz(self, group: SignalGroup) -> float:
        """Return the sample rate of ``group`` in Hz."""
        raise NotImplementedError

    def groups(self) -> tuple[SignalGroup, ...]:
        """Return the groups this source plays (EMG, optionally ACC)."""
        raise NotImplementedError

    def take(self, group: SignalGroup, n: int) -> np.ndarray:
        """Return the next ``n`` samples (n x channels) of ``group``; fewer at the end."""
        raise NotImplementedError

    def set_rate(self, group: SignalGroup, rate_hz: float) -> None:
        """Play ``group`` at ``rate_hz`` from now on (ValueError if the source cannot)."""
        raise ValueError(f"this source plays {group} at {self.rate_hz(group)} Hz only")


class ArraySource(SignalSource):
    """Plays numpy arrays: EMG (n x ch, uV) and optionally ACC (m x 3, g)."""

    def __init__(
        self,
        emg_uv: np.ndarray,
        emg_rate_hz: float,
        emg_labels: Iterable[str],
        acc_g: np.ndarray | None = None,
        acc_rate_hz: float = 100.0,
        acc_labels: Iterable[str] = ("ACC X", "ACC Y", "ACC Z"),
        loop: bool = False,
    ) -> None:
        self._orig: dict[SignalGroup, tuple[np.ndarray, float]] = {
            SignalGroup.EMG: (_as_2d(emg_uv, "emg_uv"), float(emg_rate_hz))
        }
        self._labels = {SignalGroup.EMG: tuple(emg_labels)}
        if acc_g is not None:
            self._orig[SignalGroup.ACC] = (_as_2d(acc_g, "acc_g"), float(acc_rate_hz))
            self._labels[SignalGroup.ACC] = tuple(acc_labels)
        for g, (arr, _) in self._orig.items():
            if arr.shape[1] != len(self._labels[g]):
                raise ValueError(f"{g}: {arr.shape[1]} columns but {len(self._labels[g])} labels")
        self.loop = loop
        self._data = dict(self._orig)
        self._pos = {g: 0 for g in self._orig}

    def labels(self, group: SignalGroup) -> tuple[str, ...]:
        return self._labels[group]

    def rate_hz(self, group: SignalGroup) -> float:
        return self._data[group][1]

    def groups(self) -> tuple[SignalGroup, ...]:
        return tuple(self._orig)

    def take(self, group: SignalGroup, n: int) -> np.ndarray:
        arr, _ = self._data[group]
        pos = self._pos[group]
        if not self.loop or len(arr) == 0:
            out = arr[pos : pos + n]
            self._pos[group] = pos + len(out)
            return out
        parts = []
        need = n
        while need > 0:
            chunk = arr[pos : pos + need]
            parts.append(chunk)
            need -= len(chunk)
            pos = (pos + len(chunk)) % len(arr)
        self._pos[group] = pos
        return np.concatenate(parts)

    def set_rate(self, group: SignalGroup, rate_hz: float) -> None:
        arr, rate = self._orig[group]
        ratio = Fraction(rate_hz / rate).limit_denominator(1000)
        if abs(float(ratio) * rate - rate_hz) > 1e-6 * rate_hz:
            raise ValueError(f"cannot resample {rate} Hz to {rate_hz} Hz by a small ratio")
        done_s = self._pos[group] / self._data[group][1]
        new = arr if ratio == 1 else resample_poly(arr, ratio.numerator, ratio.denominator, axis=0)
        self._data[group] = (new, float(rate_hz))
        self._pos[group] = min(len(new), round(done_s * rate_hz))


class BlockSource(SignalSource):
    """Plays an iterable of SampleBlocks (EMG uV and ACC g, e.g. a recording's blocks)."""

    def __init__(self, blocks: Iterable[SampleBlock]) -> None:
        self._it: Iterator[SampleBlock] = iter(blocks)
        self._buf: dict[SignalGroup, list[np.ndarray]] = {}
        self._labels: dict[SignalGroup, tuple[str, ...]] = {}
        self._rates: dict[SignalGroup, float] = {}
        # The first block of each group gives labels and rate; read until both are known
        # or the blocks end.
        while SignalGroup.EMG not in self._rates or SignalGroup.ACC not in self._rates:
            if not self._pull():
                break
        if SignalGroup.EMG not in self._rates:
            raise ValueError("the blocks hold no EMG: a band needs EMG channels")

    def _pull(self) -> bool:
        try:
            block = next(self._it)
        except StopIteration:
            return False
        g = block.group
        if g in self._rates and (block.fs_hz != self._rates[g] or block.labels != self._labels[g]):
            raise ValueError(f"{g} blocks change rate or channels mid-stream: a band cannot")
        self._rates.setdefault(g, block.fs_hz)
        self._labels.setdefault(g, block.labels)
        self._buf.setdefault(g, []).append(block.samples)
        return True

    def labels(self, group: SignalGroup) -> tuple[str, ...]:
        return self._labels[group]

    def rate_hz(self, group: SignalGroup) -> float:
        return self._rates[group]

    def groups(self) -> tuple[SignalGroup, ...]:
        return tuple(g for g in (SignalGroup.EMG, SignalGroup.ACC) if g in self._rates)

    def take(self, group: SignalGroup, n: int) -> np.ndarray:
        buf = self._buf.setdefault(group, [])
        while sum(len(b) for b in buf) < n and self._pull():
            pass
        if not buf:
            return np.zeros((0, len(self._labels[group])), dtype=np.float32)
        joined = np.concatenate(buf)
        self._buf[group] = [joined[n:]] if len(joined) > n else []
        return joined[:n]


def _as_2d(arr: np.ndarray, name: str) -> np.ndarray:
    a = np.asarray(arr, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise ValueError(f"{name} must be (n_samples, n_channels), got shape {a.shape}")
    return a


# --- the band ----------------------------------------------------------------------------


@dataclass(frozen=True)
class BandConfig:
    """What the virtual band reports and how it packs its stream."""

    device_id: str = "CW-VIRTUAL-0001"
    firmware_version: str = "virtual-1.0"
    emg_uv_per_lsb: float = DEFAULT_EMG_UV_PER_LSB
    emg_sample_width: int = 2
    acc_g_per_lsb: float = DEFAULT_ACC_G_PER_LSB
    emg_rates_hz: tuple[float, ...] = (500.0, 1000.0, 2000.0, 4000.0)
    acc_rates_hz: tuple[float, ...] = (50.0, 100.0, 200.0)
    packet_interval_s: float = DEFAULT_PACKET_INTERVAL_S
    max_packet_bytes: int = DEFAULT_MAX_PACKET_BYTES
    clock_drift_ppm: float = 0.0  # the band's crystal error, to test drift tracking
    boot_offset_us: int = 5_000_000  # the band's clock reads this at creation
    battery_pct: int = 87
    battery_mv: int = 3950


@dataclass(frozen=True)
class BuzzRecord:
    """A buzz the band was told to play, with the host time it arrived (us)."""

    host_us: int
    pulses: int
    on_ms: int
    off_ms: int
    intensity_pct: int


@dataclass(frozen=True)
class OutPacket:
    """A packet leaving the band; ``corrupt`` asks the transport to damage it in transit."""

    packet: bytes
    corrupt: bool = False


@dataclass
class Faults:
    """Faults to inject, consumed as packets go out. Transports act on ``disconnect``."""

    drop_packets: int = 0  # the next N data packets are lost in transit
    corrupt_packets: int = 0  # the next N data packets are damaged in transit
    stall_until_host_us: int = 0  # no packets until then; the samples meanwhile are lost
    disconnect: bool = False  # the transport should drop the connection now
    lead_off: int = 0  # STATUS lead-off bits
    dropped_seqs: list[int] = field(default_factory=list)
    corrupted_seqs: list[int] = field(default_factory=list)
    stalled_samples: dict[SignalGroup, int] = field(default_factory=dict)


def host_clock_us() -> int:
    """Return the host clock in microseconds since the Unix epoch."""
    return time.time_ns() // 1000


class VirtualBand:
    """Transport-independent band: ``handle(command bytes)`` and ``due(host_us)`` packets.

    Thread-safe: a transport's thread and a test's thread may both call it.
    ``speed`` > 1 plays the signal that many times faster than real time (the band's
    clock runs that much faster too, as if the recording were played back fast).
    """

    def __init__(
        self,
        source: SignalSource,
        config: BandConfig | None = None,
        speed: float = 1.0,
        host_clock: Callable[[], int] = host_clock_us,
    ) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self.config = config or BandConfig()
        self.source = source
        self.speed = speed
        self._host_clock = host_clock
        self._lock = threading.RLock()
        self._boot_host_us = host_clock()
        self.descriptor = self._make_descriptor()
        self.faults = Faults()
        self.buzzes: list[BuzzRecord] = []
        self.commands: list[Command] = []
        self.streaming = False
        self.exhausted = False
        self.packets_sent = 0
        self._seq = 0
        self._t0_dev_us = 0
        self._next = {g.group: 0 for g in self.descriptor.groups}
        self._next_status_dev_us = 0.0
        self._buzz_until_dev_us = 0.0
        self._frames_per_packet = self._pick_frames()
        self._unasked: list[OutPacket] = []  # packets the band sends on its own, next due()

    # --- clock --------------------------------------------------------------------------

    def now_us(self) -> int:
        """Return the host clock (us) as the band reads it."""
        return self._host_clock()

    @property
    def boot_host_us(self) -> int:
        """Host time (us) at which the band's clock read ``config.boot_offset_us``."""
        return self._boot_host_us

    def samples_taken(self, group: SignalGroup) -> int:
        """Return how many samples of ``group`` the current stream has taken so far."""
        with self._lock:
            return self._next.get(group, 0)

    def device_time_us(self, host_us: float) -> float:
        """Return the band's clock (us since boot) at host time ``host_us``."""
        rate = self.speed * (1 + self.config.clock_drift_ppm * 1e-6)
        return self.config.boot_offset_us + (host_us - self._boot_host_us) * rate

    def host_time_us(self, device_us: float) -> float:
        """Return the host time (us) at which the band's clock reads ``device_us``."""
        rate = self.speed * (1 + self.config.clock_drift_ppm * 1e-6)
        return self._boot_host_us + (device_us - self.config.boot_offset_us) / rate

    # --- descriptor -----------------------------------------------------------------------

    def _make_descriptor(self) -> Descriptor:
        cfg = self.config
        src = self.source
        groups = [GroupSpec(
            SignalGroup.EMG, round(src.rate_hz(SignalGroup.EMG) * 1000), cfg.emg_sample_width,
            cfg.emg_uv_per_lsb, src.labels(SignalGroup.EMG),
            self._rates(SignalGroup.EMG, cfg.emg_rates_hz),
        )]
        if SignalGroup.ACC in src.groups():
            groups.append(GroupSpec(
                SignalGroup.ACC, round(src.rate_hz(SignalGroup.ACC) * 1000), 2,
                cfg.acc_g_per_lsb, src.labels(SignalGroup.ACC),
                self._rates(SignalGroup.ACC, cfg.acc_rates_hz),
            ))
        return Descriptor(cfg.device_id, cfg.firmware_version, tuple(groups))

    def _rates(self, group: SignalGroup, rates_hz: tuple[float, ...]) -> tuple[int, ...]:
        # A source that cannot resample offers its own rate only.
        native = self.source.rate_hz(group)
        if type(self.source).set_rate is SignalSource.set_rate:
            return (round(native * 1000),)
        return tuple(sorted({round(r * 1000) for r in (*rates_hz, native)}))

    def _pick_frames(self) -> int:
        desc = self.descriptor
        emg_rate = desc.emg.rate_hz
        n = max(1, min(MAX_FRAMES_PER_PACKET, math.floor(emg_rate * self.config.packet_interval_s)))
        budget = self.config.max_packet_bytes - DATA_HEADER_BYTES
        while n > 1:
            acc_frames = 0
            if desc.acc is not None:
                acc_frames = math.ceil(n * desc.acc.rate_hz / emg_rate) + 1
            if n * desc.emg.frame_bytes + acc_frames * (desc.acc.frame_bytes if desc.acc else 0) \
                    <= budget and acc_frames <= MAX_FRAMES_PER_PACKET:
                break
            n -= 1
        return n

    @property
    def frames_per_packet(self) -> int:
        """EMG frames in each DATA packet."""
        return self._frames_per_packet

    # --- commands ----------------------------------------------------------------------------

    def handle(self, payload: bytes) -> list[OutPacket]:
        """Return the packets answering one received command packet (ACK first)."""
        with self._lock:
            now = self._host_clock()
            try:
                packet = decode_packet(payload)
            except CommandArgumentError as exc:
                return [OutPacket(Ack(exc.token, exc.command, exc.error).encode())]
            except ProtocolError:
                if len(payload) >= 2 and 0x10 <= payload[0] <= 0x1F:
                    return [OutPacket(Ack(payload[1], payload[0],
                                          ErrorCode.UNKNOWN_COMMAND).encode())]
                return []  # not a command: noise on the line, nothing to answer
            if not isinstance(packet, Command):
                return []
            self.commands.append(packet)
            return self._execute(packet, now)

    def _execute(self, cmd: Command, now_us: int) -> list[OutPacket]:
        def ack(error: ErrorCode = ErrorCode.OK, result: bytes = b"") -> OutPacket:
            return OutPacket(Ack(cmd.token, cmd.TYPE, error, result).encode())

        dev_now = self.device_time_us(now_us)
        if isinstance(cmd, GetDescriptor):
            return [ack(), OutPacket(self.descriptor.encode())]
        if isinstance(cmd, GetStatus):
            return [ack(), OutPacket(self._status(dev_now).encode())]
        if isinstance(cmd, Start):
            if self.streaming:
                return [ack(ErrorCode.BUSY)]
            self.streaming = True
            self.exhausted = False
            self._seq = 0
            self._t0_dev_us = int(dev_now)
            self._next = {g.group: 0 for g in self.descriptor.groups}
            return [ack(result=self._t0_dev_us.to_bytes(8, "little"))]
        if isinstance(cmd, Stop):
            self.streaming = False
            return [ack()]
        if isinstance(cmd, SetRate):
            spec = self.descriptor.spec(cmd.group)
            if self.streaming:
                return [ack(ErrorCode.BUSY)]
            if spec is None or cmd.rate_mhz not in spec.rates_mhz:
                return [ack(ErrorCode.BAD_ARGUMENT)]
            try:
                self.source.set_rate(cmd.group, cmd.rate_mhz / 1000)
            except ValueError:
                return [ack(ErrorCode.BAD_ARGUMENT)]
            self.descriptor = self.descriptor.replace_rate(cmd.group, cmd.rate_mhz)
            self._frames_per_packet = self._pick_frames()
            return [ack(), OutPacket(self.descriptor.encode())]
        if isinstance(cmd, Buzz):
            self.buzzes.append(BuzzRecord(now_us, cmd.pulses, cmd.on_ms, cmd.off_ms,
                                          cmd.intensity_pct))
            length_us = cmd.pulses * (cmd.on_ms + cmd.off_ms) * 1000 * self.speed
            self._buzz_until_dev_us = dev_now + length_us
            return [ack()]
        if isinstance(cmd, TimeSync):
            return [ack(result=int(dev_now).to_bytes(8, "little"))]
        return [ack(ErrorCode.UNKNOWN_COMMAND)]

    def _status(self, dev_now: float) -> StatusPacket:
        flags = STATUS_FLAG_STREAMING if self.streaming else 0
        if dev_now < self._buzz_until_dev_us:
            flags |= STATUS_FLAG_BUZZING
        return StatusPacket(int(dev_now), self.config.battery_pct, self.config.battery_mv,
                            self.faults.lead_off, flags)

    # --- stream -------------------------------------------------------------------------------

    def next_due_host_us(self) -> float:
        """Return the host time (us) of the next packet the band will send."""
        with self._lock:
            status_due = self.host_time_us(self._next_status_dev_us)
            if not self.streaming or self.exhausted:
                return status_due
            return min(status_due, self.host_time_us(self._packet_close_dev_us()))

    def _packet_close_dev_us(self) -> float:
        emg = self.descriptor.emg
        last = self._next[SignalGroup.EMG] + self._frames_per_packet - 1
        return self._t0_dev_us + last * 1e6 / emg.rate_hz

    def due(self, host_us: float | None = None) -> list[OutPacket]:
        """Return every packet due by ``host_us`` (now by default), in sending order."""
        with self._lock:
            host_us = self._host_clock() if host_us is None else host_us
            dev_now = self.device_time_us(host_us)
            out, self._unasked = self._unasked, []
            while self.streaming and not self.exhausted and self._packet_close_dev_us() <= dev_now:
                packet = self._next_data_packet()
                if packet is not None:
                    out.append(packet)
            if dev_now >= self._next_status_dev_us:
                status_period = STATUS_INTERVAL_S * 1e6 * self.speed
                self._next_status_dev_us = dev_now + status_period
                if host_us >= self.faults.stall_until_host_us:
                    out.append(OutPacket(self._status(dev_now).encode()))
            return out

    def _next_data_packet(self) -> OutPacket | None:
        desc = self.descriptor
        emg = desc.emg
        n = self._frames_per_packet
        first = self._next[SignalGroup.EMG]
        close_dev = self._packet_close_dev_us()
        emg_vals = self.source.take(SignalGroup.EMG, n)
        if len(emg_vals) == 0:
            self.exhausted = True  # the recording has ended; the band falls silent
            return None
        n = len(emg_vals)
        acc = desc.acc
        acc_counts = None
        acc_first = self._next.get(SignalGroup.ACC, 0)
        if acc is not None:
            # ACC frames taken by the time of this packet's last EMG frame (protocol 1.2).
            upto = math.floor((close_dev - self._t0_dev_us) * acc.rate_hz / 1e6) + 1
            acc_vals = self.source.take(SignalGroup.ACC, max(0, upto - acc_first))
            acc_counts = quantise(acc_vals, acc)
        emg_counts = quantise(emg_vals, emg)
        self._next[SignalGroup.EMG] = first + n
        if acc is not None and acc_counts is not None:
            self._next[SignalGroup.ACC] = acc_first + len(acc_counts)
        t_us = round(self._t0_dev_us + first * 1e6 / emg.rate_hz)
        seq = self._seq
        host_close = self.host_time_us(close_dev)
        faults = self.faults
        if host_close < faults.stall_until_host_us:
            # A stalled band's buffer overflows: these samples never leave it.
            stalled = faults.stalled_samples
            stalled[SignalGroup.EMG] = stalled.get(SignalGroup.EMG, 0) + n
            if acc_counts is not None:
                stalled[SignalGroup.ACC] = stalled.get(SignalGroup.ACC, 0) + len(acc_counts)
            return None
        self._seq = (self._seq + 1) % (1 << 32)
        packet = DataPacket(
            seq, t_us, first, n, acc_first if acc is not None else 0,
            len(acc_counts) if acc_counts is not None else 0,
            pack_samples(desc, emg_counts, acc_counts),
        ).encode()
        if faults.drop_packets > 0:
            faults.drop_packets -= 1
            faults.dropped_seqs.append(seq)
            return None
        corrupt = False
        if faults.corrupt_packets > 0:
            faults.corrupt_packets -= 1
            faults.corrupted_seqs.append(seq)
            corrupt = True
        self.packets_sent += 1
        return OutPacket(packet, corrupt)

    # --- fault injection ----------------------------------------------------------------------

    def drop_next(self, n_packets: int) -> None:
        """Lose the next ``n_packets`` DATA packets in transit (the band counts on)."""
        with self._lock:
            self.faults.drop_packets += n_packets

    def corrupt_next(self, n_packets: int) -> None:
        """Damage the next ``n_packets`` DATA packets in transit."""
        with self._lock:
            self.faults.corrupt_packets += n_packets

    def stall(self, seconds: float) -> None:
        """Send nothing for ``seconds`` of host time; samples taken meanwhile are lost."""
        with self._lock:
            self.faults.stall_until_host_us = int(self._host_clock() + seconds * 1e6)

    def reboot(self, rates_hz: dict[SignalGroup, float] | None = None) -> None:
        """Brown out and come back streaming unasked: seq, indices and clock from zero.

        With ``rates_hz`` the band comes back with other rates (a band that rebooted into
        other settings) and sends its new DESCRIPTOR first, as after SET_RATE. The signal
        carries on where it was (resampled to the new rates).
        """
        with self._lock:
            self._boot_host_us = self._host_clock()
            for group, rate_hz in (rates_hz or {}).items():
                self.source.set_rate(group, rate_hz)
                self.descriptor = self.descriptor.replace_rate(group, round(rate_hz * 1000))
            self._frames_per_packet = self._pick_frames()
            if rates_hz:
                self._unasked.append(OutPacket(self.descriptor.encode()))
            self.streaming = True
            self.exhausted = False
            self._seq = 0
            self._t0_dev_us = int(self.device_time_us(self._boot_host_us))
            self._next = {g.group: 0 for g in self.descriptor.groups}
            self._next_status_dev_us = 0.0

    def disconnect(self) -> None:
        """Ask the transport to drop the connection (serial: the port dies)."""
        with self._lock:
            self.faults.disconnect = True

    def set_lead_off(self, bits: int) -> None:
        """Report electrodes off the skin (protocol 1.3 bit layout) from the next STATUS."""
        with self._lock:
            self.faults.lead_off = bits
            self._next_status_dev_us = 0.0


__all__ = [
    "ArraySource", "BandConfig", "BlockSource", "BuzzRecord", "Faults", "OutPacket",
    "SignalSource", "VirtualBand",
]
