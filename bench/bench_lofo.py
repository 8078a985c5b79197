"""Leave-one-family-out: the learned model trained without a family, scored on it, beside the rules.

Generates varied synthetic nights (`crampwatch synth`, every family drawn), runs the
Detector over each once and labels its episodes from the truth (as `crampwatch train`
does). Then, for every value of every family (all nights at 500 Hz, all nights without
an accelerometer, all cramps with a standing response, all cramps with real-EMG
texture...), it fits the model on the episodes outside that value and scores both the
model and the rule classifier on the episodes inside it. Each episode's snapshots run
through ``models.tracking.EpisodeCalls`` as the live pipeline runs them (a cramp call is
held to the episode's end), and the episode's last call counts. Figures are
episode-level: cramp F1 over final calls, tonic/clonic accuracy on cramps both call
cramps, and look-alike episodes that would have woken the sleeper while open.

    .venv/bin/python bench/bench_lofo.py --seed 98000 --work lofo/ --markdown --table T.md

The seed must be one no shipped number was built on. The rules are never trained, so for
them every family is held out by construction; only the model's column depends on the
training split.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# (family, where it is recorded): night families come from the truth file's
# "variation", episode families from the cramp's own attributes.
NIGHT_FAMILIES = ("emg_fs_hz", "acc_fs_hz", "leg", "labels", "floor_step", "wandering")
EPISODE_FAMILIES = ("texture", "response", "triggered_by_movement")
CRAMPS = ("tonic", "clonic")


@dataclass
class Rows:
    """Training rows plus, per row, each family's value (episode families: '-' off cramps)."""

    data: object  # models.training.TrainingSet
    family: dict[str, np.ndarray]


def _value(v: object) -> str:
    if v is None:
        return "none"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def night_rows(edf: Path, first_episode_id: int) -> Rows:
    """Detect one night's episodes, label them and tag each row with its families."""
    from crampwatch.pipeline import new_detector
    from crampwatch.recordings.edf_reader import EdfRecording
    from models.training import TruthSpan, training_rows
    from sensor.records import EpisodeUpdate, EventKind

    truth = json.loads(edf.with_name(edf.stem + ".truth.json").read_text())
    events = truth["events"]
    spans = [TruthSpan(e["start_s"], e["end_s"], EventKind(e["kind"]),
                       tuple(e.get("channels") or ())) for e in events]
    with EdfRecording(edf) as recording:
        detector = new_detector(has_acc=None)
        updates = []
        for block in recording.blocks():
            updates.extend(u for u in detector.process(block) if isinstance(u, EpisodeUpdate))
        updates.extend(u for u in detector.finish() if isinstance(u, EpisodeUpdate))
    data = training_rows(updates, spans, edf.stem, first_episode_id)
    variation = truth.get("variation", {})
    family = {f: np.array([_value(variation.get(f))] * len(data), dtype=object)
              for f in NIGHT_FAMILIES}
    cramps = [e for e in events if e["kind"] in CRAMPS]
    for f in EPISODE_FAMILIES:
        values = []
        for u, label in zip(data.updates, data.y, strict=True):
            value = "-"
            if label in CRAMPS:
                end = u.end_s if u.end_s is not None else u.known_at_s
                best = max(cramps, default=None,
                           key=lambda e: min(e["end_s"], end) - max(e["start_s"], u.start_s))
                if best is not None:
                    value = _value(best.get(f))
            values.append(value)
        family[f] = np.array(values, dtype=object)
    return Rows(data, family)


def concat(parts: list[Rows]) -> Rows:
    from models.training import TrainingSet

    return Rows(TrainingSet.concat([p.data for p in parts]),
                {f: np.concatenate([p.family[f] for p in parts])
                 for f in NIGHT_FAMILIES + EPISODE_FAMILIES})


def episode_calls(classifier, data) -> dict[int, tuple[str, str, bool]]:
    """Return per episode: (truth label, last call's kind, woke a sleeper while open)."""
    from models.tracking import EpisodeCalls

    out: dict[int, tuple[str, str, bool]] = {}
    order = np.lexsort((np.array([u.known_at_s for u in data.updates]), data.episode))
    calls = None
    current = None
    woke = False
    kind = label = ""
    for i in order:
        ep = int(data.episode[i])
        if ep != current:
            if current is not None:
                out[current] = (label, kind, woke)
            current, calls, woke = ep, EpisodeCalls(classifier), False
            label = str(data.y[i])
        call = calls.classify(data.updates[i])
        kind = str(call.kind)
        if not data.final[i] and call.kind.is_cramp and call.confidence >= 0.6:
            woke = True
    if current is not None:
        out[current] = (label, kind, woke)
    return out


