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

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from crampwatch.synth.episodes import Episode
from crampwatch.synth.layout import Layout
from crampwatch.synth.variation import (
    VARIED_CRAMP_RMS_UV,
    Space,
    draw,
    family_rng,
    full_space,
)
from sensor.records import EventKind

# Look-alikes per hour of sleep (inference from the PSG literature's typical counts;
# PLM index ~5-15/h in series of >= 4, a few large movements per hour).
DEFAULT_RATES_PER_HOUR: Mapping[str, float] = {
    "plm_series": 0.8,
    "turning_over": 3.0,
    "hypnic_jerk": 0.5,
    "fragmentary_myoclonus": 0.6,
    "foot_tremor": 0.6,
    "stretch": 0.8,
    "walking": 0.15,
    "contact_loss": 0.3,
    "electrode_pop": 3.0,
}


@dataclass(frozen=True)
class NightConfig:
    """What kind of night to generate; times in seconds, rates in Hz, strengths in uV RMS."""

    duration_s: float = 8 * 3600.0
    emg_fs_hz: float = 2000.0
    acc_fs_hz: float | None = 100.0  # None: no accelerometer in the recording
    leg: str = "R"
    extra_calf: bool = False
    mains_hz: float | None = None  # None: 50 or 60 Hz drawn per night
    cramps_min: int = 1
    cramps_max: int = 4
    clonic_fraction: float = 0.35  # share of cramps that are clonic (inference)
    every_kind: bool = True  # at least one of every look-alike, even in a short night
    rates_per_hour: Mapping[str, float] = field(
        default_factory=lambda: dict(DEFAULT_RATES_PER_HOUR)
    )
    cramp_rms_uv: tuple[float, float] = (12.0, 500.0)  # weak to strong, log-uniform (inference)
    rest_rms_uv: tuple[float, float] = (1.5, 4.0)  # a few uV at rest (DOMAIN.md "Signals")
    min_gap_s: float = 20.0  # quiet between episodes (> 3 s episode split, AASM bruxism rule)
    use_real_emg: bool = True
    # Families drawn per night or episode (crampwatch.synth.variation); a family not
    # listed keeps the fixed settings above and the reference behaviour.
    vary: Space = field(default_factory=dict)

    @classmethod
    def varied(cls, **kwargs: object) -> NightConfig:
        """Return a config with every family varied and cramps of 30-600 uV (issue 11)."""
        kwargs.setdefault("vary", full_space())
        kwargs.setdefault("cramp_rms_uv", VARIED_CRAMP_RMS_UV)
        return cls(**kwargs)  # type: ignore[arg-type]


@dataclass
class NightPlan:
    """Episodes in time order, posture keyframes (t_s, gravity unit vector), level steps."""

    episodes: list[Episode]
    posture: list[tuple[float, np.ndarray]]
    level_steps_s: list[float]


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _lying(rng: np.random.Generator) -> np.ndarray:
    """Return the gravity direction on the band for a lying leg (X along the shank)."""
    # Supine (shin up, +Z), side-lying (+/-Y), prone (-Z); knee bent up to ~30 degrees.
    base = [np.array([0, 0, 1.0]), np.array([0, 1.0, 0]), np.array([0, -1.0, 0]),
            np.array([0, 0, -1.0])][int(rng.choice(4, p=[0.45, 0.22, 0.22, 0.11]))]
    tilt = np.deg2rad(rng.uniform(-10, 30))
    vec = base * np.cos(tilt) + np.array([np.sin(tilt), 0, 0])
    return vec / np.linalg.norm(vec)


UPRIGHT = np.array([1.0, 0.0, 0.0])


class _Item:
    """A group of episodes laid out together, with offsets from the group start."""

    def __init__(self, episodes: list[Episode], duration_s: float, priority: int) -> None:
        self.episodes = episodes
        self.duration_s = duration_s
        self.priority = priority


