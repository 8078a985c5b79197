"""Samples of EDF signals read straight from the data records, many records per read.

An EDF data record holds, for every signal in header order, that signal's samples of
the record as little-endian 16-bit integers. Reading a stretch of records in one call
and slicing every selected signal out of it costs a fraction of reading each signal
through edflib sample by sample. Digital values become physical ones with edflib's
own arithmetic (``bitvalue * (offset + digital)``, digital values outside the
header's digital range kept as they are), so the numbers are the ones edflib returns,
bit for bit.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

EDF_SAMPLE_BYTES = 2
ANNOTATION_LABELS = ("EDF Annotations", "BDF Annotations")


@dataclass(frozen=True)
class RawHeader:
    """The fields of an EDF header that place samples in the file."""

    header_bytes: int
    n_records: int
    labels: tuple[str, ...]  # every signal, annotation signals included
    samples_per_record: tuple[int, ...]
    bytes_per_sample: int

    @property
    def record_bytes(self) -> int:
        return self.bytes_per_sample * sum(self.samples_per_record)


@dataclass(frozen=True)
class SignalScale:
    """One signal's place in a data record and its digital-to-physical conversion."""

    record_index: int  # position among all signals of the record (annotations included)
    samples_per_record: int
    bitvalue: float
    offset: float


def signal_scale(record_index: int, samples_per_record: int, physical_min: float,
                 physical_max: float, digital_min: int, digital_max: int) -> SignalScale:
    """Return the scale edflib applies to a signal with these header values."""
    bitvalue = (physical_max - physical_min) / (digital_max - digital_min)
    offset = physical_max / bitvalue - digital_max
    return SignalScale(record_index, samples_per_record, bitvalue, offset)


def data_signal_indices(header: RawHeader) -> list[int]:
    """Return the record positions of the data signals (edflib's numbering skips annotations)."""
    return [i for i, label in enumerate(header.labels)
            if label.strip() not in ANNOTATION_LABELS]


class RecordReader:
    """Reads sample ranges of 16-bit EDF signals from an open file, many records per read."""

    def __init__(self, path: str | os.PathLike[str], header: RawHeader) -> None:
        if header.bytes_per_sample != EDF_SAMPLE_BYTES:
            raise ValueError("RecordReader reads 16-bit EDF only")
        self.header = header
        self._fh = open(path, "rb")  # noqa: SIM115 - closed by close()
        starts = np.cumsum((0, *header.samples_per_record))
        self._record_samples = int(starts[-1])
        self._starts = [int(s) for s in starts[:-1]]
        # The records last read: a chunk's EMG and accelerometer lie in the same records,
        # read from the file once.
        self._last: tuple[int, np.ndarray] | None = None
        # The memory they were read into, kept for the next read of as many records:
        # fresh pages for every chunk cost as much as the copy from the file.
        self._space = np.empty(0, dtype="<i2")

    def close(self) -> None:
        self._fh.close()

    def _records(self, first: int, count: int) -> np.ndarray:
        """Return records [first, first + count) as (count, samples per record) int16.

        The array is valid until the next read of other records (its memory is reused).
        """
        if self._last is not None:
            at, records = self._last
            if at <= first and first + count <= at + records.shape[0]:
                return records[first - at : first - at + count]
        h = self.header
        n = count * self._record_samples
        if self._space.size != n:
            self._space = np.empty(n, dtype="<i2")
        self._last = None  # its records are being overwritten
        self._fh.seek(h.header_bytes + first * h.record_bytes)
        got = self._fh.readinto(memoryview(self._space).cast("B")) // EDF_SAMPLE_BYTES
        if got != n:
            raise OSError(f"read {got} of {n} samples")
        records = self._space.reshape(count, self._record_samples)
        self._last = (first, records)
        return records

    def read(self, scales: Sequence[SignalScale], start: int, stop: int,
             out: Sequence[np.ndarray] | None = None) -> list[np.ndarray]:
        """Return samples [start, stop) of each signal in physical units (float64).

        The signals share one sample rate (the same samples per record). ``out``: one
        float64 array of stop - start samples per signal to fill (and return) instead of
        new ones, for a caller that reads chunk after chunk.
        """
        spr = scales[0].samples_per_record
        if any(s.samples_per_record != spr for s in scales):
            raise ValueError("signals read together must share their samples per record")
        if stop <= start:
            return [np.empty(0) for _ in scales]
        first, last = start // spr, (stop - 1) // spr
        records = self._records(first, last - first + 1)
        skip = start - first * spr
        columns = []
        for n, s in enumerate(scales):
            at = self._starts[s.record_index]
            digital = records[:, at : at + spr].reshape(-1)[skip : skip + stop - start]
            if out is None:
                values = digital.astype(np.float64)
            else:
                values = out[n]
                np.copyto(values, digital)
            values += s.offset
            values *= s.bitvalue
            columns.append(values)
        return columns
