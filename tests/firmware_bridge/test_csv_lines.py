"""CSV line mode: hobby-board text to blocks, with gaps, junk lines and resets."""

from __future__ import annotations

import asyncio
import os
import tty

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.csv_lines import (
    CsvFormatError,
    CsvLineDecoder,
    CsvLineFormat,
    CsvSerialLink,
)
from firmware_bridge.events import Disconnected, FramesDropped, StreamRestarted
from firmware_bridge.link import LinkLost
from sensor.records import SampleBlock, SignalGap, SignalGroup

FMT = CsvLineFormat(rate_hz=1000.0, emg_labels=("EMG L Gastroc", "EMG L Tib Ant"), has_acc=True,
                    time_unit_s=1e-6, emg_offset=512, emg_uv_per_unit=4.9, acc_offset=0,
                    acc_g_per_unit=1 / 256)


def _lines(n: int, start: int = 0, t0_us: int = 1_000_000, skip: range = range(0)) -> bytes:
    out = []
    for i in range(start, start + n):
        if i in skip:
            continue
        out.append(f"{t0_us + i * 1000},{512 + i % 50},{500 - i % 7},{i % 3},0,256\r\n")
    return "".join(out).encode()


def _blocks(items, group=SignalGroup.EMG) -> list[SampleBlock]:
    return [i for i in items if isinstance(i, SampleBlock) and i.group == group]


def test_lines_become_blocks_in_physical_units():
    dec = CsvLineDecoder(FMT)
    items = dec.feed(_lines(100)) + dec.flush()
    emg = np.concatenate([b.samples for b in _blocks(items)])
    acc = np.concatenate([b.samples for b in _blocks(items, SignalGroup.ACC)])
    i = np.arange(100)
    assert np.allclose(emg[:, 0], (i % 50) * 4.9) and np.allclose(emg[:, 1], (-12 - i % 7) * 4.9)
    assert np.allclose(acc[:, 2], 1.0)
    b = _blocks(items)
    assert [x.n_samples for x in b] == [20] * 5  # 20 ms blocks at 1 kHz
    assert b[1].t0_s == pytest.approx(0.02) and b[0].labels == FMT.emg_labels


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 3000), max_size=15))
def test_any_chunking_gives_the_same_blocks(cuts):
    data = _lines(150, skip=range(60, 64))
    whole = CsvLineDecoder(FMT)
    ref = whole.feed(data) + whole.flush()
    dec = CsvLineDecoder(FMT)
    got = []
    prev = 0
    for c in [*sorted(c for c in cuts if c < len(data)), len(data)]:
        got += dec.feed(data[prev:c])
        prev = c
    got += dec.flush()
    assert [(type(x), getattr(x, "t0_s", None)) for x in got] == [
        (type(x), getattr(x, "t0_s", None)) for x in ref]
    assert np.array_equal(np.concatenate([b.samples for b in _blocks(got)]),
                          np.concatenate([b.samples for b in _blocks(ref)]))


def test_missing_lines_are_a_gap_of_the_right_length():
    dec = CsvLineDecoder(FMT)
    items = dec.feed(_lines(100, skip=range(40, 45))) + dec.flush()
    gaps = [i for i in items if isinstance(i, SignalGap) and i.group == SignalGroup.EMG]
    assert len(gaps) == 1 and gaps[0].lost_samples == 5
    assert (gaps[0].start_s, gaps[0].end_s) == (pytest.approx(0.040), pytest.approx(0.045))
    after = next(b for b in _blocks(items) if b.gap_before)
    assert after.t0_s == pytest.approx(0.045) and after.lost_samples == 5
    assert dec.stats.samples == 95 and dec.stats.samples_lost == 5


def test_junk_lines_are_skipped_and_reported():
    dec = CsvLineDecoder(FMT)
    data = b"MyoWare ready\r\n" + _lines(10) + b"12,oops,3\n1,2\n" + _lines(10, start=10)
    items = dec.feed(data) + dec.flush()
    dropped = [i for i in items if isinstance(i, FramesDropped)]
    assert sum(d.count for d in dropped) == 3 and "1,2" in dropped[0].reason
    assert sum(b.n_samples for b in _blocks(items)) == 20
    assert not any(isinstance(i, SignalGap) for i in items)


def test_clock_going_back_is_a_board_reset():
    dec = CsvLineDecoder(FMT)
    items = dec.feed(_lines(30) + _lines(30, t0_us=0)) + dec.flush()
    assert any(isinstance(i, StreamRestarted) and i.unexpected for i in items)
    assert sum(b.n_samples for b in _blocks(items)) == 60
    assert any(b.gap_before for b in _blocks(items))


def test_millis_clock_slower_than_the_samples_is_not_a_gap():
    fmt = CsvLineFormat(rate_hz=2000.0, time_unit_s=1e-3)
    lines = "".join(f"{i // 2},{i}\n" for i in range(400)).encode()  # millis() at 2 kHz
    dec = CsvLineDecoder(fmt)
    items = dec.feed(lines) + dec.flush()
    assert not any(isinstance(i, SignalGap) for i in items)
    assert sum(b.n_samples for b in _blocks(items)) == 400


def test_bad_settings_are_refused():
    with pytest.raises(CsvFormatError, match="positive"):
        CsvLineFormat(rate_hz=0)
    with pytest.raises(CsvFormatError, match="scale of 0"):
        CsvLineFormat(rate_hz=500, emg_uv_per_unit=0)


def test_csv_board_on_a_serial_port_then_unplugged():
    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    port = os.ttyname(slave)

    async def main():
        link = CsvSerialLink(port, FMT)
        await link.connect()
        os.write(master, _lines(200))
        got = []
        async for item in link:
            got.append(item)
            if sum(b.n_samples for b in _blocks(got)) >= 200:
                break
        os.close(master)  # the board is unplugged
        os.close(slave)
        with pytest.raises(LinkLost, match="stopped working"):
            async for item in link:
                got.append(item)
        await link.close()
        return got

    got = asyncio.run(asyncio.wait_for(main(), 20))
    assert sum(b.n_samples for b in _blocks(got)) == 200
    assert isinstance(got[-1], Disconnected) and not got[-1].will_reconnect
