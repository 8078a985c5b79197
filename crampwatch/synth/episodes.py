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
# Motor-unit trains are modelled at no less than this rate, then decimated (inference:
# a 0.5-1.2 ms potential needs ~1 kHz to keep its shape).
MODEL_MIN_FS_HZ = 1000.0


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
    # What the truth file records about it: texture, response, trigger... (variation.py)
    attrs: dict[str, object] = field(default_factory=dict)

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
    """Rates, channel layout and the real-EMG library (None to use only the model).

    ``acc_fs_hz`` is the rate motion is rendered at; a night without an accelerometer
    renders it at a low rate and does not write it.
    """

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


def render(episode: Episode, ctx: RenderContext) -> Rendering:
    """Return the signals an episode adds to the night, from its start sample."""
    rng = np.random.default_rng(episode.seed)
    fs, afs = ctx.emg_fs_hz, ctx.acc_fs_hz
    # A cramp whose sleeper walks on renders that walk too, past its own end.
    span_s = episode.duration_s + episode.params.get("render_extra_s", 0.0)
    n = max(1, round(span_s * fs))
    m = max(1, round(span_s * afs))
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
    "walking_on": _render_nothing,
}

SUBTYPES: tuple[str, ...] = tuple(_RENDERERS)
