"""Argument checks shared by `replay` and `evaluate`, made before any work starts."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from crampwatch.errors import UserError


def jobs_count(text: str) -> int:
    """Return ``--jobs`` as an int >= 1 (argparse type); refuse 0 and negatives by name."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a whole number of recordings at once, got {text!r}"
                                         ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"must be 1 or more (recordings replayed at once), got {value}; leave it out to "
            "use every core")
    return value


def output_folder(path: Path, option: str) -> Path:
    """Return ``path`` as a folder that exists and can be written, creating it if needed."""
    if path.exists() and not path.is_dir():
        raise UserError(f"{option} {path}: is a file; give a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"{option} {path}: cannot create this folder "
                        f"({exc.strerror or exc})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise UserError(f"{option} {path}: this folder cannot be written")
    return path


def output_file(path: Path, option: str) -> Path:
    """Return ``path`` once its folder exists and can be written (created if needed)."""
    if path.is_dir():
        raise UserError(f"{option} {path}: is a folder; give a file name to write")
    output_folder(path.parent, f"{option}'s folder")
    return path
