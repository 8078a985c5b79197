"""Physical units found in EDF headers, and the factors that bring them to uV and g."""

from __future__ import annotations

from sensor.records import SignalGroup

# Standard gravity (CGPM 1901): converts m/s^2 to g.
STANDARD_GRAVITY_M_S2 = 9.80665

_EMG_TO_UV = {
    "uv": 1.0,
    "µv": 1.0,
    "μv": 1.0,
    "mv": 1e3,
    "v": 1e6,
    "nv": 1e-3,
}
_ACC_TO_G = {
    "g": 1.0,
    "mg": 1e-3,
    "m/s^2": 1.0 / STANDARD_GRAVITY_M_S2,
    "m/s2": 1.0 / STANDARD_GRAVITY_M_S2,
    "m/s²": 1.0 / STANDARD_GRAVITY_M_S2,
    "ms^-2": 1.0 / STANDARD_GRAVITY_M_S2,
    "ms-2": 1.0 / STANDARD_GRAVITY_M_S2,
}


class UnitError(ValueError):
    """A channel's physical dimension is not one we can convert."""


def scale_to_group_unit(dimension: str, group: SignalGroup, label: str) -> float:
    """Return the factor that turns values in ``dimension`` into uV (EMG) or g (ACC)."""
    key = dimension.strip().replace(" ", "")
    table = _EMG_TO_UV if group is SignalGroup.EMG else _ACC_TO_G
    # EDF headers are ASCII and write micro as "u"; mega never occurs for EMG or ACC,
    # so case can be ignored.
    factor = table.get(key.lower())
    if factor is None:
        known = ", ".join(sorted(table))
        raise UnitError(
            f"channel {label!r} has physical dimension {dimension!r}, which is not a "
            f"{'voltage' if group is SignalGroup.EMG else 'acceleration'} unit we know "
            f"({known}); fix the EDF header or choose other channels"
        )
    return factor
