"""The EDF/BDF file header checked against the file: magic, damage, record count, size.

Also the plain records an open recording describes itself with: its selected signals
and its annotations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from crampwatch.errors import UserError
from crampwatch.recordings.edf_records import RawHeader


class RecordingError(UserError):
    """A recording cannot be read as asked: what was wrong and what to do."""


def header_duration_s(header: bytes) -> float | None:
    """Return the length (s) an EDF/BDF header's first 256 bytes state, None if they cannot.

    Reads only the record count and record length: cheap enough to size a progress
    bar over thousands of files on a network file system before reading any.
    """
    try:
        n_records = int(header[236:244].decode("ascii").strip())
        record_s = float(header[244:252].decode("ascii").strip())
    except (ValueError, UnicodeDecodeError):
        return None
    if n_records < 0 or not math.isfinite(record_s) or record_s < 0:
        return None
    return n_records * record_s


# EDF starts with its version "0" padded to 8 bytes; BDF with 0xFF then "BIOSEMI".
_EDF_MAGIC = b"0       "
_BDF_MAGIC = b"\xffBIOSEMI"


def _check_edf_magic(path: Path, raw: bytes) -> None:
    """Raise, naming what the file starts with, when it is not EDF/BDF at all."""
    if raw[:8] in (_EDF_MAGIC, _BDF_MAGIC):
        return
    shown = raw[:24].decode("utf-8", errors="replace")
    shown = "".join(c if c.isprintable() else "." for c in shown)
    what = "an empty file" if not raw else f"starts with {shown!r}"
    raise RecordingError(
        f"{path}: not an EDF file: {what}, where an EDF/EDF+ file starts with "
        "'0' and spaces (a BDF file with 0xFF 'BIOSEMI'); give an .edf/.bdf recording "
        "or a band capture")


def read_checked_header(path: Path) -> tuple[RawHeader, int]:
    """Return the raw header and the bytes after the last data record.

    Raises, saying which is wrong, when the header is damaged or it and the file size differ.
    """
    # Read the raw header: the annotation signal counts in the record size, and
    # edflib does not report it among the signals.
    with open(path, "rb") as fh:
        raw = fh.read(256)
        _check_edf_magic(path, raw)
        try:
            header_bytes = int(raw[184:192].decode("ascii").strip())
            n_records = int(raw[236:244].decode("ascii").strip())
            n_signals = int(raw[252:256].decode("ascii").strip())
            fh.seek(256 + n_signals * 216)
            spr = fh.read(n_signals * 8).decode("ascii")
            samples_per_record = [int(spr[8 * i : 8 * i + 8]) for i in range(n_signals)]
            fh.seek(256)
            names = fh.read(n_signals * 16).decode("ascii")
            signal_labels = tuple(names[16 * i : 16 * i + 16] for i in range(n_signals))
        except (ValueError, UnicodeDecodeError):
            raise RecordingError(
                f"{path}: the EDF header is damaged (unreadable field); re-export the file"
            ) from None
    if raw[192:197] in (b"EDF+D", b"BDF+D"):
        raise RecordingError(
            f"{path}: a discontinuous EDF+D recording; its data records are not "
            "back to back in time, which replay does not support: export it as EDF+C"
        )
    # EDF stores 2 bytes per sample, BDF 3.
    bytes_per_sample = 3 if raw[:1] == b"\xff" else 2
    record_bytes = bytes_per_sample * sum(samples_per_record)
    actual = path.stat().st_size
    if record_bytes <= 0 or header_bytes != 256 * (n_signals + 1):
        raise RecordingError(
            f"{path}: the EDF header is damaged (header size {header_bytes} bytes for "
            f"{n_signals} signals, {record_bytes} bytes per data record); re-export the file"
        )
    held, extra = divmod(max(actual - header_bytes, 0), record_bytes)
    if n_records < 0:
        # -1 is what a recorder writes while it records: the count was never filled in.
        raise RecordingError(
            f"{path}: the header's record count is {n_records} (never filled in by "
            f"the recorder) while the file holds {held} data records: set the header's "
            "record count to that (EDFbrowser: Tools > Header editor) and replay again"
        )
    expected = header_bytes + n_records * record_bytes
    if actual < expected:
        raise RecordingError(
            f"{path}: truncated: the header promises {n_records} data records "
            f"({expected} bytes) but the file has {actual} bytes ({held} whole records); "
            "the file was cut short (copy it again, or if this is all there is, set the "
            "header's record count to the records held)"
        )
    if held > n_records:
        # edflib trusts the header: replaying would silently stop after n_records.
        raise RecordingError(
            f"{path}: the header's record count is wrong: it says {n_records} data "
            f"records ({expected} bytes) but the file holds {held} whole records "
            f"({actual} bytes); the samples are all there: set the header's record count "
            f"to {held} (EDFbrowser: Tools > Header editor) and replay again"
        )
    return RawHeader(header_bytes, n_records, signal_labels, tuple(samples_per_record),
                     bytes_per_sample), extra


@dataclass(frozen=True)
class Annotation:
    """One EDF+ annotation: onset and duration in seconds from the recording start."""

    onset_s: float
    duration_s: float  # 0 when the file gave none
    text: str


@dataclass(frozen=True)
class SignalHeader:
    """One selected signal as the file describes it, with its factor to uV or g."""

    index: int
    label: str
    fs_hz: float
    n_samples: int
    dimension: str
    to_group_unit: float
    physical_min: float
    physical_max: float
