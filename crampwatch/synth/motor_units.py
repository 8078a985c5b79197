"""Surface EMG as the sum of motor-unit action-potential trains driven by a common drive.

Each unit is recruited when the drive passes its threshold (small units first,
Henneman's size principle) and fires with gamma-distributed intervals at a rate
that grows with the drive. Defaults are those of induced calf cramps: 14.5 +/- 5.1
pps, at most ~25 pps, interval CV ~45 % (Minetto 2009, J Neurophysiol), with
short potentials (Roeleveld 2000). Voluntary contraction: lower CV, wider potentials.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MotorUnitParams:
    """Firing and shape parameters of a motor-unit pool."""

    n_units: int = 40
    mean_peak_rate_pps: float = 14.5  # Minetto 2009
    sd_peak_rate_pps: float = 5.1  # Minetto 2009
    max_rate_pps: float = 25.0  # Minetto 2009
    min_rate_pps: float = 6.0  # lowest steady discharge of a recruited unit (inference)
    isi_cv: float = 0.45  # Minetto 2009: irregular cramp discharge
    muap_sigma_s: tuple[float, float] = (0.5e-3, 1.2e-3)  # short cramp potentials (Roeleveld 2000)
    max_threshold: float = 0.85  # drive (0..1) at which the last unit is recruited


CRAMP_UNITS = MotorUnitParams()
VOLUNTARY_UNITS = MotorUnitParams(isi_cv=0.2, muap_sigma_s=(0.9e-3, 2.0e-3))


def _muap(sigma_s: float, fs_hz: float, triphasic: float) -> np.ndarray:
    """Return a unit-peak MUAP: a mix of first and second Gaussian derivatives."""
    half = max(3, round(4 * sigma_s * fs_hz))
    t = np.arange(-half, half + 1) / fs_hz
    g = np.exp(-0.5 * (t / sigma_s) ** 2)
    d1 = -t / sigma_s * g
    d2 = (1 - (t / sigma_s) ** 2) * g
    shape = (1 - triphasic) * d1 + triphasic * d2
    return shape / np.max(np.abs(shape))


def motor_unit_emg(
    drive: np.ndarray,
    fs_hz: float,
    rng: np.random.Generator,
    params: MotorUnitParams = CRAMP_UNITS,
) -> np.ndarray:
    """Return EMG (arbitrary units, float64) for a drive envelope in 0..1 sampled at fs_hz."""
    n = drive.shape[0]
    out = np.zeros(n)
    if n == 0:
        return out
    thresholds = np.sort(rng.uniform(0.0, params.max_threshold, params.n_units))
    peak_rates = np.clip(
        rng.normal(params.mean_peak_rate_pps, params.sd_peak_rate_pps, params.n_units),
        params.min_rate_pps + 2.0,
        params.max_rate_pps,
    )
    shape_k = 1.0 / params.isi_cv**2
    for threshold, peak in zip(thresholds, peak_rates, strict=True):
        excess = (drive - threshold) / (1.0 - threshold)
        active = excess > 0
        if not active.any():
            continue
        rate = np.where(
            active,
            params.min_rate_pps + (peak - params.min_rate_pps) * np.clip(excess, 0.0, 1.0),
            0.0,
        )
        # Firing as a renewal process in operational time: unit-mean gamma intervals
        # mapped through the integrated rate (time rescaling).
        integrated = np.cumsum(rate) / fs_hz
        total = integrated[-1]
        count = int(total + 6 * np.sqrt(total + 1) + 10)
        marks = np.cumsum(rng.gamma(shape_k, 1.0 / shape_k, count)) + rng.uniform(0, 1)
        marks = marks[marks < total]
        spikes = np.searchsorted(integrated, marks)
        # Bigger units are recruited later (size principle).
        amplitude = np.exp(rng.normal(0.0, 0.35)) * (1.0 + 3.0 * threshold)
        muap = amplitude * _muap(
            rng.uniform(*params.muap_sigma_s), fs_hz, triphasic=rng.uniform(0.2, 0.8)
        )
        half = muap.shape[0] // 2
        index = spikes[:, None] + np.arange(-half, half + 1)[None, :]
        valid = (index >= 0) & (index < n)
        weights = np.broadcast_to(muap, index.shape)[valid]
        out += np.bincount(index[valid], weights=weights, minlength=n)
    return out
