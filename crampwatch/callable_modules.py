"""Modules that are also functions: ``crampwatch.replay(path)`` and its kind.

``crampwatch.replay``, ``crampwatch.evaluate`` and ``crampwatch.synth`` are modules a
notebook calls; the call goes to the function of the same name in
:mod:`crampwatch.frames`, looked up when called, so that importing one of those modules
never loads pandas or the frames module.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

FRAMES = "crampwatch.frames"


def make_callable(module_name: str, function: str) -> None:
    """Make the module ``module_name`` callable as ``crampwatch.frames.<function>``."""
    module = sys.modules[module_name]

    class CallableModule(types.ModuleType):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            return getattr(importlib.import_module(FRAMES), function)(*args, **kwargs)

    CallableModule.__call__.__doc__ = f"Call {FRAMES}.{function} (see its help)."
    module.__class__ = CallableModule
