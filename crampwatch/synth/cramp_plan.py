"""A cramp in the plan: its strength, shape, varied families, response, walk on and posture."""

from __future__ import annotations

import numpy as np

from crampwatch.synth.episode_types import Episode
from crampwatch.synth.layout import Layout
from crampwatch.synth.night_config import NightConfig
from crampwatch.synth.plan_draws import UPRIGHT, _log_uniform, _lying
from crampwatch.synth.variation import (
    Space,
    draw,
    family_rng,
)
from sensor.records import EventKind


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
# The cramping calf pulls the foot down as it takes hold: the leg jolts at the onset,
# g RMS of the gravity-free acceleration, from none (a braced foot) to a few hundredths
# of a g, below a voluntary point of the foot or a turn (inference).
ONSET_PULL_G = (0.0, 0.05)


def _vary_cramp(ep: Episode, var_rng: np.random.Generator, space: Space) -> None:
    """Draw the cramp's texture, response and trigger; stretch it if the response needs time."""
    key = (int(var_rng.integers(2**62)),)
    texture = draw(space, "texture", family_rng(key, "texture")) or "synthetic"
    rng = family_rng(key, "response")
    response = draw(space, "response", rng) if ep.kind is EventKind.TONIC else None
    trigger_rng = family_rng(key, "triggered_by_movement")
    triggered = draw(space, "triggered_by_movement", trigger_rng) == "yes"
    p = ep.params
    # Varied nights only: the reference night keeps its cramps' legacy still onset.
    p["pull_g"] = float(family_rng(key, "onset_pull").uniform(*ONSET_PULL_G)) if space else 0.0
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
        "onset_pull_g": round(p["pull_g"], 4),
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
