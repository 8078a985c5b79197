"""The plan of a synthetic night: which episodes happen when, and how the leg lies.

Counts, durations and strengths are drawn from the ranges in DOMAIN.md; the
episodes are laid out without overlap (PLM series, cramps followed by getting up)
with at least ``min_gap_s`` of quiet between them so each is its own event.

The families of :mod:`crampwatch.synth.variation` that vary per episode (texture,
the sleeper's response to a tonic cramp, a movement setting the cramp off, calf-heavy
PLM) are drawn from streams of their own, one per episode and family, so holding one
family out leaves every other family's draws as they were (episodes may move in time
when a response lengthens a cramp).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crampwatch.synth.cramp_plan import _cramp, _cramp_posture, _vary_cramp, _walking_on
from crampwatch.synth.episode_types import Episode
from crampwatch.synth.layout import Layout
from crampwatch.synth.lookalike_plan import _lookalike, _vary_lookalike, _walking
from crampwatch.synth.night_config import DEFAULT_RATES_PER_HOUR, NightConfig
from crampwatch.synth.plan_draws import UPRIGHT, _Item, _lying
from sensor.records import EventKind

__all__ = ["DEFAULT_RATES_PER_HOUR", "UPRIGHT", "NightConfig", "NightPlan", "plan_night"]


@dataclass
class NightPlan:
    """Episodes in time order, posture keyframes (t_s, gravity unit vector), level steps."""

    episodes: list[Episode]
    posture: list[tuple[float, np.ndarray]]
    level_steps_s: list[float]


def plan_night(cfg: NightConfig, layout: Layout, rng: np.random.Generator,
               var_rng: np.random.Generator | None = None) -> NightPlan:
    """Return the episodes, posture keyframes and noise-level steps of one night.

    ``var_rng`` draws the per-episode families of ``cfg.vary`` (a stream of its own).
    """
    space = cfg.vary
    var_rng = var_rng if var_rng is not None else np.random.default_rng(0)
    hours = cfg.duration_s / 3600.0
    margin_s = min(60.0, 0.05 * cfg.duration_s)
    items: list[_Item] = []
    n_cramps = int(rng.integers(cfg.cramps_min, cfg.cramps_max + 1))
    max_cramp_s = max(15.0, cfg.duration_s / 6)
    for _ in range(n_cramps):
        cramp = _cramp(rng, cfg, layout, rng.random() < cfg.clonic_fraction, max_cramp_s)
        _vary_cramp(cramp, var_rng, space)
        group = [cramp]
        duration = cramp.end_s
        walking_on = _walking_on(cramp, layout)
        if walking_on is not None:
            group.append(walking_on)
            duration = walking_on.end_s
        # After a cramp the sleeper may stand, press the heel down and walk (DOMAIN.md advice).
        if cramp.kind is EventKind.TONIC and rng.random() < 0.35:
            walk = _walking(rng, layout, float(rng.uniform(15.0, 60.0)))
            offset = duration + float(rng.uniform(cfg.min_gap_s, cfg.min_gap_s + 15.0))
            walk.start_s, walk.end_s = offset, offset + walk.duration_s
            _vary_lookalike(_Item([walk], walk.duration_s, 0), layout, var_rng, space)
            if cramp.attrs.get("response") != "stand_walk":  # they are up already
                group.append(walk)
                duration = walk.end_s
        items.append(_Item(group, duration, 0))
    for name, rate in cfg.rates_per_hour.items():
        count = int(rng.poisson(rate * hours))
        if cfg.every_kind:
            count = max(count, 1)
        for _ in range(count):
            item = _lookalike(name, rng, layout)
            _vary_lookalike(item, layout, var_rng, space)
            items.append(item)

    # Keep what fits: cramps first, then look-alikes by priority.
    usable = cfg.duration_s - 2 * margin_s
    items.sort(key=lambda it: (it.priority, rng.random()))
    kept, used = [], 0.0
    for item in items:
        if used + item.duration_s + cfg.min_gap_s <= usable:
            kept.append(item)
            used += item.duration_s + cfg.min_gap_s
    order = rng.permutation(len(kept))
    kept = [kept[i] for i in order]
    slack = usable - used
    gaps = rng.dirichlet(np.ones(len(kept) + 1)) * slack if kept else np.array([slack])

    episodes: list[Episode] = []
    posture: list[tuple[float, np.ndarray]] = []
    steps: list[float] = []
    lying = _lying(rng)
    posture.append((0.0, lying))
    t = margin_s
    for item, gap in zip(kept, gaps[:-1], strict=True):
        t += float(gap) + cfg.min_gap_s / 2
        for ep in item.episodes:
            ep.start_s += t
            ep.end_s += t
            episodes.append(ep)
            if ep.subtype == "turning_over":
                new = _lying(rng)
                posture += [(ep.start_s, lying), (ep.end_s, new)]
                lying = new
                steps.append(ep.end_s)
            elif ep.kind.is_cramp:
                lying = _cramp_posture(ep, lying, posture, steps, var_rng)
            elif ep.subtype == "walking":
                getup = ep.params["getup_s"]
                new = _lying(rng)
                posture += [(ep.start_s, lying), (ep.start_s + getup, UPRIGHT),
                            (ep.end_s - getup, UPRIGHT), (ep.end_s, new)]
                lying = new
                steps.append(ep.end_s)
        t += item.duration_s + cfg.min_gap_s / 2
    posture.append((cfg.duration_s, lying))
    episodes.sort(key=lambda e: e.start_s)
    return NightPlan(episodes=episodes, posture=posture, level_steps_s=steps)
