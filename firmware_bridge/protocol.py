"""Band packets (docs/protocol.md, version 1): dataclasses, encoders and one decoder.

A packet is the unit every transport carries: serial frames it (``framing``), BLE
sends one per GATT value, capture files store it. :func:`decode_packet` turns any
byte string into a packet or raises :class:`ProtocolError`, never anything else,
so a garbled byte stream cannot crash a reader. Sample bytes of a DATA packet are
interpreted against the band's :class:`Descriptor` by :func:`unpack_samples`.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import struct
from dataclasses import dataclass

import numpy as np

from sensor.records import SignalGroup

PROTOCOL_VERSION = 1
MAX_PACKET_BYTES = 1024
DATA_HEADER_BYTES = 23
MAX_FRAMES_PER_PACKET = 255
MAX_CHANNELS = 16
MAX_RATES = 16


class ProtocolError(ValueError):
    """Bytes or values that do not follow docs/protocol.md."""


class PacketType(enum.IntEnum):
    """The first byte of every packet (docs/protocol.md 1)."""
    DESCRIPTOR = 0x01
    DATA = 0x02
    STATUS = 0x03
    ACK = 0x04
    GET_DESCRIPTOR = 0x10
    START = 0x11
    STOP = 0x12
    SET_RATE = 0x13
    BUZZ = 0x14
    TIME_SYNC = 0x15
    GET_STATUS = 0x16


class ErrorCode(enum.IntEnum):
    """The ``error`` field of an ACK."""

    OK = 0
    UNKNOWN_COMMAND = 1
    BAD_LENGTH = 2
    BAD_ARGUMENT = 3
    BUSY = 4
    UNSUPPORTED = 5
    INTERNAL = 6


_GROUP_CODES = {SignalGroup.EMG: 0, SignalGroup.ACC: 1}
_GROUP_BY_CODE = {v: k for k, v in _GROUP_CODES.items()}

# Lead-off bit 31 is the reference/bias electrode (docs/protocol.md 1.3).
LEAD_OFF_REFERENCE_BIT = 31
STATUS_FLAG_STREAMING = 0x01
STATUS_FLAG_CHARGING = 0x02
STATUS_FLAG_BUZZING = 0x04


def group_code(group: SignalGroup) -> int:
    """Return the wire code of a signal group (0 EMG, 1 ACC)."""
    return _GROUP_CODES[SignalGroup(group)]


def group_from_code(code: int) -> SignalGroup:
    """Return the signal group of a wire code; ProtocolError for an unknown one."""
    try:
        return _GROUP_BY_CODE[code]
    except KeyError:
        raise ProtocolError(f"unknown signal group code {code} (0 = EMG, 1 = ACC)") from None


# --- field checks shared by encoders --------------------------------------------------


def _check_uint(name: str, value: int, bits: int) -> int:
    if not isinstance(value, int | np.integer) or isinstance(value, bool):
        raise ProtocolError(f"{name} must be an integer, got {value!r}")
    if not 0 <= int(value) < (1 << bits):
        raise ProtocolError(f"{name} must be within 0..{(1 << bits) - 1}, got {value}")
    return int(value)


def _pack_str(name: str, text: str, max_bytes: int) -> bytes:
    raw = text.encode("utf-8")
    if not 1 <= len(raw) <= max_bytes:
        raise ProtocolError(f"{name} must be 1-{max_bytes} UTF-8 bytes, got {len(raw)}: {text!r}")
    return bytes([len(raw)]) + raw


class _Reader:
    """Cursor over a packet's bytes; every shortfall becomes a ProtocolError."""

    def __init__(self, data: bytes, what: str) -> None:
        self.data = data
        self.pos = 0
        self.what = what

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ProtocolError(
                f"{self.what} packet truncated: needs {self.pos + n} bytes, has {len(self.data)}"
            )
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str) -> tuple:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))

    def string(self, field_name: str) -> str:
        (n,) = self.unpack("<B")
        raw = self.take(n)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProtocolError(f"{self.what} {field_name} is not UTF-8: {raw!r}") from exc

    def finish(self) -> None:
        if self.pos != len(self.data):
            raise ProtocolError(
                f"{self.what} packet has {len(self.data) - self.pos} trailing bytes "
                f"(expected {self.pos}, got {len(self.data)})"
            )


# --- descriptor -----------------------------------------------------------------------


