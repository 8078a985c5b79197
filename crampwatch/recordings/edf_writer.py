"""EDF+ files written chunk by chunk: signals in uV and g, events as EDF+ annotations.

Samples are buffered per signal and written one data record (``record_s`` seconds)
at a time, so a night is never held in memory. Annotations are kept until
:meth:`EdfPlusWriter.close`, when edflib stores them in the annotation signal
that sleep-lab viewers (EDFbrowser) list and draw.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pyedflib

from crampwatch.recordings.edf_reader import RecordingError
from sensor.records import SampleBlock

# EDF stores 16-bit integers.
_DIGITAL_MIN = -32768
_DIGITAL_MAX = 32767
# EDF+ allows up to 64 annotation signals; each holds a few annotations per record.
# A busy night can have several events within one record, so reserve a few.
_ANNOTATION_SIGNALS = 4


@dataclass(frozen=True)
class SignalSpec:
    """One signal to write: its label, unit, rate and the physical range of its 16 bits.

    Values outside [physical_min, physical_max] are clipped, as an amplifier would;
    the quantisation step is (physical_max - physical_min) / 65535.
    """

    label: str
    unit: str
    fs_hz: float
    physical_min: float
    physical_max: float
    transducer: str = ""
    prefilter: str = ""


def emg_spec(label: str, fs_hz: float, range_uv: float = 6553.5) -> SignalSpec:
    """Return an EMG SignalSpec in uV; the default range gives a 0.2 uV step, +/-6.5 mV."""
    return SignalSpec(label, "uV", fs_hz, -range_uv, range_uv, "surface EMG electrodes")


def acc_spec(label: str, fs_hz: float, range_g: float = 8.0) -> SignalSpec:
    """Return an accelerometer SignalSpec in g (+/-8 g: a leg in bed or walking stays within)."""
    return SignalSpec(label, "g", fs_hz, -range_g, range_g, "3-axis accelerometer")


def _header_number(value: float, outward: int) -> float:
    """Return ``value`` rounded away from zero-range (outward=-1 down, +1 up) to 8 EDF chars."""
    for decimals in range(6, -1, -1):
        scale = 10.0**decimals
        rounded = (math.floor(value * scale) if outward < 0 else math.ceil(value * scale)) / scale
        text = f"{rounded:.{decimals}f}".rstrip("0").rstrip(".")
        if len(text) <= 8:
            return float(text)
    raise ValueError(f"physical limit {value} does not fit the 8 characters of an EDF header")


class EdfPlusWriter:
    """Writes an EDF+ file from blocks of samples, streaming; annotations added any time."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        signals: Sequence[SignalSpec],
        start: datetime | None = None,
        record_s: float = 1.0,
        equipment: str = "crampwatch",
    ) -> None:
        if not signals:
            raise ValueError("an EDF+ file needs at least one signal")
        self.path = Path(path)
        self.signals = tuple(signals)
        self._per_record = []
        for spec in self.signals:
            n = spec.fs_hz * record_s
            if abs(n - round(n)) > 1e-9 or round(n) < 1:
                raise ValueError(
                    f"{spec.label!r} at {spec.fs_hz:g} Hz does not fill a {record_s:g} s data "
                    "record with a whole number of samples; choose another record_s"
                )
            self._per_record.append(round(n))
        self._buffers: list[list[np.ndarray]] = [[] for _ in self.signals]
        self._buffered = [0] * len(self.signals)
        self._annotations: list[tuple[float, float, str]] = []
        self._label_index = {spec.label: i for i, spec in enumerate(self.signals)}
        try:
            self._writer = pyedflib.EdfWriter(
                str(self.path), len(self.signals), file_type=pyedflib.FILETYPE_EDFPLUS
            )
        except OSError as exc:
            raise RecordingError(f"{self.path}: cannot create EDF+ file ({exc})") from None
        headers = [
            {
                "label": spec.label,
                "dimension": spec.unit,
                "sample_frequency": spec.fs_hz,
                # EDF headers hold 8 characters: widen the range to what they can say.
                "physical_min": _header_number(spec.physical_min, -1),
                "physical_max": _header_number(spec.physical_max, +1),
                "digital_min": _DIGITAL_MIN,
                "digital_max": _DIGITAL_MAX,
                "transducer": spec.transducer,
                "prefilter": spec.prefilter,
            }
            for spec in self.signals
        ]
        self._writer.setSignalHeaders(headers)
        self._writer.setEquipment(equipment)
        self._writer.set_number_of_annotation_signals(_ANNOTATION_SIGNALS)
        if start is not None:
            self._writer.setStartdatetime(start)
        with warnings.catch_warnings():
            # pyedflib warns that a forced record length may alter rates; we checked above
            # that every rate fills a record exactly.
            warnings.simplefilter("ignore", UserWarning)
            self._writer.setDatarecordDuration(record_s)
        self._closed = False

    def write_block(self, block: SampleBlock) -> None:
        """Queue a block's samples under its labels; full data records are written at once."""
        for column, label in enumerate(block.labels):
            if label not in self._label_index:
                raise ValueError(f"block label {label!r} is not a signal of this file")
            self.write_signal(label, block.samples[:, column])

    def write_signal(self, label: str, values: np.ndarray) -> None:
        """Queue samples (physical units) for one signal and write any complete records."""
        index = self._label_index[label]
        values = np.asarray(values, dtype=np.float64)
        spec = self.signals[index]
        values = np.clip(values, spec.physical_min, spec.physical_max)
        self._buffers[index].append(values)
        self._buffered[index] += values.shape[0]
        self._flush_records()

    def annotate(self, onset_s: float, duration_s: float, text: str) -> None:
        """Add an annotation (seconds from the recording start) written when the file closes."""
        self._annotations.append((float(onset_s), max(float(duration_s), 0.0), text))

    def _flush_records(self) -> None:
        n_records = min(b // n for b, n in zip(self._buffered, self._per_record, strict=True))
        if n_records == 0:
            return
        taken = []
        for i, n in enumerate(self._per_record):
            joined = np.concatenate(self._buffers[i]) if len(self._buffers[i]) > 1 else (
                self._buffers[i][0]
            )
            use = n * n_records
            taken.append(joined[:use].reshape(n_records, n))
            rest = joined[use:]
            self._buffers[i] = [rest] if rest.size else []
            self._buffered[i] = rest.shape[0]
        # One record is signal 0's samples, then signal 1's...; write all at once.
        records = np.ascontiguousarray(np.concatenate(taken, axis=1))
        for row in records:
            if self._writer.blockWritePhysicalSamples(row) < 0:
                raise RecordingError(f"{self.path}: writing a data record failed (disk full?)")

    def close(self) -> None:
        """Write the last partial record (padded with zeros) and the annotations; close."""
        if self._closed:
            return
        self._closed = True
        try:
            if any(self._buffered):
                for i, n in enumerate(self._per_record):
                    missing = (-self._buffered[i]) % n or (0 if self._buffered[i] else n)
                    self._buffers[i].append(np.zeros(missing))
                    self._buffered[i] += missing
                # Pad shorter signals up to the longest so every record is complete.
                records = max(b // n for b, n in zip(self._buffered, self._per_record, strict=True))
                for i, n in enumerate(self._per_record):
                    extra = records * n - self._buffered[i]
                    if extra:
                        self._buffers[i].append(np.zeros(extra))
                        self._buffered[i] += extra
                self._flush_records()
            for onset_s, duration_s, text in sorted(self._annotations):
                self._writer.writeAnnotation(onset_s, duration_s, text)
        finally:
            self._writer.close()

    def __enter__(self) -> EdfPlusWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
