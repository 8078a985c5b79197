"""What kind of synthetic night to generate: length, rates, counts, strengths, varied families."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from crampwatch.synth.variation import (
    VARIED_CRAMP_RMS_UV,
    Space,
    full_space,
)

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