@dataclass(frozen=True)
class GroupSpec:
    """How one signal group is sampled and scaled: rate, sample width, units per count."""

    group: SignalGroup
    rate_mhz: int
    sample_width: int
    units_per_lsb: float
    labels: tuple[str, ...]
    rates_mhz: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "group", SignalGroup(self.group))
        object.__setattr__(self, "labels", tuple(self.labels))
        object.__setattr__(self, "rates_mhz", tuple(int(r) for r in self.rates_mhz))
        # Round-trip through f32 so a spec built in Python equals its decoded self.
        scale = float(np.float32(self.units_per_lsb))
        object.__setattr__(self, "units_per_lsb", scale)
        _check_uint("rate_mhz", self.rate_mhz, 32)
        if self.rate_mhz == 0:
            raise ProtocolError(f"{self.group} rate must be positive")
        if self.sample_width not in (2, 3):
            raise ProtocolError(
                f"sample_width must be 2 (int16) or 3 (int24), got {self.sample_width}"
            )
        if not (np.isfinite(scale) and scale > 0):
            raise ProtocolError(f"units_per_lsb must be positive, got {self.units_per_lsb}")
        if not 1 <= len(self.labels) <= MAX_CHANNELS:
            raise ProtocolError(f"a group has 1-{MAX_CHANNELS} channels, got {len(self.labels)}")
        if len(self.rates_mhz) > MAX_RATES:
            raise ProtocolError(f"at most {MAX_RATES} selectable rates, got {len(self.rates_mhz)}")
        for r in self.rates_mhz:
            _check_uint("rates_mhz", r, 32)

    @functools.cached_property
    def rate_hz(self) -> float:
        """Sample rate in Hz."""
        return self.rate_mhz / 1000.0

    @functools.cached_property
    def n_channels(self) -> int:
        """Number of channels in this group."""
        return len(self.labels)

    @functools.cached_property
    def frame_bytes(self) -> int:
        """Bytes of one sample frame (all channels of one instant)."""
        return self.n_channels * self.sample_width

    @functools.cached_property
    def count_range(self) -> tuple[int, int]:
        """Smallest and largest count a sample can hold."""
        bits = 8 * self.sample_width
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1

    def encode(self) -> bytes:
        """Return this group's bytes inside a DESCRIPTOR packet."""
        out = bytearray(
            struct.pack(
                "<BIBf", group_code(self.group), self.rate_mhz, self.sample_width,
                self.units_per_lsb,
            )
        )
        out.append(len(self.labels))
        for label in self.labels:
            out += _pack_str("channel label", label, 64)
        out.append(len(self.rates_mhz))
        for r in self.rates_mhz:
            out += struct.pack("<I", r)
        return bytes(out)

    @classmethod
    def _read(cls, r: _Reader) -> GroupSpec:
        code, rate_mhz, width, scale = r.unpack("<BIBf")
        group = group_from_code(code)
        (n_ch,) = r.unpack("<B")
        labels = tuple(r.string("channel label") for _ in range(n_ch))
        (n_rates,) = r.unpack("<B")
        rates = tuple(r.unpack("<I")[0] for _ in range(n_rates))
        return cls(group, rate_mhz, width, scale, labels, rates)