def _cramp(rng: np.random.Generator, cfg: NightConfig, layout: Layout, clonic: bool,
           max_s: float) -> Episode:
    strength = _log_uniform(rng, *cfg.cramp_rms_uv)
    calf = list(layout.calf)
    main = calf[int(rng.integers(len(calf)))]
    # A cramp can seize one head and spare the other (Khan & Burne 2007).
    columns = (main,) if len(calf) == 1 or rng.random() < 0.5 else (main, *[c for c in calf
                                                                             if c != main])
    if clonic:
        duration = float(rng.uniform(8.0, 90.0))
        params = {
            "plateau": rng.uniform(0.5, 1.0),
            "on_s_min": 0.3, "on_s_max": float(rng.uniform(0.6, 2.0)),
            "off_s_min": 0.3, "off_s_max": float(rng.uniform(0.6, 2.0)),
            "residual": float(rng.uniform(0.0, 0.4)),
            "twitch_g": float(rng.uniform(0.005, 0.04)),
        }
        kind, subtype = EventKind.CLONIC, "clonic_cramp"
        columns = columns[:1]
    else:
        # Night cramps last seconds to 10 min, usually 2-8 min (Hallegraeff 2017).
        duration = (
            float(rng.uniform(12.0, 60.0)) if rng.random() < 0.3
            else _log_uniform(rng, 60.0, 480.0)
        )
        grab = rng.random() < 0.6
        params = {
            "rise_s": float(rng.uniform(0.5, 3.0)),
            "decay_s": float(rng.uniform(2.0, 10.0)),
            "plateau": float(rng.uniform(0.6, 1.0)),
            "second_level": float(rng.uniform(0.3, 0.9)),
            # Awake and in pain, the sleeper reaches for the leg some seconds in (inference).
            "grab_at_s": float(rng.uniform(8.0, 40.0)) if grab else -1.0,
            "grab_s": float(rng.uniform(2.0, 8.0)),
            "grab_g": float(rng.uniform(0.03, 0.25)),
        }
        kind, subtype = EventKind.TONIC, "tonic_cramp"
    duration = min(duration, max_s)
    return Episode(kind, subtype, 0.0, duration, columns, strength, params,
                   seed=int(rng.integers(2**62)))


# The sleeper wakes 5-40 s into a tonic cramp and responds (issue 11; DOMAIN.md
# "During a cramp"); the stages of a response, seconds (inference).
WAKE_S = (5.0, 40.0)
GETUP_S = (1.5, 3.0)
STAND_S = (3.0, 15.0)  # standing, pressing the heel down
MIN_WALK_S = 8.0
LIEDOWN_S = (1.5, 3.0)
KNEAD_S = (5.0, 30.0)
STRETCH_HOLDS = 3
STRETCH_HOLD_S = (8.0, 12.0)
STRETCH_REST_S = (2.0, 5.0)
# Half of those who stand walk on after the cramp has let go (inference), for 5-30 s:
# a walking event of its own that starts where the cramp ends.
WALK_ON_SHARE = 0.5
WALK_ON_S = (5.0, 30.0)
# A movement that sets a cramp off: motion and both muscles for 1-3 s (issue 11).
TRIGGER_S = (1.0, 3.0)


