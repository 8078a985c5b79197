"""Streaming IIR filters that remember their state, and the EMG filter designs.

A :class:`StreamingSOS` keeps second-order sections with their ``zi`` state (as
MNE-LSL does), so a signal filtered block by block equals the signal filtered whole.
Designs: Butterworth band-pass 20-450 Hz (SENIAM; DOMAIN.md "Signals"), mains notches
at 50 or 60 Hz and harmonics (Mewett 2004), and a mains detector for "auto".
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
import warnings
from pathlib import Path

import numpy as np

from sensor.iir_design import butter_sos, notch_ba, sos_step_state

MIN_EMG_RATE_HZ = 250.0  # hobby boards go down to 250 Hz (DOMAIN.md "Signals")
UPPER_CORNER_MAX_FRACTION = 0.45  # upper corner <= 0.45 fs (DOMAIN.md "Signals")


class FilterDesignError(ValueError):
    """Filter parameters that cannot work at the given sample rate."""


class LowSampleRateWarning(UserWarning):
    """The band-pass upper corner was lowered because the board samples slowly."""


def _load_sosfilt_kernel():
    """Return scipy's compiled SOS cascade (filters x and zi in place), or None.

    Imported as ``scipy.signal._sosfilt`` it would first run ``scipy.signal``'s package
    import (about a second: scipy.stats, scipy.spatial, scipy.interpolate), so when that
    package is not loaded yet the extension module is loaded from its own file, under
    its own name (later imports of scipy.signal reuse it). None when scipy moved it.
    """
    name = "scipy.signal._sosfilt"
    module = sys.modules.get(name)
    if module is None and "scipy.signal" not in sys.modules:
        try:
            import scipy

            folder = Path(scipy.__file__).parent / "signal"
            for suffix in importlib.machinery.EXTENSION_SUFFIXES:
                path = folder / f"_sosfilt{suffix}"
                if path.is_file():
                    loader = importlib.machinery.ExtensionFileLoader(name, str(path))
                    spec = importlib.util.spec_from_file_location(name, path, loader=loader)
                    module = importlib.util.module_from_spec(spec)
                    loader.exec_module(module)
                    sys.modules[name] = module
                    break
        except (ImportError, OSError):
            module = None
    if module is None:
        try:
            from scipy.signal import _sosfilt as module
        except ImportError:  # pragma: no cover - a scipy that moved it: use the public path
            return None
    return getattr(module, "_sosfilt", None)


# scipy's compiled cascade, without sosfilt()'s per-call argument handling
_sosfilt_inplace = _load_sosfilt_kernel()


class StreamingSOS:
    """A cascade of second-order sections applied along the last axis with carried state.

    Signals are channel-first, (n_channels, n_samples), so each channel's samples are
    contiguous. The public ``scipy.signal.sosfilt`` spends ~40 us per call on argument
    handling, more than the filtering of a 20 ms block; when available its compiled
    kernel is called directly (same arithmetic, same result).
    """

    def __init__(self, sos: np.ndarray, n_channels: int) -> None:
        self.sos = np.ascontiguousarray(sos, dtype=np.float64)
        self.n_channels = n_channels
        self._zi_unit = sos_step_state(self.sos)  # steady-state response to a unit step
        self.zi: np.ndarray | None = None  # (n_channels, n_sections, 2)

    def reset(self) -> None:
        """Forget the state: the next block starts the filter afresh (after a gap)."""
        self.zi = None

    def process(self, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Return the filtered block; x is (n_channels, n_samples).

        The result is a new array, or ``out`` (C-ordered float64 shaped as x, not x
        itself) when given: a caller that filters block after block can reuse it.
        """
        if out is None:
            y = np.array(x, dtype=np.float64, order="C")
        else:
            y = out
            np.copyto(y, x)
        if y.shape[-1] == 0 or self.sos.shape[0] == 0:
            return y
        if self.zi is None:
            # Start as if the first value had always been there: no step transient from
            # an electrode offset (the DC is removed by the band-pass either way).
            self.zi = np.ascontiguousarray(self._zi_unit[None, :, :] * y[:, 0][:, None, None])
        if _sosfilt_inplace is not None:
            _sosfilt_inplace(self.sos, y, self.zi)
            return y
        from scipy import signal

        filtered, zi = signal.sosfilt(self.sos, y, axis=-1, zi=np.moveaxis(self.zi, 0, 1))
        self.zi = np.ascontiguousarray(np.moveaxis(zi, 1, 0))
        y[...] = filtered
        return y


