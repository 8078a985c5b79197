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
# The vocabulary rooms may share: the records, the red flags, and (for the pages) the
# features in words.
VOCABULARY = {"firmware_bridge": {"sensor.records"},
              "api": {"sensor.records", "sensor.red_flags", "sensor.feature_glossary"}}
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


# The store's tables are api's own: other rooms call api functions (api.hub_store...).
API_PRIVATE = ("api.models",)


def _names_api_private(name: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in API_PRIVATE)


def _imported_modules(path: Path) -> list[str]:
    """Return every module an import may load, ``from api import models`` as api.models."""
    names = _imports(path)
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.extend(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("room", [r for r in ROOMS if r != "api"])
def test_no_orm_models_outside_api(room: str) -> None:
    wrong = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in _room_files(room)
        for name in _imported_modules(path)
        if _names_api_private(name)
    ]
    assert not wrong, "query the store through api functions, not its models:\n" + "\n".join(
        wrong)


def test_the_orm_check_sees_every_import_form(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text("import api.models\nfrom api.models import User\n"
                      "def f():\n    from api import models\n")
    found = sorted(n for n in _imported_modules(source) if _names_api_private(n))
    assert found == ["api.models", "api.models", "api.models", "api.models.User"]
    source.write_text("from api import hub_store\nimport api.store\n")
    assert not any(_names_api_private(n) for n in _imported_modules(source))


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