def _vary_cramp(ep: Episode, var_rng: np.random.Generator, space: Space) -> None:
    """Draw the cramp's texture, response and trigger; stretch it if the response needs time."""
    key = (int(var_rng.integers(2**62)),)
    texture = draw(space, "texture", family_rng(key, "texture")) or "synthetic"
    rng = family_rng(key, "response")
    response = draw(space, "response", rng) if ep.kind is EventKind.TONIC else None
    trigger_rng = family_rng(key, "triggered_by_movement")
    triggered = draw(space, "triggered_by_movement", trigger_rng) == "yes"
    p = ep.params
    if response is None:
        # Reference behaviour: the legacy reach for the leg is a knead without squeezing.
        response = "knead" if p.get("grab_at_s", -1.0) > 0 else "none"
        if ep.kind is EventKind.TONIC and "response" in space:
            response = "none"
    else:
        p["grab_at_s"] = -1.0
    if triggered:
        t_rng = trigger_rng
        p["trigger_s"] = float(t_rng.uniform(*TRIGGER_S))
        # The calf's own contraction takes over within the movement.
        p["cramp_onset_s"] = float(t_rng.uniform(0.3, 0.8)) * p["trigger_s"]
        p["trigger_turn"] = float(t_rng.random() < 0.5)
        p["trigger_uv"] = float(np.exp(t_rng.uniform(np.log(20.0), np.log(150.0))))
    lead = p.get("trigger_s", 0.0)
    if response != "none" and "response" in space:
        wake = lead + float(rng.uniform(*WAKE_S))
        p["wake_s"] = wake
        p["response_uv"] = float(np.exp(rng.uniform(np.log(40.0), np.log(250.0))))
        tail = p.get("decay_s", 2.0) + 1.0
        if response == "stand_walk":
            getup = float(rng.uniform(*GETUP_S))
            stand = float(rng.uniform(*STAND_S))
            liedown = float(rng.uniform(*LIEDOWN_S))
            need = wake + getup + stand + MIN_WALK_S + liedown + tail
            if ep.duration_s < need:
                ep.end_s = ep.start_s + need
            p["getup_s"], p["stand_s"], p["liedown_s"] = getup, stand, liedown
            if rng.random() < WALK_ON_SHARE:
                # The calf lets go during the walk; they walk on, then lie down.
                p["walk_end_s"] = ep.duration_s + float(rng.uniform(*WALK_ON_S))
                p["render_extra_s"] = p["walk_end_s"] + liedown - ep.duration_s
            else:
                # Back in bed before the calf lets go: the walk ends, then they lie down.
                p["walk_end_s"] = ep.duration_s - tail - liedown
            p["step_hz"] = float(rng.uniform(0.7, 1.0))
            p["shin_ratio"] = float(rng.uniform(0.5, 1.2))
        elif response == "stretch":
            if ep.duration_s < wake + 10.0 + tail:
                ep.end_s = ep.start_s + wake + 10.0 + tail
            p["shin_ratio"] = float(rng.uniform(0.3, 1.2))
            p["motion_g"] = float(rng.uniform(0.03, 0.15))
            # Holds of ~10 s, up to three, with a few seconds between (Hallegraeff 2012).
            t, end = wake, ep.duration_s - p.get("decay_s", 2.0)
            for k in range(STRETCH_HOLDS):
                hold = min(float(rng.uniform(*STRETCH_HOLD_S)), end - t)
                if hold < 3.0:
                    break
                p[f"hold{k}_at_s"], p[f"hold{k}_s"] = t, hold
                p["stretch_end_s"] = t + hold
                t += hold + float(rng.uniform(*STRETCH_REST_S))
        elif response == "knead":
            if ep.duration_s < wake + KNEAD_S[0] + tail:
                ep.end_s = ep.start_s + wake + KNEAD_S[0] + tail
            p["knead_s"] = min(float(rng.uniform(*KNEAD_S)), ep.duration_s - wake - tail)
            p["knead_hz"] = float(rng.uniform(0.7, 2.0))
            p["knead_g"] = float(rng.uniform(0.05, 0.3))
            p["knead_uv"] = float(rng.uniform(10.0, 60.0))
    ep.attrs.update({
        "texture": texture,
        "response": response,
        "triggered_by_movement": triggered,
    })
    if triggered:
        ep.attrs["trigger"] = "turn" if p["trigger_turn"] else "point_foot"
    if "wake_s" in p:
        # Seconds after the cramp's start: the sleeper wakes and responds until...
        ep.attrs["wake_s"] = round(p["wake_s"], 3)
        # ...the response ends (back in bed; past the cramp's end when they walk on).
        ends = {
            "stand_walk": p.get("walk_end_s", 0.0) + p.get("liedown_s", 0.0),
            "knead": p["wake_s"] + p.get("knead_s", 0.0),
            "stretch": p.get("stretch_end_s", p["wake_s"]),
        }
        end = ends.get(response, ep.duration_s - p.get("decay_s", 2.0))
        ep.attrs["response_end_s"] = round(end, 3)
        if "render_extra_s" in p:
            ep.attrs["walks_on_s"] = round(p["render_extra_s"], 3)


def _walking_on(cramp: Episode, layout: Layout) -> Episode | None:
    """Return the walk that goes on after a cramp with a standing response, if it does.

    It is rendered with the cramp (one continuous walk); this episode only labels it.
    """
    extra = cramp.params.get("render_extra_s", 0.0)
    if extra <= 0:
        return None
    return Episode(
        EventKind.WALKING, "walking_on", cramp.end_s, cramp.end_s + extra,
        (layout.calf[0], layout.shin), cramp.params["response_uv"], {}, 0,
        {"texture": cramp.attrs["texture"], "after_cramp": True},
    )


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


def _cramp_posture(ep: Episode, lying: np.ndarray, posture: list[tuple[float, np.ndarray]],
                   steps: list[float], rng: np.random.Generator) -> np.ndarray:
    """Add the posture changes of a cramp's trigger and response; return the final lying."""
    p = ep.params
    if ep.attrs.get("trigger") == "turn":
        new = _lying(rng)
        posture += [(ep.start_s, lying), (ep.start_s + p["trigger_s"], new)]
        lying = new
        steps.append(ep.start_s + p["trigger_s"])
    if ep.attrs.get("response") == "stand_walk" and "walk_end_s" in p:
        t0 = ep.start_s + p["wake_s"]
        t_down = ep.start_s + p["walk_end_s"]
        new = _lying(rng)
        posture += [(t0, lying), (t0 + p["getup_s"], UPRIGHT), (t_down, UPRIGHT),
                    (t_down + p["liedown_s"], new)]
        lying = new
        steps.append(t_down + p["liedown_s"])
    return lying


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
