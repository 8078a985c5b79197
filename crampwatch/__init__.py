"""crampwatch: the application that wires band, detector, classifier, store and prompts.

From Python (a notebook), each returns a pandas DataFrame::

    import crampwatch
    nights = crampwatch.synth("nights/", nights=2, minutes=20, seed=1)   # truth events
    events = crampwatch.replay("nights/")                                # detected events
    scored = crampwatch.evaluate("nights/", events)                      # outcomes

See :mod:`crampwatch.frames`.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "evaluate", "replay", "synth"]

# Loaded on first use: `crampwatch --help` and the live hub need none of them.
_LAZY = ("evaluate", "replay", "synth")


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return importlib.import_module(f"crampwatch.{name}")
    raise AttributeError(f"module 'crampwatch' has no attribute {name!r}")
