"""One evaluation: truth files and detected events in, per-file scores, figures and warnings out.

The Python face of ``crampwatch evaluate``::

    from crampwatch.evaluate import evaluate, load_events, load_truth
    result = evaluate(load_truth(["nights/"]), load_events("events.jsonl"))
    result.summary.f1, result.warnings
    result.by("emg_fs_hz")["500"].recall      # one group; a leave-one-family-out row
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from crampwatch.evaluate.events import DetectedEvent
from crampwatch.evaluate.inputs import TruthFile, pair_events, pairing_warnings
from crampwatch.evaluate.scoring import (
    DEFAULT_TOLERANCE_S,
    FileScore,
    Summary,
    score_file,
    summarize,
    summarize_by,
)
from crampwatch.prompt.policy import PromptParams


@dataclass
class Evaluation:
    """Scores of every truth recording, their summary, and what the user must be told."""

    scores: list[FileScore]
    summary: Summary
    warnings: list[str] = field(default_factory=list)
    events: dict[str, list[DetectedEvent]] = field(default_factory=dict)  # by truth name

    def by(self, key: str) -> dict[str, Summary]:
        """Return one Summary per value of ``key`` (see crampwatch.evaluate.scoring)."""
        return summarize_by(self.scores, key)


def evaluate(
    truth: Sequence[TruthFile],
    events: Mapping[str, list[DetectedEvent]],
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    prompt: PromptParams | None = None,
    use_reported: bool = True,
) -> Evaluation:
    """Return the scores of ``events`` (by recording name, as load_events gives) against truth.

    Events that carry replay's prompts are scored on them unless ``use_reported`` is False.
    """
    paired, unmatched = pair_events(truth, events)
    scores = [
        score_file(t.name, t.duration_s, t.events, paired.get(t.name, []), tolerance_s,
                   prompt, t.attributes, t.night, use_reported)
        for t in truth
    ]
    basis = {s.file: s.basis for s in scores}
    warnings = pairing_warnings(truth, paired, unmatched, basis)
    return Evaluation(scores, summarize(scores), warnings, paired)
