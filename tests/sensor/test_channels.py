"""Channel labels are parsed into muscle and side, and roles are assigned as documented."""

from __future__ import annotations

import pytest

from sensor.channels import ChannelOverrideError, assign_roles, describe_roles, parse_label
from sensor.records import ChannelInfo, Muscle, Role, Side


@pytest.mark.parametrize(
    ("label", "muscle", "side"),
    [
        ("EMG R Gastroc", Muscle.GASTROCNEMIUS, Side.RIGHT),
        ("EMG L Tib Ant", Muscle.TIBIALIS_ANTERIOR, Side.LEFT),
        ("EMG LGM", Muscle.GASTROCNEMIUS_LATERAL, Side.UNKNOWN),
        ("EMG MGM R", Muscle.GASTROCNEMIUS_MEDIAL, Side.RIGHT),
        ("LAT", Muscle.TIBIALIS_ANTERIOR, Side.LEFT),
        ("RAT", Muscle.TIBIALIS_ANTERIOR, Side.RIGHT),
        ("Calf L", Muscle.GASTROCNEMIUS, Side.LEFT),
        ("Shin R", Muscle.TIBIALIS_ANTERIOR, Side.RIGHT),
        ("Leg L", Muscle.TIBIALIS_ANTERIOR, Side.LEFT),
        ("RLEG2", Muscle.TIBIALIS_ANTERIOR, Side.RIGHT),
        ("Gastrocnemius medial R", Muscle.GASTROCNEMIUS_MEDIAL, Side.RIGHT),
        ("Lat Gastroc L", Muscle.GASTROCNEMIUS_LATERAL, Side.LEFT),
        ("EMG Soleus left", Muscle.SOLEUS, Side.LEFT),
        ("EMG1", Muscle.UNKNOWN, Side.UNKNOWN),
        ("EMG Chin", Muscle.UNKNOWN, Side.UNKNOWN),
    ],
)
def test_labels_parse_to_muscle_and_side(label: str, muscle: Muscle, side: Side) -> None:
    info = parse_label(label)
    assert (info.label, info.muscle, info.side) == (label, muscle, side)


def test_named_calf_and_shin_get_their_roles() -> None:
    infos = assign_roles(["EMG R Tib Ant", "EMG R Gastroc"])
    assert [i.role for i in infos] == [Role.SHIN, Role.CALF]


def test_unknown_labels_first_is_calf_second_is_shin() -> None:
    infos = assign_roles(["EMG1", "EMG2", "EMG3"])
    assert [i.role for i in infos] == [Role.CALF, Role.SHIN, Role.OTHER]
    line = describe_roles(infos)
    assert "'EMG1'" in line and "calf" in line and "by position" in line
    assert "\n" not in line


def test_chin_emg_is_never_taken_as_calf() -> None:
    infos = assign_roles(["EMG Chin", "EMG1"])
    assert [i.role for i in infos] == [Role.OTHER, Role.CALF]


def test_sleep_lab_tibialis_pair_has_no_calf() -> None:
    infos = assign_roles(["LAT", "RAT"])
    assert [i.role for i in infos] == [Role.SHIN, Role.SHIN]


def test_override_replaces_parsed_channel() -> None:
    override = ChannelInfo("EMG1", Muscle.SOLEUS, Side.LEFT, Role.CALF)
    infos = assign_roles(["EMG1", "EMG2"], {"EMG1": override})
    assert infos[0] == override
    assert infos[1].role is Role.SHIN


def test_override_for_missing_label_says_which_labels_exist() -> None:
    with pytest.raises(ChannelOverrideError, match="EMG2"):
        assign_roles(["EMG1", "EMG2"], {"Calf": ChannelInfo("Calf")})
