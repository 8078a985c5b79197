"""Pure signal processing: streaming filters, envelopes, onsets, episodes, features, the Detector.

No I/O, no clocks, no asyncio: everything here is a function of the samples it is given.
The Detector is loaded when first asked for, so its light modules (records, red flags)
import without it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DETECTOR_VERSION", "Detector", "DetectorConfig"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from sensor import detector

        return getattr(detector, name)
    raise AttributeError(f"module 'sensor' has no attribute {name!r}")
