"""A labelled synthetic night written as EDF+ (signals + truth annotations) and truth JSON.

Generated in chunks of ``CHUNK_S`` seconds: background, plus each episode rendered
when the first chunk reaches it and dropped once past, so an 8-hour night needs
only a few tens of MB whatever its length.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from crampwatch.recordings.edf_writer import EdfPlusWriter, acc_spec, emg_spec
from crampwatch.synth.background import Background
from crampwatch.synth.episodes import Episode, RenderContext, Rendering, render
from crampwatch.synth.layout import Layout, leg_layout
from crampwatch.synth.plan import NightConfig, NightPlan, plan_night
from crampwatch.synth.real_emg import RealEmgLibrary, RealEmgUnavailable
from crampwatch.synth.truth import NightTruth, TruthEvent
from crampwatch.synth.variation import draw_night, family_rng
from sensor.records import EventKind, SampleBlock, SignalGroup

log = logging.getLogger(__name__)

CHUNK_S = 10.0
# Accelerometer sensor noise, g RMS (typical MEMS at 100 Hz, inference).
ACC_NOISE_G = 0.004
# EDF+ start stamp of synthetic nights: a fixed bedtime keeps files reproducible.
NIGHT_START = datetime(2024, 1, 1, 23, 0, 0)
# Motion of a night without an accelerometer is rendered at this rate and dropped.
NO_ACC_RENDER_HZ = 25.0


@dataclass(frozen=True)
class NightFiles:
    """The two files of one generated night."""

    edf: Path
    truth: Path


def _gravity(plan: NightPlan, t_s: np.ndarray) -> np.ndarray:
    """Return (n, 3) gravity on the band at times t_s from the posture keyframes."""
    times = np.array([k[0] for k in plan.posture])
    vectors = np.array([k[1] for k in plan.posture])
    g = np.column_stack([np.interp(t_s, times, vectors[:, a]) for a in range(3)])
    norm = np.linalg.norm(g, axis=1, keepdims=True)
    return g / np.maximum(norm, 1e-6)


def _truth_event(ep: Episode, layout: Layout, background: Background,
                 real_library: bool) -> TruthEvent:
    channels = tuple(layout.emg_labels[c] for c in ep.columns)
    rest = float(background.level(np.array([ep.start_s]), ep.columns[0])[0])
    attributes = dict(ep.attrs)
    if "texture" not in attributes:
        # Reference nights: walks and stretches take real EMG when the library is there.
        legacy_real = real_library and ep.kind in (EventKind.WALKING, EventKind.STRETCH)
        attributes["texture"] = "real" if legacy_real else "synthetic"
    return TruthEvent(
        start_s=ep.start_s,
        end_s=ep.end_s,
        kind=ep.kind,
        subtype=ep.subtype,
        channel=channels[0],
        channels=channels,
        strength_uv=ep.strength_uv,
        strength_rel=ep.strength_uv / rest,
        attributes=attributes,
    )


def generate_night(
    cfg: NightConfig,
    seed: int,
    out_dir: str | os.PathLike[str],
    name: str,
    library: RealEmgLibrary | None = None,
    progress: Callable[[float], None] | None = None,
) -> NightFiles:
    """Write ``name``.edf and ``name``.truth.json into out_dir; return their paths.

    The night's rates, leg, labels, mains and floor step, and each episode's texture,
    response and trigger, are drawn from ``cfg.vary`` (see
    :mod:`crampwatch.synth.variation`) and recorded in the truth. The same config and
    seed give the same files, given the same real-EMG sources installed (exclude
    ``texture_source`` "hdemg" for nights that are the same on every machine).
    ``progress`` is called with the seconds generated after each chunk.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, 0])
    mains = cfg.mains_hz if cfg.mains_hz is not None else float(rng.choice([50.0, 60.0]))
    variation = draw_night(cfg.vary, cfg.duration_s, (seed, 5), cfg.emg_fs_hz, cfg.acc_fs_hz,
                           cfg.leg, mains)
    fs, afs = variation.emg_fs_hz, variation.acc_fs_hz
    layout = leg_layout(variation.leg, cfg.extra_calf, variation.labels, afs is not None)
    plan = plan_night(cfg, layout, rng, np.random.default_rng([seed, 6]))
    wants_real = cfg.use_real_emg or "real" in cfg.vary.get("texture", ())
    if wants_real and library is None:
        library = RealEmgLibrary()
    real_sources: list[str] = []
    if library is not None and wants_real:
        # Which real recording each real-texture episode draws from (own stream).
        source_rng = family_rng((seed, 7), "texture_source")
        allowed = cfg.vary.get("texture_source", library.sources)
        sources = [s for s in library.sources if s in allowed]
        if "real" in cfg.vary.get("texture", ()):
            real_sources = sources
        series_source: dict[float, str] = {}
        for ep in plan.episodes:
            if ep.attrs.get("texture") == "real":
                if not sources:
                    raise RealEmgUnavailable(
                        f"no real-EMG source left to draw: allowed {', '.join(allowed)}, "
                        f"installed {', '.join(library.sources)}"
                    )
                source = sources[int(source_rng.integers(len(sources)))]
                # The bursts of one series share their source.
                ep.attrs["texture_source"] = series_source.setdefault(
                    ep.params.get("series", -1.0 - len(series_source)), source)
                if ep.kind is EventKind.WALKING:
                    ep.attrs["texture_source"] = "uci"  # the only real gait recordings
    render_afs = afs if afs is not None else NO_ACC_RENDER_HZ
    ctx = RenderContext(fs, render_afs, layout, library if wants_real else None,
                        variation.mains_hz)
    background = Background(
        len(layout.emg_labels), fs, cfg.duration_s, variation.mains_hz, seed,
        plan.level_steps_s, cfg.rest_rms_uv, variation.mains_wander_sd_hz,
        variation.harmonics, variation.floor_step,
    )
    truth = NightTruth(
        recording=f"{name}.edf",
        duration_s=cfg.duration_s,
        events=[_truth_event(ep, layout, background, cfg.use_real_emg) for ep in plan.episodes],
        seed=seed,
        channels=layout.emg_labels + layout.acc_labels,
        rest_rms_uv={label: ch.rest_rms_uv
                     for label, ch in zip(layout.emg_labels, background.channels, strict=True)},
        variation={**variation.to_json(), "real_sources": real_sources},
    )
    specs = [emg_spec(label, fs) for label in layout.emg_labels]
    if afs is not None:
        specs += [acc_spec(label, afs) for label in layout.acc_labels]
    edf_path = out / f"{name}.edf"
    truth_path = out / f"{name}.truth.json"
    acc_rng = np.random.default_rng([seed, 3])

    n_emg_total = round(cfg.duration_s * fs)
    n_acc_total = round(cfg.duration_s * render_afs)
    pending = list(plan.episodes)
    active: list[Rendering] = []
    with EdfPlusWriter(edf_path, specs, start=NIGHT_START) as writer:
        for ev in truth.events:
            writer.annotate(ev.start_s, ev.end_s - ev.start_s, _annotation_text(ev))
        e0, a0 = 0, 0
        while e0 < n_emg_total:
            e1 = min(n_emg_total, e0 + int(CHUNK_S * fs))
            a1 = n_acc_total if e1 == n_emg_total else min(
                n_acc_total, round(e1 * render_afs / fs)
            )
            while pending and pending[0].start_s * fs < e1:
                active.append(render(pending.pop(0), ctx))
            emg = background.chunk(e1 - e0)
            acc = np.zeros((a1 - a0, 3))
            if afs is not None:
                t_acc = np.arange(a0, a1) / afs
                acc = _gravity(plan, t_acc) + acc_rng.normal(0, ACC_NOISE_G, (a1 - a0, 3))
            for rendering in active:
                _mix(rendering, emg, e0, acc, a0)
            active = [r for r in active if r.emg_stop > e1 or r.acc_stop > a1]
            writer.write_block(SampleBlock(SignalGroup.EMG, fs, e0 / fs, emg, layout.emg_labels))
            if afs is not None:
                writer.write_block(SampleBlock(SignalGroup.ACC, afs, a0 / afs, acc,
                                               layout.acc_labels))
            e0, a0 = e1, a1
            if progress is not None:
                progress(e1 / fs)
    truth.write(truth_path)
    return NightFiles(edf=edf_path, truth=truth_path)


def _mix(r: Rendering, emg: np.ndarray, e0: int, acc: np.ndarray, a0: int) -> None:
    """Add (or substitute) the part of a rendering that falls in this chunk."""
    n, m = emg.shape[0], acc.shape[0]
    lo, hi = max(r.emg_start, e0), min(r.emg_start + r.emg_add.shape[0], e0 + n)
    if hi > lo:
        emg[lo - e0 : hi - e0] += r.emg_add[lo - r.emg_start : hi - r.emg_start]
    for col, values in r.emg_replace.items():
        lo, hi = max(r.emg_start, e0), min(r.emg_start + values.shape[0], e0 + n)
        if hi > lo:
            emg[lo - e0 : hi - e0, col] = values[lo - r.emg_start : hi - r.emg_start]
    lo, hi = max(r.acc_start, a0), min(r.acc_start + r.acc_add.shape[0], a0 + m)
    if hi > lo:
        acc[lo - a0 : hi - a0] += r.acc_add[lo - r.acc_start : hi - r.acc_start]


def _annotation_text(ev: TruthEvent) -> str:
    """Return the EDF+ annotation text of a truth event, e.g. 'truth: tonic (tonic_cramp)'."""
    return f"truth: {ev.kind} ({ev.subtype})"
