"""The model card: what a shipped model was trained on, its features, versions and metrics."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from models.persistence import ModelManifest
from models.rules import RuleParams
from sensor.detector_config import BaselineConfig, EpisodeConfig, FilterConfig
from sensor.features import FEATURES

_RULE = RuleParams()
_BASE = BaselineConfig()
_FILTER = FilterConfig()
_EPISODE = EpisodeConfig()


def _metrics_table(metrics: Mapping[str, Any]) -> list[str]:
    names = (
        ("n_episodes", "closed episodes"),
        ("final_accuracy", "kind accuracy, all kinds (final call)"),
        ("cramp_precision", "cramp precision (final call)"),
        ("cramp_recall", "cramp recall (final call)"),
        ("cramp_f1", "cramp F1 (final call)"),
        ("cramp_kind_accuracy", "tonic/clonic accuracy on found cramps"),
        ("false_provisional_cramps", "look-alike episodes called a cramp while open"),
    )
    models = list(metrics)
    lines = ["| figure | " + " | ".join(models) + " |", "|---|" + "---|" * len(models)]
    for key, label in names:
        row = [str(metrics[m].get(key, "")) for m in models]
        lines.append(f"| {label} | " + " | ".join(row) + " |")
    return lines

# The cramp rule both classifiers follow (models.rules, models.tracking, sensor.legs),
# in words a clinician can check; part of every model card.
CRAMP_RULE: tuple[str, ...] = (
    "## The cramp rule (what both classifiers follow)",
    "",
    "The default classifier is the rule classifier (`models.rules`, "
    "`models.DEFAULT_CLASSIFIER`): it generalizes across held-out families of nights "
    "where this learned model does not (figures per family and how to reproduce them: "
    "`docs/detection-families.md`).",
    "",
    "- **One event per leg.** The calf and shin channels of one leg fuse into one episode "
    "(`sensor.legs`): from the first muscle's onset to the last muscle's end, with the "
    "calf's course as its evidence and which muscle led (`calf_delay_s`), how many "
    "muscles took part and the other muscle's level as features.",
    "- **A cramp is the calf's involuntary activity**, loud (at least "
    f"{_RULE.cramp_min_amp_rel:g}x the sleeper's resting level, or "
    f"{_RULE.cramp_min_amp_uv:g} uV whatever the floor: cramps are 30-600 uV over a 2-5 uV "
    "floor, a floor that steps up reaches 2-4x) and either",
    "  - involuntary from its onset: the calf leads (within "
    f"{_RULE.cramp_max_calf_delay_s:g} s), the leg lies still at the onset (the cramp's "
    f"own pull on the foot, under {_RULE.cramp_quiet_motion_g:g} g, is still) and stays "
    "still until it is called, the shin is not co-contracting at a comparable level (nor "
    f"was it in the first {_EPISODE.onset_coact_s:g} s, where no accelerometer tells a "
    "voluntary start), no "
    "rhythmic stepping or tremor (a leg whose shaking shows, or a calf whose envelope "
    f"pulsed at {_EPISODE.pulse_low_hz:g}-{_EPISODE.pulse_high_hz:g} Hz, with a rhythm "
    f"stronger than {_RULE.tremor_pulse_strength:g} on average over its time alone: "
    "faster than a clonic cramp can jerk and relax, a tremor whose bursts merge into "
    "what would read as a hold); called as it runs once sustained for 1-2 s (tonic) or "
    "after 3 bursts with relaxation (clonic), whichever kind it looks like: the call's "
    "confidence is a cramp of either kind against the likeliest look-alike; or",
    "  - persisting alone: whatever set it off (a turn, a pointed foot), the calf stays "
    f"active alone at that strength, shin quiet and leg still, for {_RULE.cramp_alone_s:g} s "
    f"({_RULE.cramp_alone_no_acc_s:g} s without an "
    "accelerometer, where a still leg is not known), not pulsing like a tremor. "
    "A look-alike that outlasts its own motion this way is no look-alike; the faint tail of "
    "a movement is not loud enough.",
    "- **The sleeper's response does not undo it.** Once called a cramp, the episode stays "
    "a cramp to its end (`models.tracking`): pulling the toes up (shin fires), kneading "
    "(leg moves), standing and walking belong to the cramp. The cramp ends when the calf's "
    "activity ends. Its kind is read from its course before the response: **tonic** when "
    "it holds one unbroken contraction (> 10 s) with a steady envelope, **clonic** when it "
    "shows >= 3 bursts of 0.25-2 s with relaxation, relaxes (below 40 % of its level for "
    ">= 0.3 s, with contraction after it: not the rise, not the letting go) for >= "
    f"{_RULE.clonic_min_relaxed:.0%} of the time the "
    "calf was active alone, or has a swinging envelope. An episode never called a cramp "
    "while it ran is none at its end either: what woke nobody is not logged as a cramp.",
    "- **Look-alikes, by their own course:** a stretch or a turn is motion-led, both "
    "muscles from the start, and ends with the motion; PLM is shin-led, 0.5-10 s, "
    "periodic; walking is upright and rhythmic, or, where no accelerometer tells the "
    "posture, calf and shin take turns at the step rate (the shin firing while the calf "
    f"rests for >= {_RULE.walking_shin_alone:.0%} of the episode, as in each step's swing); "
    "a hypnic jerk lasts < 0.5 s; electrode "
    "trouble shows mains, clipping, a flat line or low-frequency junk.",
    "- **A step of the noise floor is not a cramp** (`sensor.baseline`): a level up to "
    f"{_BASE.step_max_ratio:g}x the old floor, or up to {_BASE.step_max_uv:g} uV whatever "
    f"the old floor, that holds steady for {_BASE.step_hold_s:g} s is learned as the new "
    "floor, and is too weak to be called a cramp meanwhile.",
    "- **Hum and heartbeats are not muscle** (`sensor.filters`): every mains line up to "
    f"the {_FILTER.notch_harmonics}th harmonic is notched {_FILTER.notch_depth} times "
    "(a line that wanders 0.3 Hz off its notch still loses 40 dB), and the band starts at "
    f"{_FILTER.ecg_highpass_hz:g} Hz"
    f"{'' if _FILTER.ecg_suppression else ' when ECG suppression is on'}, above most of "
    "the QRS energy that leaks into leg leads.",
    "",
)


# The leave-one-family-out table `bench/bench_lofo.py --table` writes (Markdown).
LOFO_TABLE = Path(__file__).resolve().parent / "leave_one_family_out.md"


def _leave_one_family_out() -> list[str]:
    """Return the card's leave-one-family-out section (empty until the bench wrote it)."""
    if not LOFO_TABLE.exists():
        return []
    return [LOFO_TABLE.read_text().rstrip("\n"), ""]


