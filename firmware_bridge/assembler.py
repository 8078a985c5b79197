"""Decoded packets -> sample blocks in physical units, with gaps and host-mapped times.

The transport-independent core of every link (serial, BLE, capture replay): it checks
sequence numbers and sample indices, turns counts into uV and g, maps the band's
clock onto the host's (``clock.ClockMapper``) and reports every lost sample as a
``SignalGap`` plus ``lost_samples`` on the next block. It never bridges a gap.

Every DATA packet is checked against the stream it claims to continue: its sample
indices must move forward, its device time must agree with its first sample's index
(one oscillator, protocol 1.2), and the band's clock may not run ahead of the host's.
A packet that fails is held back; the next packet decides what it was. If that one
continues the old stream, the held packet was corrupt and is quarantined (counted, its
samples reported lost); if it continues the held packet, a new stream began there (the
band restarted). A sequence number that alone disagrees is counted and ignored: the
indices, not ``seq``, say how many samples were lost. So one wild value never becomes
a gap of thousands of samples, nor a clock that runs to the year 292,000.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from firmware_bridge.clock import ClockMapper, ClockParams
from firmware_bridge.events import (
    BandStatus,
    ClockStepped,
    DescriptorChanged,
    FramesDropped,
    LinkItem,
    SequenceIgnored,
    StreamRestarted,
)
from firmware_bridge.protocol import (
    Ack,
    DataPacket,
    Descriptor,
    Packet,
    PacketType,
    ProtocolError,
    StatusPacket,
    to_physical,
    unpack_samples,
)
from sensor.records import SampleBlock, SignalGap, SignalGroup

_WRAP = 1 << 32
_HALF = 1 << 31
# Device time and sample index come from one oscillator (protocol 1.2): they agree to a
# microsecond of rounding; anything past one sample period plus this is not the stream.
_TIME_SLACK_US = 1000.0
# ACC and EMG indices of one packet both count from T0; they differ by at most the
# frames a packet carries, plus this.
_ACC_SLACK_S = 0.25
# How long a packet may sit in a band's or the host's buffers: the band's clock can
# run ahead of the host's arrival times by no more than the latency the previous packet had.
_MAX_LATENCY_S = 60.0
# Lost DATA packets beyond the samples they could have carried (empty packets).
_SEQ_SLACK = 16


@dataclass
class AssemblerStats:
    """Counters a link reports: packets seen, lost (from sequence numbers), damaged."""

    packets: int = 0
    packets_lost: int = 0
    duplicates: int = 0
    bad_packets: int = 0
    restarts: int = 0
    unexpected_restarts: int = 0
    quarantined: int = 0  # DATA packets that fitted no stream (corrupt), samples reported lost
    bad_sequence: int = 0  # packets whose samples fitted but whose seq did not (seq ignored)
    descriptor_changes: int = 0
    clock_steps: int = 0  # the band's clock jumped under a continuing stream
    samples: dict[SignalGroup, int] = field(default_factory=dict)
    samples_lost: dict[SignalGroup, int] = field(default_factory=dict)


@dataclass
class _GroupState:
    expected: int | None = None  # next sample index
    t_end_s: float | None = None  # session time just after the last delivered sample
    pending_lost: int = 0  # lost samples not yet attached to a delivered block
    pending_gap: bool = False
    restart_from: float | None = None  # t_end_s of the previous stream, until reported


@dataclass(frozen=True)
class _Arrival:
    """A DATA packet with its arrival time and sample counts."""

    packet: DataPacket
    host_us: int
    emg: np.ndarray | None
    acc: np.ndarray | None
    problem: str = ""


class PacketAssembler:
    """Turns one band's DATA and STATUS packets into link items, in arrival order.

    ``host_us`` passed with each packet is the host clock at arrival (microseconds);
    the same arrivals give the same output, so a capture replays bit-exactly.
    """

    def __init__(self, descriptor: Descriptor, clock: ClockParams | None = None) -> None:
        self.clock_params = clock or ClockParams()
        self.stats = AssemblerStats()
        self._descriptor = descriptor
        self._mapper = ClockMapper(self.clock_params)
        self._origin_session_us: float | None = None
        self._session_base_s = 0.0  # session time where the current clock mapping begins
        self._last_arrival: tuple[int, float] | None = None  # (host us, session s of newest)
        self._last_newest_dev_us = float("-inf")  # device time of the newest sample seen
        self._last_seq: int | None = None
        self._t0_dev_us = 0.0
        self._expect_start = False
        self._restart_unexpected = False
        self._from_zero = False
        self._last: _Arrival | None = None  # newest packet of the current stream
        self._held: _Arrival | None = None  # a packet that fitted no stream, yet
        self._descriptor_break = False  # a new descriptor ended the stream
        self._groups: dict[SignalGroup, _GroupState] = {}
        self._reset_groups()

    @property
    def descriptor(self) -> Descriptor:
        """The descriptor the packets are read with."""
        return self._descriptor

    @property
    def clock(self) -> ClockMapper:
        """The band-clock mapper (drift estimate, host times)."""
        return self._mapper

    def set_descriptor(self, descriptor: Descriptor) -> list[LinkItem]:
        """Follow a new descriptor (rate change, or a band rebooted into other settings).

        The band restarts its stream after one: the next packets begin a new stream,
        placed by the host clock, with a gap (nothing counted lost) between. Returns the
        items this produces (a held packet of the old stream is quarantined).
        """
        out = self._quarantine_held("the band sent a new descriptor")
        self.stats.descriptor_changes += 1
        self._descriptor = descriptor
        self._last_seq = None
        self._last = None
        self._descriptor_break = self._descriptor_break or self._last_arrival is not None
        self._reset_groups(keep_times=True)
        return out

    def expect_start(self) -> None:
        """The host sent START: the next packet with seq 0 begins a new stream, deliberately."""
        self._expect_start = True

    def _reset_groups(self, keep_times: bool = False) -> None:
        old = self._groups
        self._groups = {}
        for g in self._descriptor.groups:
            state = _GroupState()
            if keep_times and g.group in old:
                state.t_end_s = old[g.group].t_end_s
            self._groups[g.group] = state

    def session_time_s(self, device_us: float) -> float:
        """Return the session time (s) of a device clock reading, once streaming began.

        Session seconds are real-time seconds: the band's clock corrected for its drift
        (``ClockMapper.session_us``), counted from the first sample of the session.
        """
        if self._origin_session_us is None or not self._mapper.ready:
            return 0.0
        return self._session_base_s + (
            self._mapper.session_us(device_us) - self._origin_session_us) / 1e6

    def device_to_host_us(self, device_us: float) -> float:
        """Return the host clock (us) a device clock reading maps to."""
        return self._mapper.to_host_us(device_us)

    # --- packets ----------------------------------------------------------------------

    def feed(self, packet: Packet, host_us: int) -> list[LinkItem]:
        """Return the items one received packet produces; commands and other ACKs give none.

        The live link and the capture reader both route every band packet through here,
        which is what makes a capture replay what the session saw.
        """
        if isinstance(packet, DataPacket):
            return self.data(packet, host_us)
        if isinstance(packet, StatusPacket):
            return [self.status(packet)]
        if isinstance(packet, Descriptor):
            if packet == self._descriptor:
                return []
            return [*self.set_descriptor(packet), DescriptorChanged(packet)]
        if isinstance(packet, Ack) and packet.command == PacketType.START and packet.ok:
            # The band sends START's ACK before the stream's first packet (protocol 1.4).
            self.expect_start()
        return []

    def status(self, packet: StatusPacket) -> BandStatus:
        """Return the link event for a STATUS packet."""
        t_s = self.session_time_s(packet.t_us) if self._mapper.ready else 0.0
        return BandStatus.from_packet(packet, t_s, self._descriptor.emg.n_channels)

    def data(self, packet: DataPacket, host_us: int) -> list[LinkItem]:
        """Return the gap events and blocks one DATA packet produces (possibly none)."""
        desc = self._descriptor
        try:
            emg_counts, acc_counts = unpack_samples(packet, desc)
        except ProtocolError as exc:
            self.stats.bad_packets += 1
            return [FramesDropped(1, str(exc))]
        arrival = _Arrival(packet, host_us, emg_counts, acc_counts)
        last = self._last
        if (last is not None and packet == last.packet) or (
                self._held is not None and packet == self._held.packet):
            self.stats.duplicates += 1
            return []
        out: list[LinkItem] = []
        problem = "no stream to continue yet"
        if last is not None and not self._expect_start:
            problem = self._misfit(last, packet, host_us) or ""
            if not problem:
                out += self._quarantine_held("the packets after it continue the stream")
                return out + self._accept(arrival, new_stream=False)
        elif self._expect_start:
            problem = "START was acknowledged: a new stream begins"
        held = self._held
        if held is not None and not self._misfit(held, packet, host_us):
            if last is not None and not self._expect_start and not self._misfit(
                    last, held.packet, held.host_us, check_time=False):
                # Two packets agree on a new clock, and their samples continue the stream.
                self._held = None
                out += self._clock_stepped(last, held)
                return out + self._accept(arrival, new_stream=False)
            if self._could_begin(held.packet):
                # Two packets agree: the held one began a new stream.
                self._held = None
                out += self._accept(held, new_stream=True)
                return out + self._accept(arrival, new_stream=False)
        if held is not None:
            out += self._quarantine_held("the next packet continues neither it nor the stream")
        self._held = _Arrival(packet, host_us, emg_counts, acc_counts, problem)
        return out

    def finish(self) -> list[LinkItem]:
        """Return what the end of the stream decides: a held packet is quarantined.

        A lone packet before the end cannot be checked against a next one; it is kept
        only when there was no stream to contradict it.
        """
        held = self._held
        if held is None:
            return []
        if self._last is None and self._last_arrival is None:
            self._held = None
            return self._accept(held, new_stream=True)
        return self._quarantine_held("the stream ended before a packet confirmed it")

    def _quarantine_held(self, why: str) -> list[LinkItem]:
        held, self._held = self._held, None
        if held is None:
            return []
        self.stats.bad_packets += 1
        self.stats.quarantined += 1
        p = held.packet
        return [FramesDropped(1, f"DATA packet seq {p.seq} quarantined ({held.problem}; {why})")]

    def _could_begin(self, p: DataPacket) -> bool:
        """Return True when ``p`` can be packet number ``seq`` of a stream counted from 0.

        A band starts every stream at seq 0 and index 0 (protocol 1.2) and a packet
        carries at most 255 frames; only the session's first stream may have begun
        before the host was listening.
        """
        if self._last_arrival is None:
            return True
        most = 255 * (p.seq + 1)
        return p.emg_first <= most and p.acc_first <= most

    def _clock_stepped(self, last: _Arrival, held: _Arrival) -> list[LinkItem]:
        """Re-learn the band's clock at ``held``, whose samples continue the stream."""
        p, r = held.packet, last.packet
        rate = self._descriptor.emg.rate_hz
        step_s = ((p.t_us - r.t_us) - ((p.emg_first - r.emg_first) % _WRAP) * 1e6 / rate) / 1e6
        self.stats.clock_steps += 1
        self._mapper = ClockMapper(self.clock_params)
        self._origin_session_us = None
        self._t0_dev_us = p.t_us - p.emg_first * 1e6 / rate
        self._last_newest_dev_us = float("-inf")
        t_s = self._last_arrival[1] if self._last_arrival is not None else 0.0
        return [ClockStepped(t_s, step_s), *self._accept(held, new_stream=False)]

    def _misfit(self, ref: _Arrival, p: DataPacket, host_us: int,
                check_time: bool = True) -> str:
        """Return why ``p`` cannot follow ``ref`` in one stream ('' when it can).

        ``check_time=False`` checks the sample indices only (not the device clock).
        """
        desc = self._descriptor
        r = ref.packet
        f = desc.emg.rate_hz
        de = (p.emg_first - r.emg_first) % _WRAP
        if de >= _HALF or de < r.n_emg:
            return (f"EMG sample {p.emg_first} where the stream is at "
                    f"{(r.emg_first + r.n_emg) % _WRAP}")
        dt_us = p.t_us - r.t_us
        off_us = dt_us - de * 1e6 / f
        if check_time and abs(off_us) > _TIME_SLACK_US + 1e6 / f:
            return f"device time {p.t_us} us is {off_us / 1e6:+.6g} s off its sample index"
        acc = desc.acc
        if acc is not None:
            da = (p.acc_first - r.acc_first) % _WRAP
            if da >= _HALF or da < r.n_acc:
                return (f"ACC sample {p.acc_first} where the stream is at "
                        f"{(r.acc_first + r.n_acc) % _WRAP}")
            spread = (_ACC_SLACK_S + (r.n_acc + p.n_acc + 2) / acc.rate_hz
                      + (r.n_emg + p.n_emg) / f)
            if abs(da / acc.rate_hz - de / f) > spread:
                return f"ACC sample {p.acc_first} disagrees with EMG sample {p.emg_first}"
        ahead_s = dt_us / 1e6 / self.clock_params.device_speed - (host_us - ref.host_us) / 1e6
        if check_time and ahead_s > _MAX_LATENCY_S + 0.02 * abs(dt_us) / 1e6:
            return f"the band's clock ran {ahead_s:.6g} s ahead of the host's"
        return ""

    def _accept(self, arrival: _Arrival, new_stream: bool) -> list[LinkItem]:
        """Deliver a packet that fits the stream (or begins a new one, ``new_stream``)."""
        packet = arrival.packet
        host_us = arrival.host_us
        emg_counts, acc_counts = arrival.emg, arrival.acc
        desc = self._descriptor
        out: list[LinkItem] = []
        if new_stream:
            if self._expect_start or self._descriptor_break:
                if self._last_arrival is not None:
                    out.extend(self._restart(packet, unexpected=False,
                                             new_descriptor=self._descriptor_break))
                else:
                    self._begin_at_zero()
            elif self._last_arrival is not None:
                out.extend(self._restart(packet, unexpected=True))
            self._last_seq = None
        elif self._last_seq is not None:
            step = (packet.seq - self._last_seq) % _WRAP
            assert self._last is not None
            r = self._last.packet
            most = (1 + _SEQ_SLACK + (packet.emg_first - r.emg_first) % _WRAP
                    + (packet.acc_first - r.acc_first) % _WRAP)
            if 1 <= step <= most:
                self.stats.packets_lost += step - 1
            else:
                # The samples continue the stream; the number alone is wrong.
                self.stats.bad_sequence += 1
                out.append(SequenceIgnored(packet.seq, (self._last_seq + 1) % _WRAP))
                packet = DataPacket((self._last_seq + 1) % _WRAP, packet.t_us,
                                    packet.emg_first, packet.n_emg, packet.acc_first,
                                    packet.n_acc, packet.samples)
        self._expect_start = False
        self._descriptor_break = False
        new_stream = self._last_seq is None
        if new_stream and self._from_zero:
            # Packets lost before this one: seq counts from 0 in a new stream.
            self.stats.packets_lost += packet.seq
        self._last_seq = packet.seq
        self._last = _Arrival(arrival.packet, host_us, None, None)
        self._from_zero = False
        self.stats.packets += 1

        emg_rate = desc.emg.rate_hz
        if new_stream:
            self._t0_dev_us = packet.t_us - packet.emg_first * 1e6 / emg_rate
        newest = self._newest_device_us(packet)
        if not self._mapper.ready:
            self._mapper.observe(newest, host_us)
        if self._origin_session_us is None:
            self._origin_session_us = self._mapper.session_us(self._t0_dev_us)
            if self._last_arrival is not None:
                # After a reboot the band's clock says nothing about the time between
                # streams: place the new stream by the host clock, at equal latency.
                last_host_us, last_t_s = self._last_arrival
                newest_s = last_t_s + (host_us - last_host_us) / 1e6
                self._session_base_s = newest_s - (
                    self._mapper.session_us(newest) - self._origin_session_us) / 1e6

        for spec, counts, first in (
            (desc.emg, emg_counts, packet.emg_first),
            (desc.acc, acc_counts, packet.acc_first),
        ):
            if spec is None:
                continue
            state = self._groups[spec.group]
            if state.restart_from is not None:
                # A restarted stream: nothing counts the samples a reboot lost, the clock
                # does; a deliberate STOP/START lost nothing.
                start0 = self._index_time_s(0, spec.rate_hz)
                lost_n = 0
                if self._restart_unexpected:
                    lost_n = max(0, round((start0 - state.restart_from) * spec.rate_hz))
                out.append(SignalGap(spec.group, state.restart_from,
                                     max(start0, state.restart_from), lost_n))
                state.restart_from = None
                state.pending_lost += lost_n
                lost = self.stats.samples_lost
                lost[spec.group] = lost.get(spec.group, 0) + lost_n
            if state.expected is not None:
                jump = (first - state.expected) % _WRAP
                if jump >= _HALF:
                    # Samples already delivered: a firmware fault, not a loss. Drop it.
                    self.stats.bad_packets += 1
                    out.append(FramesDropped(
                        1, f"DATA packet {packet.seq} repeats {spec.group} samples "
                        f"{first}..{state.expected - 1}"))
                    continue
                if jump:
                    t_start = self._index_time_s(state.expected, spec.rate_hz)
                    t_stop = self._index_time_s(first, spec.rate_hz)
                    out.append(SignalGap(spec.group, t_start, t_stop, int(jump)))
                    state.pending_lost += int(jump)
                    state.pending_gap = True
                    lost = self.stats.samples_lost
                    lost[spec.group] = lost.get(spec.group, 0) + int(jump)
            t0 = self._index_time_s(first, spec.rate_hz)
            if len(counts) == 0:
                state.expected = (first + len(counts)) % _WRAP
                continue
            out.append(SampleBlock(
                group=spec.group,
                fs_hz=spec.rate_hz,
                t0_s=t0,
                samples=to_physical(counts, spec),
                labels=spec.labels,
                gap_before=state.pending_gap,
                lost_samples=state.pending_lost,
            ))
            state.pending_gap = False
            state.pending_lost = 0
            state.expected = (first + len(counts)) % _WRAP
            state.t_end_s = t0 + len(counts) / spec.rate_hz
            seen = self.stats.samples
            seen[spec.group] = seen.get(spec.group, 0) + len(counts)
        if packet.n_emg or packet.n_acc:
            self._last_arrival = (host_us, self.session_time_s(newest))
            self._last_newest_dev_us = newest
            self._mapper.observe(newest, host_us)
        return out

    def _index_time_s(self, index: int, rate_hz: float) -> float:
        return self.session_time_s(self._t0_dev_us + index * 1e6 / rate_hz)

    def _newest_device_us(self, packet: DataPacket) -> float:
        desc = self._descriptor
        t0 = packet.t_us - packet.emg_first * 1e6 / desc.emg.rate_hz
        newest = packet.t_us + max(packet.n_emg - 1, 0) * 1e6 / desc.emg.rate_hz
        if desc.acc is not None and packet.n_acc:
            acc_newest = t0 + (packet.acc_first + packet.n_acc - 1) * 1e6 / desc.acc.rate_hz
            newest = max(newest, acc_newest)
        return newest

    def _restart(self, packet: DataPacket, unexpected: bool,
                 new_descriptor: bool = False) -> list[LinkItem]:
        """Begin a new stream at ``packet``; report the break for every group."""
        self.stats.restarts += 1
        out: list[LinkItem] = []
        if unexpected:
            self.stats.unexpected_restarts += 1
        new_t0_dev_us = packet.t_us - packet.emg_first * 1e6 / self._descriptor.emg.rate_hz
        if unexpected or new_descriptor or new_t0_dev_us < self._last_newest_dev_us:
            # The band rebooted (its clock went back, or it restarted unasked): the old
            # clock map means nothing now; re-learn it and place the stream by host time.
            self._mapper = ClockMapper(self.clock_params)
            self._origin_session_us = None
        previous_end = max(
            (s.t_end_s for s in self._groups.values() if s.t_end_s is not None), default=0.0
        )
        out.append(StreamRestarted(
            previous_end, unexpected,
            "band restarted its stream without being asked (reboot or brown-out?)"
            if unexpected else
            "stream restarted with the band's new descriptor" if new_descriptor
            else "stream started",
        ))
        self._reset_groups(keep_times=True)
        for state in self._groups.values():
            state.pending_gap = True
        self._restart_unexpected = unexpected
        self._begin_at_zero()
        for state in self._groups.values():
            state.restart_from = state.t_end_s
        return out

    def _begin_at_zero(self) -> None:
        """The next packet starts a stream whose first sample index is 0 (protocol 1.2)."""
        self._last_seq = None
        self._from_zero = True
        for state in self._groups.values():
            state.expected = 0
