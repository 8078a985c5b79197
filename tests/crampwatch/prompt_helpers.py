"""Event builders shared by the prompt and live tests."""

from __future__ import annotations

from sensor.records import ChannelInfo, Event, EventKind, Muscle, Role, Side

CALF = ChannelInfo("EMG R Gastroc", Muscle.GASTROCNEMIUS, Side.RIGHT, Role.CALF)
SHIN = ChannelInfo("EMG R Tib Ant", Muscle.TIBIALIS_ANTERIOR, Side.RIGHT, Role.SHIN)


def event(
    event_id: str = "ev-1",
    start_s: float = 100.0,
    end_s: float | None = None,
    kind: EventKind = EventKind.TONIC,
    confidence: float = 0.9,
    channel: ChannelInfo = CALF,
) -> Event:
    return Event(
        event_id=event_id,
        session_id="night-1",
        channel=channel,
        start_s=start_s,
        end_s=end_s,
        kind=kind,
        confidence=confidence,
        features={},
        detector_version="test",
        model_version="test",
        final=end_s is not None,
    )
