"""The look-alikes in the plan: PLM series, jerks, tremor, walking, stretches, artefacts."""

from __future__ import annotations

import numpy as np

from crampwatch.synth.episode_types import Episode
from crampwatch.synth.layout import Layout
from crampwatch.synth.night_config import DEFAULT_RATES_PER_HOUR
from crampwatch.synth.plan_draws import _Item, _log_uniform
from crampwatch.synth.variation import (
    Space,
    draw,
    family_rng,
)
from sensor.records import EventKind


def _vary_lookalike(item: _Item, layout: Layout, var_rng: np.random.Generator,
                    space: Space) -> None:
    """Draw a look-alike's texture (the cramps' pools) and, for PLM, whether the calf joins."""
    key = (int(var_rng.integers(2**62)),)
    rng = family_rng(key, "plm")
    calf_heavy = item.episodes[0].kind is EventKind.PLM and draw(space, "plm", rng) == "calf_heavy"
    # One texture per series: the same sleeper's muscle throughout.
    texture = draw(space, "texture", family_rng(key, "texture"))
    for ep in item.episodes:
        if texture is not None:  # else the reference texture (see night._truth_event)
            ep.attrs["texture"] = texture
            if len(item.episodes) > 1:
                ep.params["series"] = float(key[0] % 2**31)
        if ep.kind is EventKind.STRETCH and texture is not None:
            lead = family_rng(key, "stretch_lead").uniform(0.2, 1.0)
            ep.params["lead_s"] = float(min(lead, ep.duration_s / 4))
        if ep.kind is EventKind.PLM:
            ep.attrs["plm"] = "calf_heavy" if calf_heavy else "shin"
            if calf_heavy:
                # The calf recruited strongly alongside the shin (issue 11).
                ep.columns = (layout.shin, layout.calf[0])
                ep.params["co_level"] = float(rng.uniform(0.7, 1.6))


def _walking(rng: np.random.Generator, layout: Layout, duration_s: float) -> Episode:
    return Episode(
        EventKind.WALKING, "walking", 0.0, duration_s, (layout.calf[0], layout.shin),
        _log_uniform(rng, 40.0, 200.0),
        {"getup_s": float(rng.uniform(1.5, 3.0)), "shin_ratio": float(rng.uniform(0.6, 1.2)),
         "step_hz": float(rng.uniform(0.8, 1.0)), "artifact_uv": float(rng.uniform(10, 60))},
        seed=int(rng.integers(2**62)),
    )


def _lookalike(name: str, rng: np.random.Generator, layout: Layout) -> _Item:
    """Return one look-alike (or a PLM series) as a group of episodes."""
    seed = int(rng.integers(2**62))
    calf, shin = layout.calf, layout.shin
    both = (calf[0], shin)
    if name == "plm_series":
        # PLM: tibialis anterior bursts of 0.5-10 s, >= 4 in a series, 5-90 s apart (AASM).
        count = int(rng.integers(4, 13))
        t, episodes = 0.0, []
        for _ in range(count):
            width = float(np.clip(rng.lognormal(np.log(1.8), 0.5), 0.5, 10.0))
            cols = (shin,) if rng.random() < 0.7 else (shin, calf[0])
            episodes.append(Episode(
                EventKind.PLM, "plm", t, t + width, cols, _log_uniform(rng, 10.0, 80.0),
                {"plateau": float(rng.uniform(0.4, 0.9))}, seed=int(rng.integers(2**62)),
            ))
            t += float(np.clip(rng.normal(25.0, 10.0), 5.0, 90.0))
        return _Item(episodes, episodes[-1].end_s, 1)
    if name == "turning_over":
        # Large movement: 3-45 s, both muscles, accelerometer changes (Ferri 2021).
        duration = float(np.clip(rng.lognormal(np.log(6.0), 0.6), 3.0, 45.0))
        ep = Episode(EventKind.MOVEMENT, "turning_over", 0.0, duration, both,
                     _log_uniform(rng, 20.0, 200.0), {"plateau": 0.7}, seed)
        return _Item([ep], duration, 2)
    if name == "hypnic_jerk":
        duration = float(rng.uniform(0.075, 0.25))  # 75-250 ms, both muscles
        ep = Episode(EventKind.JERK, "hypnic_jerk", 0.0, duration, both,
                     _log_uniform(rng, 80.0, 600.0), {"kick_g": float(rng.uniform(0.3, 1.5))},
                     seed)
        return _Item([ep], duration, 3)
    if name == "fragmentary_myoclonus":
        duration = float(rng.uniform(20.0, 120.0))
        ep = Episode(EventKind.JERK, "fragmentary_myoclonus", 0.0, duration, (*calf, shin),
                     _log_uniform(rng, 10.0, 60.0),
                     {"mean_interval_s": float(rng.uniform(0.5, 4.0))}, seed)
        return _Item([ep], duration, 3)
    if name == "foot_tremor":
        # Bursts 0.1-0.7 s at 0.3-4 Hz in trains of 10-20 s (Chervin 2003; Yang 2010).
        duration = float(rng.uniform(10.0, 20.0))
        rate = float(rng.uniform(0.5, 3.0))
        col = shin if rng.random() < 0.5 else calf[0]
        ep = Episode(EventKind.TREMOR, "foot_tremor", 0.0, duration, (col,),
                     _log_uniform(rng, 10.0, 80.0),
                     {"rate_hz": rate, "burst_s": float(min(rng.uniform(0.1, 0.7), 0.6 / rate)),
                      "wobble_g": float(rng.uniform(0.005, 0.04))}, seed)
        return _Item([ep], duration, 2)
    if name == "stretch":
        duration = float(rng.uniform(3.0, 20.0))
        ep = Episode(EventKind.STRETCH, "stretch", 0.0, duration, (calf[0], shin),
                     _log_uniform(rng, 30.0, 300.0),
                     {"ramp_s": float(min(rng.uniform(0.3, 1.5), duration / 3)),
                      "shin_ratio": float(rng.uniform(0.4, 1.2)),
                      "motion_g": float(rng.uniform(0.03, 0.15))}, seed)
        return _Item([ep], duration, 2)
    if name == "walking":
        ep = _walking(rng, layout, float(rng.uniform(15.0, 150.0)))
        return _Item([ep], ep.end_s, 2)
    if name == "contact_loss":
        duration = float(rng.uniform(2.0, 60.0))
        cols = (*calf, shin)
        col = cols[int(rng.integers(len(cols)))]
        ep = Episode(EventKind.ARTIFACT, "contact_loss", 0.0, duration, (col,),
                     _log_uniform(rng, 200.0, 2000.0), {"mode": float(rng.integers(3))}, seed)
        return _Item([ep], duration, 3)
    if name == "electrode_pop":
        cols = (*calf, shin)
        ep = Episode(EventKind.ARTIFACT, "electrode_pop", 0.0, float(rng.uniform(0.03, 0.15)),
                     (cols[int(rng.integers(len(cols)))],), _log_uniform(rng, 100.0, 2000.0),
                     {"tau_s": float(rng.uniform(0.005, 0.05))}, seed)
        return _Item([ep], ep.end_s, 4)
    raise ValueError(f"unknown look-alike {name!r}; known: {sorted(DEFAULT_RATES_PER_HOUR)}")
