"""The live session: source -> Detector + classifier -> journal, stores, prompt; asyncio.

Tasks, joined by bounded queues so nothing is dropped silently and the link is never
blocked by signal processing:

- the **reader** takes link items (blocks, status, disconnects), re-times blocks onto
  the night's clock, checks signal quality and queues blocks;
- the **worker** runs the pipeline (DSP and classifier) on a worker thread, in batches,
  and handles the events that come out: journal (fsynced), outboxes, prompt policy;
- the **prompter** delivers prompt decisions to the channels, in order;
- the **ticker** lets time escalate prompts and keeps the status line;
- one **sender** per outbox uploads to the local store / a clinic API.

On stop (Ctrl-C) or at the end of the source everything is flushed: queued blocks
processed, open episodes closed, prompts stopped, outboxes given a last try.

Only the source ends a night. What a band sends mid-stream is an event of the night,
counted in the report and written to the journal, never a reason to stop: a new
stream layout (a band that rebooted into another rate or other channel labels) closes
the current pipeline and starts a fresh one, with a gap between; a block the
pipeline refuses is reported and, after one retry on a fresh pipeline, dropped and
counted; corrupt packets arrive from the bridge already quarantined.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from crampwatch.errors import UserError
from crampwatch.live.calibration import Calibration
from crampwatch.live.clock import SessionClock
from crampwatch.live.night import ENDED_BY_RESTART, NightJournal, NightState
from crampwatch.live.quality import ElectrodeQuality, QualityMonitor
from crampwatch.live.sources import LiveSource
from crampwatch.live.status import SessionStatus
from crampwatch.live.upload import PromptRecordBuilder, event_body
from crampwatch.outbox import Outbox, Sender
from crampwatch.pipeline import Pipeline, PipelineFactory
from crampwatch.prompt.channels.bedside import BedsideHub
from crampwatch.prompt.dispatcher import PromptDispatcher
from crampwatch.prompt.night_clock import NightPrompter
from crampwatch.prompt.policy import AckResponse, PromptAction, PromptDecision, PromptPolicy
from firmware_bridge.events import (
    BandStatus,
    ClockStepped,
    DescriptorChanged,
    Disconnected,
    FramesDropped,
    Reconnected,
    SequenceIgnored,
    StreamRestarted,
)
from firmware_bridge.link import BandLinkError
from sensor.channels import assign_roles
from sensor.records import Event, SampleBlock, SignalGap, SignalGroup

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SessionParams:
    """How the session runs; wall-clock seconds unless the name says session time."""

    # ~3 min of the reference stream at real-time pace (2 groups x ~50 blocks/s, a few
    # MB): a slow moment of the DSP thread never pushes back on the link, and a backlog
    # is then processed in large merged blocks.
    queue_blocks: int = 20_000
    consume_batch: int = 64  # link items taken in a row before other tasks get a turn
    tick_s: float = 0.1  # how often time alone may escalate a prompt
    status_s: float = 1.0  # status line refresh
    progress_s: float = 1.0  # how often the journal records how far the night got
    reconnect_first_s: float = 0.5
    reconnect_max_s: float = 10.0
    give_up_after_s: float = 600.0  # no band for this long (session time): end the night
    final_upload_s: float = 5.0  # last try of the outboxes at shutdown
    keep_open_every_s: float = 5.0  # session s between kept versions of an open episode


@dataclass
class SessionReport:
    """What the session did, for the summary and the tests."""

    night_id: str
    run: int
    session_s: float = 0.0  # the session clock when the run ended
    stream_end_s: float = 0.0  # the last sample processed, on the same clock
    blocks: int = 0
    events: list[Event] = field(default_factory=list)
    gaps: list[SignalGap] = field(default_factory=list)
    decisions: list[PromptDecision] = field(default_factory=list)
    connections: int = 0
    disconnects: int = 0
    quality_at_start: list[ElectrodeQuality] = field(default_factory=list)
    # (night time the band went away, seconds until its samples resumed) per reconnection
    reconnect_gaps: list[tuple[float, float]] = field(default_factory=list)
    ended_by: str = ""
    # Samples the pipeline processed, and samples reported lost before them, per group.
    samples: dict[SignalGroup, int] = field(default_factory=dict)
    lost_samples: dict[SignalGroup, int] = field(default_factory=dict)
    corrupt_packets: int = 0  # quarantined packets and skipped frames the link reported
    sequence_ignored: int = 0  # packets whose samples fitted but whose seq did not
    clock_steps: int = 0  # the band's clock jumped under a continuing stream (re-learned)
    stream_restarts: int = 0  # the band's stream began again (START, reboot, descriptor)
    layout_changes: int = 0  # a new rate or new labels: a fresh pipeline took over
    refused_blocks: int = 0  # blocks the pipeline refused twice (old and fresh): dropped
    refused_samples: int = 0  # their samples




class _NewStream:
    """Queue marker: the stream's layout changed; later blocks go to a fresh pipeline."""


