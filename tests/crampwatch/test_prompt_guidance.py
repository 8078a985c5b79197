"""Guidance texts: every cramp gets the right stretch, translations cannot miss a text."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crampwatch.prompt.channels.terminal import TerminalChannel
from crampwatch.prompt.guidance import (
    GuidanceBook,
    GuidanceError,
    Region,
    available_languages,
    load_guidance,
    region_of,
)
from crampwatch.prompt.notice import PromptNotice
from crampwatch.prompt.policy import PromptAction, PromptDecision
from sensor.records import EventKind, Muscle
from tests.crampwatch.prompt_helpers import event


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


# English, independent of the file's own standing_words: a word removed there is still caught.
_STANDING_EN = re.compile(r"(?<!\w)(stand|walk|get(ting)? up|rise|on your feet)", re.I)


def _all_lists(book: GuidanceBook) -> dict[str, tuple[str, ...]]:
    lists = {"red_flag": book.red_flag_text, "see_a_doctor": book.see_a_doctor,
             "prevention": book.prevention}
    for (region, kind), g in book.entries.items():
        lists[f"{region.value}.{kind.value}.now"] = g.now
        lists[f"{region.value}.{kind.value}.after"] = g.after
    return lists


@pytest.mark.parametrize("language", available_languages())
def test_safety_line_comes_before_any_standing(language: str) -> None:
    book = load_guidance(language)
    standing_lists = 0
    for where, lines in _all_lists(book).items():
        first = next((i for i, s in enumerate(lines) if book.mentions_standing(s)
                      or (language == "en" and s != book.before_standing
                          and _STANDING_EN.search(s))), None)
        if first is None:
            continue
        standing_lists += 1
        assert book.before_standing in lines[:first], (where, lines)
        assert lines.count(book.before_standing) == 1, where
    assert standing_lists >= 5  # calf, foot and leg guidance and the red flag say stand
    for title in [book.red_flag_title, book.see_a_doctor_title, book.disclaimer,
                  *(g.title for g in book.entries.values())]:
        assert not book.mentions_standing(title), title


def test_safety_line_says_light_hold_on_and_sit_back_if_dizzy() -> None:
    line = load_guidance().before_standing.lower()
    assert "light on" in line and "hold on to something" in line
    assert "sit back down" in line and "dizzy" in line


def test_calf_prompt_on_the_terminal_says_safety_before_standing() -> None:
    book = load_guidance()
    d = PromptDecision(PromptAction.START, "p-1", 102.0, 0, event())
    text = TerminalChannel(io.StringIO(), width=200).render(
        PromptNotice("night-1", d, book.for_cramp(d.event.channel.muscle, d.event.kind), book,
                     datetime(2026, 1, 1, tzinfo=UTC)))
    assert text.index("Before you stand up") < text.index("You can also stand")
    assert text.index("Pull your toes") < text.index("Before you stand up")  # in bed first


def test_loader_puts_the_safety_line_before_a_new_standing_step(tmp_path: Path) -> None:
    source = (Path(load_guidance.__globals__["GUIDANCE_DIR"]) / "en.toml").read_text("utf-8")
    old = '"Stretch the tight muscle gently and hold for 10 seconds, three times.",\n]'
    assert old in source
    edited = source.replace(old, old[:-1] + '  "Get up and walk it off.",\n]', 1)
    path = tmp_path / "xx.toml"
    path.write_text(edited, encoding="utf-8")
    book = load_guidance(path=path)
    now = book.for_cramp(Muscle.TIBIALIS_ANTERIOR, EventKind.TONIC).now
    assert now[-2:] == (book.before_standing, "Get up and walk it off.")


def test_a_file_without_the_safety_line_or_with_standing_in_a_title_is_refused(
    tmp_path: Path,
) -> None:
    source = (Path(load_guidance.__globals__["GUIDANCE_DIR"]) / "en.toml").read_text("utf-8")
    path = tmp_path / "xx.toml"
    path.write_text(re.sub(r"(?m)^before_standing = .*$", "", source), encoding="utf-8")
    with pytest.raises(GuidanceError, match=r"safety\.before_standing"):
        load_guidance(path=path)
    path.write_text(source.replace('title = "Calf cramp"', 'title = "Calf cramp: stand up"'),
                    encoding="utf-8")
    with pytest.raises(GuidanceError, match=r"calf\.tonic\.title mentions standing"):
        load_guidance(path=path)


def test_only_advice_the_domain_notes_give() -> None:
    book = load_guidance()
    text = " ".join(s for lines in _all_lists(book).values() for s in lines).lower()
    # Raised legs, showers at night and "urgent" triage are not in DOMAIN.md's guidance.
    for phrase in ("raised", "shower", "urgent", "hot", "point your foot"):
        assert phrase not in text, phrase
    foot = " ".join(book.for_cramp(Muscle.FOOT, EventKind.TONIC).now).lower()
    assert "cool floor" in foot and "toes up" in foot
    after = book.for_cramp(Muscle.GASTROCNEMIUS, EventKind.TONIC).after
    assert any("massage" in s.lower() for s in after) and any("warm" in s for s in after)
