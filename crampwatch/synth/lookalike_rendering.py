"""The look-alikes as EMG and motion: PLM, jerks, tremor, walking, stretches, artefacts."""

from __future__ import annotations

import numpy as np

from crampwatch.synth.episode_signals import (
    CLIP_UV,
    _band_noise,
    _burst_drive,
    _motion,
    _motion_artifact,
    _scale_active,
    _smoothstep,
    _texture,
    _times,
    _uses_real,
    _voluntary,
    _walk_into,
)
from crampwatch.synth.episode_types import Episode, RenderContext, Rendering
from crampwatch.synth.motor_units import (
    CRAMP_UNITS,
    VOLUNTARY_UNITS,
    MotorUnitParams,
    motor_unit_emg,
)


def _render_single_burst(units: MotorUnitParams, co_level: tuple[float, float],
                         motion_g: float, artifact_uv: float):
    def renderer(ep: Episode, ctx: RenderContext, rng: np.random.Generator,
                 out: Rendering) -> None:
        n = out.emg_add.shape[0]
        fs = ctx.emg_fs_hz
        drive = _burst_drive(n, fs, [(0.0, ep.duration_s)], ep.params.get("plateau", 0.8))
        for i, col in enumerate(ep.columns):
            level = 1.0 if i == 0 else ep.params.get("co_level") or rng.uniform(*co_level)
            x = _texture(ep, ctx, drive, rng, units)
            out.emg_add[:, col] += _scale_active(x, drive, ep.strength_uv * level)
        if artifact_uv > 0:
            for col in range(out.emg_add.shape[1]):
                out.emg_add[:, col] += _motion_artifact(n, fs, artifact_uv, rng)
        if motion_g > 0:
            out.acc_add += _motion(out.acc_add.shape[0], ctx.acc_fs_hz,
                                   motion_g * rng.uniform(0.5, 1.5), rng, 0.2, 3.0)
    return renderer


def _render_hypnic_jerk(ep: Episode, ctx: RenderContext, rng: np.random.Generator,
                        out: Rendering) -> None:
    n = out.emg_add.shape[0]
    fs = ctx.emg_fs_hz
    drive = _burst_drive(n, fs, [(0.0, ep.duration_s)], 1.0)
    for i, col in enumerate(ep.columns):
        x = _texture(ep, ctx, drive, rng, VOLUNTARY_UNITS)
        out.emg_add[:, col] += _scale_active(x, drive, ep.strength_uv * (1.0 if i == 0 else 0.8))
    # The whole leg kicks: a spike of acceleration that rings down over ~0.3 s.
    afs = ctx.acc_fs_hz
    k = out.acc_add.shape[0]
    tt = np.arange(k) / afs
    direction = rng.normal(size=3)
    direction /= np.linalg.norm(direction)
    kick = ep.params["kick_g"] * np.exp(-tt / 0.08) * np.sin(2 * np.pi * 6 * tt + 0.5)
    out.acc_add += kick[:, None] * direction[None, :]


def _render_myoclonus(ep: Episode, ctx: RenderContext, rng: np.random.Generator,
                      out: Rendering) -> None:
    fs = ctx.emg_fs_hz
    t = 0.0
    while True:
        t += rng.exponential(ep.params["mean_interval_s"])
        width = rng.uniform(0.03, 0.15)  # fragmentary myoclonus: <= 150 ms (ATS)
        if t + width > ep.duration_s:
            break
        col = ep.columns[int(rng.integers(len(ep.columns)))]
        i0, i1 = int(t * fs), int((t + width) * fs)
        drive = _burst_drive(i1 - i0, fs, [(0.0, width)], 0.5)
        x = _texture(ep, ctx, drive, rng, CRAMP_UNITS)
        out.emg_add[i0:i1, col] += _scale_active(
            x, drive, ep.strength_uv * rng.uniform(0.5, 1.5)
        )


def _render_tremor(ep: Episode, ctx: RenderContext, rng: np.random.Generator,
                   out: Rendering) -> None:
    n = out.emg_add.shape[0]
    fs = ctx.emg_fs_hz
    period = 1.0 / ep.params["rate_hz"]
    bursts = []
    t = rng.uniform(0, 0.2)
    while t < ep.duration_s:
        width = min(ep.params["burst_s"] * rng.uniform(0.8, 1.2), 0.7 * period)
        if t + width > ep.duration_s:
            break
        bursts.append((t, t + width))
        t += period * rng.uniform(0.9, 1.1)
    drive = _burst_drive(n, fs, bursts, 0.6)
    x = _texture(ep, ctx, drive, rng, VOLUNTARY_UNITS)
    out.emg_add[:, ep.columns[0]] += _scale_active(x, drive, ep.strength_uv)
    afs = ctx.acc_fs_hz
    tt = np.arange(out.acc_add.shape[0]) / afs
    out.acc_add[:, 2] += ep.params["wobble_g"] * np.sin(2 * np.pi * ep.params["rate_hz"] * tt)


