"""Ground truth and detected events loaded from files, paired by recording name.

Truth comes from one of three plain formats:

- **JSON** ``{"events": [{"kind": "tonic", "start_s": 312.4, "end_s": 401.0}, ...]}``;
  optional top-level ``recording`` (or ``file``) names the recording, ``duration_s`` (or
  ``minutes``) its length, ``variation`` the night's attributes. The generator's
  ``*.truth.json`` (see :mod:`crampwatch.synth.truth`) is such a file with more fields;
  every extra field of an event (``texture``, ``response``, ``strength_uv``...) is kept
  as an attribute for grouping.
- **BIDS-style** ``*events.tsv``: tab-separated, columns ``onset`` and ``duration``
  (seconds; "n/a" is 0) and ``trial_type``; other columns are kept as attributes.
  ``sub-01_task-sleep_events.tsv`` pairs with ``sub-01_task-sleep_*.edf`` beside it.
- **EDF+ annotations**: ``truth: <kind> (...)`` as the generator writes them, or
  sleep-lab wording ("tonic cramp", "clonic cramp", "cramp", "PLM", "movement"...).

A kind is an event kind (``tonic``, ``plm``...) or wording as above ("clonic cramp",
"cramp" = tonic). Events come from ``crampwatch replay`` JSON lines. What looks wrong
but can still be scored (a truth file without events, events of no known recording,
an unknown length) is returned as warnings for the user, never dropped silently.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from crampwatch.evaluate.event_lines import load_events
from crampwatch.evaluate.events import DetectedEvent
from crampwatch.evaluate.truth_files import (
    EDF_SUFFIXES,
    TSV_SUFFIXES,
    EvaluationInputError,
    TruthFile,
    kind_of_label,
    recording_key,
)
from crampwatch.evaluate.truth_readers import (
    load_truth,
    truth_from_edf,
    truth_from_json,
    truth_from_tsv,
)
from crampwatch.evaluate.wakeups import FINAL_ONLY

__all__ = [
    "EDF_SUFFIXES", "TSV_SUFFIXES", "EvaluationInputError", "TruthFile", "kind_of_label",
    "load_events", "load_truth", "pair_events", "pairing_warnings", "recording_key",
    "truth_from_edf", "truth_from_json", "truth_from_tsv",
]


def pair_events(truth: Sequence[TruthFile], events: Mapping[str, list[DetectedEvent]]
                ) -> tuple[dict[str, list[DetectedEvent]], list[str]]:
    """Return events by truth name, and the recording names that match no truth.

    A recording pairs with the truth of the same name, else with a truth whose name
    is its BIDS prefix (``sub-01_task-sleep_eeg`` -> ``sub-01_task-sleep``).
    """
    names = {t.name for t in truth}
    paired: dict[str, list[DetectedEvent]] = {n: [] for n in names}
    unmatched: list[str] = []
    for key, items in events.items():
        if key in names:
            paired[key].extend(items)
            continue
        prefixes = [n for n in names if key.startswith(n + "_")]
        if prefixes:
            paired[max(prefixes, key=len)].extend(items)
        else:
            unmatched.append(key)
    return paired, sorted(unmatched)


def pairing_warnings(truth: Sequence[TruthFile], paired: Mapping[str, Sequence[DetectedEvent]],
                     unmatched: Sequence[str], basis: Mapping[str, str]) -> list[str]:
    """Return what the user must hear before trusting the figures (empty when all is well)."""
    out = [w for t in truth for w in t.warnings]
    if unmatched:
        out.append(f"events for recordings without truth ignored: {list(unmatched)}")
    empty = [t.name for t in truth if not paired.get(t.name)]
    if truth and len(empty) == len(truth):
        out.append("no detected event matches any truth recording: every cramp counts as "
                   "missed; check that the events' 'file' names the same recordings as "
                   f"the truth ({sorted(t.name for t in truth)[:5]})")
    elif empty:
        out.append(f"no detected events at all for {empty}: scored as nothing detected")
    for t in truth:
        late = [e for e in t.events if t.duration_s > 0 and e.start_s >= t.duration_s]
        if late:
            out.append(f"{t.name}: {len(late)} truth events start after the recording's end "
                       f"({t.duration_s:.0f} s); wrong file or units?")
    final_only = sorted(name for name, b in basis.items()
                        if b == FINAL_ONLY and paired.get(name))
    if final_only:
        out.append(
            f"only final events given for {len(final_only)} recording(s) "
            f"({final_only[:3]}{'...' if len(final_only) > 3 else ''}): the live prompt "
            "policy acts on provisional calls, so false wake-ups and wake-up latency are "
            "estimated (each episode taken as a cramp call from its first_cramp_call_s, or "
            "its start, until its end; erring towards waking); give the JSON lines of "
            "`crampwatch replay` (each final event's prompt is the policy's own decision), "
            "with --provisional for the calls it acted on, or evaluate --replay")
    return out
