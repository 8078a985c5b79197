"""Labelled synthetic nights: background, cramps and look-alikes, with ground truth."""

from crampwatch.frames import make_callable
from crampwatch.synth.night import NightFiles, generate_night
from crampwatch.synth.plan import NightConfig
from crampwatch.synth.truth import NightTruth, TruthEvent

__all__ = ["NightConfig", "NightFiles", "NightTruth", "TruthEvent", "generate_night"]

# crampwatch.synth(out, nights) -> DataFrame of truth events (crampwatch.frames.synth).
make_callable(__name__, "synth")
