"""Scoring of detected events against ground truth, and the evaluation report."""

from crampwatch.evaluate.scoring import (
    DetectedEvent,
    FileScore,
    Summary,
    score_file,
    summarize,
)

__all__ = ["DetectedEvent", "FileScore", "Summary", "score_file", "summarize"]