_NEW_STREAM = _NewStream()


class LiveSession:
    """One run of a night: call :meth:`run`; :meth:`acknowledge` answers a prompt."""

    def __init__(
        self,
        source: LiveSource,
        make_pipeline: PipelineFactory,
        journal: NightJournal,
        policy: PromptPolicy,
        dispatcher: PromptDispatcher,
        *,
        resumed: NightState | None = None,
        outboxes: dict[str, tuple[Outbox, Sender]] | None = None,
        hub: BedsideHub | None = None,
        params: SessionParams | None = None,
        status_out: TextIO | None = None,
        capture: bool = True,
        calibration: Calibration | None = None,
    ) -> None:
        self.source = source
        self.make_pipeline = make_pipeline
        self.journal = journal
        self.policy = policy
        self.dispatcher = dispatcher
        self.outboxes = outboxes or {}
        self.hub = hub
        self.params = params or SessionParams()
        self.status_out = status_out
        self.capture = capture
        self.calibration = calibration
        self.status = SessionStatus(source=source.description)
        start_s = 0.0
        if resumed is not None:
            # Carry the night's clock on across the restart (wall time passed since the
            # journal's last write, at the source's pace).
            start_s = resumed.last_session_s + max(
                0.0, (time.time() - resumed.last_write_unix) * source.pace
            )
        self.clock = SessionClock(source.pace, start_s)
        self._run_start_s = start_s
        self.prompter = NightPrompter(policy, start_s)
        # Sample time the pipeline has processed up to, and when (monotonic wall time).
        self._processed_s = start_s
        self._processed_wall = -math.inf
        self.report = SessionReport(journal.night_id, journal.run)
        self._resumed = resumed
        self._queue: asyncio.Queue[SampleBlock | _NewStream | None] = asyncio.Queue(
            self.params.queue_blocks)
        self._prompts: asyncio.Queue[list[PromptDecision] | None] = asyncio.Queue()
        self._pipeline: Pipeline | None = None
        self._offset_s: float | None = None
        self._group_end: dict[SignalGroup, float] = {}
        self._layout: dict[SignalGroup, tuple[float, tuple[str, ...]]] = {}
        self._new_stream_groups: set[SignalGroup] = set()  # awaiting their first new block
        self._pipelines = 0  # pipelines made this run: each stream layout gets one
        self._refusals: list[dict[str, Any]] = []  # from the worker thread, to journal
        self._quality: QualityMonitor | None = None
        self._quality_reported = False
        self._flagged: set[str] = set()
        self._latest: dict[str, Event] = {}
        self._kept: dict[str, Event] = {}
        self._attempts = 0
        self._prompt_bodies = PromptRecordBuilder(journal.night_id, journal.started_at)
        self._stop = asyncio.Event()
        if hub is not None:
            hub.set_ack_handler(self.acknowledge)

    # -- public -----------------------------------------------------------------------------

    def request_stop(self, reason: str = "stopped") -> None:
        """Ask the session to finish (safe from a signal handler on the loop)."""
        if not self._stop.is_set():
            self.report.ended_by = self.report.ended_by or reason
            self._stop.set()

    async def acknowledge(self, response: AckResponse, source: str) -> bool:
        """Return True when a running prompt was acknowledged by the sleeper's answer."""
        decisions = self.prompter.acknowledge(self._stream_now(), response)
        acknowledged = any(d.action is PromptAction.ACKNOWLEDGED for d in decisions)
        self.journal.write("ack", response=response.value, source=source,
                           session_s=self.clock.now_s(), acknowledged=acknowledged)
        if decisions:
            await self._prompts.put(decisions)
        return acknowledged

    async def run(self) -> SessionReport:
        """Run until the source ends or :meth:`request_stop`; return what happened."""
        self.journal.write("run_start", source=self.source.description,
                           session_s=self.clock.now_s(), pace=self.source.pace)
        # Built before the band streams: loading a model must not make a backlog.
        self._pipeline = await asyncio.to_thread(self._new_pipeline)
        self._close_orphans()
        senders = [
            asyncio.create_task(box.run(send, self._stop), name=f"outbox-{name}")
            for name, (box, send) in self.outboxes.items()
        ]
        worker = asyncio.create_task(self._worker(), name="worker")
        prompter = asyncio.create_task(self._prompter(), name="prompter")
        ticker = asyncio.create_task(self._ticker(), name="ticker")
        try:
            await self._read_source()
        finally:
            await self._queue.put(None)
            try:
                await worker
            finally:
                ticker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await ticker
                # Whatever is still prompting stops with the night.
                for ev in list(self._latest.values()):
                    if ev.is_cramp and ev.end_s is None:
                        log.info("cramp %s still open at the end of the session", ev.event_id)
                await self._prompts.put(None)
                await prompter
                await self.dispatcher.close()
                self._stop.set()
                if senders:
                    await asyncio.wait(senders, timeout=self.params.final_upload_s)
                    for task in senders:
                        task.cancel()
                    # Unsent records stay in the outbox file for the next run.
                    await asyncio.gather(*senders, return_exceptions=True)
                self.report.session_s = self.clock.now_s()
                self.report.stream_end_s = self._processed_s
                self.journal.write("run_end", session_s=self.report.session_s,
                                   ended_by=self.report.ended_by or "source ended")
                self.status.connection = "ended"
                self._print_status(final=True)
        return self.report

    # -- reading ----------------------------------------------------------------------------

    async def _read_source(self) -> None:
        p = self.params
        delay = p.reconnect_first_s
        lost_since: float | None = None
        while not self._stop.is_set():
            capture_path = None
            self._attempts += 1
            if self.capture and self.source.can_buzz:
                n = self._attempts
                capture_path = self.journal.dir / f"capture-r{self.journal.run}-c{n}.cwcap"
            try:
                items = await self.source.connect(capture_path)
            except (BandLinkError, OSError) as exc:
                first_attempt = self.report.connections == 0 and lost_since is None
                if not self.source.reconnects or first_attempt:
                    raise UserError(
                        f"cannot connect to the {self.source.description}: {exc}"
                    ) from exc
                self.status.connection = f"reconnecting ({exc})"
                if lost_since is not None and self.clock.now_s() - lost_since > p.give_up_after_s:
                    self.report.ended_by = f"band gone for {p.give_up_after_s:.0f} s"
                    return
                await self._sleep_or_stop(delay)
                delay = min(delay * 2, p.reconnect_max_s)
                continue
            self.report.connections += 1
            self.status.connection = "streaming"
            self.journal.write("connected", n=self.report.connections,
                               session_s=self.clock.now_s(),
                               capture=None if capture_path is None else capture_path.name)
            self._offset_s = None  # re-time this connection's blocks onto the night clock
            delay = p.reconnect_first_s
            ended = await self._consume(items)
            await self.source.disconnect()
            if ended == "stop":
                return
            if ended == "end" or not self.source.reconnects:
                self.report.ended_by = self.report.ended_by or "source ended"
                return
            self.report.disconnects += 1
            lost_since = self.clock.now_s()
            self.status.connection = "reconnecting"
            self.journal.write("disconnected", session_s=lost_since, reason=ended)

    async def _consume(self, items: object) -> str:
        """Return why the stream ended: 'end', 'stop', or the loss reason.

        Items already waiting are taken in a row, other tasks getting a turn every
        ``consume_batch`` items. On a busy machine each loop turn is slow (the BLE stack,
        the DSP thread holding the GIL): a reader spending turns on every item falls
        behind the band until the link's bounded queue overruns (LinkOverrun), and the
        band takes no buzz until the session has reconnected.
        """
        batch = max(1, self.params.consume_batch)

        async def pump() -> str:
            taken = 0
            try:
                async for item in items:  # type: ignore[attr-defined]
                    if self._stop.is_set():
                        return "stop"
                    await self._on_item(item)
                    taken += 1
                    if taken % batch == 0:
                        await asyncio.sleep(0)
            except BandLinkError as exc:
                return str(exc) or type(exc).__name__
            return "end"

        reader = asyncio.ensure_future(pump())
        stop_wait = asyncio.ensure_future(self._stop.wait())
        try:
            done, _ = await asyncio.wait({reader, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
            if reader in done:
                return reader.result()
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            return "stop"
        finally:
            stop_wait.cancel()
            reader.cancel()

    async def _on_item(self, item: object) -> None:
        if isinstance(item, SampleBlock) and not np.isfinite(item.samples).all():
            # A source must drop what it lost, not send NaN: refuse the block here, so
            # its samples become a gap of the right size before the next block.
            self.report.refused_blocks += 1
            self.report.refused_samples += item.n_samples
            self.journal.write("block_refused", group=item.group.value, samples=item.n_samples,
                               session_s=self.clock.now_s(),
                               reason="NaN or infinite samples")
            return
        if isinstance(item, SampleBlock):
            queued = item.group in self._new_stream_groups
            new_layout = self._layout_changed(item)
            block = self._retime(item, new_layout)
            self.clock.observe(block.t_end_s)
            if new_layout and not queued:
                await self._queue.put(_NEW_STREAM)
            self._check_quality(block)
            await self._queue.put(block)
        elif isinstance(item, BandStatus):
            self.status.battery_pct = item.battery_pct
            off = set(item.electrodes_off)
            newly_off = sorted(
                label for label in off if self.status.electrodes.get(label) != "OFF"
            )
            if newly_off and self.status_out is not None:
                for label in newly_off:
                    self.status_out.write(
                        f"\nCHECK THE BAND: electrode {label} is not touching the skin "
                        "(the band reports lead-off)\n"
                    )
                self.status_out.flush()
            for label in set(self.status.electrodes) | off:
                if label in off:
                    self.status.electrodes[label] = "OFF"
                elif self.status.electrodes.get(label) == "OFF":
                    self.status.electrodes[label] = "ok"
            if off:
                self.journal.write("lead_off", session_s=self.clock.now_s(),
                                   electrodes=sorted(off))
        elif isinstance(item, Disconnected):
            self.status.connection = "reconnecting" if item.will_reconnect else "lost"
            self.journal.write("link", what="disconnected", reason=item.reason,
                               session_s=self.clock.now_s())
        elif isinstance(item, Reconnected):
            self.status.connection = "streaming"
            self.journal.write("link", what="reconnected", down_s=item.down_s,
                               session_s=self.clock.now_s())
        elif isinstance(item, FramesDropped | StreamRestarted | SequenceIgnored | ClockStepped):
            if isinstance(item, FramesDropped):
                self.report.corrupt_packets += item.count
            elif isinstance(item, StreamRestarted):
                self.report.stream_restarts += 1
            elif isinstance(item, ClockStepped):
                self.report.clock_steps += 1
            else:
                self.report.sequence_ignored += 1
            self.journal.write("link", what=type(item).__name__, detail=str(item),
                               session_s=self.clock.now_s())
        elif isinstance(item, DescriptorChanged):
            # The band restarts its stream under the new descriptor: whatever the rates
            # and labels, a fresh pipeline takes it, after a gap nothing was lost in.
            if self._group_end:
                self.report.layout_changes += 1
                self._new_stream_groups = set(self._group_end)
                await self._queue.put(_NEW_STREAM)
            d = item.descriptor
            self.journal.write("link", what="DescriptorChanged", session_s=self.clock.now_s(),
                               groups=[{"group": g.group.value, "rate_hz": g.rate_hz,
                                        "labels": list(g.labels)} for g in d.groups])
        elif isinstance(item, SignalGap):
            pass  # the same loss rides on the next block (gap_before), counted there

    def _layout_changed(self, block: SampleBlock) -> bool:
        """Return True when ``block`` changes its group's rate or labels mid-night."""
        layout = (block.fs_hz, tuple(block.labels))
        old = self._layout.get(block.group)
        self._layout[block.group] = layout
        # The first block after a new descriptor starts a new stream whatever its layout
        # (counted, and its fresh pipeline queued, when the descriptor came).
        described = block.group in self._new_stream_groups
        self._new_stream_groups.discard(block.group)
        if old is None or (old == layout and not described):
            return False
        if not described:
            self.report.layout_changes += 1
        log.warning("%s stream changed from %g Hz %s to %g Hz %s: a fresh pipeline takes over",
                    block.group.value, old[0], list(old[1]), layout[0], list(layout[1]))
        self.journal.write("stream_layout", group=block.group.value, session_s=self.clock.now_s(),
                           old_rate_hz=old[0], old_labels=list(old[1]),
                           rate_hz=layout[0], labels=list(layout[1]))
        # Quality was judged on the old channels: judge the new ones afresh.
        if block.group is SignalGroup.EMG:
            self._quality = None
            self._quality_reported = False
        return True

    def _retime(self, block: SampleBlock, new_layout: bool = False) -> SampleBlock:
        """Return ``block`` on the night clock; a jump since the last block is a gap.

        At a ``new_layout`` the gap is recorded here (the fresh pipeline cannot see it),
        with the samples the source counted lost (a restart of the band loses none).
        """
        if self._offset_s is None:
            if not self._group_end:
                # The run's first block starts the run's night time.
                base = self._run_start_s
                self.clock.restart_at(base)
            else:
                # After a reconnection the band's clock restarted: place its samples at
                # the night time they arrive; the time in between is a gap.
                base = max(self.clock.now_s(), *self._group_end.values())
                prev = max(self._group_end.values())
                self.report.reconnect_gaps.append((prev, base - prev))
            self._offset_s = base - block.t0_s
        t0 = block.t0_s + self._offset_s
        prev_end = self._group_end.get(block.group)
        lost = block.lost_samples
        gap = block.gap_before
        if prev_end is not None and t0 < prev_end:
            t0 = prev_end  # never overlap the previous block of this group
        if new_layout and prev_end is not None:
            boundary = SignalGap(block.group, prev_end, t0, lost)
            self.report.gaps.append(boundary)
            self.status.gaps += 1
            self.journal.write("gap", group=block.group.value, start_s=prev_end, end_s=t0,
                               lost_samples=lost, why="stream layout changed")
        elif prev_end is not None and t0 - prev_end > 0.5 / block.fs_hz:
            gap = True
            lost = max(lost, round((t0 - prev_end) * block.fs_hz))
        retimed = dataclasses.replace(block, t0_s=t0, gap_before=gap, lost_samples=lost)
        self._group_end[block.group] = retimed.t_end_s
        if lost:
            self.report.lost_samples[block.group] = (
                self.report.lost_samples.get(block.group, 0) + lost)
        if block.group is SignalGroup.EMG:
            self.report.blocks += 1
            if lost:
                self.status.lost_samples += lost
                self.status.lost_s += lost / block.fs_hz
        return retimed

    def _check_quality(self, block: SampleBlock) -> None:
        if block.group is not SignalGroup.EMG:
            return
        if self._quality is None:
            channels = assign_roles(block.labels)
            self._quality = QualityMonitor(tuple(channels))
            self.status.electrodes = {label: "?" for label in block.labels}
        verdicts = self._quality.feed(block, at_rest=not self._quality_reported)
        if verdicts is None:
            return
        previous = dict(self.status.electrodes)
        for v in verdicts:
            if self.status.electrodes.get(v.label) != "OFF":
                self.status.electrodes[v.label] = "ok" if v.ok else "BAD"
        if not self._quality_reported:
            self._quality_reported = True
            self.report.quality_at_start = verdicts
            self.journal.write("quality", at="start", session_s=self.clock.now_s(),
                               electrodes=[dataclasses.asdict(v) for v in verdicts])
            bad = [v for v in verdicts if not v.ok]
            if bad and self.status_out is not None:
                for v in bad:
                    self.status_out.write(f"\nCHECK THE BAND: {v.message()}\n")
                self.status_out.flush()
        elif self.status.electrodes != previous:
            self.journal.write("quality", at="night", session_s=self.clock.now_s(),
                               electrodes=[dataclasses.asdict(v) for v in verdicts])

    # -- processing ---------------------------------------------------------------------------

    async def _worker(self) -> None:
        done = False
        while not done:
            item = await self._queue.get()
            batch: list[SampleBlock | _NewStream] = []
            if item is None:
                done = True
            else:
                batch.append(item)
                while not self._queue.empty():
                    more = self._queue.get_nowait()
                    if more is None:
                        done = True
                        break
                    batch.append(more)
            if batch:
                outputs = await asyncio.to_thread(self._process, batch)
                await self._journal_refusals()
                await self._handle(outputs)
                ends = [b.t_end_s for b in batch if isinstance(b, SampleBlock)]
                if ends:
                    self._processed_s = max(self._processed_s, max(ends))
                self._processed_wall = time.monotonic()
        if self._pipeline is not None:
            outputs = await asyncio.to_thread(self._finish_pipeline)
            await self._journal_refusals()
            await self._handle(outputs)
        # Time up to the last sample reaches the policy, as in a replay of the night.
        decisions = self.prompter.advance(self._processed_s)
        if decisions:
            await self._prompts.put(decisions)

    def _new_pipeline(self) -> Pipeline:
        """Return a fresh pipeline; each after the run's first gets its own id suffix."""
        self._pipelines += 1
        sid = self.journal.session_id
        # Episode numbers restart in a fresh Detector: the suffix keeps event ids unique.
        return self.make_pipeline(sid if self._pipelines == 1 else f"{sid}.{self._pipelines}")

    def _finish_pipeline(self) -> list[Event | SignalGap]:
        """Return what closes when the current pipeline ends (it is dropped either way)."""
        pipeline, self._pipeline = self._pipeline, None
        if pipeline is None:
            return []
        try:
            return pipeline.finish()
        except (ValueError, RuntimeError) as exc:
            self._refusals.append({"what": "finish", "reason": str(exc)})
            return []

    def _process(self, batch: list[SampleBlock | _NewStream]) -> list[Event | SignalGap]:
        out: list[Event | SignalGap] = []
        segment: list[SampleBlock] = []
        for item in batch:
            if isinstance(item, SampleBlock):
                segment.append(item)
                continue
            out += self._process_blocks(segment)
            segment = []
            out += self._finish_pipeline()  # a new layout: the next block makes a fresh one
        return out + self._process_blocks(segment)

    def _process_blocks(self, blocks: list[SampleBlock]) -> list[Event | SignalGap]:
        out: list[Event | SignalGap] = []
        for merged in merge_contiguous(blocks):
            try:
                out += self._feed_pipeline(merged)
            except ValueError as exc:
                out += self._refused(merged, exc)
                # Find the culprit: the blocks that made up this run, one by one.
                for block in blocks:
                    if block.group is merged.group and merged.t0_s <= block.t0_s < merged.t_end_s:
                        out += self._process_block(block)
        return out

    def _process_block(self, block: SampleBlock) -> list[Event | SignalGap]:
        """Return the pipeline's outputs for ``block``; a refusal never ends the night.

        A block the pipeline refuses (the Detector's TimelineError and other ValueErrors)
        closes that pipeline (its open episodes end there) and is tried once on a fresh
        one; refused again, it is dropped and its samples counted.
        """
        out: list[Event | SignalGap] = []
        for _ in range(2):
            try:
                return out + self._feed_pipeline(block)
            except ValueError as exc:
                out += self._refused(block, exc)
        self._refusals[-1]["dropped"] = True  # counted on the loop, with the NaN refusals
        return out

    def _feed_pipeline(self, block: SampleBlock) -> list[Event | SignalGap]:
        if self._pipeline is None:
            self._pipeline = self._new_pipeline()
        out = self._pipeline.process(block)
        self.report.samples[block.group] = (
            self.report.samples.get(block.group, 0) + block.n_samples)
        return out

    def _refused(self, block: SampleBlock, exc: ValueError) -> list[Event | SignalGap]:
        """Note a refusal; return what the refusing pipeline closes as it is dropped."""
        self._refusals.append({
            "what": "block", "group": block.group.value, "t0_s": block.t0_s,
            "samples": block.n_samples, "reason": str(exc),
        })
        return self._finish_pipeline()

    async def _journal_refusals(self) -> None:
        refusals, self._refusals = self._refusals, []
        for r in refusals:
            if r.get("dropped"):
                self.report.refused_blocks += 1
                self.report.refused_samples += int(r["samples"])
            log.warning("the pipeline refused %s: %s", r["what"], r["reason"])
            self.journal.write("pipeline_refused", session_s=self.clock.now_s(), **r)

    async def _handle(self, outputs: list[Event | SignalGap]) -> None:
        for out in outputs:
            if isinstance(out, SignalGap):
                self.report.gaps.append(out)
                self.status.gaps += 1
                self.journal.write("gap", group=out.group.value, start_s=out.start_s,
                                   end_s=out.end_s, lost_samples=out.lost_samples)
                continue
            self._record_event(out)
            decisions = self.prompter.on_event(out)
            if decisions:
                await self._prompts.put(decisions)

    def _record_event(self, ev: Event) -> None:
        previous = self._latest.get(ev.event_id)
        first_version = previous is None
        self._latest[ev.event_id] = ev
        self.report.events.append(ev)
        # An open episode is re-reported every ~0.5 s; the journal and the stores keep
        # the versions that say something new: the first, a change of call, a periodic
        # one for long episodes, and the final one.
        last = self._kept.get(ev.event_id)
        if (
            last is None
            or ev.final
            or ev.kind is not last.kind
            or ev.known_at_s - last.known_at_s >= self.params.keep_open_every_s
        ):
            self._kept[ev.event_id] = ev
            self.journal.write_event(ev)
            self._queue_upload(ev)
        if ev.final:
            if ev.is_cramp:
                self.status.cramps += 1
            else:
                self.status.other_events += 1
        elif first_version:
            log.debug("episode %s opened (%s)", ev.event_id, ev.kind.value)

    def _queue_upload(self, ev: Event) -> None:
        extra = {}
        if self.calibration is not None:
            severity = self.calibration.severity(ev.channel.label, ev.features)
            if math.isfinite(severity):
                extra["amp_rel_calibrated"] = severity
        body = event_body(ev, red_flag=ev.event_id in self._flagged, extra=extra)
        for box, _ in self.outboxes.values():
            box.put(f"event:{ev.event_id}", "event", body)

    def _close_orphans(self) -> None:
        """Close events a dead run left open, at their last known time (nothing is lost)."""
        if self._resumed is None:
            return
        for ev in self._resumed.events.values():
            if ev.final:
                continue
            known = ev.known_at_s
            end = known if math.isfinite(known) and known > ev.start_s else ev.start_s
            closed = dataclasses.replace(
                ev, end_s=end, final=True,
                features={**ev.features, ENDED_BY_RESTART: 1.0},
            )
            self.journal.write_event(closed)
            self._queue_upload(closed)
            self.report.events.append(closed)

    # -- prompting ----------------------------------------------------------------------------

    async def _prompter(self) -> None:
        while True:
            decisions = await self._prompts.get()
            if decisions is None:
                return
            dispatched = await self.dispatcher.dispatch(decisions)
            self.report.decisions += decisions
            for d, sent in zip(decisions, dispatched, strict=True):
                if d.action is PromptAction.RED_FLAG:
                    self._flagged.add(d.event.event_id)
                    self.journal.write("red_flag", event_id=d.event.event_id, session_s=d.at_s)
                    latest = self._latest.get(d.event.event_id)
                    if latest is not None:
                        self._queue_upload(latest)
                body = self._prompt_bodies.apply(d, sent.reached)
                if body is not None:
                    for box, _ in self.outboxes.values():
                        # Prompt ids restart every run: the night and run make them unique.
                        box.put(f"prompt:{self.journal.session_id}-{d.prompt_id}", "prompt",
                                body)
            self.status.prompting = self.policy.escalating
            self.status.channel_failures = self.dispatcher.failures

    async def _ticker(self) -> None:
        p = self.params
        last_status = last_progress = 0.0
        while True:
            await asyncio.sleep(p.tick_s)
            now_s = self.clock.now_s()
            if self._group_end:  # before the first block there is no night time yet
                decisions = self.prompter.advance(self._stream_now())
                if decisions:
                    await self._prompts.put(decisions)
            wall = time.monotonic()
            if wall - last_progress >= p.progress_s:
                last_progress = wall
                self.journal.write("progress", sync=False, session_s=now_s)
            if wall - last_status >= p.status_s:
                last_status = wall
                self._print_status()

    def _print_status(self, final: bool = False) -> None:
        self.status.session_s = self.clock.now_s()
        pending = 0
        for box, _ in self.outboxes.values():
            pending += box.counts().pending
        self.status.outbox_pending = pending
        line = self.status.line()
        if self.hub is not None:
            self.hub.publish(self.status.to_json())
        if self.status_out is None:
            return
        tty = bool(getattr(self.status_out, "isatty", lambda: False)())
        if tty:
            self.status_out.write("\r\033[K" + line + ("\n" if final else ""))
        elif final:
            self.status_out.write(line + "\n")
        self.status_out.flush()

    def _stream_now(self) -> float:
        """Return "now" in sample time: how far the pipeline has processed the stream.

        While the source streams, prompts are timed in sample time (so latency after
        onset does not depend on the playback pace or on the pipeline lagging); while the
        band is away (disconnected, reconnecting) the session clock runs on at the pace,
        so reminders still escalate.
        """
        if self.status.connection == "streaming":
            # Samples are arriving: the pipeline may lag behind them, but time is theirs.
            return self._processed_s
        return max(self._processed_s, self.clock.now_s())

    async def _sleep_or_stop(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)


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


def capture_files(directory: Path) -> list[Path]:
    """Return the raw capture files of a night, oldest first."""
    return sorted(Path(directory).glob("capture-*.cwcap"), key=lambda p: p.stat().st_mtime)
