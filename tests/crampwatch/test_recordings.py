"""EDF/EDF+ in and out: round trip, mixed rates and units, channel choice, damaged files."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crampwatch.recordings import EdfPlusWriter, EdfRecording, RecordingError, SignalSpec
from crampwatch.recordings.channels import is_emg_label, select_channels
from crampwatch.recordings.edf_writer import acc_spec, emg_spec
from sensor.records import SampleBlock, SignalGroup

EMG_LABELS = ("EMG R Gastroc", "EMG R Tib Ant")
ACC_LABELS = ("ACC X", "ACC Y", "ACC Z")


def _night(tmp_path: Path, seconds: int = 12, name: str = "night.edf") -> tuple[Path, np.ndarray,
                                                                                np.ndarray]:
    rng = np.random.default_rng(3)
    emg = rng.normal(0, 80, (seconds * 2000, 2))
    acc = np.column_stack([np.zeros(seconds * 100), rng.normal(0, 0.2, seconds * 100),
                           np.ones(seconds * 100)])
    path = tmp_path / name
    specs = [emg_spec(label, 2000) for label in EMG_LABELS]
    specs += [acc_spec(label, 100) for label in ACC_LABELS]
    with EdfPlusWriter(path, specs) as writer:
        # Write in uneven pieces, EMG and ACC interleaved, as a live recorder would.
        for start in range(0, seconds * 2000, 3001):
            block = emg[start : start + 3001]
            writer.write_block(SampleBlock(SignalGroup.EMG, 2000, start / 2000, block, EMG_LABELS))
            a0 = start // 20
            writer.write_block(SampleBlock(SignalGroup.ACC, 100, a0 / 100,
                                           acc[a0 : (start + block.shape[0]) // 20], ACC_LABELS))
        writer.annotate(2.5, 4.25, "tonic cramp")
        writer.annotate(9.0, 0.0, "lights on")
    return path, emg, acc


def _read_all(rec: EdfRecording, chunk_s: float) -> tuple[np.ndarray, np.ndarray, list]:
    blocks = list(rec.blocks(chunk_s))
    emg = np.concatenate([b.samples for b in blocks if b.group is SignalGroup.EMG])
    acc = np.concatenate([b.samples for b in blocks if b.group is SignalGroup.ACC])
    return emg, acc, blocks


def test_edf_plus_round_trip_keeps_samples_within_quantisation_and_annotations(tmp_path):
    path, emg, acc = _night(tmp_path)
    with EdfRecording(path) as rec:
        assert rec.emg_labels == EMG_LABELS and rec.acc_labels == ACC_LABELS
        assert rec.emg_fs_hz == 2000 and rec.acc_fs_hz == 100
        got_emg, got_acc, _ = _read_all(rec, 5.0)
        notes = rec.annotations()
    emg_step = 2 * 6553.5 / 65535
    acc_step = 2 * 8.0 / 65535
    assert got_emg.shape == emg.shape and got_acc.shape == acc.shape
    assert np.max(np.abs(got_emg - emg)) <= emg_step
    assert np.max(np.abs(got_acc - acc)) <= acc_step
    assert [(a.onset_s, a.duration_s, a.text) for a in notes] == [
        (2.5, 4.25, "tonic cramp"), (9.0, 0.0, "lights on")
    ]


def test_blocks_alternate_emg_then_acc_in_time_order_and_any_chunk_gives_same_samples(tmp_path):
    path, _, _ = _night(tmp_path)
    with EdfRecording(path) as rec:
        emg_a, acc_a, blocks = _read_all(rec, 1.0)
        emg_b, acc_b, _ = _read_all(rec, 7.3)
    groups = [b.group for b in blocks]
    assert groups[:4] == [SignalGroup.EMG, SignalGroup.ACC, SignalGroup.EMG, SignalGroup.ACC]
    for emg_block, acc_block in zip(blocks[::2], blocks[1::2], strict=True):
        assert emg_block.t0_s == pytest.approx(acc_block.t0_s)
        assert emg_block.t_end_s == pytest.approx(acc_block.t_end_s)
    np.testing.assert_array_equal(emg_a, emg_b)
    np.testing.assert_array_equal(acc_a, acc_b)


def test_mixed_rates_and_units_are_converted_to_uv_and_g(tmp_path):
    path = tmp_path / "lab.edf"
    seconds = 4
    t = np.arange(seconds * 1000) / 1000
    emg_mv = 0.5 * np.sin(2 * np.pi * 80 * t)  # 0.5 mV = 500 uV
    acc_ms2 = np.full(seconds * 50, 9.80665)  # 1 g
    specs = [
        SignalSpec("EEG C3-A2", "uV", 256, -500, 500),
        SignalSpec("RAT", "mV", 1000, -5, 5),
        SignalSpec("Accel X", "m/s^2", 50, -80, 80),
        SignalSpec("Accel Y", "m/s^2", 50, -80, 80),
        SignalSpec("Accel Z", "m/s^2", 50, -80, 80),
    ]
    with EdfPlusWriter(path, specs) as writer:
        writer.write_signal("EEG C3-A2", np.zeros(seconds * 256))
        writer.write_signal("RAT", emg_mv)
        for label in ("Accel X", "Accel Y", "Accel Z"):
            writer.write_signal(label, acc_ms2)
    with EdfRecording(path) as rec:
        assert rec.emg_labels == ("RAT",)
        assert rec.acc_labels == ("Accel X", "Accel Y", "Accel Z")
        assert (rec.emg_fs_hz, rec.acc_fs_hz) == (1000, 50)
        emg, acc, blocks = _read_all(rec, 1.5)
    assert {b.fs_hz for b in blocks if b.group is SignalGroup.EMG} == {1000}
    np.testing.assert_allclose(emg[:, 0], 1000 * emg_mv, atol=10 / 65535 * 1000 + 1e-6)
    np.testing.assert_allclose(acc, 1.0, atol=1e-3)


def test_emg_labels_sleep_lab_style_and_overrides():
    assert is_emg_label("LAT") and is_emg_label("RAT2") and is_emg_label("EMG L Tib Ant")
    assert is_emg_label("LGM") and is_emg_label("Leg L")
    assert not is_emg_label("Chin EMG") and not is_emg_label("ECG") and not is_emg_label("ACC X")
    labels = ["EEG", "Chin EMG", "LAT", "RAT", "ACC X", "ACC Y", "ACC Z"]
    chosen = select_channels(labels)
    assert chosen.emg == (2, 3) and chosen.acc == (4, 5, 6)
    assert select_channels(labels, emg_labels=["RAT"]).emg == (3,)
    with pytest.raises(ValueError, match="no signal labelled 'EMG R Soleus'"):
        select_channels(labels, emg_labels=["EMG R Soleus"])


def test_file_without_emg_names_the_labels_it_saw(tmp_path):
    path = tmp_path / "psg.edf"
    with EdfPlusWriter(path, [SignalSpec("EEG C3-A2", "uV", 256, -500, 500),
                              SignalSpec("ECG", "mV", 256, -5, 5)]) as writer:
        writer.write_signal("EEG C3-A2", np.zeros(512))
        writer.write_signal("ECG", np.zeros(512))
    with pytest.raises(RecordingError, match=r"no leg EMG channel.*'EEG C3-A2', 'ECG'"):
        EdfRecording(path)


def test_truncated_edf_is_a_clear_error(tmp_path):
    path, _, _ = _night(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 5000])
    with pytest.raises(RecordingError, match="truncated"):
        EdfRecording(path)


def _set_record_count(path: Path, n_records: int) -> None:
    data = bytearray(path.read_bytes())
    data[236:244] = f"{n_records:<8d}".encode("ascii")
    path.write_bytes(bytes(data))


def test_header_claiming_fewer_records_than_the_file_holds_names_the_header(tmp_path):
    path, _, _ = _night(tmp_path)  # 12 data records of 1 s
    _set_record_count(path, 1)
    with pytest.raises(RecordingError, match=r"record count is wrong: it says 1 data records.*"
                                             r"holds 12 whole records.*set the header's record "
                                             r"count to 12"):
        EdfRecording(path)


def test_header_claiming_more_records_than_the_file_holds_names_the_file(tmp_path):
    path, _, _ = _night(tmp_path)
    _set_record_count(path, 1200)
    with pytest.raises(RecordingError, match=r"truncated: the header promises 1200 data records"
                                             r".*\(12 whole records\)"):
        EdfRecording(path)


def test_header_record_count_never_filled_in_is_a_clear_error(tmp_path):
    path, _, _ = _night(tmp_path)
    _set_record_count(path, -1)
    with pytest.raises(RecordingError, match=r"never filled in.*holds 12 data records"):
        EdfRecording(path)


def test_trailing_bytes_short_of_a_record_are_ignored_with_a_warning(tmp_path, caplog):
    path, _, _ = _night(tmp_path)
    with path.open("ab") as fh:
        fh.write(b"\x00" * 17)
    with caplog.at_level(logging.WARNING), EdfRecording(path) as rec:
        assert rec.duration_s == pytest.approx(12.0)
    assert "17 bytes after the last of 12 data records are ignored" in caplog.text


def test_corrupt_edf_header_is_a_clear_error(tmp_path):
    path = tmp_path / "junk.edf"
    path.write_bytes(b"0       " + b"\x00garbage" * 100)
    with pytest.raises(RecordingError, match=r"damaged|not a readable"):
        EdfRecording(path)
    path.write_bytes(b"")
    with pytest.raises(RecordingError):
        EdfRecording(path)


def test_unknown_unit_is_refused_with_the_channel_named(tmp_path):
    path = tmp_path / "odd.edf"
    with EdfPlusWriter(path, [SignalSpec("EMG R Gastroc", "counts", 1000, -100, 100)]) as w:
        w.write_signal("EMG R Gastroc", np.zeros(1000))
    with pytest.raises(RecordingError, match=r"'EMG R Gastroc'.*'counts'"):
        EdfRecording(path)


def test_low_emg_rate_warns_and_too_low_is_refused(tmp_path, caplog):
    for rate in (500, 200):
        path = tmp_path / f"r{rate}.edf"
        with EdfPlusWriter(path, [SignalSpec("EMG R Gastroc", "uV", rate, -100, 100)]) as w:
            w.write_signal("EMG R Gastroc", np.zeros(rate))
    with caplog.at_level(logging.WARNING):
        EdfRecording(tmp_path / "r500.edf").close()
    assert "too low for the 450 Hz upper band-pass corner" in caplog.text
    with pytest.raises(RecordingError, match="at least 250 Hz"):
        EdfRecording(tmp_path / "r200.edf")


def test_window_reads_a_span_in_physical_units(tmp_path):
    path, emg, _acc = _night(tmp_path)
    with EdfRecording(path) as rec:
        w_emg, w_acc = rec.window(3.0, 4.0)
    assert w_emg.shape == (2000, 2) and w_acc is not None and w_acc.shape == (100, 3)
    assert np.max(np.abs(w_emg - emg[6000:8000])) <= 0.2


def test_discontinuous_edf_plus_is_refused(tmp_path):
    path, _, _ = _night(tmp_path)
    data = bytearray(path.read_bytes())
    assert data[192:197] == b"EDF+C"
    data[192:197] = b"EDF+D"
    path.write_bytes(bytes(data))
    with pytest.raises(RecordingError, match="discontinuous"):
        EdfRecording(path)


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chunk_s=st.floats(min_value=0.013, max_value=15.0))
def test_any_chunk_length_yields_the_same_samples_in_time_order(tmp_path, chunk_s):
    path = tmp_path / "night.edf"
    if not path.exists():
        _night(tmp_path)
    with EdfRecording(path) as rec:
        reference_emg, reference_acc, _ = _read_all(rec, 12.0)
        emg, acc, blocks = _read_all(rec, chunk_s)
    np.testing.assert_array_equal(emg, reference_emg)
    np.testing.assert_array_equal(acc, reference_acc)
    starts = [b.t0_s for b in blocks]
    assert starts == sorted(starts)  # EMG and ACC interleaved in time order


def _edflib_samples(path: Path, labels: tuple[str, ...], factor: float) -> np.ndarray:
    """Return the signals as edflib reads them, scaled and stored as the reader stores them."""
    import pyedflib

    reader = pyedflib.EdfReader(str(path))
    try:
        names = [label.strip() for label in reader.getSignalLabels()]
        columns = [reader.readSignal(names.index(label)) * factor for label in labels]
    finally:
        reader.close()
    return np.stack(columns, axis=1).astype(np.float32)


def _set_digital_range(path: Path, low: int, high: int) -> None:
    """Rewrite every data signal's digital range in the header (samples stay as stored)."""
    raw = bytearray(path.read_bytes())
    n = int(raw[252:256])
    for i in range(n):
        if raw[256 + 16 * i : 256 + 16 * i + 15] == b"EDF Annotations":
            continue
        at = 256 + n * (16 + 80 + 8 + 8 + 8) + 8 * i
        raw[at : at + 8] = f"{low:<8d}".encode()
        raw[at + 8 * n : at + 8 * n + 8] = f"{high:<8d}".encode()
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("chunk_s", [0.7, 5.0, 12.0])
@pytest.mark.parametrize("digital_range", [None, (-300, 400)])
def test_samples_are_edflibs_bit_for_bit_whatever_the_chunk(tmp_path, chunk_s, digital_range):
    path, _, _ = _night(tmp_path)
    if digital_range is not None:
        # Stored values beyond the header's digital range are converted, not held to it.
        _set_digital_range(path, *digital_range)
    with EdfRecording(path) as rec:
        emg, acc, _ = _read_all(rec, chunk_s)
        span_emg, span_acc = rec.window(3.25, 7.5)
    ref_emg = _edflib_samples(path, EMG_LABELS, 1.0)
    ref_acc = _edflib_samples(path, ACC_LABELS, 1.0)
    assert emg.dtype == np.float32 and emg.shape == ref_emg.shape
    np.testing.assert_array_equal(emg.view(np.uint32), ref_emg.view(np.uint32))
    np.testing.assert_array_equal(acc.view(np.uint32), ref_acc.view(np.uint32))
    np.testing.assert_array_equal(span_emg, ref_emg[6500:15000])
    assert span_acc is not None
    np.testing.assert_array_equal(span_acc, ref_acc[325:750])


