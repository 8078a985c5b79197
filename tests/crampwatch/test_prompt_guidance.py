"""Guidance texts: every cramp gets the right stretch, translations cannot miss a text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from crampwatch.prompt.guidance import (
    GuidanceError,
    Region,
    available_languages,
    load_guidance,
    region_of,
)
from sensor.records import EventKind, Muscle


def test_every_muscle_and_cramp_kind_has_guidance() -> None:
    book = load_guidance("en")
    for muscle in Muscle:
        for kind in (EventKind.TONIC, EventKind.CLONIC):
            g = book.for_cramp(muscle, kind)
            assert g.now and g.after and g.title


def test_calf_guidance_says_straighten_knee_and_pull_toes_up() -> None:
    g = load_guidance().for_cramp(Muscle.GASTROCNEMIUS_LATERAL, EventKind.TONIC)
    text = " ".join(g.now).lower()
    assert "straighten your knee" in text and "toes" in text and "shin" in text
    assert "heel down" in text and "walk" in text
    assert any("massage" in s.lower() for s in g.after)


def test_foot_guidance_is_cool_floor_and_toes_up() -> None:
    g = load_guidance().for_cramp(Muscle.FOOT, EventKind.TONIC)
    text = " ".join(g.now).lower()
    assert "cool floor" in text and "toes up" in text


def test_region_mapping() -> None:
    assert region_of(Muscle.SOLEUS) is Region.CALF
    assert region_of(Muscle.TIBIALIS_ANTERIOR) is Region.SHIN
    assert region_of(Muscle.UNKNOWN) is Region.LEG


def test_no_guidance_for_a_look_alike() -> None:
    with pytest.raises(GuidanceError, match="not a cramp"):
        load_guidance().for_cramp(Muscle.GASTROCNEMIUS, EventKind.PLM)


def test_red_flag_text_names_ten_minutes_and_a_doctor() -> None:
    book = load_guidance()
    assert "10 minutes" in book.red_flag_title
    assert any("doctor" in s for s in book.red_flag_text)


@pytest.mark.parametrize("language", available_languages())
def test_guidance_gives_no_drug_advice_or_diagnosis(language: str) -> None:
    path = Path(load_guidance.__globals__["GUIDANCE_DIR"]) / f"{language}.toml"
    text = path.read_text(encoding="utf-8").lower()
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    for word in ("quinine", "magnesium", "tablet", "pill", "dose", "you have", "caused by"):
        assert word not in body, word
    assert not re.search(r"\b\d+\s*mg\b", body)


def test_translation_missing_a_text_is_refused(tmp_path: Path) -> None:
    source = Path(load_guidance.__globals__["GUIDANCE_DIR"]) / "en.toml"
    broken = source.read_text(encoding="utf-8").replace("[foot.clonic]", "[foot.clonik]")
    bad = tmp_path / "xx.toml"
    bad.write_text(broken, encoding="utf-8")
    with pytest.raises(GuidanceError, match=r"foot\.clonic\.title"):
        load_guidance(path=bad)


def test_unknown_language_names_the_available_ones() -> None:
    with pytest.raises(GuidanceError, match="languages available: en"):
        load_guidance("tlh")