def scores(result: dict[int, tuple[str, str, bool]]) -> tuple[float, float, int, int]:
    """Return (cramp F1, tonic/clonic accuracy, cramps, look-alikes that woke)."""
    truth = np.array([t for t, _, _ in result.values()])
    pred = np.array([p for _, p, _ in result.values()])
    woke = np.array([w for _, _, w in result.values()])
    t_c, p_c = np.isin(truth, CRAMPS), np.isin(pred, CRAMPS)
    tp = int(np.sum(t_c & p_c))
    f1 = 2 * tp / (int(p_c.sum()) + int(t_c.sum())) if (p_c.any() or t_c.any()) else float("nan")
    both = t_c & p_c
    kinds = float(np.mean(truth[both] == pred[both])) if both.any() else float("nan")
    return f1, kinds, int(t_c.sum()), int(np.sum(woke & ~t_c))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nights", type=int, default=30)
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=98000)
    parser.add_argument("--work", type=Path, required=True, help="folder for nights and rows")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--table", type=Path,
                        help="also write the table as the model card's section to this file "
                             "(models/leave_one_family_out.md)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # low-rate nights warn once per night; not news here

    from models.features import FEATURE_NAMES
    from models.learned import LearnedClassifier
    from models.persistence import ModelManifest
    from models.rules import RuleClassifier
    from models.training import TrainingDataError, TrainParams, fit_model

    nights = args.work / "nights"
    if not any(nights.glob("*.edf")):
        subprocess.run([sys.executable, "-m", "crampwatch", "synth", "--nights",
                        str(args.nights), "--minutes", str(args.minutes), "--seed",
                        str(args.seed), "--cramps", "2", "4",
                        "--exclude", "texture_source=hdemg", "--out",
                        str(nights)], check=True, stdout=subprocess.DEVNULL)
    started = time.monotonic()
    parts = [night_rows(edf, (i + 1) * 1_000_000)
             for i, edf in enumerate(sorted(nights.glob("*.edf")))]
    rows = concat(parts)
    print(f"{len(parts)} nights, {len(rows.data)} rows, "
          f"{int(rows.data.final.sum())} episodes ({time.monotonic() - started:.0f} s)",
          flush=True)
    rules = RuleClassifier()
    table = []
    for family in NIGHT_FAMILIES + EPISODE_FAMILIES:
        for value in sorted(set(rows.family[family].tolist()) - {"-"}):
            held = rows.family[family] == value
            # An episode family holds out those cramps; look-alikes stay in training.
            test = held
            train = ~held
            test_data, train_data = rows.data.subset(test), rows.data.subset(train)
            if not test_data.final.any():
                continue
            try:
                model = fit_model(train_data, TrainParams(seed=args.seed))
            except TrainingDataError as exc:
                print(f"{family}={value}: not fitted ({exc})", flush=True)
                continue
            classes = tuple(str(c) for c in model.classes_)
            learned = LearnedClassifier(model, ModelManifest("lofo", FEATURE_NAMES, classes))
            m = scores(episode_calls(learned, test_data))
            r = scores(episode_calls(rules, test_data))
            table.append((family, value, m, r))
            print(f"{family}={value}: cramps {r[2]}; model F1 {m[0]:.3f} kinds {m[1]:.3f} "
                  f"woke {m[3]}; rules F1 {r[0]:.3f} kinds {r[1]:.3f} woke {r[3]}", flush=True)
    rows = ["| held-out family | cramps | model F1 | model kinds | model false wake-ups "
            "| rules F1 | rules kinds | rules false wake-ups |",
            "|---|---|---|---|---|---|---|---|"]
    rows += [f"| {family}={value} | {r[2]} | {m[0]:.3f} | {m[1]:.3f} | {m[3]} | "
             f"{r[0]:.3f} | {r[1]:.3f} | {r[3]} |" for family, value, m, r in table]
    if args.markdown:
        print("\n" + "\n".join(rows))
    if not table:
        print("no family could be held out: generate more nights")
        return 1
    worst = {name: min(row[k][0] for row in table) for name, k in (("model", 2), ("rules", 3))}
    print(f"\nlowest held-out F1: model {worst['model']:.3f}, rules {worst['rules']:.3f}")
    if args.table:
        args.table.write_text("\n".join([
            "## Leave one family out",
            "",
            f"`{' '.join(['bench/bench_lofo.py', *sys.argv[1:]])}`: {len(parts)} synthetic "
            f"nights of {args.minutes:g} min (seed {args.seed}); for each family value the "
            "model is fitted on the episodes outside it and both classifiers are scored on "
            "the episodes inside it (per episode, each run through `models.tracking`). "
            f"Lowest held-out cramp F1: model {worst['model']:.3f}, rules {worst['rules']:.3f}; "
            "the default is the one that generalizes better. Details and the fresh 8 h "
            "evaluation: `docs/detection-families.md`.",
            "",
            *rows,
        ]) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
