"""The run and demo commands: options, and clear errors for bad ones."""

from __future__ import annotations

import pytest

from crampwatch.cli import build_parser, main


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
