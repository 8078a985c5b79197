"""The demo's synthetic night: a short labelled night with cramps and every look-alike."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from crampwatch.recordings import EdfRecording
from crampwatch.synth.night import NightFiles, generate_night
from crampwatch.synth.plan import NightConfig
from crampwatch.synth.truth import NightTruth
from sensor.records import EventKind, SampleBlock

# Blocks handed to the virtual band; it re-packs them into protocol packets anyway.
BLOCK_S = 1.0

# Each look-alike in words, singular and plural, in the order they are listed.
_LOOKALIKE_WORDS: dict[EventKind, tuple[str, str]] = {
    EventKind.PLM: ("periodic limb movement", "periodic limb movements"),
    EventKind.MOVEMENT: ("large movement", "large movements"),
    EventKind.JERK: ("jerk", "jerks"),
    EventKind.TREMOR: ("foot tremor", "foot tremors"),
    EventKind.WALKING: ("walk", "walks"),
    EventKind.STRETCH: ("stretch", "stretches"),
    EventKind.ARTIFACT: ("electrode artefact", "electrode artefacts"),
}


def make_demo_night(
    out_dir: Path, minutes: float = 20.0, seed: int = 1, cramps: int = 3
) -> NightFiles:
    """Write (or reuse) a synthetic night of ``minutes`` with ``cramps`` cramps; return files."""
    out_dir = Path(out_dir)
    name = f"demo-{minutes:g}min-seed{seed}-{cramps}cramps"
    files = NightFiles(out_dir / f"{name}.edf", out_dir / f"{name}.truth.json")
    if files.edf.is_file() and files.truth.is_file():
        return files
    config = NightConfig(duration_s=minutes * 60.0, cramps_min=cramps, cramps_max=cramps,
                         every_kind=True)
    return generate_night(config, seed, out_dir, name)


def night_blocks(edf: Path) -> Iterator[SampleBlock]:
    """Yield the night's blocks (EMG and ACC) in time order, reading the file as it goes."""
    with EdfRecording(edf) as rec:
        yield from rec.blocks(BLOCK_S)


def describe_night(truth: NightTruth, cramps_asked: int | None = None) -> str:
    """Return what the night holds, counted from its ground truth, in one line.

    For example "a 20-minute night with 2 cramps (1 tonic, 1 clonic) and 19 look-alikes
    (8 periodic limb movements, ...)"; with ``cramps_asked``, it says how many cramps
    were asked for when the night holds fewer (the rest did not fit).
    """
    kinds = Counter(EventKind(e.kind) for e in truth.events)
    cramps = kinds[EventKind.TONIC] + kinds[EventKind.CLONIC]
    split = ", ".join(f"{kinds[k]} {k.value}" for k in (EventKind.TONIC, EventKind.CLONIC)
                      if kinds[k])
    others = [(kinds[k], words) for k, words in _LOOKALIKE_WORDS.items() if kinds[k]]
    n_others = sum(n for n, _ in others)
    text = (f"a {truth.duration_s / 60:g}-minute night with {_count(cramps, 'cramp', 'cramps')}"
            + (f" ({split})" if split else "")
            + f" and {_count(n_others, 'look-alike', 'look-alikes')}")
    if others:
        text += " (" + ", ".join(_count(n, *words) for n, words in others) + ")"
    if cramps_asked is not None and cramps < cramps_asked:
        text += (f"; {cramps_asked} cramps were asked for, "
                 f"{cramps_asked - cramps} did not fit in the night")
    return text


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"