def _render_walking(ep: Episode, ctx: RenderContext, rng: np.random.Generator,
                    out: Rendering) -> None:
    n = out.emg_add.shape[0]
    fs, afs = ctx.emg_fs_hz, ctx.acc_fs_hz
    getup_s = ep.params["getup_s"]
    walk_s = ep.duration_s - 2 * getup_s
    _walk_into(out, ctx, rng, getup_s, getup_s + walk_s, ep.strength_uv,
               ep.params["shin_ratio"], ep.params["step_hz"], tuple(ctx.layout.calf),
               _uses_real(ep, ctx))
    i1 = int((getup_s + walk_s) * fs)
    a1 = int((getup_s + walk_s) * afs)
    for col in range(out.emg_add.shape[1]):
        out.emg_add[:, col] += _motion_artifact(n, fs, ep.params["artifact_uv"], rng)
    # Getting up and lying down: a burst of both muscles and movement.
    for g0 in (0, i1):
        g1 = min(n, g0 + int(getup_s * fs))
        drive = _burst_drive(g1 - g0, fs, [(0.0, (g1 - g0) / fs)], 0.6)
        for col in range(out.emg_add.shape[1]):
            x = motor_unit_emg(drive, fs, rng, VOLUNTARY_UNITS)
            out.emg_add[g0:g1, col] += _scale_active(x, drive, 0.6 * ep.strength_uv)
    for b0 in (0, a1):
        b1 = min(out.acc_add.shape[0], b0 + int(getup_s * afs))
        out.acc_add[b0:b1] += _motion(b1 - b0, afs, 0.2, rng)


def _render_stretch(ep: Episode, ctx: RenderContext, rng: np.random.Generator,
                    out: Rendering) -> None:
    n = out.emg_add.shape[0]
    fs = ctx.emg_fs_hz
    t = _times(n, fs)
    ramp = ep.params["ramp_s"]
    # The leg starts moving a little before the muscles (motion-led), both end with it.
    lead = ep.params.get("lead_s", 0.0)
    shape = _smoothstep((t - lead) / ramp) * (1 - _smoothstep((t - (t[-1] - ramp)) / ramp))
    calf_col, shin_col = ep.columns[0], ctx.layout.shin
    if ep.attrs.get("texture_source", "uci") != "uci":
        calf = _voluntary(ep, ctx, rng, n)
        shin = _voluntary(ep, ctx, rng, n)
    elif _uses_real(ep, ctx) and ctx.library is not None:
        texture = ctx.library.contraction_texture(ep.duration_s + 0.5, fs, rng)
        calf, shin = texture.emg[:n, 0], texture.emg[:n, 1]
    elif "texture" in ep.attrs:
        calf = _texture(ep, ctx, 0.7 * shape, rng, VOLUNTARY_UNITS)
        shin = _texture(ep, ctx, 0.7 * shape, rng, VOLUNTARY_UNITS)
    else:
        calf = motor_unit_emg(0.7 * shape, fs, rng, VOLUNTARY_UNITS)
        shin = motor_unit_emg(0.7 * shape, fs, rng, VOLUNTARY_UNITS)
    # A voluntary stretch co-activates agonist and antagonist (DOMAIN.md).
    out.emg_add[: calf.shape[0], calf_col] += _scale_active(
        calf * shape[: calf.shape[0]], shape[: calf.shape[0]], ep.strength_uv
    )
    out.emg_add[: shin.shape[0], shin_col] += _scale_active(
        shin * shape[: shin.shape[0]], shape[: shin.shape[0]],
        ep.strength_uv * ep.params["shin_ratio"],
    )
    out.acc_add += _motion(out.acc_add.shape[0], ctx.acc_fs_hz, ep.params["motion_g"], rng)


def _render_contact_loss(ep: Episode, ctx: RenderContext, rng: np.random.Generator,
                         out: Rendering) -> None:
    n = out.emg_add.shape[0]
    fs = ctx.emg_fs_hz
    mode = int(ep.params["mode"])
    t = _times(n, fs)
    if mode == 0:  # lead off: flat line with a little amplifier noise
        x = rng.normal(0, 0.3, n)
    elif mode == 1:  # loose electrode: broadband junk, mains dominating
        x = ep.strength_uv * (
            0.4 * _band_noise(n, fs, 1.0, 0.45 * fs, rng)
            + 1.2 * np.sin(2 * np.pi * ctx.mains_hz * t + rng.uniform(0, 6.3))
            + 0.5 * _band_noise(n, fs, 0.3, 5.0, rng)
        )
    else:  # saturated amplifier: clipping at the rails
        x = np.clip(ep.strength_uv * 10 * _band_noise(n, fs, 0.2, 3.0, rng), -CLIP_UV, CLIP_UV)
    out.emg_replace[ep.columns[0]] = x


def _render_pop(ep: Episode, ctx: RenderContext, rng: np.random.Generator,
                out: Rendering) -> None:
    n = out.emg_add.shape[0]
    t = _times(n, ctx.emg_fs_hz)
    tau = ep.params["tau_s"]
    out.emg_add[:, ep.columns[0]] += (
        rng.choice([-1.0, 1.0]) * ep.strength_uv * np.exp(-t / tau)
    )


def _render_nothing(ep: Episode, ctx: RenderContext, rng: np.random.Generator,
                    out: Rendering) -> None:
    """A label for signals another episode renders (the walk on after a cramp)."""
