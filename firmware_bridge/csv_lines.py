"""CSV line mode (docs/protocol.md section 4) for hobby boards printing one line per sample.

An Arduino with a MyoWare or BioAmp sensor prints ``t,emg1[,emg2...][,ax,ay,az]``.
Such boards carry no descriptor, so the user gives the line rate, the time unit and
the scaling (:class:`CsvLineFormat`). :class:`CsvLineDecoder` turns the text into
SampleBlocks; :class:`CsvSerialLink` reads it from a serial port with the same
lifecycle as the binary links (no commands: these boards take none).
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import numpy as np

from firmware_bridge.events import Disconnected, FramesDropped, LinkItem, StreamRestarted
from firmware_bridge.link import BandLinkError, LinkItems, LinkLost, wall_clock_us
from firmware_bridge.serial_link import PortReader, open_port
from sensor.records import SampleBlock, SignalGap, SignalGroup

_SPLIT = re.compile(r"[,;\s]+")
# Hobby sketches print at 115200 baud: ~11 kB/s, enough for 1 kHz x 2 channels of text.
DEFAULT_CSV_BAUD = 115_200
MAX_LINE_BYTES = 256


class CsvFormatError(ValueError):
    """CSV line settings that cannot describe a board's output."""


@dataclass(frozen=True)
class CsvLineFormat:
    """What a board's lines mean: rate, time unit, columns and raw -> physical scaling.

    Physical value = (raw - offset) * per_unit, e.g. a 10-bit ADC centred at 512 with
    4.9 uV per count: ``emg_offset=512, emg_uv_per_unit=4.9``.
    """

    rate_hz: float
    emg_labels: tuple[str, ...] = ("EMG 1",)
    has_acc: bool = False
    time_unit_s: float = 1e-3  # millis(); micros() is 1e-6
    emg_offset: float = 0.0
    emg_uv_per_unit: float = 1.0
    acc_offset: float = 0.0
    acc_g_per_unit: float = 1.0
    acc_labels: tuple[str, ...] = ("ACC X", "ACC Y", "ACC Z")
    block_s: float = 0.02  # one block per 20 ms, the pipeline's usual block (DESIGN.md)

    def __post_init__(self) -> None:
        if not (self.rate_hz > 0 and math.isfinite(self.rate_hz)):
            raise CsvFormatError(f"line rate must be a positive number of Hz, got {self.rate_hz}")
        if not self.emg_labels:
            raise CsvFormatError("give at least one EMG column label")
        if not self.time_unit_s > 0:
            raise CsvFormatError(f"time unit must be positive seconds, got {self.time_unit_s}")
        if self.emg_uv_per_unit == 0 or self.acc_g_per_unit == 0:
            raise CsvFormatError("a scale of 0 would turn every sample into 0")

    @property
    def n_columns(self) -> int:
        """Number of fields in one line (time, EMG, optional x/y/z)."""
        return 1 + len(self.emg_labels) + (3 if self.has_acc else 0)

    @property
    def block_samples(self) -> int:
        """Samples per emitted block."""
        return max(1, round(self.block_s * self.rate_hz))


@dataclass
class CsvStats:
    """Lines read, lines skipped (with the last one, for the error message), samples lost."""

    lines: int = 0
    bad_lines: int = 0
    last_bad_line: str = ""
    samples: int = 0
    samples_lost: int = 0
    restarts: int = 0


