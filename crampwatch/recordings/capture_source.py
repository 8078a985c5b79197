"""The band's raw capture files (``*.cwcap``, docs/protocol.md section 5) as a recording.

Captures are replayed through the band's own decoder (``firmware_bridge.capture``),
so replay sees bit-exactly the blocks the live session saw, lost packets included
(as ``gap_before``/``lost_samples``). Blocks come as the band sent them, not in
``chunk_s`` pieces; the Detector's output does not depend on block sizes.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from crampwatch.recordings.edf_reader import Annotation, RecordingError
from firmware_bridge.capture import MAGIC, CaptureError, CaptureReader
from firmware_bridge.protocol import GroupSpec
from sensor.records import SampleBlock, SignalGroup

CAPTURE_SUFFIX = ".cwcap"


def is_capture(path: str | os.PathLike[str]) -> bool:
    """Return True when the file starts with the capture magic bytes."""
    try:
        with open(path, "rb") as fh:
            return fh.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


@dataclass(frozen=True)
class CaptureSignal:
    """One channel of a capture with the physical range its sample width allows."""

    label: str
    fs_hz: float
    physical_min: float
    physical_max: float


class CaptureRecording:
    """A capture file read like an EDF recording: labels, rates and a stream of blocks."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        emg_labels: Sequence[str] | None = None,
        acc_labels: Sequence[str] | None = None,
    ) -> None:
        self.path = Path(path)
        try:
            self._reader = CaptureReader(self.path)
        except CaptureError as exc:
            raise RecordingError(str(exc)) from None
        descriptor = self._reader.descriptor
        self.emg, self._emg_columns = self._signals(descriptor.emg, emg_labels)
        acc_spec = descriptor.acc
        if acc_spec is None:
            if acc_labels:
                raise RecordingError(f"{self.path}: the band sends no accelerometer")
            self.acc, self._acc_columns = (), ()
        else:
            self.acc, self._acc_columns = self._signals(acc_spec, acc_labels)
        self.emg_fs_hz = descriptor.emg.rate_mhz / 1000.0
        self.acc_fs_hz = acc_spec.rate_mhz / 1000.0 if acc_spec is not None else None
        # The length is known only after reading every record; progress uses NaN.
        self.duration_s = math.nan
        self.start_datetime = None

    def _signals(
        self, spec: GroupSpec, wanted: Sequence[str] | None
    ) -> tuple[tuple[CaptureSignal, ...], tuple[int, ...]]:
        labels = list(spec.labels)
        if wanted:
            missing = [w for w in wanted if w not in labels]
            if missing:
                raise RecordingError(
                    f"{self.path}: no channel {missing} in this capture; it has {labels}"
                )
            columns = tuple(labels.index(w) for w in wanted)
        else:
            columns = tuple(range(len(labels)))
        full_scale = spec.units_per_lsb * 2 ** (8 * spec.sample_width - 1)
        signals = tuple(
            CaptureSignal(labels[c], spec.rate_mhz / 1000.0, -full_scale, full_scale)
            for c in columns
        )
        return signals, columns

    @property
    def emg_labels(self) -> tuple[str, ...]:
        return tuple(s.label for s in self.emg)

    @property
    def acc_labels(self) -> tuple[str, ...]:
        return tuple(s.label for s in self.acc)

    def annotations(self) -> list[Annotation]:
        """Return no annotations: captures hold packets only."""
        return []

    def blocks(self, chunk_s: float | None = None) -> Iterator[SampleBlock]:
        """Yield the capture's blocks as received (``chunk_s`` is ignored), channels chosen."""
        del chunk_s
        for block in self._reader.blocks():
            columns = self._emg_columns if block.group is SignalGroup.EMG else self._acc_columns
            if not columns:
                continue
            if columns == tuple(range(block.n_channels)):
                yield block
                continue
            yield SampleBlock(
                block.group, block.fs_hz, block.t0_s,
                np.ascontiguousarray(block.samples[:, list(columns)]),
                tuple(block.labels[c] for c in columns), block.gap_before, block.lost_samples,
            )

    def close(self) -> None:
        """Nothing to release: the decoder reads the file per pass."""

    def __enter__(self) -> CaptureRecording:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
