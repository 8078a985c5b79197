"""DESIGN.md's rooms: imports point one way, and sensor/ does no I/O, clocks or asyncio."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ROOMS = ("crampwatch", "api", "models", "sensor", "firmware_bridge")

# room -> rooms it may import from (besides itself)
ALLOWED: dict[str, set[str]] = {
    "crampwatch": {"api", "models", "sensor", "firmware_bridge"},
    "models": {"sensor"},
    "sensor": set(),
    "firmware_bridge": {"sensor"},  # sensor.records only: checked below
    "api": {"sensor"},  # sensor's vocabulary only: checked below
}
RECORDS_ONLY = {"firmware_bridge", "api"}
# The vocabulary rooms may share: the records, and (for the pages) the features in words.
VOCABULARY = {"firmware_bridge": {"sensor.records"},
              "api": {"sensor.records", "sensor.feature_glossary"}}
SENSOR_FORBIDDEN = {"asyncio", "time", "socket", "serial", "bleak", "sqlite3", "threading"}


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def _room_files(room: str) -> list[Path]:
    return sorted((ROOT / room).rglob("*.py"))


@pytest.mark.parametrize("room", ROOMS)
def test_imports_point_one_way(room: str) -> None:
    wrong = []
    for path in _room_files(room):
        for name in _imports(path):
            top = name.split(".")[0]
            if top in ROOMS and top != room:
                if top not in ALLOWED[room]:
                    wrong.append(f"{path.relative_to(ROOT)} imports {name}")
                elif room in RECORDS_ONLY and name not in VOCABULARY[room]:
                    wrong.append(f"{path.relative_to(ROOT)} imports {name} (records only)")
    assert not wrong, "imports against DESIGN.md's arrows:\n" + "\n".join(wrong)


def test_sensor_is_pure() -> None:
    wrong = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in _room_files("sensor")
        for name in _imports(path)
        if name.split(".")[0] in SENSOR_FORBIDDEN
    ]
    assert not wrong, "sensor/ must do no I/O, clocks or asyncio:\n" + "\n".join(wrong)


def test_datasets_is_not_a_package() -> None:
    assert not list((ROOT / "datasets").rglob("*.py")), "datasets/ holds data only"
