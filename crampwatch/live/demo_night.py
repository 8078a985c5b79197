"""The demo's synthetic night: a short labelled night with cramps and every look-alike."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from crampwatch.recordings import EdfRecording
from crampwatch.synth.night import NightFiles, generate_night
from crampwatch.synth.plan import NightConfig
from sensor.records import SampleBlock

# Blocks handed to the virtual band; it re-packs them into protocol packets anyway.
BLOCK_S = 1.0


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