def test_emg_in_millivolts_is_edflibs_times_a_thousand(tmp_path):
    path = tmp_path / "mv.edf"
    rng = np.random.default_rng(5)
    specs = [SignalSpec("EMG L Gastroc", "mV", 1000, -5, 5)]
    with EdfPlusWriter(path, specs) as writer:
        writer.write_signal("EMG L Gastroc", rng.normal(0, 0.1, 3000))
    with EdfRecording(path) as rec:
        emg = np.concatenate([b.samples for b in rec.blocks(0.9)])
    np.testing.assert_array_equal(emg, _edflib_samples(path, ("EMG L Gastroc",), 1000.0))


def test_annotations_can_be_read_before_and_while_samples_stream(tmp_path):
    path, emg, _ = _night(tmp_path)
    with EdfRecording(path) as rec:
        notes = [(a.onset_s, a.text) for a in rec.annotations()]
        blocks = rec.blocks(2.0)
        first = next(blocks)
        again = [(a.onset_s, a.text) for a in rec.annotations()]
        rest = [b for b in blocks if b.group is SignalGroup.EMG]
        start = rec.start_datetime
    assert notes == again == [(2.5, "tonic cramp"), (9.0, "lights on")]
    got = np.concatenate([first.samples, *(b.samples for b in rest)])
    assert got.shape == emg.shape
    with EdfRecording(path) as rec:
        assert rec.start_datetime == start


