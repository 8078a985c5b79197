"""Signal building blocks the episode renderers share: noise, drives, textures, motion, walking."""

from __future__ import annotations

import numpy as np
from scipy import signal

from crampwatch.synth.episode_types import Episode, RenderContext, Rendering
from crampwatch.synth.motor_units import (
    VOLUNTARY_UNITS,
    MotorUnitParams,
    motor_unit_emg,
)

# Fraction of a calf signal seen on the shin electrodes by volume conduction (inference).
CROSSTALK_RANGE = (0.02, 0.08)
# Contact loss: junk amplitude and the amplifier's clipping level, uV (inference).
CONTACT_JUNK_UV = (200.0, 2000.0)
CLIP_UV = 6000.0
# Motor-unit trains are modelled at no less than this rate, then decimated (inference:
# a 0.5-1.2 ms potential needs ~1 kHz to keep its shape).
MODEL_MIN_FS_HZ = 1000.0


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def _band_noise(
    n: int, fs_hz: float, low_hz: float, high_hz: float, rng: np.random.Generator
) -> np.ndarray:
    """Return unit-RMS Gaussian noise band-limited to [low_hz, high_hz]."""
    if n < 16:
        return np.zeros(n)
    high = min(high_hz, 0.45 * fs_hz)
    sos = signal.butter(2, [low_hz, high], btype="bandpass", fs=fs_hz, output="sos")
    x = signal.sosfilt(sos, rng.standard_normal(n + 200))[200:]
    rms = np.sqrt(np.mean(x**2))
    return x / rms if rms > 0 else x


def _scale_active(x: np.ndarray, drive: np.ndarray, target_rms_uv: float) -> np.ndarray:
    """Return ``x`` scaled so its RMS where the drive is above a fifth of its peak is the target."""
    peak = float(np.max(drive)) if drive.size else 0.0
    active = drive >= 0.2 * peak if peak > 0 else np.ones(x.shape[0], bool)
    rms = np.sqrt(np.mean(x[active] ** 2)) if active.any() else 0.0
    return x * (target_rms_uv / rms) if rms > 0 else x


def _times(n: int, fs_hz: float) -> np.ndarray:
    return np.arange(n) / fs_hz


def _burst_drive(
    n: int, fs_hz: float, bursts: list[tuple[float, float]], level: float = 1.0
) -> np.ndarray:
    """Return a drive of raised-cosine-edged bursts given (start_s, end_s) relative times."""
    t = _times(n, fs_hz)
    drive = np.zeros(n)
    for b0, b1 in bursts:
        edge = min(0.05, 0.25 * (b1 - b0))
        rise = _smoothstep((t - b0) / edge)
        fall = 1.0 - _smoothstep((t - (b1 - edge)) / edge)
        drive = np.maximum(drive, level * rise * fall * ((t >= b0) & (t <= b1)))
    return drive


def _motion(
    n_acc: int, fs_hz: float, amplitude_g: float, rng: np.random.Generator,
    low_hz: float = 0.3, high_hz: float = 5.0,
) -> np.ndarray:
    """Return (n, 3) limb acceleration: band-limited noise of the given RMS per axis."""
    if n_acc < 16:
        return np.zeros((n_acc, 3))
    out = np.column_stack([_band_noise(n_acc, fs_hz, low_hz, high_hz, rng) for _ in range(3)])
    taper = np.sin(np.linspace(0, np.pi, n_acc)) ** 0.5
    return amplitude_g * out * taper[:, None]


def _motion_artifact(n: int, fs_hz: float, amplitude_uv: float,
                     rng: np.random.Generator) -> np.ndarray:
    """Return a cable/skin motion artefact: energy below ~20 Hz (De Luca 2010)."""
    return amplitude_uv * _band_noise(n, fs_hz, 0.5, 15.0, rng)


def _texture(ep: Episode, ctx: RenderContext, drive: np.ndarray, rng: np.random.Generator,
             units: MotorUnitParams) -> np.ndarray:
    """Return EMG for a drive: real texture shaped by the drive, or motor-unit trains."""
    if ep.attrs.get("texture") == "real":
        if ctx.library is None:
            raise ValueError("real-EMG texture asked for but no real-EMG library was given")
        source = str(ep.attrs.get("texture_source", "uci"))
        carrier = ctx.library.carrier(drive.shape[0] / ctx.emg_fs_hz, ctx.emg_fs_hz, rng, source)
        return carrier * drive
    fs = ctx.emg_fs_hz
    k = int(np.ceil(MODEL_MIN_FS_HZ / fs))
    if k <= 1 or drive.shape[0] < 32:
        return motor_unit_emg(drive, fs, rng, units)
    # Potentials of ~1 ms are narrower than a sample at a sleep lab's 256 Hz: model
    # them at k times the rate and decimate as the amplifier's anti-alias filter would.
    fine = np.interp(np.arange(drive.shape[0] * k) / k, np.arange(drive.shape[0]), drive)
    x = motor_unit_emg(fine, fs * k, rng, units)
    return signal.resample_poly(x, 1, k)[: drive.shape[0]]


def _span(t0_s: float, t1_s: float, fs_hz: float, n: int) -> tuple[int, int]:
    """Return the sample span [i0, i1) of [t0_s, t1_s) clipped to 0..n."""
    return min(n, max(0, round(t0_s * fs_hz))), min(n, max(0, round(t1_s * fs_hz)))


def _add_crosstalk(episode: Episode, emg: np.ndarray, source: np.ndarray,
                   rng: np.random.Generator) -> None:
    """Volume-conducted copies of a calf signal on the other channels."""
    for col in range(emg.shape[1]):
        if col not in episode.columns:
            emg[:, col] += rng.uniform(*CROSSTALK_RANGE) * source


