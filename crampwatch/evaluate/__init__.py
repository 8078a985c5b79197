"""Scoring of detected events against ground truth, and the evaluation report."""

from crampwatch.evaluate.evaluation import Evaluation, evaluate
from crampwatch.evaluate.events import DetectedEvent
from crampwatch.evaluate.inputs import TruthFile, load_events, load_truth
from crampwatch.evaluate.scoring import (
    FileScore,
    Summary,
    score_file,
    summarize,
    summarize_by,
)
from crampwatch.frames import make_callable

__all__ = [
    "DetectedEvent", "Evaluation", "FileScore", "Summary", "TruthFile", "evaluate",
    "load_events", "load_truth", "score_file", "summarize", "summarize_by",
]

# crampwatch.evaluate(truth, events) -> DataFrame of outcomes (crampwatch.frames.evaluate).
make_callable(__name__, "evaluate")
