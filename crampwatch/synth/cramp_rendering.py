"""Tonic and clonic cramps as EMG and motion: the movement that sets one off, the response."""

from __future__ import annotations

import numpy as np

from crampwatch.synth.episode_signals import (
    _add_crosstalk,
    _add_motion,
    _add_voluntary_burst,
    _band_noise,
    _burst_drive,
    _motion,
    _motion_artifact,
    _scale_active,
    _smoothstep,
    _span,
    _texture,
    _times,
    _walk_into,
)
from crampwatch.synth.episode_types import Episode, RenderContext, Rendering
from crampwatch.synth.motor_units import CRAMP_UNITS


def _render_tonic(ep: Episode, ctx: RenderContext, rng: np.random.Generator,
                  out: Rendering) -> None:
    n = out.emg_add.shape[0]
    fs = ctx.emg_fs_hz
    t = _times(n, fs)
    rise_s, decay_s = ep.params["rise_s"], ep.params["decay_s"]
    plateau = ep.params["plateau"]
    onset_s = ep.params.get("cramp_onset_s", 0.0)
    # Cramps wax and wane while they last (inference from cramp EMG traces).
    wobble = 1.0 + 0.15 * _band_noise(n // 100 + 16, fs / 100, 0.02, 0.3, rng)[
        np.minimum(np.arange(n) // 100, n // 100 + 15)
    ]
    drive = plateau * np.clip(wobble, 0.6, 1.4)
    t_end = (max(1, round(ep.duration_s * fs)) - 1) / fs  # the calf's last sample
    drive *= _smoothstep((t - onset_s) / rise_s) * (
        1.0 - _smoothstep((t - (t_end - decay_s)) / decay_s)
    )
    for i, col in enumerate(ep.columns):
        level = 1.0 if i == 0 else ep.params.get("second_level", 0.7)
        x = _texture(ep, ctx, np.clip(drive * level, 0, 1), rng, CRAMP_UNITS)
        x = _scale_active(x, drive, ep.strength_uv * level)
        out.emg_add[:, col] += x
        if i == 0:
            _add_crosstalk(ep, out.emg_add, x, rng)
    _render_pull(ep, ctx, rng, out, onset_s, min(rise_s, 2.0))
    grab_s = ep.params.get("grab_at_s", -1.0)
    if grab_s > 0:
        afs = ctx.acc_fs_hz
        a0 = int(grab_s * afs)
        a1 = min(out.acc_add.shape[0], a0 + int(ep.params["grab_s"] * afs))
        if a1 - a0 > 16:
            out.acc_add[a0:a1] += _motion(a1 - a0, afs, ep.params["grab_g"], rng)
            e0, e1 = _span(grab_s, grab_s + (a1 - a0) / afs, fs, n)
            for col in range(out.emg_add.shape[1]):
                out.emg_add[e0:e1, col] += _motion_artifact(e1 - e0, fs, 15.0, rng)
    _render_trigger(ep, ctx, rng, out)
    response = ep.attrs.get("response")
    if "wake_s" in ep.params and response in _RESPONSES:
        _RESPONSES[str(response)](ep, ctx, rng, out)


def _render_pull(ep: Episode, ctx: RenderContext, rng: np.random.Generator, out: Rendering,
                 onset_s: float, span_s: float) -> None:
    """The foot pulled down as the calf takes hold: one push and one brake of the leg.

    Over the rise the foot moves once, from rest to rest: a single cycle of acceleration
    along one direction whose RMS over the rise is the cramp's ``pull_g`` (no shaking).
    """
    pull_g = ep.params.get("pull_g", 0.0)
    afs = ctx.acc_fs_hz
    a0, a1 = _span(onset_s, onset_s + max(span_s, 0.5), afs, out.acc_add.shape[0])
    if pull_g <= 0 or a1 - a0 < 4:
        return
    direction = rng.normal(size=3)
    direction /= np.linalg.norm(direction)
    cycle = np.sin(2 * np.pi * np.arange(a1 - a0) / (a1 - a0))
    out.acc_add[a0:a1] += (np.sqrt(2) * pull_g * cycle)[:, None] * direction[None, :]


def _render_trigger(ep: Episode, ctx: RenderContext, rng: np.random.Generator,
                    out: Rendering) -> None:
    """A turn or pointing the foot that sets the cramp off: motion and both muscles, 1-3 s."""
    if "trigger_s" not in ep.params:
        return
    t1 = ep.params["trigger_s"]
    turn = ep.params.get("trigger_turn", 0.0) > 0
    cols = (ep.columns[0], ctx.layout.shin)
    _add_voluntary_burst(ep, ctx, rng, out, 0.0, t1, cols, ep.params["trigger_uv"])
    # Turning over moves the whole leg; pointing the foot only a little (inference).
    _add_motion(ctx, rng, out, 0.0, t1, 0.25 if turn else float(rng.uniform(0.04, 0.12)),
                40.0 if turn else 10.0)


def _response_stretch(ep: Episode, ctx: RenderContext, rng: np.random.Generator,
                      out: Rendering) -> None:
    """Pull the toes up: the shin fires in holds of ~10 s, the leg moves as each starts."""
    p = ep.params
    shin_uv = max(15.0, p["shin_ratio"] * min(ep.strength_uv, p["response_uv"] * 2))
    k = 0
    while f"hold{k}_at_s" in p:
        t, hold = p[f"hold{k}_at_s"], p[f"hold{k}_s"]
        _add_voluntary_burst(ep, ctx, rng, out, t, t + hold, (ctx.layout.shin,), shin_uv, 0.5)
        _add_motion(ctx, rng, out, t, t + min(2.0, hold), p["motion_g"], 10.0)
        k += 1


def _response_knead(ep: Episode, ctx: RenderContext, rng: np.random.Generator,
                    out: Rendering) -> None:
    """Grab and knead the calf: rhythmic squeezes move the leg and the electrodes."""
    p = ep.params
    t0, t1 = p["wake_s"], p["wake_s"] + p["knead_s"]
    _add_motion(ctx, rng, out, t0, t0 + 1.0, 0.15, 20.0)  # reaching for the leg
    afs, fs = ctx.acc_fs_hz, ctx.emg_fs_hz
    a0, a1 = _span(t0, t1, afs, out.acc_add.shape[0])
    if a1 - a0 >= 16:
        ta = _times(a1 - a0, afs)
        direction = rng.normal(size=3)
        direction /= np.linalg.norm(direction)
        squeeze = np.sin(2 * np.pi * p["knead_hz"] * ta + rng.uniform(0, 6.3))
        out.acc_add[a0:a1] += p["knead_g"] * squeeze[:, None] * direction[None, :]
        out.acc_add[a0:a1] += _motion(a1 - a0, afs, 0.3 * p["knead_g"], rng, 0.3, 8.0)
    i0, i1 = _span(t0, t1, fs, out.emg_add.shape[0])
    if i1 - i0 >= 16:
        te = _times(i1 - i0, fs)
        rhythm = 0.4 + 0.6 * np.abs(np.sin(np.pi * p["knead_hz"] * te))
        for col in range(out.emg_add.shape[1]):
            out.emg_add[i0:i1, col] += rhythm * _motion_artifact(i1 - i0, fs, p["knead_uv"], rng)


def _response_stand_walk(ep: Episode, ctx: RenderContext, rng: np.random.Generator,
                         out: Rendering) -> None:
    """Get up, stand pressing the heel down, walk, lie down again; the calf cramps throughout."""
    p = ep.params
    calf, shin = ep.columns[0], ctx.layout.shin
    t0 = p["wake_s"]
    t_stand = t0 + p["getup_s"]
    t_walk = t_stand + p["stand_s"]
    t_down = p["walk_end_s"]
    uv = p["response_uv"]
    # Getting up and lying down: both muscles and the whole leg move (inference).
    for a, b in ((t0, t_stand), (t_down, t_down + p["liedown_s"])):
        _add_voluntary_burst(ep, ctx, rng, out, a, b, (calf, shin), uv)
        _add_motion(ctx, rng, out, a, b, 0.2, 30.0)
    # Standing with the heel pressed down: the shin braces, the leg sways a little.
    _add_voluntary_burst(ep, ctx, rng, out, t_stand, t_walk, (shin,),
                         0.5 * uv * p["shin_ratio"], 0.5)
    _add_motion(ctx, rng, out, t_stand, t_walk, 0.02, 0.0)
    if t_down - t_walk > 1.0:
        _walk_into(out, ctx, rng, t_walk, t_down, uv, p["shin_ratio"], p["step_hz"],
                   (calf,), ep.attrs.get("texture") == "real" and ctx.library is not None)
        _add_motion(ctx, rng, out, t_walk, t_down, 0.0, 20.0)


_RESPONSES = {
    "stretch": _response_stretch,
    "knead": _response_knead,
    "stand_walk": _response_stand_walk,
}


def _render_clonic(ep: Episode, ctx: RenderContext, rng: np.random.Generator,
                   out: Rendering) -> None:
    n = out.emg_add.shape[0]
    fs = ctx.emg_fs_hz
    onset_s = ep.params.get("cramp_onset_s", 0.0)
    bursts = [(b0 + onset_s, min(b1 + onset_s, ep.duration_s))
              for b0, b1 in _alternating_bursts(ep, rng) if b0 + onset_s < ep.duration_s - 0.1]
    drive = _burst_drive(n, fs, bursts, ep.params["plateau"])
    # Incomplete relaxation between jerks (inference): a low residual drive.
    residual = ep.params["residual"] * (drive.max() if drive.size else 0)
    drive = np.maximum(drive, residual * (_times(n, fs) >= onset_s))
    x = _texture(ep, ctx, drive, rng, CRAMP_UNITS)
    x = _scale_active(x, drive, ep.strength_uv)
    out.emg_add[:, ep.columns[0]] += x
    _add_crosstalk(ep, out.emg_add, x, rng)
    _render_trigger(ep, ctx, rng, out)
    _render_pull(ep, ctx, rng, out, onset_s, bursts[0][1] - bursts[0][0] if bursts else 1.0)
    afs = ctx.acc_fs_hz
    for b0, _ in bursts:
        a0 = int(b0 * afs)
        k = min(20, out.acc_add.shape[0] - a0)
        if k > 0:
            # Each jerk twitches the foot a little: a damped ~4 Hz wobble (inference).
            tt = np.arange(k) / afs
            wob = ep.params["twitch_g"] * np.exp(-tt / 0.1) * np.sin(2 * np.pi * 4 * tt)
            out.acc_add[a0 : a0 + k, 2] += wob


def _alternating_bursts(ep: Episode, rng: np.random.Generator) -> list[tuple[float, float]]:
    """Return (start_s, end_s) bursts alternating with relaxation to fill the episode."""
    bursts = []
    t = 0.0
    on_lo, on_hi = ep.params["on_s_min"], ep.params["on_s_max"]
    off_lo, off_hi = ep.params["off_s_min"], ep.params["off_s_max"]
    while True:
        on = rng.uniform(on_lo, on_hi)
        if t + on > ep.duration_s:
            break
        bursts.append((t, t + on))
        t += on + rng.uniform(off_lo, off_hi)
    if not bursts:
        bursts.append((0.0, ep.duration_s))
    return bursts