@dataclass(frozen=True)
class Descriptor:
    """What a band is (id, firmware) and how its samples are laid out, group by group."""

    device_id: str
    firmware_version: str
    groups: tuple[GroupSpec, ...]
    protocol_version: int = PROTOCOL_VERSION

    def __post_init__(self) -> None:
        object.__setattr__(self, "groups", tuple(self.groups))
        kinds = tuple(g.group for g in self.groups)
        if kinds not in ((SignalGroup.EMG,), (SignalGroup.EMG, SignalGroup.ACC)):
            raise ProtocolError(
                f"a descriptor lists EMG, or EMG then ACC; got {[str(k) for k in kinds]}"
            )
        _check_uint("protocol_version", self.protocol_version, 8)

    @property
    def emg(self) -> GroupSpec:
        """The EMG group (always present)."""
        return self.groups[0]

    @property
    def acc(self) -> GroupSpec | None:
        """The accelerometer group, or None for an EMG-only band."""
        return self.groups[1] if len(self.groups) > 1 else None

    def spec(self, group: SignalGroup) -> GroupSpec | None:
        """Return the spec of ``group``, or None when the band does not have it."""
        for g in self.groups:
            if g.group == group:
                return g
        return None

    def replace_rate(self, group: SignalGroup, rate_mhz: int) -> Descriptor:
        """Return this descriptor with ``group`` sampled at ``rate_mhz``."""
        groups = tuple(
            GroupSpec(g.group, rate_mhz, g.sample_width, g.units_per_lsb, g.labels, g.rates_mhz)
            if g.group == group
            else g
            for g in self.groups
        )
        return Descriptor(self.device_id, self.firmware_version, groups, self.protocol_version)

    def encode(self) -> bytes:
        """Return the packet's bytes (docs/protocol.md)."""
        out = bytearray([PacketType.DESCRIPTOR, self.protocol_version])
        out += _pack_str("device_id", self.device_id, 64)
        out += _pack_str("firmware_version", self.firmware_version, 32)
        out.append(len(self.groups))
        for g in self.groups:
            out += g.encode()
        if len(out) > MAX_PACKET_BYTES:
            raise ProtocolError(f"descriptor is {len(out)} bytes, over {MAX_PACKET_BYTES}")
        return bytes(out)

    @classmethod
    def _decode(cls, data: bytes) -> Descriptor:
        r = _Reader(data, "DESCRIPTOR")
        r.take(1)
        (version,) = r.unpack("<B")
        if version != PROTOCOL_VERSION:
            raise ProtocolError(
                f"band speaks protocol version {version}, this hub speaks {PROTOCOL_VERSION}: "
                "update crampwatch or the band's firmware"
            )
        device_id = r.string("device_id")
        firmware = r.string("firmware_version")
        (n_groups,) = r.unpack("<B")
        if n_groups not in (1, 2):
            raise ProtocolError(f"DESCRIPTOR lists {n_groups} groups, expected 1 or 2")
        groups = tuple(GroupSpec._read(r) for _ in range(n_groups))
        r.finish()
        return cls(device_id, firmware, groups, version)


# --- data, status, ack ----------------------------------------------------------------


@dataclass(frozen=True)
class DataPacket:
    """One DATA packet; ``samples`` holds the raw sample bytes (see :func:`unpack_samples`)."""

    seq: int
    t_us: int
    emg_first: int
    n_emg: int
    acc_first: int
    n_acc: int
    samples: bytes = b""

    def encode(self) -> bytes:
        """Return the packet's bytes (docs/protocol.md)."""
        out = struct.pack(
            "<BIQIBIB",
            PacketType.DATA,
            _check_uint("seq", self.seq, 32),
            _check_uint("t_us", self.t_us, 64),
            _check_uint("emg_first", self.emg_first, 32),
            _check_uint("n_emg", self.n_emg, 8),
            _check_uint("acc_first", self.acc_first, 32),
            _check_uint("n_acc", self.n_acc, 8),
        ) + bytes(self.samples)
        if len(out) > MAX_PACKET_BYTES:
            raise ProtocolError(f"DATA packet is {len(out)} bytes, over {MAX_PACKET_BYTES}")
        return out

    @classmethod
    def _decode(cls, data: bytes) -> DataPacket:
        if len(data) < DATA_HEADER_BYTES:
            raise ProtocolError(
                f"DATA packet truncated: {len(data)} bytes, header alone is {DATA_HEADER_BYTES}"
            )
        _, seq, t_us, emg_first, n_emg, acc_first, n_acc = struct.unpack_from("<BIQIBIB", data)
        return cls(seq, t_us, emg_first, n_emg, acc_first, n_acc, bytes(data[DATA_HEADER_BYTES:]))


