"""The live session: source -> Detector + classifier -> journal, stores, prompt; asyncio.

Tasks, joined by bounded queues so nothing is dropped silently and the link is never
blocked by signal processing:

- the **reader** takes link items (blocks, status, disconnects), places blocks on the
  night's clock (:class:`~crampwatch.live.timeline.Timeline`), checks the electrodes
  (:class:`~crampwatch.live.electrodes.ElectrodeWatch`) and queues blocks;
- the **worker** feeds the night's core (:class:`~crampwatch.night_session.NightSession`,
  the same one ``replay`` runs as fast as it can): its pipeline on a worker thread, in
  batches; the events that come out go to the night's records
  (:class:`~crampwatch.live.night_records.NightRecorder`: journal, outboxes) and to the
  prompt policy on the night's clock;
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
import logging
import time
from pathlib import Path
from typing import TextIO

import numpy as np

from crampwatch.live.calibration import Calibration
from crampwatch.live.clock import SessionClock
from crampwatch.live.electrodes import ElectrodeWatch
from crampwatch.live.night import NightJournal, NightState
from crampwatch.live.night_records import NightRecorder
from crampwatch.live.pipeline_feed import NEW_STREAM, NewStream, PipelineFeed, merge_contiguous
from crampwatch.live.reconnects import LINK_EVENTS, SourceReader, note_link_event
from crampwatch.live.session_report import SessionParams, SessionReport
from crampwatch.live.sources import LiveSource
from crampwatch.live.status import SessionStatus, print_status
from crampwatch.live.timeline import LayoutChange, Timeline
from crampwatch.night_session import NightSession
from crampwatch.outbox import Outbox, Sender
from crampwatch.pipeline import PipelineFactory
from crampwatch.prompt.channels.bedside import BedsideHub
from crampwatch.prompt.dispatcher import PromptDispatcher
from crampwatch.prompt.night_clock import NightPrompter
from crampwatch.prompt.policy import AckResponse, PromptAction, PromptDecision, PromptPolicy
from firmware_bridge.events import BandStatus, DescriptorChanged
from sensor.records import Event, SampleBlock, SignalGap, SignalGroup

__all__ = ["LiveSession", "SessionParams", "SessionReport", "capture_files",
           "merge_contiguous"]

log = logging.getLogger(__name__)


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
        self.journal = journal
        self.policy = policy
        self.dispatcher = dispatcher
        self.outboxes = outboxes or {}
        self.hub = hub
        self.params = params or SessionParams()
        self.status_out = status_out
        self.status = SessionStatus(source=source.description)
        start_s = 0.0
        if resumed is not None:
            # Carry the night's clock on across the restart (wall time passed since the
            # journal's last write, at the source's pace).
            start_s = resumed.last_session_s + max(
                0.0, (time.time() - resumed.last_write_unix) * source.pace
            )
        self.clock = SessionClock(source.pace, start_s)
        self.timeline = Timeline(journal.started_at, self.clock, start_s)
        self.prompter = NightPrompter(policy, start_s)
        self.report = SessionReport(journal.night_id, journal.run)
        self._resumed = resumed
        self.feed = PipelineFeed(make_pipeline, journal.session_id, self.report)
        self.records = NightRecorder(journal, self.outboxes, self.report, self.status,
                                     calibration, self.params.keep_open_every_s)
        self.night = NightSession(self.feed, self.prompter, [self.records], start_s)
        self.electrodes = ElectrodeWatch(self.status, journal, self.report, status_out,
                                         self.clock.now_s)
        self._queue: asyncio.Queue[SampleBlock | NewStream | None] = asyncio.Queue(
            self.params.queue_blocks)
        self._prompts: asyncio.Queue[list[PromptDecision] | None] = asyncio.Queue()
        self._stop = asyncio.Event()
        self.reader = SourceReader(source, self.params, journal, self.report, self.status,
                                   self.clock, self._stop, capture=capture,
                                   on_connect=self.timeline.new_connection,
                                   on_item=self._on_item)
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
        decisions = self.night.acknowledge(self._stream_now(), response)
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
        await asyncio.to_thread(self.feed.start)
        self.records.close_orphans(self._resumed)
        senders = [
            asyncio.create_task(box.run(send, self._stop), name=f"outbox-{name}")
            for name, (box, send) in self.outboxes.items()
        ]
        worker = asyncio.create_task(self._worker(), name="worker")
        prompter = asyncio.create_task(self._prompter(), name="prompter")
        ticker = asyncio.create_task(self._ticker(), name="ticker")
        try:
            await self.reader.run()
        finally:
            await self._queue.put(None)
            try:
                await worker
            finally:
                ticker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await ticker
                # Whatever is still prompting stops with the night.
                for ev in list(self.records.latest.values()):
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
                self.report.stream_end_s = self.night.processed_s
                self.journal.write("run_end", session_s=self.report.session_s,
                                   ended_by=self.report.ended_by or "source ended")
                self.status.connection = "ended"
                self._print_status(final=True)
        return self.report

    # -- reading ----------------------------------------------------------------------------

    async def _on_item(self, item: object) -> None:
        if isinstance(item, SampleBlock):
            await self._on_block(item)
        elif isinstance(item, BandStatus):
            self.electrodes.band_status(item)
        elif isinstance(item, LINK_EVENTS):
            note_link_event(item, self.journal, self.report, self.status, self.clock.now_s())
        elif isinstance(item, DescriptorChanged):
            # The band restarts its stream under the new descriptor: whatever the rates
            # and labels, a fresh pipeline takes it, after a gap nothing was lost in.
            if self.timeline.descriptor_changed():
                self.report.layout_changes += 1
                await self._queue.put(NEW_STREAM)
            d = item.descriptor
            self.journal.write("link", what="DescriptorChanged", session_s=self.clock.now_s(),
                               groups=[{"group": g.group.value, "rate_hz": g.rate_hz,
                                        "labels": list(g.labels)} for g in d.groups])
        # A SignalGap item: the same loss rides on the next block (gap_before), counted there.

    async def _on_block(self, item: SampleBlock) -> None:
        if not np.isfinite(item.samples).all():
            # A source must drop what it lost, not send NaN: refuse the block here, so
            # its samples become a gap of the right size before the next block.
            self.report.refused_blocks += 1
            self.report.refused_samples += item.n_samples
            self.journal.write("block_refused", group=item.group.value, samples=item.n_samples,
                               session_s=self.clock.now_s(),
                               reason="NaN or infinite samples")
            return
        queued = self.timeline.awaits_new_stream(item.group)
        change = self.timeline.layout_change(item)
        if change is not None:
            self._layout_changed(change)
        block = self._place(item, new_layout=change is not None)
        if change is not None and not queued:
            await self._queue.put(NEW_STREAM)
        self.electrodes.check(block)
        await self._queue.put(block)

    def _layout_changed(self, change: LayoutChange) -> None:
        if not change.described:
            self.report.layout_changes += 1
        old, new = change.old, change.new
        log.warning("%s stream changed from %g Hz %s to %g Hz %s: a fresh pipeline takes over",
                    change.group.value, old[0], list(old[1]), new[0], list(new[1]))
        self.journal.write("stream_layout", group=change.group.value,
                           session_s=self.clock.now_s(), old_rate_hz=old[0],
                           old_labels=list(old[1]), rate_hz=new[0], labels=list(new[1]))
        # Quality was judged on the old channels: judge the new ones afresh.
        if change.group is SignalGroup.EMG:
            self.electrodes.restart()

    def _place(self, item: SampleBlock, new_layout: bool) -> SampleBlock:
        """Return ``item`` on the night's clock, counting the gaps and losses it shows."""
        placed = self.timeline.retime(item, new_layout)
        self.records.placed(placed)
        return placed.block

    # -- processing ---------------------------------------------------------------------------

    async def _worker(self) -> None:
        done = False
        while not done:
            item = await self._queue.get()
            batch: list[SampleBlock | NewStream] = []
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
                outputs = await asyncio.to_thread(self.night.process, batch)
                await self._handle(outputs)
                self.night.processed(batch)
        if self.feed.pipeline is not None:
            await self._handle(await asyncio.to_thread(self.night.close_pipeline))
        # Time up to the last sample reaches the policy, as in a replay of the night.
        decisions = self.night.advance(self.night.processed_s)
        if decisions:
            await self._prompts.put(decisions)

    def _journal_refusals(self) -> None:
        for r in self.feed.take_refusals():
            if r.get("dropped"):
                self.report.refused_blocks += 1
                self.report.refused_samples += int(r["samples"])
            log.warning("the pipeline refused %s: %s", r["what"], r["reason"])
            self.journal.write("pipeline_refused", session_s=self.clock.now_s(), **r)

    async def _handle(self, outputs: list[Event | SignalGap]) -> None:
        self._journal_refusals()
        decisions = self.night.deliver(outputs)
        if decisions:
            await self._prompts.put(decisions)

    # -- prompting ----------------------------------------------------------------------------

    async def _prompter(self) -> None:
        while True:
            decisions = await self._prompts.get()
            if decisions is None:
                return
            dispatched = await self.dispatcher.dispatch(decisions)
            self.records.prompted(decisions, dispatched)
            self.status.prompting = self.policy.escalating
            self.status.channel_failures = self.dispatcher.failures

    async def _ticker(self) -> None:
        p = self.params
        last_status = last_progress = 0.0
        while True:
            await asyncio.sleep(p.tick_s)
            now_s = self.clock.now_s()
            if self.timeline.started:  # before the first block there is no night time yet
                decisions = self.night.advance(self._stream_now())
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
        self.status.outbox_pending = sum(box.counts().pending for box, _ in self.outboxes.values())
        if self.hub is not None:
            self.hub.publish(self.status.to_json())
        print_status(self.status, self.status_out, final)

    def _stream_now(self) -> float:
        """Return "now" in sample time: how far the pipeline has processed the stream.

        While the source streams, prompts are timed in sample time (so latency after
        onset does not depend on the playback pace or on the pipeline lagging); while the
        band is away (disconnected, reconnecting) the session clock runs on at the pace,
        so reminders still escalate.
        """
        if self.status.connection == "streaming":
            # Samples are arriving: the pipeline may lag behind them, but time is theirs.
            return self.night.processed_s
        return max(self.night.processed_s, self.clock.now_s())


def capture_files(directory: Path) -> list[Path]:
    """Return the raw capture files of a night, oldest first."""
    return sorted(Path(directory).glob("capture-*.cwcap"), key=lambda p: p.stat().st_mtime)
