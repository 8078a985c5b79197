"""Labelled episodes of a synthetic night: cramps and every look-alike, rendered as EMG + ACC.

Each :class:`Episode` knows its time span, kind and strength; :func:`render` turns it
into the EMG it adds to (or, for contact loss, replaces in) each channel and the
leg acceleration it causes. Durations, rates and amplitudes follow DOMAIN.md; where
a number is our own choice it is a named constant marked (inference).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import signal

from crampwatch.synth.layout import Layout
from crampwatch.synth.motor_units import (
    CRAMP_UNITS,
    VOLUNTARY_UNITS,
    MotorUnitParams,
    motor_unit_emg,
)
from crampwatch.synth.real_emg import RealEmgLibrary
from sensor.records import EventKind

# Fraction of a calf signal seen on the shin electrodes by volume conduction (inference).
CROSSTALK_RANGE = (0.02, 0.08)
# Contact loss: junk amplitude and the amplifier's clipping level, uV (inference).
CONTACT_JUNK_UV = (200.0, 2000.0)
CLIP_UV = 6000.0


@dataclass
class Episode:
    """One labelled event: span in seconds, kind, main EMG column, strength and shape knobs."""

    kind: EventKind
    subtype: str
    start_s: float
    end_s: float
    columns: tuple[int, ...]  # EMG columns it shows on; first is the main one
    strength_uv: float  # RMS of the active part on the main column
    params: dict[str, float] = field(default_factory=dict)
    seed: int = 0

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass
class Rendering:
    """What an episode does to the signals, from its start sample onwards."""

    emg_start: int
    emg_add: np.ndarray  # (n, n_channels) uV
    acc_start: int
    acc_add: np.ndarray  # (m, 3) g, motion on top of gravity
    emg_replace: dict[int, np.ndarray] = field(default_factory=dict)

    @property
    def emg_stop(self) -> int:
        stops = [self.emg_start + self.emg_add.shape[0]]
        stops += [self.emg_start + r.shape[0] for r in self.emg_replace.values()]
        return max(stops)

    @property
    def acc_stop(self) -> int:
        return self.acc_start + self.acc_add.shape[0]


@dataclass(frozen=True)
class RenderContext:
    """Rates, channel layout and the real-EMG library (None to use only the model)."""

    emg_fs_hz: float
    acc_fs_hz: float
    layout: Layout
    library: RealEmgLibrary | None
    mains_hz: float


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


def render(episode: Episode, ctx: RenderContext) -> Rendering:
    """Return the signals an episode adds to the night, from its start sample."""
    rng = np.random.default_rng(episode.seed)
    fs, afs = ctx.emg_fs_hz, ctx.acc_fs_hz
    n = max(1, round(episode.duration_s * fs))
    m = max(1, round(episode.duration_s * afs))
    emg = np.zeros((n, len(ctx.layout.emg_labels)))
    acc = np.zeros((m, 3))
    rendering = Rendering(
        emg_start=round(episode.start_s * fs),
        emg_add=emg,
        acc_start=round(episode.start_s * afs),
        acc_add=acc,
    )
    _RENDERERS[episode.subtype](episode, ctx, rng, rendering)
    return rendering


def _add_crosstalk(episode: Episode, emg: np.ndarray, source: np.ndarray,
                   rng: np.random.Generator) -> None:
    """Volume-conducted copies of a calf signal on the other channels."""
    for col in range(emg.shape[1]):
        if col not in episode.columns:
            emg[:, col] += rng.uniform(*CROSSTALK_RANGE) * source


def _render_tonic(ep: Episode, ctx: RenderContext, rng: np.random.Generator,
                  out: Rendering) -> None:
    n = out.emg_add.shape[0]
    fs = ctx.emg_fs_hz
    t = _times(n, fs)
    rise_s, decay_s = ep.params["rise_s"], ep.params["decay_s"]
    plateau = ep.params["plateau"]
    # Cramps wax and wane while they last (inference from cramp EMG traces).
    wobble = 1.0 + 0.15 * _band_noise(n // 100 + 16, fs / 100, 0.02, 0.3, rng)[
        np.minimum(np.arange(n) // 100, n // 100 + 15)
    ]
    drive = plateau * np.clip(wobble, 0.6, 1.4)
    drive *= _smoothstep(t / rise_s) * (1.0 - _smoothstep((t - (t[-1] - decay_s)) / decay_s))
    for i, col in enumerate(ep.columns):
        level = 1.0 if i == 0 else ep.params.get("second_level", 0.7)
        x = motor_unit_emg(np.clip(drive * level, 0, 1), fs, rng, CRAMP_UNITS)
        x = _scale_active(x, drive, ep.strength_uv * level)
        out.emg_add[:, col] += x
        if i == 0:
            _add_crosstalk(ep, out.emg_add, x, rng)
    grab_s = ep.params.get("grab_at_s", -1.0)
    if grab_s > 0:
        afs = ctx.acc_fs_hz
        a0 = int(grab_s * afs)
        a1 = min(out.acc_add.shape[0], a0 + int(ep.params["grab_s"] * afs))
        if a1 - a0 > 16:
            out.acc_add[a0:a1] += _motion(a1 - a0, afs, ep.params["grab_g"], rng)
            e0, e1 = int(grab_s * fs), int(grab_s * fs) + (a1 - a0) * int(fs / afs)
            e1 = min(e1, n)
            for col in range(out.emg_add.shape[1]):
                out.emg_add[e0:e1, col] += _motion_artifact(e1 - e0, fs, 15.0, rng)


def _render_clonic(ep: Episode, ctx: RenderContext, rng: np.random.Generator,
                   out: Rendering) -> None:
    n = out.emg_add.shape[0]
    fs = ctx.emg_fs_hz
    bursts = _alternating_bursts(ep, rng)
    drive = _burst_drive(n, fs, bursts, ep.params["plateau"])
    # Incomplete relaxation between jerks (inference): a low residual drive.
    drive = np.maximum(drive, ep.params["residual"] * (drive.max() if drive.size else 0))
    x = motor_unit_emg(drive, fs, rng, CRAMP_UNITS)
    x = _scale_active(x, drive, ep.strength_uv)
    out.emg_add[:, ep.columns[0]] += x
    _add_crosstalk(ep, out.emg_add, x, rng)
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


def _render_single_burst(units: MotorUnitParams, co_level: tuple[float, float],
                         motion_g: float, artifact_uv: float):
    def renderer(ep: Episode, ctx: RenderContext, rng: np.random.Generator,
                 out: Rendering) -> None:
        n = out.emg_add.shape[0]
        fs = ctx.emg_fs_hz
        drive = _burst_drive(n, fs, [(0.0, ep.duration_s)], ep.params.get("plateau", 0.8))
        for i, col in enumerate(ep.columns):
            level = 1.0 if i == 0 else rng.uniform(*co_level)
            x = motor_unit_emg(drive, fs, rng, units)
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
        x = motor_unit_emg(drive, fs, rng, VOLUNTARY_UNITS)
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
        x = motor_unit_emg(drive, fs, rng, CRAMP_UNITS)
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
    x = motor_unit_emg(drive, fs, rng, VOLUNTARY_UNITS)
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
    i0, i1 = int(getup_s * fs), int((getup_s + walk_s) * fs)
    a0, a1 = int(getup_s * afs), int((getup_s + walk_s) * afs)
    calf_cols = [c for c in ctx.layout.calf]
    if ctx.library is not None:
        texture = ctx.library.gait_texture(walk_s + 0.5, fs, rng)
        posterior, anterior = texture.emg[: i1 - i0, 0], texture.emg[: i1 - i0, 1]
        knee = texture.knee_deg[: a1 - a0]
    else:
        step_hz = ep.params["step_hz"]
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
            posterior, ones[: posterior.shape[0]], ep.strength_uv
        )
    out.emg_add[i0 : i0 + anterior.shape[0], ctx.layout.shin] += _scale_active(
        anterior, ones[: anterior.shape[0]], ep.strength_uv * ep.params["shin_ratio"]
    )
    # Shank pitch follows the knee (about half its excursion, inference); heel strikes
    # show as sharp vertical jolts where the knee is most extended.
    pitch = np.deg2rad(0.5 * (knee - np.mean(knee)))
    jolt = np.clip(-np.gradient(np.gradient(knee)), 0, None)
    jolt = 0.4 * jolt / (np.max(jolt) + 1e-9)
    k = pitch.shape[0]
    out.acc_add[a0 : a0 + k, 0] += np.cos(pitch) - 1.0 + jolt
    out.acc_add[a0 : a0 + k, 2] += np.sin(pitch)
    out.acc_add[a0 : a0 + k] += _motion(k, afs, 0.05, rng, 0.5, 8.0)
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
    shape = _smoothstep(t / ramp) * (1 - _smoothstep((t - (t[-1] - ramp)) / ramp))
    calf_col, shin_col = ep.columns[0], ctx.layout.shin
    if ctx.library is not None:
        texture = ctx.library.contraction_texture(ep.duration_s + 0.5, fs, rng)
        calf, shin = texture.emg[:n, 0], texture.emg[:n, 1]
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


_RENDERERS = {
    "tonic_cramp": _render_tonic,
    "clonic_cramp": _render_clonic,
    "plm": _render_single_burst(
        MotorUnitParams(isi_cv=0.3), co_level=(0.0, 0.3), motion_g=0.03, artifact_uv=0.0
    ),
    "turning_over": _render_single_burst(
        VOLUNTARY_UNITS, co_level=(0.5, 1.2), motion_g=0.25, artifact_uv=40.0
    ),
    "hypnic_jerk": _render_hypnic_jerk,
    "fragmentary_myoclonus": _render_myoclonus,
    "foot_tremor": _render_tremor,
    "walking": _render_walking,
    "stretch": _render_stretch,
    "contact_loss": _render_contact_loss,
    "electrode_pop": _render_pop,
}

SUBTYPES: tuple[str, ...] = tuple(_RENDERERS)
