"""Where replay's recordings come from and how its output files appear.

Recordings are local files, folders of them, or fsspec URLs (``s3://bucket/cohort/``);
output files are written under a temporary name and moved into place only when
complete (:class:`PendingFile`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from crampwatch.errors import UserError
from crampwatch.recordings.capture_source import CAPTURE_SUFFIX
from crampwatch.recordings.edf_reader import RecordingError, header_duration_s

RECORDING_SUFFIXES = (".edf", ".bdf", ".rec", CAPTURE_SUFFIX)


class PendingFile:
    """A file written under a temporary name beside ``path`` and moved onto it by commit().

    Until commit() an existing file at ``path`` is left exactly as it was; a pending
    file that is closed uncommitted (an error, Ctrl-C) is deleted. The temporary name
    starts with a dot and ends in ``.partial``, so folder replays never pick it up.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise UserError(f"{self.path}: is a folder; give a file name to write")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle, name = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.",
                                            suffix=".partial")
        except OSError as exc:
            raise UserError(f"{self.path}: cannot write here ({exc.strerror or exc})") from None
        os.close(handle)
        self.temp_path = Path(name)
        self._done = False

    def commit(self) -> None:
        """Move the written file onto ``path`` (atomic on one file system)."""
        if self._done:
            return
        # mkstemp makes the file 0600: give it the mode an ordinary open() would have,
        # or the mode of the file it replaces.
        if self.path.exists():
            shutil.copymode(self.path, self.temp_path)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(self.temp_path, 0o666 & ~umask)
        os.replace(self.temp_path, self.path)
        self._done = True

    def discard(self) -> None:
        """Delete the temporary file; ``path`` is untouched."""
        if not self._done:
            self.temp_path.unlink(missing_ok=True)
            self._done = True

    def __enter__(self) -> PendingFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.discard()


def is_url(path: str | os.PathLike[str]) -> bool:
    """Return True for an fsspec URL (``s3://bucket/night.edf``), False for a local path."""
    return "://" in str(path)


@contextlib.contextmanager
def local_copy(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a local path for ``path``: itself, or for a URL a temporary copy (deleted after).

    The EDF reader needs a real file; URLs are fetched through fsspec, which must be
    installed with the scheme's backend (s3fs, gcsfs, ...) where the replay runs.
    """
    if not is_url(path):
        yield Path(path)
        return
    fsspec = _import_fsspec()
    url = str(path)
    suffix = Path(url.split("?", 1)[0]).suffix
    handle, name = tempfile.mkstemp(prefix="crampwatch-", suffix=suffix)
    try:
        try:
            with fsspec.open(url, "rb") as src, os.fdopen(handle, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 22)
        except (OSError, ValueError, ImportError) as exc:
            raise RecordingError(f"{url}: cannot fetch ({exc})") from None
        try:
            yield Path(name)
        except RecordingError as exc:
            # Name the recording the user gave, not the temporary copy.
            raise RecordingError(str(exc).replace(name, url)) from None
    finally:
        Path(name).unlink(missing_ok=True)


def _import_fsspec() -> Any:
    try:
        import fsspec
    except ImportError:
        raise UserError("recordings given as URLs need fsspec: pip install "
                        "'crampwatch[cluster]' (and s3fs/gcsfs for those stores)") from None
    return fsspec


def stated_duration_s(path: str | os.PathLike[str]) -> float:
    """Return a recording's length (s) as its EDF header states it; 0 when it cannot say.

    Reads 256 bytes (through fsspec for a URL), so sizing a run costs no full read.
    """
    try:
        if is_url(path):
            with _import_fsspec().open(str(path), "rb") as fh:
                header = fh.read(256)
        else:
            with open(path, "rb") as fh:
                header = fh.read(256)
    except (OSError, ValueError, ImportError, UserError):
        return 0.0
    return header_duration_s(header) or 0.0


def quality_path(events: Path) -> Path:
    """Return the signal-quality sidecar of a JSON-lines events file (``<events>.quality.json``)."""
    return events.with_name(events.name + ".quality.json")


def expand_paths(paths: Sequence[str | os.PathLike[str]]) -> list[str]:
    """Return the recordings named: files as given, folders as their EDF/BDF files (sorted).

    A URL (``s3://bucket/cohort/``) is listed through fsspec the same way.
    """
    found: list[str] = []
    for raw in paths:
        if is_url(raw):
            found.extend(_expand_url(str(raw)))
            continue
        path = Path(raw)
        if path.is_dir():
            inside = sorted(p for p in path.iterdir()
                            if p.is_file() and p.suffix.lower() in RECORDING_SUFFIXES)
            if not inside:
                raise UserError(f"{path}: no EDF/BDF recordings in this folder")
            found.extend(str(p) for p in inside)
        elif path.is_file():
            found.append(str(path))
        else:
            raise UserError(f"{path}: no such file or folder")
    return found


def _expand_url(url: str) -> list[str]:
    fsspec = _import_fsspec()
    try:
        fs, root = fsspec.core.url_to_fs(url)
        if fs.isdir(root):
            inside = sorted(name for name in fs.ls(root, detail=False)
                            if Path(name).suffix.lower() in RECORDING_SUFFIXES)
            if not inside:
                raise UserError(f"{url}: no EDF/BDF recordings in this folder")
            return [fs.unstrip_protocol(name) for name in inside]
        if fs.isfile(root):
            return [url]
    except (OSError, ValueError, ImportError) as exc:
        raise UserError(f"{url}: cannot list ({exc})") from None
    raise UserError(f"{url}: no such file or folder")