def _voluntary(ep: Episode, ctx: RenderContext, rng: np.random.Generator, n: int,
               level: float = 0.6) -> np.ndarray:
    """Return ``n`` samples of steady voluntary contraction (unit RMS) in the episode's texture."""
    drive = np.full(n, level)
    x = _texture(ep, ctx, drive, rng, VOLUNTARY_UNITS)
    rms = float(np.sqrt(np.mean(x**2))) if n else 0.0
    return x / rms if rms > 0 else x


def _add_voluntary_burst(ep: Episode, ctx: RenderContext, rng: np.random.Generator,
                         out: Rendering, t0_s: float, t1_s: float, cols: tuple[int, ...],
                         rms_uv: float, edge_s: float = 0.2) -> None:
    """Add a voluntary burst with raised-cosine edges on ``cols`` over [t0_s, t1_s)."""
    fs = ctx.emg_fs_hz
    i0, i1 = _span(t0_s, t1_s, fs, out.emg_add.shape[0])
    if i1 - i0 < 4:
        return
    tt = _times(i1 - i0, fs)
    edge = min(edge_s, 0.3 * tt[-1] + 1e-3)
    shape = _smoothstep(tt / edge) * (1.0 - _smoothstep((tt - (tt[-1] - edge)) / edge))
    for col in cols:
        out.emg_add[i0:i1, col] += rms_uv * rng.uniform(0.6, 1.2) * shape * _voluntary(
            ep, ctx, rng, i1 - i0)


def _add_motion(ctx: RenderContext, rng: np.random.Generator, out: Rendering, t0_s: float,
                t1_s: float, motion_g: float, artifact_uv: float) -> None:
    """Add leg motion over [t0_s, t1_s) and its cable/skin artefact on every channel."""
    afs, fs = ctx.acc_fs_hz, ctx.emg_fs_hz
    a0, a1 = _span(t0_s, t1_s, afs, out.acc_add.shape[0])
    if a1 > a0:
        out.acc_add[a0:a1] += _motion(a1 - a0, afs, motion_g, rng)
    i0, i1 = _span(t0_s, t1_s, fs, out.emg_add.shape[0])
    if artifact_uv > 0 and i1 - i0 >= 16:
        taper = np.sin(np.linspace(0, np.pi, i1 - i0)) ** 0.5
        for col in range(out.emg_add.shape[1]):
            out.emg_add[i0:i1, col] += taper * _motion_artifact(i1 - i0, fs, artifact_uv, rng)


def _uses_real(ep: Episode, ctx: RenderContext) -> bool:
    """Return True when a walk or stretch takes real EMG (its texture, else the library's)."""
    if "texture" in ep.attrs:
        return ep.attrs["texture"] == "real"
    return ctx.library is not None


def _walk_into(out: Rendering, ctx: RenderContext, rng: np.random.Generator, t0_s: float,
               t1_s: float, strength_uv: float, shin_ratio: float, step_hz: float,
               calf_cols: tuple[int, ...], real: bool) -> None:
    """Add walking over [t0_s, t1_s): calf and shin alternating at the step rate, steps on ACC."""
    fs, afs = ctx.emg_fs_hz, ctx.acc_fs_hz
    walk_s = t1_s - t0_s
    i0, i1 = _span(t0_s, t1_s, fs, out.emg_add.shape[0])
    a0, a1 = _span(t0_s, t1_s, afs, out.acc_add.shape[0])
    if real:
        if ctx.library is None:
            raise ValueError("real walking EMG asked for but no real-EMG library was given")
        texture = ctx.library.gait_texture(walk_s + 0.5, fs, rng)
        posterior, anterior = texture.emg[: i1 - i0, 0], texture.emg[: i1 - i0, 1]
        knee100 = texture.knee_deg
        knee = np.interp(_times(a1 - a0, afs), _times(knee100.shape[0], 100.0), knee100)
    else:
        stance = _burst_drive(i1 - i0, fs, [
            (k / step_hz, k / step_hz + 0.35 / step_hz) for k in range(int(walk_s * step_hz) + 1)
        ], 0.7)
        swing = np.roll(stance, int(0.5 * fs / step_hz))
        posterior = motor_unit_emg(stance, fs, rng, VOLUNTARY_UNITS)
        anterior = motor_unit_emg(swing, fs, rng, VOLUNTARY_UNITS)
        ta = _times(a1 - a0, afs)
        knee = 30 + 30 * np.sin(2 * np.pi * step_hz * ta) ** 2
    ones = np.ones(i1 - i0)
    for col in calf_cols:
        out.emg_add[i0 : i0 + posterior.shape[0], col] += _scale_active(
            posterior, ones[: posterior.shape[0]], strength_uv
        )
    out.emg_add[i0 : i0 + anterior.shape[0], ctx.layout.shin] += _scale_active(
        anterior, ones[: anterior.shape[0]], strength_uv * shin_ratio
    )
    if knee.shape[0] < 3:
        return
    # Shank pitch follows the knee (about half its excursion, inference); heel strikes
    # show as sharp vertical jolts where the knee is most extended.
    pitch = np.deg2rad(0.5 * (knee - np.mean(knee)))
    jolt = np.clip(-np.gradient(np.gradient(knee)), 0, None)
    jolt = 0.4 * jolt / (np.max(jolt) + 1e-9)
    k = pitch.shape[0]
    out.acc_add[a0 : a0 + k, 0] += np.cos(pitch) - 1.0 + jolt
    out.acc_add[a0 : a0 + k, 2] += np.sin(pitch)
    out.acc_add[a0 : a0 + k] += _motion(k, afs, 0.05, rng, 0.5, 8.0)