def test_a_bdf_recording_is_read_through_edflib_with_its_annotations(tmp_path):
    import pyedflib

    path = tmp_path / "night.bdf"
    rng = np.random.default_rng(9)
    emg = rng.normal(0.0, 80.0, (6000, 2))
    writer = pyedflib.EdfWriter(str(path), 2, file_type=pyedflib.FILETYPE_BDFPLUS)
    try:
        writer.setSignalHeaders([
            {"label": label, "dimension": "uV", "sample_frequency": 2000,
             "physical_min": -6553.5, "physical_max": 6553.5,
             "digital_min": -8388608, "digital_max": 8388607}
            for label in EMG_LABELS])
        writer.writeSamples([emg[:, 0].copy(), emg[:, 1].copy()])
        writer.writeAnnotation(1.5, 0.5, "tonic cramp")
    finally:
        writer.close()
    with EdfRecording(path) as rec:
        got = np.concatenate([b.samples for b in rec.blocks(0.7)])
        notes = [(a.onset_s, a.text) for a in rec.annotations()]
    np.testing.assert_array_equal(got, _edflib_samples(path, EMG_LABELS, 1.0))
    assert np.max(np.abs(got - emg)) < 1e-2  # 24-bit: far finer than EDF's 0.2 uV
    assert notes == [(1.5, "tonic cramp")]
