"""One Event codec: Event -> JSON -> the API's EventIn -> JSON, and older files read back."""

from __future__ import annotations

import json
import math

import pytest

from api.schemas import EventIn
from crampwatch.event_json import (
    EventJsonError,
    channel_columns,
    event_from_json,
    event_to_json,
)
from crampwatch.live.upload import event_body
from crampwatch.replay import event_line
from sensor.records import ChannelInfo, EnvelopeSnippet, Event, EventKind, Muscle, Role, Side

CALF = ChannelInfo("EMG R Gastroc", Muscle.GASTROCNEMIUS, Side.RIGHT, Role.CALF)
SHIN = ChannelInfo("EMG R Tib Ant", Muscle.TIBIALIS_ANTERIOR, Side.RIGHT, Role.SHIN)


def _event(**changes: object) -> Event:
    fields: dict[str, object] = dict(
        event_id="night-1-r1:7", session_id="night-1-r1", channel=CALF, start_s=100.0,
        end_s=160.5, kind=EventKind.TONIC, confidence=0.875,
        features={"rms_uv": 41.25, "coact_rel": math.nan}, detector_version="d-3",
        model_version="rules-2", final=True,
        envelope=EnvelopeSnippet(90.0, 0.25, (CALF, SHIN),
                                 ((3.04, 40.16, 55.0), (2.0, 2.55, 3.0))),
        known_at_s=161.0, first_cramp_call_s=102.5,
    )
    fields.update(changes)
    return Event(**fields)  # type: ignore[arg-type]


def test_event_round_trips_through_json_and_the_api_schema() -> None:
    event = _event()
    body = event_to_json(event)
    text = json.dumps(body, allow_nan=False)  # NaN became null: strict JSON
    parsed = EventIn.model_validate_json(text)
    again = json.loads(parsed.model_dump_json())
    assert again == json.loads(text)
    back = event_from_json(again)
    assert back.known_at_s == 161.0 and back.first_cramp_call_s == 102.5
    assert back.channel == CALF and back.session_id == "night-1-r1" and back.final
    assert back.features["rms_uv"] == 41.25 and math.isnan(back.features["coact_rel"])
    assert back.envelope is not None and back.envelope.channels == (CALF, SHIN)
    assert back.envelope.values_uv == ((3.0, 40.2, 55.0), (2.0, 2.5, 3.0))  # 0.1 uV


def test_envelope_json_has_the_shape_the_pages_read() -> None:
    envelope = event_to_json(_event())["envelope"]
    assert set(envelope) == {"start_s", "step_s", "channels"}
    assert envelope["channels"][1] == {"label": "EMG R Tib Ant", "muscle": "tibialis_anterior",
                                       "side": "right", "role": "shin",
                                       "values_uv": [2.0, 2.5, 3.0]}
    assert event_to_json(_event(envelope=None, final=False, end_s=None))["envelope"] is None


def test_provisional_event_never_called_a_cramp() -> None:
    event = _event(final=False, end_s=None, envelope=None, first_cramp_call_s=None,
                   kind=EventKind.MOVEMENT)
    body = event_to_json(event)
    assert body["end_s"] is None and body["first_cramp_call_s"] is None
    EventIn.model_validate(body)
    assert event_from_json(body) == event


def test_upload_journal_and_replay_share_the_one_dict() -> None:
    event = _event()
    shared = event_to_json(event)
    assert event_line("night.edf", event) == {"file": "night.edf", **shared}
    upload = event_body(event, red_flag=True, extra={"amp_rel_calibrated": 2.5})
    assert upload["features"] == {**shared["features"], "red_flag_over_10_min": 1.0,
                                  "amp_rel_calibrated": 2.5}
    assert {k: v for k, v in upload.items() if k != "features"} == {
        k: v for k, v in shared.items() if k != "features"}
    EventIn.model_validate(upload)


def test_old_journal_with_call_times_among_the_features_is_read() -> None:
    old = {"event_id": "n-r1:3", "session_id": "n-r1",
           "channel": {"label": "EMG R Gastroc", "muscle": "gastrocnemius", "side": "right",
                       "role": "calf"},
           "start_s": 5.0, "end_s": None, "kind": "clonic", "confidence": 0.7,
           "features": {"rms_uv": 9.0, "known_at_s": 7.5, "first_cramp_call_s": None},
           "detector_version": "d", "model_version": "m", "final": False}
    event = event_from_json(old)
    assert event.known_at_s == 7.5 and event.first_cramp_call_s is None
    assert event.features == {"rms_uv": 9.0}


def test_old_replay_line_with_a_flat_channel_is_read() -> None:
    old = {"file": "a.edf", "start_s": 1.0, "end_s": 4.0, "kind": "tonic",
           "channel": "EMG L Gastroc", "confidence": 0.9, "final": True, "event_id": "a:1",
           "muscle": "gastrocnemius", "side": "left", "known_at_s": 4.5,
           "first_cramp_call_s": 2.0, "detector_version": "d", "model_version": "m",
           "features": {"rms_uv": None}}
    event = event_from_json(old)
    assert event.channel == ChannelInfo("EMG L Gastroc", Muscle.GASTROCNEMIUS, Side.LEFT)
    assert event.session_id == "a" and event.first_cramp_call_s == 2.0
    assert channel_columns(old) == channel_columns(event_line("a.edf", event))


def test_not_an_event_is_a_clear_error() -> None:
    with pytest.raises(EventJsonError, match="'kind'"):
        event_from_json({"event_id": "x", "start_s": 0.0, "confidence": 1.0, "final": True})
    with pytest.raises(EventJsonError, match="not an event"):
        event_from_json({**event_to_json(_event()), "kind": "sneeze"})
