"""The shared pipeline: episode updates become provisional then final events with stable ids."""

from __future__ import annotations

import math

import numpy as np
import pytest

from crampwatch.pipeline import FIRST_CRAMP_CALL, KNOWN_AT, Pipeline
from models.classifier import Classification
from sensor.records import (
    ChannelInfo,
    EpisodePhase,
    EpisodeUpdate,
    EventKind,
    Muscle,
    Role,
    SampleBlock,
    Side,
    SignalGap,
    SignalGroup,
)

CALF = ChannelInfo("EMG R Gastroc", Muscle.GASTROCNEMIUS, Side.RIGHT, Role.CALF)


class ScriptedDetector:
    """Test stand-in: emits the given outputs when the block starting at a time arrives."""

    def __init__(self, script: dict[float, list]) -> None:
        self.script = script

    def process(self, block: SampleBlock) -> list:
        return list(self.script.get(block.t0_s, []))

    def finish(self) -> list:
        return list(self.script.get(math.inf, []))


class DurationClassifier:
    """Test-only classifier: sustained activity over 10 s is a tonic cramp, else movement."""

    version = "test-1"

    def classify(self, update: EpisodeUpdate) -> Classification:
        end = update.end_s if update.end_s is not None else update.known_at_s
        if end - update.start_s > 10.0:
            return Classification(EventKind.TONIC, 0.9)
        return Classification(EventKind.MOVEMENT, 0.6)


def _update(phase: EpisodePhase, episode: int, start: float, known: float,
            end: float | None = None) -> EpisodeUpdate:
    return EpisodeUpdate(phase, episode, CALF, start, end, known, features={"rms_uv": 40.0})


def _block(t0: float) -> SampleBlock:
    return SampleBlock(SignalGroup.EMG, 2000.0, t0, np.zeros((2000, 1)), ("EMG R Gastroc",))


def test_updates_become_provisional_then_final_events_with_one_stable_id():
    script = {
        1.0: [_update(EpisodePhase.OPENED, 7, 0.5, 1.0)],
        12.0: [_update(EpisodePhase.UPDATED, 7, 0.5, 12.0)],
        20.0: [_update(EpisodePhase.CLOSED, 7, 0.5, 20.0, end=18.0),
               SignalGap(SignalGroup.EMG, 19.5, 20.0, 1000)],
    }
    pipeline = Pipeline(ScriptedDetector(script), DurationClassifier(), "night-1",
                        detector_version="d-1")
    outputs = [o for t in (0.0, 1.0, 12.0, 20.0) for o in pipeline.process(_block(t))]
    outputs += pipeline.finish()
    events = [o for o in outputs if not isinstance(o, SignalGap)]
    assert [e.final for e in events] == [False, False, True]
    assert {e.event_id for e in events} == {"night-1:7"}
    assert [e.kind for e in events] == [EventKind.MOVEMENT, EventKind.TONIC, EventKind.TONIC]
    assert events[0].end_s is None and events[1].end_s is None and events[2].end_s == 18.0
    assert events[2].detector_version == "d-1" and events[2].model_version == "test-1"
    # The sleeper is woken at the first cramp call (12 s), remembered in the final event.
    assert events[0].first_cramp_call_s is None
    assert events[1].first_cramp_call_s == 12.0
    assert events[2].first_cramp_call_s == 12.0
    assert events[2].known_at_s == 20.0 and events[2].features["rms_uv"] == 40.0
    assert not {KNOWN_AT, FIRST_CRAMP_CALL} & set(events[2].features)
    assert sum(isinstance(o, SignalGap) for o in outputs) == 1
    assert pipeline.stats.final_events == 1 and pipeline.stats.provisional_events == 2


def test_episode_never_called_cramp_has_no_first_call_and_finish_closes():
    script = {math.inf: [_update(EpisodePhase.CLOSED, 3, 5.0, 9.0, end=7.0)]}
    pipeline = Pipeline(ScriptedDetector(script), DurationClassifier(), "s")
    assert pipeline.process(_block(0.0)) == []
    (event,) = pipeline.finish()
    assert event.final and event.kind is EventKind.MOVEMENT
    assert event.first_cramp_call_s is None and event.known_at_s == 9.0
    assert pipeline.finish() == []
    with pytest.raises(RuntimeError, match="finished"):
        pipeline.process(_block(1.0))


def test_session_id_is_required():
    with pytest.raises(ValueError, match="session_id"):
        Pipeline(ScriptedDetector({}), DurationClassifier(), "")
