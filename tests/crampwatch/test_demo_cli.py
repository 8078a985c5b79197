"""The run and demo commands: options, and clear errors for bad ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from crampwatch.cli import build_parser, main
from crampwatch.commands import demo
from crampwatch.errors import UserError
from crampwatch.live.demo_night import describe_night
from crampwatch.synth.truth import NightTruth, TruthEvent
from sensor.records import EventKind


def test_run_and_demo_are_commands_with_help(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("run", "demo"):
        with pytest.raises(SystemExit) as exc:
            build_parser().parse_args([command, "--help"])
        assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "serial:/dev/ttyUSB0" in out and "--auto-ack" in out


def test_unknown_source_is_a_clear_error(capsys: pytest.CaptureFixture[str],
                                         tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert main(["run", "--source", "usb:3", "--data-dir", str(tmp_path)]) == 2
    assert "unknown --source 'usb:3'" in capsys.readouterr().err


def test_missing_recording_is_a_clear_error(capsys: pytest.CaptureFixture[str],
                                            tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert main(["run", "--source", f"edf:{tmp_path}/none.edf",
                 "--data-dir", str(tmp_path)]) == 2
    assert "no recording at" in capsys.readouterr().err


def test_bad_prompt_settings_are_refused(capsys: pytest.CaptureFixture[str],
                                        tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert main(["demo", "--min-confidence", "2", "--data-dir", str(tmp_path)]) == 2
    assert "min_confidence" in capsys.readouterr().err
    assert main(["demo", "--pace", "0"]) == 2


def test_band_that_cannot_be_opened_is_a_clear_error(capsys: pytest.CaptureFixture[str],
                                                     tmp_path) -> None:  # type: ignore[no-untyped-def]
    code = main(["run", "--source", f"serial:{tmp_path}/ttyNONE", "--data-dir", str(tmp_path),
                 "--no-serve", "--no-sound"])
    assert code == 2
    err = capsys.readouterr().err
    assert "cannot connect to the serial band" in err and "Check the path" in err


def _truth(kinds: list[EventKind], minutes: float = 20.0) -> NightTruth:
    events = [TruthEvent(60.0 * i, 60.0 * i + 30.0, k, k.value, "EMG R Gastroc")
              for i, k in enumerate(kinds)]
    return NightTruth("demo.edf", minutes * 60.0, events)


def test_night_description_counts_what_the_night_holds() -> None:
    truth = _truth([EventKind.TONIC, EventKind.CLONIC, EventKind.PLM, EventKind.PLM,
                    EventKind.WALKING])
    text = describe_night(truth, cramps_asked=3)
    assert text.startswith("a 20-minute night with 2 cramps (1 tonic, 1 clonic) and "
                           "3 look-alikes (2 periodic limb movements, 1 walk)")
    assert "3 cramps were asked for, 1 did not fit" in text
    assert "asked" not in describe_night(truth, cramps_asked=2)
    assert describe_night(_truth([EventKind.TONIC], 5)) == (
        "a 5-minute night with 1 cramp (1 tonic) and 0 look-alikes")


def test_demo_banner_reads_its_counts_from_the_night_it_plays(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def stop_before_the_band(*args: object) -> None:
        raise UserError("stopped after the banner")

    monkeypatch.setattr(demo, "_demo", stop_before_the_band)
    # A 4-minute night has room for fewer cramps than the 3 asked for.
    assert main(["demo", "--minutes", "4", "--cramps", "3", "--data-dir", str(tmp_path)]) == 2
    out = capsys.readouterr().out
    (truth_file,) = (tmp_path / "synthetic").glob("*.truth.json")
    truth = NightTruth.read(truth_file)
    cramps = sum(e.is_cramp for e in truth.events)
    banner = next(line for line in out.splitlines() if line.startswith("demo: playing"))
    assert banner == f"demo: playing {describe_night(truth, cramps_asked=3)}"
    assert f" with {cramps} cramp" in banner
    if cramps < 3:
        assert f"3 cramps were asked for, {3 - cramps} did not fit" in banner
    assert "(3 cramps" not in out
