"""Every feature an event can carry has a glossary entry: group, words and unit."""

from __future__ import annotations

import pytest

from crampwatch.live.upload import event_body
from crampwatch.pipeline import FIRST_CRAMP_CALL, KNOWN_AT
from crampwatch.replay import ReplayOptions, replay_file
from crampwatch.synth import NightConfig, generate_night
from models.features import FEATURE_NAMES
from sensor.feature_glossary import GLOSSARY, FeatureGroup, grouped
from sensor.features import FEATURES
from sensor.records import ChannelInfo, Event, EventKind, Muscle, Role, Side


@pytest.fixture(scope="module")
def replayed_feature_names(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """The feature names of every event of a synthetic night with every look-alike."""
    out = tmp_path_factory.mktemp("glossary")
    night = generate_night(NightConfig(duration_s=600.0, cramps_min=2, cramps_max=2), 5, out, "n")
    result = replay_file(night.edf, ReplayOptions(classifier="rules"))
    assert result.ok and result.lines, result.error
    names = {name for line in result.lines for name in line["features"]}
    # Replay writes these two beside the features; the pipeline puts them in each event's.
    return names | {KNOWN_AT, FIRST_CRAMP_CALL}


def test_every_feature_a_replayed_night_carries_has_an_entry(
    replayed_feature_names: set[str],
) -> None:
    assert set(FEATURES) <= replayed_feature_names  # the night exercised the Detector
    missing = sorted(replayed_feature_names - set(GLOSSARY))
    assert not missing, f"add these features to sensor/feature_glossary.py: {missing}"


def test_every_listed_feature_has_an_entry() -> None:
    channel = ChannelInfo("EMG R Gastroc", Muscle.GASTROCNEMIUS, Side.RIGHT, Role.CALF)
    event = Event("e", "s", channel, 0.0, 700.0, EventKind.TONIC, 0.9, {}, "d", "m", True)
    hub_names = set(event_body(event, red_flag=True)["features"])
    names = set(FEATURES) | set(FEATURE_NAMES) | hub_names | {"amp_rel_calibrated"}
    assert not sorted(names - set(GLOSSARY))
    for item in GLOSSARY.values():
        assert item.words and item.words[0].isupper() and not item.words.endswith(".")
        assert item.scale in (1.0, 100.0) and (item.scale == 1.0 or item.unit == "%")


def test_features_are_grouped_in_reading_order_with_unknown_names_last() -> None:
    features = {"zz_new": 1.0, "acc_tilt_deg": 88.0, "duration_s": 132.5, "burst_count": 1.0,
                "amp_rel_peak": 11.4, "mains_ratio": None}
    groups = grouped(features)
    assert [g for g, _ in groups] == [FeatureGroup.TIMING, FeatureGroup.STRENGTH,
                                      FeatureGroup.BURSTS, FeatureGroup.MOVEMENT,
                                      FeatureGroup.QUALITY, None]
    assert groups[-1][1] == [("zz_new", None, 1.0)]
    assert groups[4][1][0][2] is None