def bandpass_corners_hz(
    fs_hz: float, low_hz: float, high_hz: float
) -> tuple[float, float]:
    """Return the (low, high) corners in Hz actually used at ``fs_hz``.

    The upper corner is capped at 0.45 fs with a :class:`LowSampleRateWarning`; rates
    below 250 Hz or a low corner above the cap raise :class:`FilterDesignError`.
    """
    if fs_hz < MIN_EMG_RATE_HZ:
        raise FilterDesignError(
            f"EMG at {fs_hz:g} Hz is too slow for surface EMG (needs >= "
            f"{MIN_EMG_RATE_HZ:g} Hz; 1-2 kHz recommended): raise the board's sample rate"
        )
    cap = UPPER_CORNER_MAX_FRACTION * fs_hz
    if high_hz > cap:
        warnings.warn(
            f"EMG sampled at {fs_hz:g} Hz: band-pass upper corner lowered from "
            f"{high_hz:g} Hz to {cap:g} Hz (0.45 fs); high-frequency EMG is lost",
            LowSampleRateWarning,
            stacklevel=3,
        )
        high_hz = cap
    if not 0 < low_hz < high_hz:
        raise FilterDesignError(
            f"band-pass low corner {low_hz:g} Hz must be above 0 and below the upper "
            f"corner {high_hz:g} Hz at {fs_hz:g} Hz"
        )
    return low_hz, high_hz


def design_bandpass(fs_hz: float, low_hz: float, high_hz: float, order: int) -> np.ndarray:
    """Return Butterworth band-pass SOS (``order`` per edge, scipy's N) for the corners."""
    return butter_sos(order, (low_hz, high_hz), "bandpass", fs_hz)


def design_notches(
    fs_hz: float, mains_hz: float, harmonics: int, quality: float, below_hz: float,
    depth: int = 1,
) -> np.ndarray:
    """Return SOS notches at mains_hz x 1..harmonics that lie below ``below_hz``.

    Each notch is applied ``depth`` times: one notch 6 Hz wide takes a line 0.3 Hz off
    its centre down by only 20 dB, two by 40 dB.
    """
    sections = []
    for k in range(1, harmonics + 1):
        f0 = mains_hz * k
        if f0 >= below_hz or f0 >= 0.5 * fs_hz:
            break
        b, a = notch_ba(f0, quality * k, fs_hz)  # same bandwidth at every line
        sections.extend([np.concatenate([b, a])] * max(1, depth))
    if not sections:
        return np.zeros((0, 6))
    return np.vstack(sections)


def mains_line_power(x: np.ndarray, fs_hz: float, mains_hz: float, harmonics: int) -> float:
    """Return the fraction of power within +-1 Hz of mains_hz and its harmonics (0..1)."""
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean(axis=0)
    spec = np.abs(np.fft.rfft(x, axis=0)) ** 2
    spec = spec.sum(axis=1) if spec.ndim == 2 else spec
    freqs = np.fft.rfftfreq(x.shape[0], 1.0 / fs_hz)
    total = spec[freqs >= 1.0].sum()
    if total <= 0:
        return 0.0
    mask = np.zeros_like(freqs, dtype=bool)
    for k in range(1, harmonics + 1):
        mask |= np.abs(freqs - mains_hz * k) <= 1.0
    return float(spec[mask].sum() / total)


def detect_mains_hz(
    x: np.ndarray, fs_hz: float, fallback_hz: float, min_fraction: float = 0.05
) -> float:
    """Return 50.0 or 60.0: the mains frequency whose lines hold more power in ``x``.

    When neither holds ``min_fraction`` of the power (a clean recording) the
    ``fallback_hz`` is returned.
    """
    p50 = mains_line_power(x, fs_hz, 50.0, 3)
    p60 = mains_line_power(x, fs_hz, 60.0, 3)
    if max(p50, p60) < min_fraction:
        return fallback_hz
    return 50.0 if p50 >= p60 else 60.0