@dataclass(frozen=True)
class StatusPacket:
    """Battery and electrode contact; ``lead_off`` bit 2k/2k+1 = EMG channel k +/- electrode."""

    t_us: int
    battery_pct: int = 255
    battery_mv: int = 0
    lead_off: int = 0
    flags: int = 0

    def encode(self) -> bytes:
        """Return the packet's bytes (docs/protocol.md)."""
        return struct.pack(
            "<BQBHIB",
            PacketType.STATUS,
            _check_uint("t_us", self.t_us, 64),
            _check_uint("battery_pct", self.battery_pct, 8),
            _check_uint("battery_mv", self.battery_mv, 16),
            _check_uint("lead_off", self.lead_off, 32),
            _check_uint("flags", self.flags, 8),
        )

    @classmethod
    def _decode(cls, data: bytes) -> StatusPacket:
        r = _Reader(data, "STATUS")
        _, t_us, pct, mv, lead_off, flags = r.unpack("<BQBHIB")
        r.finish()
        if pct > 100 and pct != 255:
            raise ProtocolError(f"STATUS battery_pct {pct} is neither 0-100 nor 255 (unknown)")
        return cls(t_us, pct, mv, lead_off, flags)

    @property
    def battery_known(self) -> bool:
        """True when the band reports its state of charge."""
        return self.battery_pct != 255

    def electrodes_off(self, n_emg_channels: int) -> list[str]:
        """Return names of electrodes off the skin, e.g. ["ch1+", "ref"]."""
        names = []
        for k in range(n_emg_channels):
            if self.lead_off >> (2 * k) & 1:
                names.append(f"ch{k + 1}+")
            if self.lead_off >> (2 * k + 1) & 1:
                names.append(f"ch{k + 1}-")
        if self.lead_off >> LEAD_OFF_REFERENCE_BIT & 1:
            names.append("ref")
        return names

    @property
    def streaming(self) -> bool:
        """True when the band was streaming at ``t_us``."""
        return bool(self.flags & STATUS_FLAG_STREAMING)

    @property
    def charging(self) -> bool:
        """True when the band was charging at ``t_us``."""
        return bool(self.flags & STATUS_FLAG_CHARGING)

    @property
    def buzzing(self) -> bool:
        """True when the band was playing a buzz pattern at ``t_us``."""
        return bool(self.flags & STATUS_FLAG_BUZZING)


@dataclass(frozen=True)
class Ack:
    """The band's answer to one command: its token, type, error code and result bytes."""

    token: int
    command: int
    error: int = ErrorCode.OK
    result: bytes = b""

    @property
    def ok(self) -> bool:
        """True when the command was done (error code 0)."""
        return self.error == ErrorCode.OK

    @property
    def error_name(self) -> str:
        """Name of the error code (``BUSY``), or ``error N`` for an unknown one."""
        try:
            return ErrorCode(self.error).name
        except ValueError:
            return f"error {self.error}"

    @property
    def command_name(self) -> str:
        """Name of the acknowledged command's type."""
        try:
            return PacketType(self.command).name
        except ValueError:
            return f"command 0x{self.command:02x}"

    def result_u64(self) -> int:
        """Return the result as one u64 (START's t0_us, TIME_SYNC's device_time_us)."""
        if len(self.result) != 8:
            raise ProtocolError(
                f"ACK of {self.command_name} carries {len(self.result)} result bytes, expected 8"
            )
        return struct.unpack("<Q", self.result)[0]

    def encode(self) -> bytes:
        """Return the packet's bytes (docs/protocol.md)."""
        return struct.pack(
            "<BBBB",
            PacketType.ACK,
            _check_uint("token", self.token, 8),
            _check_uint("command", self.command, 8),
            _check_uint("error", self.error, 8),
        ) + bytes(self.result)

    @classmethod
    def _decode(cls, data: bytes) -> Ack:
        r = _Reader(data, "ACK")
        _, token, command, error = r.unpack("<BBBB")
        return cls(token, command, error, bytes(data[4:]))


# --- commands -------------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    """A host -> band command; ``token`` is echoed in its ACK."""

    token: int = 0
    TYPE = PacketType.GET_DESCRIPTOR  # overridden per command

    def args(self) -> bytes:
        """Return the argument bytes that follow type and token."""
        return b""

    def encode(self) -> bytes:
        """Return the packet's bytes (docs/protocol.md)."""
        return bytes([self.TYPE, _check_uint("token", self.token, 8)]) + self.args()

    def with_token(self, token: int) -> Command:
        """Return a copy of this command carrying ``token``."""
        return dataclasses.replace(self, token=token)


@dataclass(frozen=True)
class GetDescriptor(Command):
    """Ask for the DESCRIPTOR packet (sent after the ACK)."""
    TYPE = PacketType.GET_DESCRIPTOR


@dataclass(frozen=True)
class Start(Command):
    """Start streaming; the ACK carries the device time of sample 0."""
    TYPE = PacketType.START


@dataclass(frozen=True)
class Stop(Command):
    """Stop streaming."""
    TYPE = PacketType.STOP


@dataclass(frozen=True)
class GetStatus(Command):
    """Ask for a STATUS packet (sent after the ACK)."""
    TYPE = PacketType.GET_STATUS