class CsvLineDecoder:
    """Text in (any chunking), blocks out: ``feed(bytes)`` then ``flush()`` at the end.

    Sample times are index / rate on the session clock. The board's ``t`` column
    finds lost lines: a step of more than 1.5 periods plus one tick of the board's
    clock is a gap of ``round(dt * rate) - 1`` samples; a step back is a restart
    (the board was reset). With millis() at 2 kHz one lost line cannot be seen: the
    clock ticks slower than the samples.
    """

    def __init__(self, fmt: CsvLineFormat) -> None:
        self.fmt = fmt
        self.stats = CsvStats()
        self._partial = b""
        self._rows: list[list[float]] = []
        self._index = 0  # session sample index of the next line
        self._block_start = 0
        self._last_t: float | None = None
        self._pending_lost = 0
        self._pending_gap = False
        self._gap_limit_s = 1.5 / fmt.rate_hz + fmt.time_unit_s

    def feed(self, data: bytes) -> list[LinkItem]:
        """Return the items completed by ``data`` (gaps, full blocks)."""
        out: list[LinkItem] = []
        chunk = self._partial + data
        lines = chunk.split(b"\n")
        self._partial = lines.pop()
        if len(self._partial) > MAX_LINE_BYTES:
            self._bad(self._partial[:40].decode("ascii", "replace") + "...")
            self._partial = b""
        bad_before = self.stats.bad_lines
        for raw in lines:
            self._line(raw, out)
        if self.stats.bad_lines > bad_before:
            out.append(FramesDropped(
                self.stats.bad_lines - bad_before,
                f"lines that are not {self.fmt.n_columns} numbers skipped, last: "
                f"{self.stats.last_bad_line!r}",
            ))
        return out

    def flush(self) -> list[LinkItem]:
        """Return the last, partial block (at the end of the stream)."""
        out: list[LinkItem] = []
        self._emit(out)
        return out

    def _bad(self, text: str) -> None:
        self.stats.bad_lines += 1
        self.stats.last_bad_line = text

    def _line(self, raw: bytes, out: list[LinkItem]) -> None:
        text = raw.decode("ascii", "replace").strip()
        if not text:
            return
        fields = [f for f in _SPLIT.split(text) if f]
        try:
            values = [float(f) for f in fields]
        except ValueError:
            self._bad(text)
            return
        if len(values) != self.fmt.n_columns or not all(map(math.isfinite, values)):
            self._bad(text)
            return
        self.stats.lines += 1
        t = values[0] * self.fmt.time_unit_s
        if self._last_t is not None:
            dt = t - self._last_t
            if dt < 0:
                self._emit(out)
                self.stats.restarts += 1
                out.append(StreamRestarted(self._index / self.fmt.rate_hz, True,
                                           "the board's clock went back: it was reset"))
                self._pending_gap = True
            elif dt > self._gap_limit_s:
                lost = round(dt * self.fmt.rate_hz) - 1
                self._emit(out)
                rate = self.fmt.rate_hz
                out.append(SignalGap(SignalGroup.EMG, self._index / rate,
                                     (self._index + lost) / rate, lost))
                if self.fmt.has_acc:
                    out.append(SignalGap(SignalGroup.ACC, self._index / rate,
                                         (self._index + lost) / rate, lost))
                self._index += lost
                self._block_start = self._index
                self._pending_lost += lost
                self._pending_gap = True
                self.stats.samples_lost += lost
        self._last_t = t
        self._rows.append(values[1:])
        self._index += 1
        if len(self._rows) >= self.fmt.block_samples:
            self._emit(out)

    def _emit(self, out: list[LinkItem]) -> None:
        if not self._rows:
            return
        fmt = self.fmt
        arr = np.asarray(self._rows, dtype=np.float64)
        n_emg = len(fmt.emg_labels)
        t0 = self._block_start / fmt.rate_hz
        emg = (arr[:, :n_emg] - fmt.emg_offset) * fmt.emg_uv_per_unit
        out.append(SampleBlock(SignalGroup.EMG, fmt.rate_hz, t0, emg, fmt.emg_labels,
                               self._pending_gap, self._pending_lost))
        if fmt.has_acc:
            acc = (arr[:, n_emg:] - fmt.acc_offset) * fmt.acc_g_per_unit
            out.append(SampleBlock(SignalGroup.ACC, fmt.rate_hz, t0, acc, fmt.acc_labels,
                                   self._pending_gap, self._pending_lost))
        self.stats.samples += len(self._rows)
        self._rows = []
        self._block_start = self._index
        self._pending_gap = False
        self._pending_lost = 0


class CsvSerialLink:
    """A hobby board printing CSV lines on a serial port: connect, iterate, close."""

    def __init__(self, port: str, fmt: CsvLineFormat, baudrate: int = DEFAULT_CSV_BAUD) -> None:
        self.url = port
        self.fmt = fmt
        self.baudrate = baudrate
        self.decoder = CsvLineDecoder(fmt)
        self._items: LinkItems | None = None
        self._reader: PortReader | None = None
        self._port = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def connect(self) -> None:
        """Open the port; lines flow from now on (boards stream without being asked)."""
        self._loop = asyncio.get_running_loop()
        self._items = LinkItems()  # lines arrive at the board's pace: no overrun bound
        self._port = await asyncio.to_thread(open_port, self.url, self.baudrate)
        self._port.reset_input_buffer()
        self._reader = PortReader(self._port, self._on_data, self._on_error, wall_clock_us)
        self._reader.start()

    async def start(self) -> None:
        """Nothing to send: hobby boards print lines from power-on (kept for the link shape)."""
        if self._items is None:
            raise BandLinkError("connect() the link before starting it")

    async def close(self) -> None:
        """Close the port; the item stream ends after the last partial block."""
        reader, port = self._reader, self._port
        self._reader = self._port = None
        if reader is not None:
            await asyncio.to_thread(reader.stop)
        if port is not None:
            await asyncio.to_thread(port.close)
        if self._items is not None and not self._items.ended:
            for item in self.decoder.flush():
                self._items.put(item)
            self._items.end()

    async def __aenter__(self) -> CsvSerialLink:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __aiter__(self) -> AsyncIterator[LinkItem]:
        return self.items()

    async def items(self) -> AsyncIterator[LinkItem]:
        """Yield blocks and events until closed; LinkLost if the port died."""
        if self._items is None:
            raise BandLinkError("connect() the link before reading from it")
        async for item in self._items:
            yield item

    def _on_data(self, data: bytes, host_us: int) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._decode, data)

    def _decode(self, data: bytes) -> None:
        if self._items is not None:
            for item in self.decoder.feed(data):
                self._items.put(item)

    def _on_error(self, reason: str) -> None:
        def lost() -> None:
            items = self._items
            if items is None or items.ended:
                return
            for item in self.decoder.flush():
                items.put(item)
            items.put(Disconnected(reason, will_reconnect=False))
            items.end(LinkLost(reason))

        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(lost)
