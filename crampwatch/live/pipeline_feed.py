"""The pipeline side of a live session, on the worker thread: batches in, events out.

A batch of queued blocks is merged into contiguous runs (the Detector gives the same
result for any block sizes) and fed to the session's pipeline. A :data:`NEW_STREAM`
marker (the band restarted with another rate or labels) closes the pipeline; the next
block gets a fresh one. A block the pipeline refuses never ends a live night: see
:meth:`PipelineFeed.process_block`; a replay asks for ``retry_refused=False`` and the
recording fails with the pipeline's error instead.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from crampwatch.live.session_report import SessionReport
from crampwatch.pipeline import Pipeline
from sensor.records import Event, SampleBlock, SignalGap, SignalGroup

Output = Event | SignalGap


class NewStream:
    """Queue marker: the stream's layout changed; later blocks go to a fresh pipeline."""


NEW_STREAM = NewStream()


class PipelineFeed:
    """Owns the session's current pipeline; call from one thread at a time."""

    def __init__(self, make_pipeline: Callable[[str], Pipeline], session_id: str,
                 report: SessionReport, retry_refused: bool = True) -> None:
        self.make_pipeline = make_pipeline
        self.session_id = session_id
        self.report = report
        self.retry_refused = retry_refused
        self.pipeline: Pipeline | None = None
        self._made = 0  # pipelines made this run: each stream layout gets one
        self.refusals: list[dict[str, Any]] = []  # for the loop to journal

    def start(self) -> None:
        """Make the first pipeline now (loading a model must not make a backlog)."""
        self.pipeline = self._new_pipeline()

    def _new_pipeline(self) -> Pipeline:
        """Return a fresh pipeline; each after the run's first gets its own id suffix."""
        self._made += 1
        sid = self.session_id
        # Episode numbers restart in a fresh Detector: the suffix keeps event ids unique.
        return self.make_pipeline(sid if self._made == 1 else f"{sid}.{self._made}")

    def take_refusals(self) -> list[dict[str, Any]]:
        refusals, self.refusals = self.refusals, []
        return refusals

    def finish(self) -> list[Output]:
        """Return what closes when the current pipeline ends (it is dropped either way)."""
        pipeline, self.pipeline = self.pipeline, None
        if pipeline is None:
            return []
        try:
            return pipeline.finish()
        except (ValueError, RuntimeError) as exc:
            self.refusals.append({"what": "finish", "reason": str(exc)})
            return []

    def process(self, batch: list[SampleBlock | NewStream]) -> list[Output]:
        out: list[Output] = []
        segment: list[SampleBlock] = []
        for item in batch:
            if isinstance(item, SampleBlock):
                segment.append(item)
                continue
            out += self._process_blocks(segment)
            segment = []
            out += self.finish()  # a new layout: the next block makes a fresh one
        return out + self._process_blocks(segment)

    def _process_blocks(self, blocks: list[SampleBlock]) -> list[Output]:
        out: list[Output] = []
        for merged in merge_contiguous(blocks):
            try:
                out += self._feed(merged)
            except ValueError as exc:
                if not self.retry_refused:
                    raise
                out += self._refused(merged, exc)
                # Find the culprit: the blocks that made up this run, one by one.
                for block in blocks:
                    if block.group is merged.group and merged.t0_s <= block.t0_s < merged.t_end_s:
                        out += self.process_block(block)
        return out

    def process_block(self, block: SampleBlock) -> list[Output]:
        """Return the pipeline's outputs for ``block``; a refusal never ends the night.

        A block the pipeline refuses (the Detector's TimelineError and other ValueErrors)
        closes that pipeline (its open episodes end there) and is tried once on a fresh
        one; refused again, it is dropped and its samples counted.
        """
        out: list[Output] = []
        for _ in range(2):
            try:
                return out + self._feed(block)
            except ValueError as exc:
                out += self._refused(block, exc)
        self.refusals[-1]["dropped"] = True  # counted on the loop, with the NaN refusals
        return out

    def _feed(self, block: SampleBlock) -> list[Output]:
        if self.pipeline is None:
            self.pipeline = self._new_pipeline()
        out = self.pipeline.process(block)
        self.report.samples[block.group] = (
            self.report.samples.get(block.group, 0) + block.n_samples)
        return out

    def _refused(self, block: SampleBlock, exc: ValueError) -> list[Output]:
        """Note a refusal; return what the refusing pipeline closes as it is dropped."""
        self.refusals.append({
            "what": "block", "group": block.group.value, "t0_s": block.t0_s,
            "samples": block.n_samples, "reason": str(exc),
        })
        return self.finish()


def merge_contiguous(blocks: list[SampleBlock]) -> list[SampleBlock]:
    """Return ``blocks`` with runs of contiguous blocks of one group joined, in time order.

    The Detector gives the same result for any block sizes (chunk invariance), so a
    backlog is processed as a few large blocks instead of many small ones.
    """
    runs: list[list[SampleBlock]] = []
    open_run: dict[SignalGroup, list[SampleBlock]] = {}
    for b in blocks:
        run = open_run.get(b.group)
        if (
            run is not None
            and not b.gap_before
            and b.fs_hz == run[-1].fs_hz
            and b.labels == run[-1].labels
            and abs(b.t0_s - run[-1].t_end_s) <= 0.5 / b.fs_hz
        ):
            run.append(b)
            continue
        run = [b]
        open_run[b.group] = run
        runs.append(run)
    merged = []
    for run in runs:
        if len(run) == 1:
            merged.append(run[0])
            continue
        first = run[0]
        merged.append(dataclasses.replace(
            first, samples=np.concatenate([b.samples for b in run])))
    merged.sort(key=lambda b: b.t0_s)
    return merged