@dataclass(frozen=True)
class SetRate(Command):
    """Select a group's sample rate (one of the descriptor's ``rates_mhz``)."""

    group: SignalGroup = SignalGroup.EMG
    rate_mhz: int = 2_000_000
    TYPE = PacketType.SET_RATE

    def args(self) -> bytes:
        """Return the argument bytes that follow type and token."""
        rate_mhz = _check_uint("rate_mhz", self.rate_mhz, 32)
        return struct.pack("<BI", group_code(self.group), rate_mhz)


@dataclass(frozen=True)
class Buzz(Command):
    """Vibrate ``pulses`` times ``on_ms`` on, ``off_ms`` off; ``pulses=0`` stops a buzz."""

    pulses: int = 0
    on_ms: int = 0
    off_ms: int = 0
    intensity_pct: int = 0
    TYPE = PacketType.BUZZ

    def args(self) -> bytes:
        """Return the argument bytes that follow type and token."""
        if self.intensity_pct > 100:
            raise ProtocolError(f"buzz intensity is 0-100 %, got {self.intensity_pct}")
        return struct.pack(
            "<BHHB",
            _check_uint("pulses", self.pulses, 8),
            _check_uint("on_ms", self.on_ms, 16),
            _check_uint("off_ms", self.off_ms, 16),
            _check_uint("intensity_pct", self.intensity_pct, 8),
        )


@dataclass(frozen=True)
class TimeSync(Command):
    """Ask the band for its clock; ``host_time_us`` is the host clock when sent."""

    host_time_us: int = 0
    TYPE = PacketType.TIME_SYNC

    def args(self) -> bytes:
        """Return the argument bytes that follow type and token."""
        return struct.pack("<Q", _check_uint("host_time_us", self.host_time_us, 64))


COMMAND_TYPES: dict[int, type[Command]] = {
    c.TYPE: c for c in (GetDescriptor, Start, Stop, SetRate, Buzz, TimeSync, GetStatus)
}
_COMMAND_ARGS = {SetRate: "<BI", Buzz: "<BHHB", TimeSync: "<Q"}


class CommandArgumentError(ProtocolError):
    """A command of a known type whose arguments are malformed (the band answers BAD_LENGTH
    or BAD_ARGUMENT)."""

    def __init__(self, message: str, token: int, command: int, error: ErrorCode) -> None:
        super().__init__(message)
        self.token = token
        self.command = command
        self.error = error


def _decode_command(data: bytes) -> Command:
    if len(data) < 2:
        raise ProtocolError(f"command packet of {len(data)} byte(s): needs type and token")
    code, token = data[0], data[1]
    cls = COMMAND_TYPES[code]
    args = bytes(data[2:])
    fmt = _COMMAND_ARGS.get(cls, "")
    if len(args) != struct.calcsize(fmt):
        raise CommandArgumentError(
            f"{cls.__name__} carries {len(args)} argument bytes, expected {struct.calcsize(fmt)}",
            token, code, ErrorCode.BAD_LENGTH,
        )
    if cls is SetRate:
        gcode, rate = struct.unpack(fmt, args)
        if gcode not in _GROUP_BY_CODE:
            raise CommandArgumentError(
                f"SET_RATE names unknown group {gcode}", token, code, ErrorCode.BAD_ARGUMENT
            )
        return SetRate(token, _GROUP_BY_CODE[gcode], rate)
    if cls is Buzz:
        pulses, on_ms, off_ms, pct = struct.unpack(fmt, args)
        if pct > 100:
            raise CommandArgumentError(
                f"BUZZ intensity {pct} % is over 100", token, code, ErrorCode.BAD_ARGUMENT
            )
        return Buzz(token, pulses, on_ms, off_ms, pct)
    if cls is TimeSync:
        return TimeSync(token, struct.unpack(fmt, args)[0])
    return cls(token)


Packet = Descriptor | DataPacket | StatusPacket | Ack | Command