def render_model_card(manifest: ModelManifest, model_file: str) -> str:
    """Return the model card (Markdown) of a saved model."""
    t = manifest.training
    lines = [
        "# Model card: crampwatch tonic / clonic / not-a-cramp classifier",
        "",
        f"- Model version: `{manifest.model_version}`; file `{model_file}` "
        f"(skops, SHA-256 `{manifest.sha256[:16]}...`), manifest beside it.",
        f"- scikit-learn {manifest.sklearn_version}, skops {manifest.skops_version}, "
        f"numpy {manifest.numpy_version}; feature schema {manifest.feature_schema_version}. "
        "Loading refuses a file written with another scikit-learn or skops version or "
        "feature schema, a file whose hash differs from its manifest, and any type outside "
        "`models.persistence.TRUSTED_TYPES`.",
        "- Estimator: histogram gradient boosting, calibrated (Platt, folds by episode) with "
        "`CalibratedClassifierCV`. One model makes the provisional call (open episode, "
        "`is_final` = 0) and the final call (closed, `is_final` = 1).",
        f"- Classes: {', '.join(manifest.classes)}.",
        "- Decision (`models.decision`): an open episode is called a cramp only when "
        "P(tonic) + P(clonic) >= 0.6 and the muscle has been active for at least 1 s (a "
        "provisional cramp call "
        "wakes the sleeper; a jerk lasts <= 250 ms); a closed one when >= 0.5 and it lasted "
        "at least 3 s. A cramp call is vetoed when the rule classifier sees a junk channel "
        "(mains, clipping, flat line, motion artefact) with truth >= 0.9. A cramp call's "
        "confidence is P(tonic) + P(clonic).",
        "- Intended use: classify episodes found by `sensor.Detector` on calf/shin surface EMG "
        "and a leg accelerometer during sleep. Not a diagnosis. Not validated on real cramps: "
        "no labelled real night-cramp recordings were available; see the limits below.",
        "",
        *CRAMP_RULE,
        *_leave_one_family_out(),
        "## Training data",
        "",
        f"- Command: `{t.get('command', 'crampwatch train')}` (seeded, reproducible).",
        f"- Synthetic nights: {t.get('nights', '?')} x {t.get('night_hours', '?')} h from "
        "`crampwatch.synth` (seeds "
        f"{t.get('night_seeds', '?')}; never use these seeds for evaluation), both legs, "
        "with and without a second calf channel, 2 kHz and 1 kHz EMG.",
        f"- Real EMG: {t.get('real_emg', 'none')}.",
        f"- Rows: {t.get('rows', '?')} ({t.get('final_rows', '?')} closed episodes); "
        f"closed episodes per kind: {t.get('class_counts', '?')}.",
        "- Labels: an episode takes the kind of the ground-truth event it overlaps most on its "
        "own channel (>= 20 % of the episode); an episode overlapping none is `artifact` "
        "(activity nobody scored). Open-episode snapshots: every update in the first 12 s, "
        "then one per 10 s.",
        "",
        "## Validation (held-out synthetic nights, episode level)",
        "",
        f"Fitted without the {t.get('validation_nights', '?')} validation nights "
        f"(seeds {t.get('validation_seeds', '?')}), then refitted on all nights for shipping. "
        "Model column: its most probable kind, before the decision rules above; rules column: "
        "the rule classifier's calls. "
        "Night-level figures (F1 per truth cramp, false wake-ups per 8 h, onset error, alert "
        "latency) come from `crampwatch evaluate` on fresh nights and are in the project notes.",
        "",
        *_metrics_table(manifest.metrics),
        "",
        "## Features (order stored in the manifest)",
        "",
    ]
    for name in manifest.feature_names:
        meaning = FEATURES.get(name)
        if meaning is None:
            meaning = {
                "role_calf": "1 when the channel is a calf muscle (either gastrocnemius head, "
                "soleus), either leg",
                "role_shin": "1 when the channel is the tibialis anterior",
                "is_final": "1 for a closed episode (final call), 0 while it runs",
            }.get(name, "")
        lines.append(f"- `{name}`: {meaning}")
    lines += [
        "",
        "## Limits",
        "",
        "- Trained on synthetic cramps and look-alikes built from published signatures "
        "(DOMAIN.md); real night cramps may differ. The real EMG (UCI lower limb, thigh "
        "muscles standing in for calf/shin) adds real voluntary activity only.",
        "- No accelerometer in the real EMG: posture and motion features are missing there.",
    ]
    return "\n".join(lines) + "\n"


def write_model_card(
    manifest: ModelManifest, model_path: str | os.PathLike[str], card_path: str | os.PathLike[str]
) -> Path:
    """Return the path of the model card written for a saved model."""
    path = Path(card_path)
    path.write_text(render_model_card(manifest, Path(model_path).name))
    return path
