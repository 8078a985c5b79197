"""Where a replayed night goes: its JSON lines and prompts, signal quality, an EDF+ copy.

Each is a :class:`~crampwatch.night_session.NightSink` of the one night session
(:mod:`crampwatch.night_session`); :func:`crampwatch.replay.replay_file` picks the ones a
replay asks for. None of them journals, uploads or prints a status line: those are the
live session's sinks.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from crampwatch import events_tsv
from crampwatch.event_json import event_to_json
from crampwatch.night_session import NightSink
from crampwatch.prompt.night_clock import event_prompts, no_prompt
from crampwatch.prompt.policy import PromptDecision
from crampwatch.recording_paths import PendingFile
from crampwatch.recordings.edf_reader import RecordingError
from crampwatch.recordings.edf_writer import EdfPlusWriter, SignalSpec
from sensor.quality import SignalQuality
from sensor.records import Event, SampleBlock, SignalGap

if TYPE_CHECKING:
    from crampwatch.recordings.capture_source import CaptureRecording
    from crampwatch.recordings.edf_reader import EdfRecording

# Logged as replay itself: what a replay says on stderr does not depend on where it is written.
log = logging.getLogger("crampwatch.replay")

QUALITY_ANNOTATION = "signal quality: "


def event_line(file: str, event: Event) -> dict[str, Any]:
    """Return the JSON object replay writes for one event: the recording, then the
    event's shared JSON (:func:`crampwatch.event_json.event_to_json`)."""
    return {"file": file, **event_to_json(event)}


def sidecar_of(edf_out: Path) -> Path:
    """Return the events.tsv written beside an ``--edf-out`` file (``x.events.edf`` -> ``.tsv``)."""
    return edf_out.with_suffix(".tsv")


class EventLines(NightSink):
    """The night's JSON lines (finals, and provisionals when asked), its gaps and prompts.

    At the end each final line gets a ``prompt`` object: what the prompt policy, on the
    night's clock, did about that episode (:func:`~crampwatch.prompt.night_clock.event_prompts`).
    """

    def __init__(self, file: str, include_provisional: bool) -> None:
        self.file = file
        self.include_provisional = include_provisional
        self.lines: list[dict[str, Any]] = []
        self.decisions: list[PromptDecision] = []
        self.gaps = 0

    def on_event(self, event: Event) -> None:
        if event.final or self.include_provisional:
            self.lines.append(event_line(self.file, event))

    def on_gap(self, gap: SignalGap) -> None:
        self.gaps += 1
        log.warning("%s: signal gap (%s) %.3f-%.3f s, %d samples lost", self.file, gap.group,
                    gap.start_s, gap.end_s, gap.lost_samples)

    def on_decisions(self, decisions: list[PromptDecision]) -> None:
        self.decisions += decisions

    def finish(self, stream_end_s: float) -> None:
        prompts = event_prompts(self.decisions)
        for line in self.lines:
            if line["final"]:
                line["prompt"] = prompts.get(line["event_id"]) or no_prompt()


class QualityCheck(NightSink):
    """Judges the recording's channels (dead, flat, clipped, missing; a stuck accelerometer)."""

    def __init__(self, emg_labels: Sequence[str], expect_acc: bool) -> None:
        self.quality = SignalQuality(tuple(emg_labels), expect_acc=expect_acc)

    def on_block(self, block: SampleBlock) -> None:
        self.quality.add(block)


class FirstLayoutOnly(NightSink):
    """Passes to ``sinks`` only the blocks in their group's first layout (rate, labels);
    everything else unchanged. A capture whose band restarted with other settings is
    judged, and copied to EDF+, in the layout it began with."""

    def __init__(self, sinks: Sequence[NightSink]) -> None:
        self.sinks = list(sinks)
        self._first: dict[str, tuple[float, tuple[str, ...]]] = {}

    def on_block(self, block: SampleBlock) -> None:
        layout = (block.fs_hz, tuple(block.labels))
        if self._first.setdefault(block.group, layout) == layout:
            for sink in self.sinks:
                sink.on_block(block)

    def on_event(self, event: Event) -> None:
        for sink in self.sinks:
            sink.on_event(event)

    def on_gap(self, gap: SignalGap) -> None:
        for sink in self.sinks:
            sink.on_gap(gap)

    def on_decisions(self, decisions: list[PromptDecision]) -> None:
        for sink in self.sinks:
            sink.on_decisions(decisions)

    def finish(self, stream_end_s: float) -> None:
        for sink in self.sinks:
            sink.finish(stream_end_s)


