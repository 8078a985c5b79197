"""The one pipeline live sessions and replay share: blocks -> Detector -> classifier -> Events.

:class:`Pipeline` feeds each block to a :class:`sensor.Detector`, classifies every
episode update with an :class:`models.classifier.EpisodeClassifier` (held by
:class:`models.tracking.EpisodeCalls`: once a cramp, a cramp to its end) and returns
:class:`sensor.records.Event` records:

- an episode's OPENED and UPDATED phases give provisional events (``final=False``,
  ``end_s=None``); its CLOSED phase gives the final event (``final=True``);
- all events of one episode share one id, ``"<session_id>:<episode_id>"``: stable and
  deterministic for the same session and input, whatever the block sizes;
- ``features`` holds the Detector's features plus two the pipeline adds:
  ``known_at_s`` (stream time the call was made) and ``first_cramp_call_s`` (stream
  time the episode was first called a cramp, provisional or final; NaN if never). A
  live session wakes the sleeper on the first cramp call, so evaluation counts
  wake-ups and alert latency from it.

Signal gaps the Detector reports are passed through unchanged. No I/O, clocks or
asyncio here: the caller owns the source and the sinks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from models.classifier import EpisodeClassifier
from models.tracking import EpisodeCalls
from sensor.records import (
    EpisodePhase,
    EpisodeUpdate,
    Event,
    SampleBlock,
    SignalGap,
)

# Feature names the pipeline adds to the Detector's (seconds on the session clock).
KNOWN_AT = "known_at_s"
FIRST_CRAMP_CALL = "first_cramp_call_s"


class DetectorLike(Protocol):
    """What the pipeline needs of a Detector (``sensor.Detector`` provides it)."""

    def process(self, block: SampleBlock) -> list[EpisodeUpdate | SignalGap]: ...

    def finish(self) -> list[EpisodeUpdate | SignalGap]: ...


@dataclass
class PipelineStats:
    """Counts a caller may log at the end of a session."""

    blocks: int = 0
    provisional_events: int = 0
    final_events: int = 0
    gaps: int = 0


class Pipeline:
    """Detector + classifier for one session; feed blocks in time order, then call finish()."""

    def __init__(
        self,
        detector: DetectorLike,
        classifier: EpisodeClassifier,
        session_id: str,
        detector_version: str | None = None,
    ) -> None:
        if not session_id:
            raise ValueError("session_id must be a non-empty string (it prefixes event ids)")
        self.detector = detector
        self.classifier = classifier
        self._calls = EpisodeCalls(classifier)
        self.session_id = session_id
        self.detector_version = detector_version or str(getattr(detector, "version", "unknown"))
        self.model_version = str(classifier.version)
        self.stats = PipelineStats()
        self._first_cramp_call: dict[int, float] = {}
        self._finished = False

    def process(self, block: SampleBlock) -> list[Event | SignalGap]:
        """Return the events (and signal gaps) that became known with this block, in order."""
        if self._finished:
            raise RuntimeError("this pipeline has finished; start a new one for a new session")
        self.stats.blocks += 1
        return self._convert(self.detector.process(block))

    def finish(self) -> list[Event | SignalGap]:
        """Return what closes at the end of the stream (episodes still open are closed)."""
        if self._finished:
            return []
        self._finished = True
        return self._convert(self.detector.finish())

    def _convert(self, outputs: list[EpisodeUpdate | SignalGap]) -> list[Event | SignalGap]:
        result: list[Event | SignalGap] = []
        for output in outputs:
            if isinstance(output, SignalGap):
                self.stats.gaps += 1
                result.append(output)
            else:
                result.append(self._event(output))
        return result

    def _event(self, update: EpisodeUpdate) -> Event:
        call = self._calls.classify(update)
        final = update.phase is EpisodePhase.CLOSED
        if call.kind.is_cramp and update.episode_id not in self._first_cramp_call:
            self._first_cramp_call[update.episode_id] = update.known_at_s
        first_call = (
            self._first_cramp_call.pop(update.episode_id, math.nan)
            if final
            else self._first_cramp_call.get(update.episode_id, math.nan)
        )
        features = dict(update.features)
        features[KNOWN_AT] = float(update.known_at_s)
        features[FIRST_CRAMP_CALL] = float(first_call)
        if final:
            self.stats.final_events += 1
        else:
            self.stats.provisional_events += 1
        return Event(
            event_id=f"{self.session_id}:{update.episode_id}",
            session_id=self.session_id,
            channel=update.channel,
            start_s=update.start_s,
            end_s=update.end_s if final else None,
            kind=call.kind,
            confidence=float(call.confidence),
            features=features,
            detector_version=self.detector_version,
            model_version=self.model_version,
            final=final,
        )
