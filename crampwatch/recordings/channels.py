"""Which signals of a recording are leg EMG and which are the accelerometer, found by label.

EMG: a label containing the word "EMG" (but not a chin/submental EMG), the sleep-lab
"LAT"/"RAT" style (left/right anterior tibialis, DOMAIN.md "Signals"), or a leg muscle
name (tibialis, gastrocnemius, soleus). Accelerometer: "ACC X", "Accel Y",
"Accelerometer-Z", "AccX"... one per axis. Either can be overridden with exact labels.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sensor.channels import is_leg_label, parse_label
from sensor.records import Muscle

_NOT_LEG = re.compile(r"chin|submental|\bment|\becg|\beeg|\beog|\bekg|mastoid", re.IGNORECASE)
_EMG = re.compile(
    r"\bemg|^[lr]at\d*$|^[lr]\s*at\d*$|tib(ialis)?[\s_.-]*ant|gastroc|soleus|\b[lr]?leg\b",
    re.IGNORECASE,
)
_ACC = re.compile(r"\bacc(el(eration|erometer|ero)?)?[\s_.:/-]*([xyz])\b", re.IGNORECASE)

_LEG_MUSCLES = {
    Muscle.GASTROCNEMIUS,
    Muscle.GASTROCNEMIUS_MEDIAL,
    Muscle.GASTROCNEMIUS_LATERAL,
    Muscle.SOLEUS,
    Muscle.TIBIALIS_ANTERIOR,
    Muscle.FOOT,
}


class ChannelSelectionError(ValueError):
    """The recording lacks the channels asked for, or labels are ambiguous."""


@dataclass(frozen=True)
class ChannelSelection:
    """Indices (into the file's signal list) of the EMG and accelerometer signals to use."""

    emg: tuple[int, ...]
    acc: tuple[int, ...]  # X, Y, Z order; empty when the file has no accelerometer


def is_emg_label(label: str) -> bool:
    """Return True when a label names a leg EMG channel."""
    text = label.strip()
    if _ACC.search(text) or _NOT_LEG.search(text) or not is_leg_label(text):
        return False
    # Our patterns, or a leg muscle the shared label parser recognises ("LGM", "Calf L").
    return bool(_EMG.search(text)) or parse_label(text).muscle in _LEG_MUSCLES


def acc_axis(label: str) -> str | None:
    """Return "x", "y" or "z" when a label names an accelerometer axis, else None."""
    match = _ACC.search(label.strip())
    return match.group(3).lower() if match else None


def select_channels(
    labels: Sequence[str],
    emg_labels: Sequence[str] | None = None,
    acc_labels: Sequence[str] | None = None,
) -> ChannelSelection:
    """Return the EMG and accelerometer signal indices for a file's labels.

    ``emg_labels``/``acc_labels`` override the automatic choice with exact labels
    (surrounding spaces ignored; ACC in X, Y, Z order).
    """
    stripped = [label.strip() for label in labels]
    seen = ", ".join(repr(label) for label in stripped) or "none"

    def index_of(wanted: str) -> int:
        try:
            return stripped.index(wanted.strip())
        except ValueError:
            raise ChannelSelectionError(
                f"no signal labelled {wanted!r} in this recording; its labels are: {seen}"
            ) from None

    if emg_labels:
        emg = tuple(index_of(label) for label in emg_labels)
    else:
        emg = tuple(i for i, label in enumerate(stripped) if is_emg_label(label))
    if not emg:
        raise ChannelSelectionError(
            f"no leg EMG channel found; labels in this recording: {seen}. "
            "Name the EMG channels explicitly (replay --emg LABEL ...)"
        )

    if acc_labels:
        if len(acc_labels) != 3:
            raise ChannelSelectionError(
                f"give the accelerometer as three labels in X, Y, Z order, got {list(acc_labels)}"
            )
        acc = tuple(index_of(label) for label in acc_labels)
    else:
        axes: dict[str, int] = {}
        for i, label in enumerate(stripped):
            axis = acc_axis(label)
            if axis is not None and i not in emg:
                if axis in axes:
                    raise ChannelSelectionError(
                        f"two accelerometer {axis.upper()} channels ({stripped[axes[axis]]!r} "
                        f"and {label!r}); name the three you want (replay --acc X Y Z)"
                    )
                axes[axis] = i
        acc = tuple(axes[a] for a in "xyz") if len(axes) == 3 else ()
    return ChannelSelection(emg=emg, acc=acc)
