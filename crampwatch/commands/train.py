"""`crampwatch train`: fit the tonic / clonic / not-a-cramp model on labelled episodes.

Generates seeded synthetic nights (``crampwatch.synth``), runs every night and the
real lower-limb EMG through the Detector, labels each episode by its overlap with
ground truth, fits the calibrated model (``models.training``), scores it and the rule
baseline on held-out nights, and writes the model, its manifest and the model card.
The same arguments give the same model.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from crampwatch.commands.parser import command_parser
from crampwatch.errors import UserError

if TYPE_CHECKING:
    import numpy as np

    from crampwatch.synth import NightConfig
    from crampwatch.synth.real_emg import RealEmgLibrary
    from models.training import TrainingSet
    from sensor.records import EpisodeUpdate, EventKind, SampleBlock

log = logging.getLogger(__name__)

MODEL_CARD_NAME = "MODEL_CARD.md"  # beside the shipped model
# Night seeds are base_seed * SEED_STRIDE + i: evaluation nights must use other seeds.
SEED_STRIDE = 10_000
# Real EMG: subjects below this number train, the others are kept for evaluation.
REAL_EMG_TRAIN_SUBJECTS_BELOW = 8
# Columns of the UCI recordings (rectus femoris, biceps femoris, vastus medialis,
# semitendinosus): the posterior thigh stands in for the calf, the anterior for the shin.
REAL_EMG_CALF_COLUMN = 1
REAL_EMG_SHIN_COLUMN = 0
REAL_EMG_LABELS = ("EMG R Gastroc", "EMG R Tib Ant")
REAL_EMG_BLOCK_S = 0.5


def detect(blocks: Iterable[SampleBlock]) -> list[EpisodeUpdate]:
    """Return every episode update the Detector emits over a stream of blocks."""
    from crampwatch.pipeline import new_detector
    from sensor.records import EpisodeUpdate

    detector = new_detector()
    out: list[EpisodeUpdate] = []
    for block in blocks:
        out.extend(u for u in detector.process(block) if isinstance(u, EpisodeUpdate))
    out.extend(u for u in detector.finish() if isinstance(u, EpisodeUpdate))
    return out


@dataclass(frozen=True)
class NightSpec:
    """One synthetic night to generate: its config, seed and file name."""

    config: NightConfig
    seed: int
    name: str


def night_specs(count: int, base_seed: int, hours: float) -> list[NightSpec]:
    """Return varied night specs: both legs, one or two calf channels, 2 kHz and 1 kHz."""
    from crampwatch.synth import NightConfig

    specs = []
    for i in range(count):
        cfg = NightConfig(
            duration_s=hours * 3600.0,
            leg="L" if i % 2 else "R",
            extra_calf=i % 3 == 2,
            emg_fs_hz=1000.0 if i % 4 == 3 else 2000.0,
        )
        seed = base_seed * SEED_STRIDE + i
        specs.append(NightSpec(cfg, seed, f"train-{seed}"))
    return specs


def night_rows(
    spec: NightSpec, work_dir: Path, first_episode_id: int, library: RealEmgLibrary | None
) -> TrainingSet:
    """Return the labelled rows of one generated night."""
    from crampwatch.recordings.edf_reader import EdfRecording
    from crampwatch.synth import NightTruth, generate_night
    from models.training import TruthSpan, training_rows
    from sensor.records import EventKind

    files = generate_night(spec.config, spec.seed, work_dir, spec.name, library=library)
    truth = NightTruth.read(files.truth)
    spans = [TruthSpan(e.start_s, e.end_s, EventKind(e.kind), e.channels) for e in truth.events]
    with EdfRecording(files.edf) as recording:
        updates = detect(recording.blocks())
    files.edf.unlink()
    return training_rows(updates, spans, spec.name, first_episode_id)


def real_emg_blocks(emg_uv: np.ndarray, fs_hz: float) -> Iterable[SampleBlock]:
    """Yield the calf/shin stand-in columns of a UCI recording as EMG blocks."""
    import numpy as np

    from sensor.records import SampleBlock, SignalGroup

    x = emg_uv[:, [REAL_EMG_CALF_COLUMN, REAL_EMG_SHIN_COLUMN]].astype(np.float32)
    step = int(REAL_EMG_BLOCK_S * fs_hz)
    for start in range(0, x.shape[0], step):
        yield SampleBlock(SignalGroup.EMG, fs_hz, start / fs_hz, x[start : start + step],
                          REAL_EMG_LABELS)


def real_emg_kind(name: str) -> EventKind:
    """Return the label of a whole UCI recording: gait is walking, the rest voluntary moves."""
    from sensor.records import EventKind

    return EventKind.WALKING if name.endswith("mar") else EventKind.STRETCH


def real_emg_rows(
    directory: Path, first_episode_id: int, keep: Callable[[int], bool]
) -> tuple[TrainingSet, list[str]]:
    """Return labelled rows of the UCI recordings whose subject passes ``keep``."""
    import numpy as np

    from models.training import TrainingSet, TruthSpan, training_rows

    index = json.loads((directory / "index.json").read_text())
    fs_hz = float(index["sampling_rate_hz"])
    parts, used = [], []
    with np.load(directory / "uci_lower_limb_emg.npz") as archive:
        for name, info in sorted(index["recordings"].items()):
            if not keep(int(info["subject"])):
                continue
            emg = archive[f"{name}_emg_uV"]
            duration = emg.shape[0] / fs_hz
            updates = detect(real_emg_blocks(emg, fs_hz))
            span = [TruthSpan(0.0, duration, real_emg_kind(name))]
            first = first_episode_id + 100_000 * len(parts)
            parts.append(training_rows(updates, span, name, first))
            used.append(name)
    return TrainingSet.concat(parts), used


def collect(
    specs: list[NightSpec], work_dir: Path, library: RealEmgLibrary | None
) -> TrainingSet:
    """Return the rows of all nights, episode ids unique across nights."""
    from models.training import TrainingSet

    parts = []
    for i, spec in enumerate(specs):
        t0 = time.monotonic()
        part = night_rows(spec, work_dir, first_episode_id=(i + 1) * 1_000_000, library=library)
        log.info("night %s: %d rows (%.0f s)", spec.name, len(part), time.monotonic() - t0)
        parts.append(part)
    return TrainingSet.concat(parts)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = command_parser(
        subparsers,
        "train",
        help="train the tonic/clonic/not-a-cramp model on synthetic nights and real EMG",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_later(_add_options)
    p.set_defaults(func=run)


def _add_options(p: argparse.ArgumentParser) -> None:
    from models import DEFAULT_MODEL_PATH

    p.add_argument("--nights", type=int, default=30, help="training nights (default 30)")
    p.add_argument("--validation-nights", type=int, default=6,
                   help="further nights held out to score the model (default 6)")
    p.add_argument("--hours", type=float, default=1.0, help="length of each night (default 1)")
    p.add_argument("--seed", type=int, default=7,
                   help=f"base seed; night seeds are seed*{SEED_STRIDE}+i (default 7)")
    p.add_argument("--out", type=Path, default=DEFAULT_MODEL_PATH,
                   help="model file to write (.skops; its .json manifest goes beside it)")
    p.add_argument("--card", type=Path, default=None,
                   help="model card to write (default: MODEL_CARD.md beside a default model)")
    p.add_argument("--work-dir", type=Path, default=None,
                   help="where generated nights are written while used (default: a temp dir)")
    p.add_argument("--no-real-emg", action="store_true",
                   help="leave out the real lower-limb EMG (datasets/uci-lower-limb-emg)")
    p.add_argument("--model-version", default=None, help="version string stored with the model")


def run(args: argparse.Namespace) -> int:
    from crampwatch.synth.real_emg import UCI_DIR, RealEmgLibrary
    from models import DEFAULT_MODEL_PATH
    from models.card import write_model_card
    from models.features import FEATURE_NAMES
    from models.learned import LearnedClassifier
    from models.persistence import ModelManifest, save_model
    from models.rules import RuleClassifier
    from models.training import (
        TrainingDataError,
        TrainingSet,
        TrainParams,
        describe_counts,
        fit_model,
        score_episodes,
    )

    if args.nights < 3 or args.validation_nights < 1:
        raise UserError("need --nights >= 3 and --validation-nights >= 1")
    if args.hours <= 0:
        raise UserError(f"--hours must be positive, got {args.hours}")
    if args.out.suffix != ".skops":
        raise UserError(f"--out must name a .skops file, got {args.out}")
    card = args.card or (DEFAULT_MODEL_PATH.parent / MODEL_CARD_NAME
                         if args.out == DEFAULT_MODEL_PATH else
                         args.out.with_suffix(".md"))
    use_real = not args.no_real_emg
    library = RealEmgLibrary() if use_real else None
    specs = night_specs(args.nights + args.validation_nights, args.seed, args.hours)
    train_specs, val_specs = specs[: args.nights], specs[args.nights :]
    params = TrainParams(seed=args.seed)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="crampwatch-train-") as tmp:
        work = args.work_dir or Path(tmp)
        print(f"generating and detecting {len(specs)} nights of {args.hours:g} h ...", flush=True)
        train = collect(train_specs, work, library)
        val = collect(val_specs, work, library)
    real_used: list[str] = []
    if use_real:
        real, real_used = real_emg_rows(UCI_DIR, 900_000_000,
                                        lambda s: s < REAL_EMG_TRAIN_SUBJECTS_BELOW)
        train = TrainingSet.concat([train, real])
    print(f"rows: {len(train)} training, {len(val)} validation; closed episodes per kind: "
          f"{describe_counts(train.class_counts())}", flush=True)

    try:
        held_out_model = fit_model(train, params)
    except TrainingDataError as exc:
        raise UserError(str(exc)) from None
    version = args.model_version or f"hgb-{args.seed}-{args.nights}n"
    classes = tuple(str(c) for c in held_out_model.classes_)
    probe = LearnedClassifier(held_out_model, ModelManifest(version, FEATURE_NAMES, classes))
    metrics = {
        "model": score_episodes(probe, val).to_json(),
        "rules": score_episodes(RuleClassifier(), val).to_json(),
    }
    for name, m in metrics.items():
        print(f"validation {name}: accuracy {m['final_accuracy']}, cramp F1 {m['cramp_f1']}, "
              f"tonic/clonic {m['cramp_kind_accuracy']}, "
              f"look-alikes called cramp while open {m['false_provisional_cramps']}")
    try:
        model = fit_model(TrainingSet.concat([train, val]), params)
    except TrainingDataError as exc:
        raise UserError(str(exc)) from None
    everything = TrainingSet.concat([train, val])
    manifest = ModelManifest(
        model_version=version,
        feature_names=FEATURE_NAMES,
        classes=tuple(str(c) for c in model.classes_),
        training={
            "command": (f"crampwatch train --nights {args.nights} --validation-nights "
                        f"{args.validation_nights} --hours {args.hours:g} --seed {args.seed}"
                        + (" --no-real-emg" if not use_real else "")),
            "nights": len(specs),
            "night_hours": args.hours,
            "night_seeds": f"{specs[0].seed}..{specs[-1].seed}",
            "validation_nights": len(val_specs),
            "validation_seeds": f"{val_specs[0].seed}..{val_specs[-1].seed}",
            "real_emg": (f"UCI lower limb, subjects < {REAL_EMG_TRAIN_SUBJECTS_BELOW} "
                         f"({len(real_used)} recordings); gait = walking, sitting/standing "
                         "= stretch" if use_real else "not used"),
            "rows": len(everything),
            "final_rows": int(everything.final.sum()),
            "class_counts": describe_counts(everything.class_counts()),
            "params": asdict(params),
        },
        metrics=metrics,
    )
    written = save_model(model, args.out, manifest)
    write_model_card(written, args.out, card)
    print(f"wrote {args.out} (+ {args.out.with_suffix('.json').name}) and {card} "
          f"in {time.monotonic() - started:.0f} s")
    return 0
