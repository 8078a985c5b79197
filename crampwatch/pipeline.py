"""The one pipeline live sessions and replay share: blocks -> Detector -> classifier -> Events.

:class:`Pipeline` feeds each block to a :class:`sensor.Detector`, classifies every
episode update with an :class:`models.classifier.EpisodeClassifier` (held by
:class:`models.tracking.EpisodeCalls`: once a cramp, a cramp to its end) and returns
:class:`sensor.records.Event` records:

- an episode's OPENED and UPDATED phases give provisional events (``final=False``,
  ``end_s=None``); its CLOSED phase gives the final event (``final=True``);
- all events of one episode share one id, ``"<session_id>:<episode_id>"``: stable and
  deterministic for the same session and input, whatever the block sizes;
- ``features`` holds the Detector's features; ``known_at_s`` is the stream time the
  call was made and ``first_cramp_call_s`` the stream time the episode was first
  called a cramp, provisional or final (None if never). A live session wakes the
  sleeper on the first cramp call, so evaluation counts wake-ups and alert latency
  from it; a final event carries the Detector's envelope snippet where it kept one.

Signal gaps the Detector reports are passed through unchanged. No clocks or asyncio
here: the caller owns the source and the sinks. :func:`load_classifier` (by name or
model file) and :func:`build_pipeline` / :func:`pipeline_factory` are how replay, the
live session and training make theirs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from crampwatch.errors import UserError
from crampwatch.event_json import FIRST_CRAMP_CALL, KNOWN_AT
from models.classifier import EpisodeClassifier
from models.tracking import EpisodeCalls
from sensor.records import (
    EpisodePhase,
    EpisodeUpdate,
    Event,
    SampleBlock,
    SignalGap,
)

if TYPE_CHECKING:
    from sensor.detector import Detector, DetectorConfig

__all__ = ["FIRST_CRAMP_CALL", "KNOWN_AT", "DetectorLike", "Pipeline", "PipelineFactory",
           "PipelineStats", "build_pipeline", "load_classifier", "new_detector",
           "pipeline_factory"]


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
            self._first_cramp_call.pop(update.episode_id, None)
            if final
            else self._first_cramp_call.get(update.episode_id)
        )
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
            features=dict(update.features),
            detector_version=self.detector_version,
            model_version=self.model_version,
            final=final,
            envelope=update.envelope if final else None,
            known_at_s=float(update.known_at_s),
            first_cramp_call_s=None if first_call is None else float(first_call),
        )


def load_classifier(spec: str | None = None) -> EpisodeClassifier:
    """Return the classifier named by ``spec``: "rules", "model" (the shipped learned
    model, rules if it cannot load) or a model file path; None: ``models.DEFAULT_CLASSIFIER``."""
    import models
    from models.rules import RuleClassifier

    spec = models.DEFAULT_CLASSIFIER if spec is None else spec
    if spec == "rules":
        return RuleClassifier()
    from models.persistence import ModelFileError  # loads scikit-learn: only for a model

    try:
        if spec == "model":
            return models.load_default(fallback_to_rules=True)
        return models.load_default(spec)
    except ModelFileError as exc:
        raise UserError(f"cannot load classifier {spec!r}: {exc}") from None


def new_detector(has_acc: bool | None = None, config: DetectorConfig | None = None) -> Detector:
    """Return a fresh Detector; ``has_acc`` None lets it find out from the stream."""
    from sensor.detector import Detector, DetectorConfig

    return Detector(config or DetectorConfig(), expect_acc=has_acc)


def build_pipeline(
    classifier: EpisodeClassifier,
    session_id: str,
    has_acc: bool | None = None,
    config: DetectorConfig | None = None,
) -> Pipeline:
    """Return a fresh Pipeline (new Detector) for one session, with or without accelerometer
    (None: as the stream shows)."""
    from sensor.detector import DETECTOR_VERSION

    return Pipeline(new_detector(has_acc, config), classifier, session_id,
                    detector_version=DETECTOR_VERSION)


@dataclass(frozen=True)
class PipelineFactory:
    """Makes a fresh pipeline per session id, all sharing one classifier; the Detector
    finds out from the stream whether an accelerometer comes (the live band)."""

    classifier: EpisodeClassifier

    def __call__(self, session_id: str) -> Pipeline:
        return build_pipeline(self.classifier, session_id)

    @property
    def detector_version(self) -> str:
        from sensor.detector import DETECTOR_VERSION

        return str(DETECTOR_VERSION)

    @property
    def model_version(self) -> str:
        return str(self.classifier.version)


def pipeline_factory(classifier: str | EpisodeClassifier | None = None) -> PipelineFactory:
    """Return a :class:`PipelineFactory` for the classifier (a name as for
    :func:`load_classifier`, a classifier, or None for the default)."""
    if classifier is None or isinstance(classifier, str):
        return PipelineFactory(load_classifier(classifier))
    return PipelineFactory(classifier)
