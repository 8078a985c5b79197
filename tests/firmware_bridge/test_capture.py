"""Raw capture files: bit-exact replay, damaged tails, and surviving kill -9."""

from __future__ import annotations

import asyncio
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from firmware_bridge.capture import (
    MAGIC,
    CaptureError,
    CaptureReader,
    CaptureTruncatedWarning,
    CaptureWriter,
    iter_records,
    read_capture,
)
from firmware_bridge.clock import ClockParams
from firmware_bridge.events import CaptureStopped
from firmware_bridge.link import BandLink
from firmware_bridge.protocol import decode_packet
from sensor.records import SampleBlock, SignalGap
from tests.firmware_bridge.band_helpers import make_band, run_band

REPO = Path(__file__).resolve().parents[2]


def _same_items(a: list, b: list) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert type(x) is type(y)
        if isinstance(x, SampleBlock):
            assert (x.group, x.fs_hz, x.t0_s, x.labels, x.gap_before, x.lost_samples) == (
                y.group, y.fs_hz, y.t0_s, y.labels, y.gap_before, y.lost_samples)
            assert x.samples.tobytes() == y.samples.tobytes()
        else:
            assert x == y


def _capture_session(path: Path):
    band, clock, *_ = make_band(4.0)
    asm, items, raw = run_band(band, clock, 1.0)
    band.drop_next(2)
    band.set_lead_off(1)
    _, more, raw2 = run_band(band, clock, 1.0, assembler=asm, start=False)
    with CaptureWriter(path) as cap:
        cap.append(band.descriptor.encode(), raw[0][1] - 1)
        for packet, host_us in raw + raw2:
            cap.append(packet, host_us)
    return items + more, raw + raw2


def test_capture_replays_bit_exactly(tmp_path: Path):
    path = tmp_path / "night.cwcap"
    live, raw = _capture_session(path)
    reader = CaptureReader(path)
    assert reader.descriptor.emg.labels == ("EMG R Gastroc", "EMG R Tib Ant")
    replayed = list(reader.items())
    _same_items(live, replayed)
    assert any(isinstance(i, SignalGap) for i in replayed)
    assert [r.packet for r in iter_records(path)][1:] == [p for p, _ in raw]
    blocks = list(read_capture(path))
    assert blocks and all(isinstance(b, SampleBlock) for b in blocks)


def test_truncated_tail_warns_and_keeps_everything_before(tmp_path: Path):
    path = tmp_path / "cut.cwcap"
    _capture_session(path)
    full = list(CaptureReader(path).blocks())
    data = path.read_bytes()
    path.write_bytes(data[:-7])  # killed in the middle of the last record
    with pytest.warns(CaptureTruncatedWarning, match="trailing bytes ignored"):
        cut = list(CaptureReader(path).blocks())
    # The last record was the last packet; everything before it is intact.
    assert len(cut) >= len(full) - 2
    _same_items(cut, full[: len(cut)])


def test_corrupt_last_record_is_detected_by_its_crc(tmp_path: Path):
    path = tmp_path / "bad.cwcap"
    _capture_session(path)
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.warns(CaptureTruncatedWarning, match="CRC does not match"):
        records = list(iter_records(path))
    assert decode_packet(records[0].packet).device_id == "CW-VIRTUAL-0001"


def test_writer_never_overwrites_and_reader_refuses_other_files(tmp_path: Path):
    path = tmp_path / "x.cwcap"
    CaptureWriter(path).close()
    with pytest.raises(CaptureError, match="already exists"):
        CaptureWriter(path)
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    with pytest.raises(CaptureError, match="not a crampwatch capture"):
        list(iter_records(other))
    with pytest.raises(CaptureError, match="no band descriptor"):
        CaptureReader(path)


def test_a_capture_is_readable_by_its_owner_only_whatever_the_umask(tmp_path: Path):
    path = tmp_path / "night.cwcap"
    old = os.umask(0o022)  # the usual umask, under which captures were created 0644
    try:
        _, raw = _capture_session(path)
    finally:
        os.umask(old)
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert len(list(iter_records(path))) == 1 + len(raw)  # the descriptor, then every packet


