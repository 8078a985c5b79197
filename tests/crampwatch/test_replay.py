"""Replay: the live path fed faster. Same events as 20 ms live blocks; the CLI contract."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from crampwatch.cli import main
from crampwatch.pipeline import Pipeline
from crampwatch.recording_paths import quality_path
from crampwatch.recordings import EdfRecording
from crampwatch.replay import (
    ReplayOptions,
    build_pipeline,
    event_line,
    replay_file,
)
from crampwatch.synth import NightConfig, generate_night
from models.rules import RuleClassifier
from sensor.records import Event, SampleBlock

REQUIRED = {"file", "start_s", "end_s", "kind", "channel", "confidence"}


@pytest.fixture(scope="module")
def nights(tmp_path_factory) -> Path:
    """Two short labelled nights (2 kHz) in one folder."""
    out = tmp_path_factory.mktemp("nights")
    cfg = NightConfig(duration_s=180.0, cramps_min=1, cramps_max=1)
    for i in range(2):
        generate_night(cfg, 100 + i, out, f"night-{i}")
    return out


def _same(a: dict, b: dict) -> bool:
    """JSON objects equal, NaN-free floats compared to 1e-9."""
    if a.keys() != b.keys():
        return False
    for key in a:
        x, y = a[key], b[key]
        if isinstance(x, dict):
            if not _same(x, y):
                return False
        elif isinstance(x, float) and isinstance(y, float):
            if not math.isclose(x, y, rel_tol=0, abs_tol=1e-9):
                return False
        elif x != y:
            return False
    return True


@pytest.mark.slow
def test_replay_equals_live_20_ms_blocks(nights):
    edf = nights / "night-0.edf"
    replayed = replay_file(edf, ReplayOptions(include_provisional=True, chunk_s=10.0),
                           RuleClassifier()).lines
    with EdfRecording(edf) as rec:
        pipeline: Pipeline = build_pipeline(RuleClassifier(), edf.stem, has_acc=bool(rec.acc))
        live = []
        for block in rec.blocks(0.02):  # the band's 20 ms packets
            live += [o for o in pipeline.process(block) if isinstance(o, Event)]
        live += [o for o in pipeline.finish() if isinstance(o, Event)]
    live_lines = [event_line(str(edf), e) for e in live]
    finals = [line for line in replayed if line["final"]]
    assert finals, "the night holds a cramp and look-alikes: replay must report events"
    # Replay adds what the night's prompts did to each final line.
    assert all("prompt" in line for line in finals)
    events = [{k: v for k, v in line.items() if k != "prompt"} for line in replayed]
    assert len(live_lines) == len(events)
    assert all(_same(a, b) for a, b in zip(live_lines, events, strict=True))


def test_replay_cli_writes_one_json_object_per_final_event_to_stdout(nights, capsys):
    assert main(["replay", str(nights / "night-0.edf"), "--classifier", "rules"]) == 0
    captured = capsys.readouterr()
    lines = [json.loads(line) for line in captured.out.splitlines()]
    assert lines and all(line.keys() >= REQUIRED for line in lines)
    assert all(line["final"] for line in lines)
    for line in lines:
        assert line["file"] == str(nights / "night-0.edf")
        assert 0.0 <= line["confidence"] <= 1.0
        assert 0.0 <= line["start_s"] <= line["end_s"] <= 180.0
        assert line["channel"]["label"] in ("EMG R Gastroc", "EMG R Tib Ant")
        assert line["channel"]["side"] == "right"
    assert "replayed 1 recording(s)" in captured.err
    assert "{" not in captured.err  # events never go to the log stream


@pytest.mark.slow
def test_folder_in_parallel_gives_the_serial_result_in_stable_order(nights, tmp_path):
    serial, parallel = tmp_path / "serial.jsonl", tmp_path / "parallel.jsonl"
    assert main(["replay", str(nights), "--events", str(serial), "--jobs", "1",
                 "--classifier", "rules"]) == 0
    assert main(["replay", str(nights), "--events", str(parallel), "--jobs", "2",
                 "--classifier", "rules"]) == 0
    assert serial.read_text() == parallel.read_text()
    files = [json.loads(line)["file"] for line in serial.read_text().splitlines()]
    assert files == sorted(files) and len(set(files)) == 2


def test_edf_out_carries_events_as_annotations(nights, tmp_path):
    events = tmp_path / "e.jsonl"
    assert main(["replay", str(nights / "night-1.edf"), "--events", str(events),
                 "--edf-out", str(tmp_path / "edf"), "--classifier", "rules"]) == 0
    lines = [json.loads(line) for line in events.read_text().splitlines()]
    with EdfRecording(tmp_path / "edf" / "night-1.events.edf") as rec:
        notes = rec.annotations()
        assert rec.emg_labels == ("EMG R Gastroc", "EMG R Tib Ant")
        assert rec.duration_s == pytest.approx(180.0)
    ours = [n for n in notes if not n.text.startswith("truth: ")]
    assert len(ours) == len(lines)
    for note, line in zip(sorted(ours, key=lambda n: n.onset_s),
                          sorted(lines, key=lambda x: x["start_s"]), strict=True):
        assert note.onset_s == pytest.approx(line["start_s"], abs=1e-3)
        assert note.text == line["kind"]  # the kind alone: one event type per kind
    assert any(n.text.startswith("truth: ") for n in notes)  # the source's own annotations kept


def test_replay_of_a_damaged_file_is_one_clear_message(tmp_path, capsys):
    bad = tmp_path / "bad.edf"
    bad.write_bytes(b"not an edf at all")
    assert main(["replay", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "bad.edf" in err and "Traceback" not in err
    assert "1 recording(s) not replayed" in err


# -- replays that keep what they have -------------------------------------------------


class _FailingPipeline:
    """A real pipeline that breaks after ``after`` blocks, as a bug or a bad disk would."""

    def __init__(self, pipeline: Pipeline, after: int, exc: BaseException) -> None:
        self._pipeline, self._after, self._exc = pipeline, after, exc
        self.detector = pipeline.detector

    def process(self, block):
        self._after -= 1
        if self._after < 0:
            raise self._exc
        return self._pipeline.process(block)

    def finish(self):
        return self._pipeline.finish()


def _break_replay_of(monkeypatch, stem: str, exc: BaseException, after: int = 3) -> None:
    import crampwatch.replay as replay_module

    real = replay_module.build_pipeline

    def build(classifier, session_id, has_acc, config=None):
        pipeline = real(classifier, session_id, has_acc, config)
        return _FailingPipeline(pipeline, after, exc) if session_id == stem else pipeline

    monkeypatch.setattr(replay_module, "build_pipeline", build)


def _no_partials(folder: Path) -> None:
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".partial")]


def test_failed_replay_leaves_an_existing_events_file_as_it_was(tmp_path, capsys):
    bad = tmp_path / "bad.edf"
    bad.write_bytes(b"not an edf at all")
    events = tmp_path / "events.jsonl"
    events.write_text('{"file": "earlier run"}\n' * 26)
    assert main(["replay", str(bad), "--events", str(events)]) == 1
    assert events.read_text() == '{"file": "earlier run"}\n' * 26
    assert "left as it was" in capsys.readouterr().err
    _no_partials(tmp_path)


def test_interrupted_replay_leaves_events_and_edf_out_as_they_were(nights, tmp_path,
                                                                    monkeypatch):
    events, edf_dir = tmp_path / "events.jsonl", tmp_path / "edf"
    edf_dir.mkdir()
    events.write_text('{"file": "earlier run"}\n')
    earlier_edf = edf_dir / "night-1.events.edf"
    earlier_edf.write_bytes(b"an earlier, complete EDF+")
    # Ctrl-C while the second night is half replayed: the first is done, the second not.
    _break_replay_of(monkeypatch, "night-1", KeyboardInterrupt())
    assert main(["replay", str(nights), "--events", str(events), "--edf-out", str(edf_dir),
                 "--jobs", "1", "--classifier", "rules"]) == 130
    assert events.read_text() == '{"file": "earlier run"}\n'
    assert earlier_edf.read_bytes() == b"an earlier, complete EDF+"
    _no_partials(tmp_path)
    _no_partials(edf_dir)


def test_a_night_failing_midway_keeps_its_earlier_edf_out_and_the_others_complete(
        nights, tmp_path, monkeypatch, capsys):
    events, edf_dir = tmp_path / "events.jsonl", tmp_path / "edf"
    edf_dir.mkdir()
    earlier_edf = edf_dir / "night-0.events.edf"
    earlier_edf.write_bytes(b"an earlier, complete EDF+")
    _break_replay_of(monkeypatch, "night-0", RuntimeError("disk went away"))
    assert main(["replay", str(nights), "--events", str(events), "--edf-out", str(edf_dir),
                 "--jobs", "1", "--classifier", "rules"]) == 1
    assert earlier_edf.read_bytes() == b"an earlier, complete EDF+"
    with EdfRecording(edf_dir / "night-1.events.edf") as rec:
        assert rec.duration_s == pytest.approx(180.0)
    files = {json.loads(line)["file"] for line in events.read_text().splitlines()}
    assert files == {str(nights / "night-1.edf")}
    err = capsys.readouterr().err
    assert f"{nights / 'night-0.edf'}: RuntimeError: disk went away" in err
    _no_partials(edf_dir)


def test_folder_replays_every_readable_file_and_lists_every_unreadable_one(nights, tmp_path,
                                                                           capsys):
    folder = tmp_path / "cohort"
    folder.mkdir()
    for name in ("night-0.edf", "night-1.edf"):
        (folder / name).write_bytes((nights / name).read_bytes())
    (folder / "a-junk.edf").write_bytes(b"not an edf at all")
    data = bytearray((nights / "night-0.edf").read_bytes())
    data[236:244] = b"1       "  # the header says 1 data record; the file holds 180
    (folder / "m-short-header.edf").write_bytes(bytes(data))
    events = tmp_path / "events.jsonl"
    assert main(["replay", str(folder), "--events", str(events), "--jobs", "1",
                 "--classifier", "rules"]) == 1
    files = [json.loads(line)["file"] for line in events.read_text().splitlines()]
    assert sorted(set(files)) == [str(folder / "night-0.edf"), str(folder / "night-1.edf")]
    err = capsys.readouterr().err
    assert "replayed 2 of 4 recording(s)" in err
    report = err[err.index("2 recording(s) not replayed:"):]
    assert f"{folder / 'a-junk.edf'}: not an EDF file: starts with 'not an edf at all'" in report
    assert (f"{folder / 'm-short-header.edf'}: the header's record count is wrong: it says 1 "
            "data records") in report
    assert "h of signal in" in err and "x real time" in err


def test_a_recording_given_as_an_fsspec_url_replays_like_its_path(nights, tmp_path, capsys):
    pytest.importorskip("fsspec")
    night = nights / "night-0.edf"
    by_url, by_path = tmp_path / "url.jsonl", tmp_path / "path.jsonl"
    assert main(["replay", night.as_uri(), "--events", str(by_url), "--classifier",
                 "rules"]) == 0
    assert main(["replay", str(night), "--events", str(by_path), "--classifier", "rules"]) == 0
    url_lines = [json.loads(line) for line in by_url.read_text().splitlines()]
    assert url_lines and {line["file"] for line in url_lines} == {night.as_uri()}
    assert [{**line, "file": str(night)} for line in url_lines] == [
        json.loads(line) for line in by_path.read_text().splitlines()]
    broken = tmp_path / "cut.edf"
    broken.write_bytes(night.read_bytes()[:100_000])
    assert main(["replay", broken.as_uri(), "--classifier", "rules"]) == 1
    assert f"{broken.as_uri()}: truncated" in capsys.readouterr().err


def test_replay_file_needs_no_options_object(nights):
    edf = nights / "night-0.edf"
    result = replay_file(edf)
    assert result.ok and result.lines
    assert result.start is not None  # the recording's clock, for datetimes
    assert result.lines == replay_file(edf, ReplayOptions()).lines


def _copy_with_flat(src: Path, dst: Path, label: str) -> Path:
    """Write ``src`` again with channel ``label`` a flat line all night (electrode off)."""
    from crampwatch.recordings.edf_writer import EdfPlusWriter, SignalSpec
    from crampwatch.replay import _record_s

    with EdfRecording(src) as rec:
        specs = [SignalSpec(h.label, "uV", h.fs_hz, h.physical_min, h.physical_max)
                 for h in rec.emg]
        specs += [SignalSpec(h.label, "g", h.fs_hz, h.physical_min, h.physical_max)
                  for h in rec.acc]
        writer = EdfPlusWriter(dst, specs, start=rec.start_datetime,
                               record_s=_record_s([s.fs_hz for s in specs]))
        for block in rec.blocks(10.0):
            if label in block.labels:
                samples = block.samples.copy()
                samples[:, block.labels.index(label)] = 0.0
                block = SampleBlock(block.group, block.fs_hz, block.t0_s, samples,
                                    block.labels)
            writer.write_block(block)
        writer.close()
    return dst


def test_a_dead_shin_channel_is_warned_printed_and_written_beside_the_events(
        nights, tmp_path, capsys):
    shin = "EMG R Tib Ant"
    flat = _copy_with_flat(nights / "night-0.edf", tmp_path / "flat-shin.edf", shin)
    events = tmp_path / "e.jsonl"
    assert main(["replay", str(flat), "--events", str(events), "--edf-out",
                 str(tmp_path / "edf"), "--classifier", "rules"]) == 0
    err = capsys.readouterr().err
    sentence = (f"channel {shin!r} was flat for 100 % of the night (electrode off or dead): "
                "calls use 'EMG R Gastroc' only")
    assert f"warning: {flat}: {sentence}" in err
    assert json.loads(quality_path(events).read_text()) == {
        "signal_quality": {str(flat): [sentence]}}
    for line in events.read_text().splitlines():  # the JSON lines stay events only
        assert json.loads(line).keys() >= REQUIRED
    with EdfRecording(tmp_path / "edf" / "flat-shin.events.edf") as rec:
        notes = [n for n in rec.annotations() if n.text.startswith("signal quality: ")]
    assert [(n.onset_s, n.text) for n in notes] == [(0.0, f"signal quality: dead {shin}")]

    tsv = tmp_path / "e.tsv"
    assert main(["replay", str(flat), "--events", str(tsv), "--classifier", "rules"]) == 0
    described = json.loads(tsv.with_suffix(".json").read_text())
    assert described["signal_quality"] == {str(flat): [sentence]}


def test_a_healthy_night_writes_no_warning(nights, tmp_path, capsys):
    edf = nights / "night-1.edf"
    events = tmp_path / "e.jsonl"
    assert main(["replay", str(edf), "--events", str(events), "--classifier", "rules"]) == 0
    assert "warning:" not in capsys.readouterr().err
    assert json.loads(quality_path(events).read_text()) == {"signal_quality": {str(edf): []}}
    tsv = tmp_path / "e.tsv"
    assert main(["replay", str(edf), "--events", str(tsv), "--classifier", "rules"]) == 0
    assert "signal_quality" not in json.loads(tsv.with_suffix(".json").read_text())


def test_a_capture_whose_band_restarts_with_another_layout_replays_to_its_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A band that rebooted into 1 kHz, then into 2 kHz with left-leg labels: the replay
    # goes on with a fresh pipeline per layout, as the live session does, and says so.
    from tests.firmware_bridge.hostile import Op, write_hostile_capture

    ops = [Op.OK] * 200 + [Op.NEW_DESCRIPTOR] + [Op.OK] * 200 + [Op.NEW_DESCRIPTOR] + [
        Op.OK] * 200
    truth = write_hostile_capture(tmp_path / "night.cwcap", ops)
    events = tmp_path / "events.jsonl"
    assert main(["replay", str(truth.path), "--events", str(events), "--edf-out",
                 str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert err.count("the band restarted at") == 2
    assert (tmp_path / "out" / "night.events.edf").exists()
