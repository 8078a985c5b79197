"""The channels of a synthetic night and where they sit on the leg."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Layout:
    """EMG channel labels with their calf/shin columns, and the accelerometer labels."""

    emg_labels: tuple[str, ...]
    calf: tuple[int, ...]
    shin: int
    acc_labels: tuple[str, str, str] = ("ACC X", "ACC Y", "ACC Z")


def leg_layout(leg: str = "R", extra_calf: bool = False) -> Layout:
    """Return the layout of one leg: gastrocnemius, tibialis anterior, optionally soleus."""
    side = leg.upper()
    if side not in ("L", "R"):
        raise ValueError(f"leg must be 'L' or 'R', got {leg!r}")
    labels = [f"EMG {side} Gastroc", f"EMG {side} Tib Ant"]
    calf = [0]
    if extra_calf:
        labels.append(f"EMG {side} Soleus")
        calf.append(2)
    return Layout(emg_labels=tuple(labels), calf=tuple(calf), shin=1)