def decode_packet(payload: bytes) -> Packet:
    """Return the packet ``payload`` encodes; raise ProtocolError for anything malformed."""
    try:
        data = bytes(payload)
    except (TypeError, ValueError) as exc:
        raise ProtocolError(f"a packet is bytes, got {type(payload).__name__}") from exc
    if not data:
        raise ProtocolError("empty packet")
    if len(data) > MAX_PACKET_BYTES:
        raise ProtocolError(f"packet of {len(data)} bytes is over the {MAX_PACKET_BYTES} limit")
    kind = data[0]
    try:
        if kind == PacketType.DATA:
            return DataPacket._decode(data)
        if kind == PacketType.STATUS:
            return StatusPacket._decode(data)
        if kind == PacketType.ACK:
            return Ack._decode(data)
        if kind == PacketType.DESCRIPTOR:
            return Descriptor._decode(data)
        if kind in COMMAND_TYPES:
            return _decode_command(data)
    except ProtocolError:
        raise
    except (struct.error, ValueError, TypeError, KeyError, IndexError) as exc:
        raise ProtocolError(f"malformed 0x{kind:02x} packet: {exc}") from exc
    raise ProtocolError(f"unknown packet type 0x{kind:02x}")


# --- samples --------------------------------------------------------------------------


def _counts_to_bytes(counts: np.ndarray, spec: GroupSpec) -> bytes:
    arr = np.asarray(counts)
    if arr.ndim != 2 or arr.shape[1] != spec.n_channels:
        raise ProtocolError(
            f"{spec.group} counts must be (n_frames, {spec.n_channels}), got shape {arr.shape}"
        )
    lo, hi = spec.count_range
    if arr.size and (arr.min() < lo or arr.max() > hi):
        raise ProtocolError(f"{spec.group} counts outside {lo}..{hi} for {spec.sample_width} bytes")
    flat = arr.astype("<i4").reshape(-1)
    if spec.sample_width == 2:
        return flat.astype("<i2").tobytes()
    as_bytes = flat.view(np.uint8).reshape(-1, 4)[:, :3]
    return as_bytes.tobytes()


def _bytes_to_counts(raw: bytes, n_frames: int, spec: GroupSpec) -> np.ndarray:
    if spec.sample_width == 2:
        flat = np.frombuffer(raw, dtype="<i2").astype(np.int32)
    else:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        flat = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        flat = np.where(flat & 0x800000, flat - (1 << 24), flat).astype(np.int32)
    return flat.reshape(n_frames, spec.n_channels)


def pack_samples(descriptor: Descriptor, emg_counts: np.ndarray,
                 acc_counts: np.ndarray | None = None) -> bytes:
    """Return the sample bytes of a DATA packet from integer counts (frames x channels)."""
    out = _counts_to_bytes(emg_counts, descriptor.emg)
    if acc_counts is not None and len(acc_counts):
        if descriptor.acc is None:
            raise ProtocolError("ACC samples given but the descriptor has no ACC group")
        out += _counts_to_bytes(acc_counts, descriptor.acc)
    return out


def unpack_samples(packet: DataPacket, descriptor: Descriptor) -> tuple[np.ndarray, np.ndarray]:
    """Return (emg, acc) integer counts (frames x channels, int32) of a DATA packet."""
    emg_bytes = packet.n_emg * descriptor.emg.frame_bytes
    acc = descriptor.acc
    if acc is None and packet.n_acc:
        raise ProtocolError(f"DATA packet {packet.seq} has ACC frames but the band has no ACC")
    acc_bytes = packet.n_acc * acc.frame_bytes if acc is not None else 0
    if len(packet.samples) != emg_bytes + acc_bytes:
        raise ProtocolError(
            f"DATA packet {packet.seq} carries {len(packet.samples)} sample bytes; "
            f"{packet.n_emg} EMG + {packet.n_acc} ACC frames need {emg_bytes + acc_bytes}"
        )
    emg = _bytes_to_counts(packet.samples[:emg_bytes], packet.n_emg, descriptor.emg)
    if acc is None:
        return emg, np.zeros((0, 0), dtype=np.int32)
    return emg, _bytes_to_counts(packet.samples[emg_bytes:], packet.n_acc, acc)


def quantise(values: np.ndarray, spec: GroupSpec) -> np.ndarray:
    """Return integer counts (int32) for physical ``values``, rounded and clipped to the width."""
    lo, hi = spec.count_range
    counts = np.rint(np.asarray(values, dtype=np.float64) / spec.units_per_lsb)
    return np.clip(counts, lo, hi).astype(np.int32)


def to_physical(counts: np.ndarray, spec: GroupSpec) -> np.ndarray:
    """Return float32 physical values (uV or g) of integer counts."""
    # Counts (<= 24 bits) and the f32 scale are exact in float32, and IEEE multiplication
    # rounds the exact product once: the same float32 a float64 product would round to.
    return np.asarray(counts).astype(np.float32) * np.float32(spec.units_per_lsb)