_KILL_WRITER = """
import sys, time
from firmware_bridge.capture import CaptureWriter
cap = CaptureWriter(sys.argv[1])
i = 0
while True:
    cap.append(bytes([2]) + i.to_bytes(4, "little") * 20, i)
    print(i, flush=True)
    i += 1
    time.sleep(0.002)
"""


def test_kill_9_loses_nothing_already_appended(tmp_path: Path):
    path = tmp_path / "killed.cwcap"
    proc = subprocess.Popen([sys.executable, "-c", _KILL_WRITER, str(path)], cwd=REPO,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    last = -1
    deadline = time.monotonic() + 30
    while last < 200 and time.monotonic() < deadline:
        last = int(proc.stdout.readline())
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert path.read_bytes()[: len(MAGIC)] == MAGIC
    records = list(iter_records(path))
    # Every record the writer had returned from append() is on disk, in order.
    assert len(records) >= last + 1
    assert [r.host_us for r in records] == list(range(len(records)))
    assert np.all([len(r.packet) == 81 for r in records])


class _DirectLink(BandLink):
    """A BandLink whose transport is a direct call into a virtual band (no bytes lost)."""

    def __init__(self, band, **kwargs) -> None:
        super().__init__(**kwargs)
        self.band = band

    async def _open(self) -> None:
        pass

    async def _close_transport(self) -> None:
        pass

    async def _write_packet(self, packet: bytes) -> None:
        for out in self.band.handle(packet):
            self._packet_received(out.packet, self.band.now_us())

    def pump(self) -> None:
        for out in self.band.due():
            self._packet_received(out.packet, self.band.now_us())


def test_a_full_disk_stops_the_capture_not_the_stream(tmp_path: Path):
    band, clock, *_ = make_band(3.0)
    path = tmp_path / "full.cwcap"

    async def main():
        link = _DirectLink(band, capture=CaptureWriter(path))
        await link.connect()
        await link.start()
        for _ in range(100):  # 0.5 s of stream
            clock.now_us += 5000
            link.pump()
        old = resource.getrlimit(resource.RLIMIT_FSIZE)
        old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        # The file may not grow any more: the next write fails as on a full disk.
        resource.setrlimit(resource.RLIMIT_FSIZE, (path.stat().st_size, old[1]))
        try:
            for _ in range(100):
                clock.now_us += 5000
                link.pump()
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, old)
            signal.signal(signal.SIGXFSZ, old_handler)
        await link.close()
        return [i async for i in link]

    items = asyncio.run(main())
    stopped = [i for i in items if isinstance(i, CaptureStopped)]
    assert len(stopped) == 1 and stopped[0].path == str(path)
    emg = [b for b in items if isinstance(b, SampleBlock) and b.group == "emg"]
    assert sum(b.n_samples for b in emg) >= 2000 - 49  # a full second kept streaming
    assert not any(b.gap_before for b in emg)
    # What was written before the disk filled replays without complaint.
    assert 0 < sum(b.n_samples for b in read_capture(path) if b.group == "emg") < 1100


def test_capture_of_a_sped_up_band_replays_in_signal_seconds(tmp_path: Path):
    """A virtual band at 10x: the replay finds the speed from the capture itself."""
    band, clock, *_ = make_band(40.0, speed=10.0)
    params = ClockParams(device_speed=10.0)
    _, live, raw = run_band(band, clock, 3.5, clock_params=params)
    path = tmp_path / "fast.cwcap"
    with CaptureWriter(path) as cap:
        cap.append(band.descriptor.encode(), raw[0][1] - 1)
        for packet, host_us in raw:
            cap.append(packet, host_us)
    reader = CaptureReader(path)
    assert reader.clock_params.device_speed == 10.0
    _same_items(live, list(reader.items()))
    emg = [b for b in reader.blocks() if b.group == "emg"]
    assert emg[-1].t_end_s == pytest.approx(sum(b.n_samples for b in emg) / 2000, abs=1e-3)
