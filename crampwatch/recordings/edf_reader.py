"""EDF and EDF+ recordings read as a stream of SampleBlocks in uV and g, chunk by chunk.

A night is never held in memory: :meth:`EdfRecording.blocks` reads ``chunk_s``
seconds of every selected signal at a time and yields one EMG block then one
accelerometer block per chunk, so the two groups arrive interleaved in time order
as they would from a band. Signals may have different sample rates; EMG channels
must share one rate, and so must the three accelerometer axes.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path

import numpy as np
import pyedflib

from crampwatch.recordings.channels import (
    ChannelSelectionError,
    acc_axis,
    select_channels,
)
from crampwatch.recordings.edf_header import (
    Annotation,
    RecordingError,
    SignalHeader,
    header_duration_s,
    read_checked_header,
)
from crampwatch.recordings.edf_records import (
    EDF_SAMPLE_BYTES,
    RawHeader,
    RecordReader,
    SignalScale,
    data_signal_indices,
    signal_scale,
)
from crampwatch.recordings.units import UnitError, scale_to_group_unit
from sensor.records import SampleBlock, SignalGroup

__all__ = [
    "BAND_UPPER_CORNER_HZ",
    "DEFAULT_CHUNK_S",
    "FULL_BAND_EMG_RATE_HZ",
    "MIN_EMG_RATE_HZ",
    "Annotation",
    "EdfRecording",
    "RecordingError",
    "SignalHeader",
    "header_duration_s",
]

log = logging.getLogger(__name__)

# DOMAIN.md "Signals": hobby boards give 250-1000 Hz; below 250 Hz the EMG band
# (20-450 Hz) is mostly above Nyquist and a cramp cannot be told from movement.
MIN_EMG_RATE_HZ = 250.0
# DOMAIN.md "Signals": band-pass 20-450 Hz wants >= 1 kHz sampling; the upper corner
# is held at <= 0.45 fs below that.
FULL_BAND_EMG_RATE_HZ = 1000.0
BAND_UPPER_CORNER_HZ = 450.0
# Chunk length for streaming: long enough that the per-block cost of every stage (a few
# hundred numpy calls) is small beside the samples' own (a replay spends about a tenth
# less than with 10 s chunks), short enough that a 16-channel 2 kHz chunk stays some
# ten MB.
DEFAULT_CHUNK_S = 60.0


class EdfRecording:
    """An open EDF/EDF+ file with its leg EMG and accelerometer signals chosen.

    Use as a context manager. ``emg_labels``/``acc_labels`` override the automatic
    choice by label (see :mod:`crampwatch.recordings.channels`).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        emg_labels: Sequence[str] | None = None,
        acc_labels: Sequence[str] | None = None,
    ) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise RecordingError(f"{self.path}: no such file")
        self._buffers: dict[tuple[int, int], list[np.ndarray]] = {}  # see _scratch()
        raw_header = self._check_complete()
        try:
            # Annotations are read when asked for (annotations()): edflib would scan
            # every data record for them on opening, a quarter of a second per night.
            self._reader = pyedflib.EdfReader(str(self.path), pyedflib.DO_NOT_READ_ANNOTATIONS)
        except OSError as exc:
            raise RecordingError(
                f"{self.path}: not a readable EDF/EDF+ file ({exc}); it may be truncated or "
                "damaged: check its size against the header, or re-export it"
            ) from None
        try:
            labels = [label.strip() for label in self._reader.getSignalLabels()]
            try:
                selection = select_channels(labels, emg_labels, acc_labels)
            except ChannelSelectionError as exc:
                raise RecordingError(f"{self.path}: {exc}") from None
            if not selection.acc and not acc_labels:
                partial = [label for label in labels if acc_axis(label)]
                if partial:
                    log.warning(
                        "%s: accelerometer incomplete (found %s, need X, Y and Z): "
                        "reading without posture and motion",
                        self.path,
                        partial,
                    )
            self.emg = self._headers(selection.emg, SignalGroup.EMG)
            self.acc = self._headers(selection.acc, SignalGroup.ACC)
            self.emg_fs_hz = self._common_rate(self.emg, "EMG")
            self.acc_fs_hz = self._common_rate(self.acc, "accelerometer") if self.acc else None
            self._check_emg_rate()
            self._records = self._record_reader(raw_header)
        except BaseException:
            self._reader.close()
            raise

    # -- header ------------------------------------------------------------------

    def _check_complete(self) -> RawHeader:
        """Return the raw header; raise, saying which is wrong, when it and the file size differ."""
        raw, extra = read_checked_header(self.path)
        if extra:
            log.warning("%s: %d bytes after the last of %d data records are ignored",
                        self.path, extra, raw.n_records)
        return raw

    def _record_reader(self, raw: RawHeader) -> tuple[RecordReader, dict[int, SignalScale]] | None:
        """Return a direct reader of the data records and each signal's scale, when it applies.

        16-bit EDF whose data signals are the ones edflib lists; otherwise (BDF, an
        unusual layout) samples are read through edflib.
        """
        positions = data_signal_indices(raw)
        r = self._reader
        if raw.bytes_per_sample != EDF_SAMPLE_BYTES or len(positions) != r.signals_in_file:
            return None
        n_samples = r.getNSamples()
        scales = {}
        for h in (*self.emg, *self.acc):
            at = positions[h.index]
            spr = raw.samples_per_record[at]
            if int(n_samples[h.index]) != raw.n_records * spr:
                return None
            scales[h.index] = signal_scale(
                at, spr, float(r.getPhysicalMinimum(h.index)),
                float(r.getPhysicalMaximum(h.index)), int(r.getDigitalMinimum(h.index)),
                int(r.getDigitalMaximum(h.index)))
        return RecordReader(self.path, raw), scales

    def _headers(self, indices: Sequence[int], group: SignalGroup) -> tuple[SignalHeader, ...]:
        headers = []
        n_samples = self._reader.getNSamples()
        for index in indices:
            label = self._reader.getLabel(index).strip()
            dimension = self._reader.getPhysicalDimension(index).strip()
            try:
                factor = scale_to_group_unit(dimension, group, label)
            except UnitError as exc:
                raise RecordingError(f"{self.path}: {exc}") from None
            headers.append(
                SignalHeader(
                    index=index,
                    label=label,
                    fs_hz=float(self._reader.getSampleFrequency(index)),
                    n_samples=int(n_samples[index]),
                    dimension=dimension,
                    to_group_unit=factor,
                    physical_min=float(self._reader.getPhysicalMinimum(index)) * factor,
                    physical_max=float(self._reader.getPhysicalMaximum(index)) * factor,
                )
            )
        return tuple(headers)

    def _common_rate(self, headers: Sequence[SignalHeader], what: str) -> float:
        rates = {h.fs_hz for h in headers}
        if len(rates) > 1:
            listing = ", ".join(f"{h.label!r} at {h.fs_hz:g} Hz" for h in headers)
            raise RecordingError(
                f"{self.path}: the {what} channels have different sample rates ({listing}); "
                "choose channels that share one rate (replay --emg / --acc)"
            )
        return rates.pop()

    def _check_emg_rate(self) -> None:
        fs = self.emg_fs_hz
        if fs < MIN_EMG_RATE_HZ:
            raise RecordingError(
                f"{self.path}: EMG sampled at {fs:g} Hz; at least {MIN_EMG_RATE_HZ:g} Hz is "
                "needed to see muscle activity (surface EMG lies at 20-450 Hz)"
            )
        if fs < FULL_BAND_EMG_RATE_HZ:
            log.warning(
                "%s: EMG sampled at %g Hz, too low for the %g Hz upper band-pass corner; the "
                "band is cut at %.0f Hz (0.45 fs) and faint cramps may be missed",
                self.path,
                fs,
                BAND_UPPER_CORNER_HZ,
                0.45 * fs,
            )

    # -- what the file holds ------------------------------------------------------

    @property
    def emg_labels(self) -> tuple[str, ...]:
        return tuple(h.label for h in self.emg)

    @property
    def acc_labels(self) -> tuple[str, ...]:
        return tuple(h.label for h in self.acc)

    @property
    def duration_s(self) -> float:
        """Return the length of the EMG signal in seconds."""
        return min(h.n_samples for h in self.emg) / self.emg_fs_hz

    @property
    def start_datetime(self) -> datetime:
        return self._reader.getStartdatetime()

    def annotations(self) -> list[Annotation]:
        """Return the file's EDF+ annotations (empty for plain EDF)."""
        # edflib opens a file once at a time: the sample reader steps aside meanwhile.
        self._reader.close()
        try:
            reader = pyedflib.EdfReader(str(self.path))
            try:
                onsets, durations, texts = reader.readAnnotations()
            finally:
                reader.close()
        except OSError as exc:
            raise RecordingError(
                f"{self.path}: its EDF+ annotations cannot be read ({exc}); the file may be "
                "damaged: re-export it"
            ) from None
        finally:
            self._reader = pyedflib.EdfReader(str(self.path), pyedflib.DO_NOT_READ_ANNOTATIONS)
        return [
            Annotation(
                float(onset),
                float(duration) if np.isfinite(duration) and duration > 0 else 0.0,
                str(text),
            )
            for onset, duration, text in zip(onsets, durations, texts, strict=True)
        ]

    # -- samples ----------------------------------------------------------------

    def _scratch(self, n_signals: int, n_samples: int) -> list[np.ndarray]:
        """Return float64 arrays for one chunk's signals, kept from chunk to chunk.

        Chunks mostly have one size: reusing the arrays spares fresh memory pages per
        chunk (about half the reading time). Their content never outlives a chunk.
        """
        key = (n_signals, n_samples)
        found = self._buffers.get(key)
        if found is None:
            if len(self._buffers) >= 8:  # chunk sizes of EMG and ACC, and a last chunk
                self._buffers.clear()
            found = self._buffers[key] = [np.empty(n_samples) for _ in range(n_signals)]
        return found

    def _read(self, headers: Sequence[SignalHeader], start: int, stop: int) -> np.ndarray:
        out = np.empty((stop - start, len(headers)), dtype=np.float32)
        if self._records is not None:
            reader, scales = self._records
            try:
                columns = reader.read([scales[h.index] for h in headers], start, stop,
                                      out=self._scratch(len(headers), stop - start))
            except OSError as exc:
                raise RecordingError(
                    f"{self.path}: could not read samples {start}-{stop} ({exc}); "
                    "the file is damaged"
                ) from None
            for column, (h, values) in enumerate(zip(headers, columns, strict=True)):
                if h.to_group_unit != 1.0:  # x * 1.0 is x: a signal already in uV or g
                    values *= h.to_group_unit
                out[:, column] = values
            return out
        for column, h in enumerate(headers):
            values = self._reader.readSignal(h.index, start, stop - start)
            if values.shape[0] != stop - start:
                raise RecordingError(
                    f"{self.path}: could read only {values.shape[0]} of {stop - start} samples "
                    f"of {h.label!r} at sample {start}; the file is damaged"
                )
            out[:, column] = values * h.to_group_unit
        return out

    def blocks(self, chunk_s: float = DEFAULT_CHUNK_S) -> Iterator[SampleBlock]:
        """Yield SampleBlocks of about ``chunk_s`` seconds in uV and g, sorted by start time.

        Each chunk gives one EMG and one ACC block; their sample-aligned starts can
        differ by under half an ACC sample, so the earlier one comes first (EMG on ties).
        """
        if not chunk_s > 0:
            raise ValueError(f"chunk_s must be positive, got {chunk_s}")
        emg_total = min(h.n_samples for h in self.emg)
        acc_total = min(h.n_samples for h in self.acc) if self.acc else 0
        n_chunks = math.ceil(emg_total / (chunk_s * self.emg_fs_hz))
        for k in range(n_chunks):
            chunk: list[SampleBlock] = []
            start = round(k * chunk_s * self.emg_fs_hz)
            stop = min(round((k + 1) * chunk_s * self.emg_fs_hz), emg_total)
            if stop > start:
                chunk.append(SampleBlock(
                    SignalGroup.EMG,
                    self.emg_fs_hz,
                    start / self.emg_fs_hz,
                    self._read(self.emg, start, stop),
                    self.emg_labels,
                ))
            if self.acc and self.acc_fs_hz is not None:
                a_start = min(round(k * chunk_s * self.acc_fs_hz), acc_total)
                a_stop = acc_total
                if k < n_chunks - 1:
                    a_stop = min(round((k + 1) * chunk_s * self.acc_fs_hz), acc_total)
                if a_stop > a_start:
                    chunk.append(SampleBlock(
                        SignalGroup.ACC,
                        self.acc_fs_hz,
                        a_start / self.acc_fs_hz,
                        self._read(self.acc, a_start, a_stop),
                        self.acc_labels,
                    ))
            yield from sorted(chunk, key=lambda b: b.t0_s)

    def window(self, start_s: float, end_s: float) -> tuple[np.ndarray, np.ndarray | None]:
        """Return (EMG uV, ACC g or None) for [start_s, end_s), clipped to the recording."""
        emg_total = min(h.n_samples for h in self.emg)
        e0 = max(0, round(start_s * self.emg_fs_hz))
        e1 = min(emg_total, max(e0, round(end_s * self.emg_fs_hz)))
        emg = self._read(self.emg, e0, e1)
        acc = None
        if self.acc and self.acc_fs_hz is not None:
            acc_total = min(h.n_samples for h in self.acc)
            a0 = max(0, round(start_s * self.acc_fs_hz))
            a1 = min(acc_total, max(a0, round(end_s * self.acc_fs_hz)))
            acc = self._read(self.acc, a0, a1)
        return emg, acc

    # -- lifetime ---------------------------------------------------------------

    def close(self) -> None:
        if self._records is not None:
            self._records[0].close()
        self._reader.close()

    def __enter__(self) -> EdfRecording:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
