"""The prompt log: every decision, delivery and acknowledgement, with session and wall times.

One JSON object per line, flushed and fsynced as it is written, so a crash never loses
a prompt already shown. Other sinks (the event store) can listen through ``listeners``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from api.db import make_private_file

PromptRecord = dict[str, Any]


class PromptLog:
    """Append-only JSONL file of prompt records; ``read()`` returns them in order."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        make_private_file(self.path)  # health data: owner-only (0600, new folders 0700)
        self._file = self.path.open("a", encoding="utf-8")
        self.listeners: list[Callable[[PromptRecord], None]] = []

    def write(self, record: PromptRecord) -> None:
        """Append ``record`` durably (flush + fsync), then tell the listeners."""
        line = json.dumps(record, default=_json_default, sort_keys=True)
        self._file.write(line + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())
        for listener in self.listeners:
            listener(record)

    def read(self) -> list[PromptRecord]:
        """Return every complete record in the file (a torn last line from a crash is skipped)."""
        return read_prompt_log(self.path)

    def close(self) -> None:
        self._file.close()


def read_prompt_log(path: Path) -> list[PromptRecord]:
    """Return the records of a prompt log file; a torn last line is ignored, others must parse."""
    if not Path(path).exists():
        return []
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    out: list[PromptRecord] = []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError as exc:
            if i == len(lines) - 1:
                break  # written when the process died: the record was never complete
            raise ValueError(f"{path}:{i + 1}: not a prompt record: {exc}") from exc
    return out


def _json_default(obj: object) -> object:
    if isinstance(obj, datetime):
        return obj.isoformat()
    raise TypeError(f"cannot log {type(obj).__name__} in a prompt record")
