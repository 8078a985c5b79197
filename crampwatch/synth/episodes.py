"""Labelled episodes of a synthetic night: cramps and every look-alike, rendered as EMG + ACC.

Each :class:`Episode` knows its time span, kind and strength; :func:`render` turns it
into the EMG it adds to (or, for contact loss, replaces in) each channel and the
leg acceleration it causes. Durations, rates and amplitudes follow DOMAIN.md; where
a number is our own choice it is a named constant marked (inference).
"""

from __future__ import annotations

import numpy as np

from crampwatch.synth.cramp_rendering import _render_clonic, _render_tonic
from crampwatch.synth.episode_signals import (
    CLIP_UV,
    CONTACT_JUNK_UV,
    CROSSTALK_RANGE,
    MODEL_MIN_FS_HZ,
)
from crampwatch.synth.episode_types import Episode, RenderContext, Rendering
from crampwatch.synth.lookalike_rendering import (
    _render_contact_loss,
    _render_hypnic_jerk,
    _render_myoclonus,
    _render_nothing,
    _render_pop,
    _render_single_burst,
    _render_stretch,
    _render_tremor,
    _render_walking,
)
from crampwatch.synth.motor_units import VOLUNTARY_UNITS, MotorUnitParams

__all__ = [
    "CLIP_UV",
    "CONTACT_JUNK_UV",
    "CROSSTALK_RANGE",
    "MODEL_MIN_FS_HZ",
    "SUBTYPES",
    "Episode",
    "RenderContext",
    "Rendering",
    "render",
]


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
