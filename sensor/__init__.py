"""Pure signal processing: streaming filters, envelopes, onsets, episodes, features, the Detector.

No I/O, no clocks, no asyncio: everything here is a function of the samples it is given.
"""

from sensor.detector import DETECTOR_VERSION, Detector, DetectorConfig

__all__ = ["DETECTOR_VERSION", "Detector", "DetectorConfig"]
