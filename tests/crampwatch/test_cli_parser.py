"""The command line: building it loads no heavy dependency; each command's help works."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from crampwatch.cli import COMMAND_MODULES, build_parser

HEAVY = ("numpy", "scipy", "sklearn", "pandas", "fastapi", "sqlalchemy", "bleak", "dask",
         "sensor.detector", "models", "api")


def test_building_the_parser_imports_no_heavy_dependency() -> None:
    code = (
        "import json, sys\n"
        "import crampwatch.cli\n"
        "crampwatch.cli.build_parser()\n"
        f"heavy = {HEAVY!r}\n"
        "loaded = {m.split('.')[0] for m in sys.modules} | set(sys.modules)\n"
        "print(json.dumps(sorted(loaded & set(heavy))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert json.loads(out) == []


def test_top_level_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert all(name in out for name in COMMAND_MODULES)


@pytest.mark.parametrize("command", COMMAND_MODULES)
def test_each_command_builds_its_options_when_used(
        command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args([command, "--help"])
    assert exc.value.code == 0
    assert f"usage: crampwatch {command}" in capsys.readouterr().out


def test_deferred_defaults_reach_the_parsed_arguments() -> None:
    from crampwatch.recordings.edf_reader import DEFAULT_CHUNK_S
    from models import DEFAULT_CLASSIFIER

    args = build_parser().parse_args(["replay", "night.edf"])
    assert args.classifier == DEFAULT_CLASSIFIER and args.chunk == DEFAULT_CHUNK_S
    args = build_parser().parse_args(["band", "--serial"])
    assert args.device_id and args.speed == 1.0


def test_a_bad_option_of_a_deferred_command_is_a_usage_error(
        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["synth", "--out", "x", "--labels", "nonsense"])
    assert exc.value.code == 2
    assert "usage: crampwatch synth" in capsys.readouterr().err
