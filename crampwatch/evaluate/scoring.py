"""Scores detected events against ground truth, per file, over a set of nights, and per group.

Matching rule
-------------
Only cramps are scored for detection; look-alikes enter the confusion matrix. Found
cramps, fragments, false calls, precision, F1, kinds and onset are counted as the
project's outside scorer counts them; false wake-ups and latency add the prompt policy.

- A detected event *overlaps* a truth event when their intervals, each widened by
  ``tolerance_s`` on both sides (default 0: any overlap), share more than an instant.
  Provisional events (``final`` False) never count as calls.
- **Cramp call**: a final event whose kind is tonic or clonic.
- **Found cramp**: a truth cramp overlapped by at least one cramp call. Among those,
  the call that overlaps it most is its *match*: tonic/clonic accuracy compares the
  match's kind with the truth, and **onset error** is the match's start minus the
  truth start. Recall = found / truth cramps.
- **Fragments**: the other cramp calls on a found cramp (a cramp cut into three calls
  gives two). They are wrong calls: one call per true cramp is right.
- **False call**: a cramp call that overlaps no truth cramp.
  Precision = (cramp calls - false calls - fragments) / cramp calls.
- **False wake-up**: a prompt the live prompt policy would have started (see
  :mod:`crampwatch.evaluate.wakeups`: its confidence and minimum-age rule and its rate
  limits, fed the provisional calls in the order they were made) at a moment when no
  truth cramp runs (its interval widened by the tolerance). An episode that overlaps a
  cramp but prompted before it began (a noise-floor step called a cramp minutes
  earlier) or after it ended woke the sleeper for nothing. Reported per 8 hours.
- **Wake-up latency** of a truth cramp: the earliest prompt-worthy time (the moment the
  policy's rule would prompt) of an episode overlapping it, taken while the cramp runs,
  minus the truth start. A cramp is *woken* when a prompt was running at that moment;
  cramps with no such moment are counted as not alerted.
- **Confusion matrix**: each truth event (any kind) against the kind of the final
  event that overlaps it most ("none" when none does); final events that overlap no
  truth event at all are counted in the "none" truth row.

Groups (``--by KEY``): each truth cramp takes the value of KEY from its own attributes,
else from its night's (``variation`` and top-level truth fields), else "n/a"; a night
without cramps takes its night value. A group's figures count its cramps (recall,
kinds, fragments, onset, latency) and, in every night holding one of them, the false
calls, false wake-ups and hours. For a night-level key (``emg_fs_hz``) that is simply
the nights of that value; for a cramp-level key (``response``) a night with cramps of
two values lends its false alarms and hours to both.
"""


from __future__ import annotations

from crampwatch.evaluate.events import DetectedEvent
from crampwatch.evaluate.file_scores import (
    DEFAULT_TOLERANCE_S,
    CrampOutcome,
    FileScore,
    score_file,
)
from crampwatch.evaluate.file_scores import NONE as NONE
from crampwatch.evaluate.summaries import HOURS_PER_NIGHT as HOURS_PER_NIGHT
from crampwatch.evaluate.summaries import (
    MISSING,
    Summary,
    confusion_total,
    group_value,
    summarize,
    summarize_by,
)
from crampwatch.evaluate.summaries import MIXED as MIXED
from crampwatch.evaluate.summaries import WEAK_CRAMP_REL as WEAK_CRAMP_REL
from crampwatch.evaluate.wakeups import FINAL_ONLY, PROVISIONAL, REPORTED

__all__ = [
    "DEFAULT_TOLERANCE_S", "FINAL_ONLY", "MISSING", "PROVISIONAL", "REPORTED", "CrampOutcome",
    "DetectedEvent", "FileScore", "Summary", "confusion_total", "group_value",
    "score_file", "summarize", "summarize_by",
]