def _record_s(rates: Sequence[float]) -> float:
    """Return the shortest data-record length (s, <= 60) every rate fills exactly."""
    for seconds in range(1, 61):
        if all(abs(r * seconds - round(r * seconds)) < 1e-6 for r in rates):
            return float(seconds)
    raise RecordingError(f"no EDF data record length up to 60 s fits sample rates {rates}")


def _annotation(event: Event) -> str:
    # The kind alone, so that viewers and MNE (events_from_annotations) give one event
    # type per kind; confidence and ids go to the events.tsv beside the EDF+.
    return str(event.kind)


class EdfPlusCopy(NightSink):
    """``<name>.events.edf``: the signal, its annotations, and each final event as an
    annotation (its kind), with ``<name>.events.tsv`` beside it. Both are written under a
    temporary name and moved into place only when the night ended well."""

    def __init__(self, stack: ExitStack, rec: EdfRecording | CaptureRecording, out_dir: Path,
                 file: str, quality: SignalQuality) -> None:
        self.file = file
        self.quality = quality
        self.pending = stack.enter_context(PendingFile(out_dir / f"{Path(file).stem}.events.edf"))
        self.sidecar = stack.enter_context(PendingFile(sidecar_of(self.pending.path)))
        specs = [SignalSpec(h.label, "uV", h.fs_hz, h.physical_min, h.physical_max)
                 for h in rec.emg]
        specs += [SignalSpec(h.label, "g", h.fs_hz, h.physical_min, h.physical_max)
                  for h in rec.acc]
        self.writer = EdfPlusWriter(self.pending.temp_path, specs, start=rec.start_datetime,
                                    record_s=_record_s([s.fs_hz for s in specs]))
        stack.callback(self.writer.close)
        for ann in rec.annotations():
            self.writer.annotate(ann.onset_s, ann.duration_s, ann.text)
        self.finals: list[dict[str, Any]] = []

    @property
    def path(self) -> Path:
        return self.pending.path

    def on_block(self, block: SampleBlock) -> None:
        _write_with_gap(self.writer, block)

    def on_event(self, event: Event) -> None:
        if event.final and event.end_s is not None:
            self.writer.annotate(event.start_s, event.end_s - event.start_s, _annotation(event))
        if event.final:
            self.finals.append(event_line(self.file, event))

    def finish(self, stream_end_s: float) -> None:
        # EDF+ notes hold 40 characters: the short form (the sentences go to stderr, the
        # ReplayResult and the --events sidecar).
        for short in self.quality.short_warnings():
            self.writer.annotate(0.0, 0.0, QUALITY_ANNOTATION + short)
        self.writer.close()
        with self.sidecar.temp_path.open("w") as out:
            out.write(events_tsv.header())
            finals = sorted(self.finals, key=lambda line: line["start_s"])
            out.writelines(events_tsv.row(line) for line in finals)
        self.pending.commit()
        self.sidecar.commit()


def _write_with_gap(writer: EdfPlusWriter, block: SampleBlock) -> None:
    """Write a block to a continuous EDF+, zeros standing in for samples the band lost."""
    if block.lost_samples:
        zeros = np.zeros((block.lost_samples, block.n_channels), dtype=np.float32)
        writer.write_block(SampleBlock(block.group, block.fs_hz,
                                       block.t0_s - block.lost_samples / block.fs_hz,
                                       zeros, block.labels))
        writer.annotate(block.t0_s - block.lost_samples / block.fs_hz,
                        block.lost_samples / block.fs_hz, f"signal lost ({block.group})")
    elif block.gap_before:
        log.warning("%s samples lost before %.3f s in an unknown number: the EDF+ copy is "
                    "shifted in time from here", block.group, block.t0_s)
    writer.write_block(block)
