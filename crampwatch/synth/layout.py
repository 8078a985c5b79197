"""The channels of a synthetic night and where they sit on the leg."""

from __future__ import annotations

from dataclasses import dataclass

from crampwatch.synth.variation import LABEL_STYLES

ACC_LABELS = ("ACC X", "ACC Y", "ACC Z")


@dataclass(frozen=True)
class Layout:
    """EMG channel labels with their calf/shin columns, and the accelerometer labels.

    ``acc_labels`` is empty for a night recorded without an accelerometer.
    """

    emg_labels: tuple[str, ...]
    calf: tuple[int, ...]
    shin: int
    acc_labels: tuple[str, ...] = ACC_LABELS


def leg_layout(leg: str = "R", extra_calf: bool = False, labels: str = "emg",
               with_acc: bool = True) -> Layout:
    """Return the layout of one leg: gastrocnemius, tibialis anterior, optionally soleus.

    ``labels`` is a style of :data:`crampwatch.synth.variation.LABEL_STYLES`, e.g.
    "emg" ("EMG R Gastroc", "EMG R Tib Ant") or "calf_shin" ("Calf L", "Shin L").
    """
    side = leg.upper()
    if side not in ("L", "R"):
        raise ValueError(f"leg must be 'L' or 'R', got {leg!r}")
    if labels not in LABEL_STYLES:
        raise ValueError(f"unknown label style {labels!r}; known: {', '.join(LABEL_STYLES)}")
    calf_t, shin_t, extra_t = LABEL_STYLES[labels]
    names = [calf_t.format(s=side), shin_t.format(s=side)]
    calf = [0]
    if extra_calf:
        names.append(extra_t.format(s=side))
        calf.append(2)
    return Layout(emg_labels=tuple(names), calf=tuple(calf), shin=1,
                  acc_labels=ACC_LABELS if with_acc else ())
