"""What a live session keeps of its night: events in the journal and the outboxes, the
gaps and losses, the red flags, and the prompt records sent with the night."""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Sequence

from crampwatch.live.calibration import Calibration
from crampwatch.live.night import ENDED_BY_RESTART, NightJournal, NightState
from crampwatch.live.session_report import SessionReport
from crampwatch.live.status import SessionStatus
from crampwatch.live.timeline import Retimed
from crampwatch.live.upload import PromptRecordBuilder, event_body
from crampwatch.night_session import NightSink
from crampwatch.outbox import Outbox, Sender
from crampwatch.prompt.dispatcher import Dispatched
from crampwatch.prompt.policy import PromptAction, PromptDecision
from sensor.records import Event, SignalGap, SignalGroup

log = logging.getLogger(__name__)


class NightRecorder(NightSink):
    """Journals and queues for upload the versions of events that say something new,
    and the night's signal gaps: the live session's sink of the night's core."""

    def __init__(self, journal: NightJournal, outboxes: dict[str, tuple[Outbox, Sender]],
                 report: SessionReport, status: SessionStatus,
                 calibration: Calibration | None, keep_open_every_s: float) -> None:
        self.journal = journal
        self.outboxes = outboxes
        self.report = report
        self.status = status
        self.calibration = calibration
        self.keep_open_every_s = keep_open_every_s
        self.latest: dict[str, Event] = {}
        self._kept: dict[str, Event] = {}
        self._flagged: set[str] = set()
        self._prompt_bodies = PromptRecordBuilder(journal.night_id, journal.started_at)

    def record(self, ev: Event) -> None:
        """Take one version of an event."""
        first_version = ev.event_id not in self.latest
        self.latest[ev.event_id] = ev
        self.report.events.append(ev)
        # An open episode is re-reported every ~0.5 s; the journal and the stores keep
        # the versions that say something new: the first, a change of call, a periodic
        # one for long episodes, and the final one.
        last = self._kept.get(ev.event_id)
        if (
            last is None
            or ev.final
            or ev.kind is not last.kind
            or ev.known_at_s - last.known_at_s >= self.keep_open_every_s
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

    def on_event(self, event: Event) -> None:
        self.record(event)

    def on_gap(self, gap: SignalGap) -> None:
        self.report.gaps.append(gap)
        self.status.gaps += 1
        self.journal.write("gap", group=gap.group.value, start_s=gap.start_s,
                           end_s=gap.end_s, lost_samples=gap.lost_samples)

    def placed(self, placed: Retimed) -> None:
        """Count the gaps and losses a block showed as it was placed on the night's clock."""
        block = placed.block
        if placed.reconnect is not None:
            self.report.reconnect_gaps.append(placed.reconnect)
        if placed.boundary is not None:
            gap = placed.boundary
            self.report.gaps.append(gap)
            self.status.gaps += 1
            self.journal.write("gap", group=gap.group.value, start_s=gap.start_s,
                               end_s=gap.end_s, lost_samples=gap.lost_samples,
                               why="stream layout changed")
        lost = block.lost_samples
        if lost:
            self.report.lost_samples[block.group] = (
                self.report.lost_samples.get(block.group, 0) + lost)
        if block.group is SignalGroup.EMG:
            self.report.blocks += 1
            if lost:
                self.status.lost_samples += lost
                self.status.lost_s += lost / block.fs_hz

    def _queue_upload(self, ev: Event) -> None:
        extra = {}
        if self.calibration is not None:
            severity = self.calibration.severity(ev.channel.label, ev.features)
            if math.isfinite(severity):
                extra["amp_rel_calibrated"] = severity
        body = event_body(ev, red_flag=ev.event_id in self._flagged, extra=extra)
        for box, _ in self.outboxes.values():
            box.put(f"event:{ev.event_id}", "event", body)

    def close_orphans(self, resumed: NightState | None) -> None:
        """Close events a dead run left open, at their last known time (nothing is lost)."""
        if resumed is None:
            return
        for ev in resumed.events.values():
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

    def prompted(self, decisions: Sequence[PromptDecision],
                 dispatched: Sequence[Dispatched]) -> None:
        """Keep what the prompts did: red flags, and each prompt's record for the stores."""
        self.report.decisions += decisions
        for d, sent in zip(decisions, dispatched, strict=True):
            if d.action is PromptAction.RED_FLAG:
                self._flagged.add(d.event.event_id)
                self.journal.write("red_flag", event_id=d.event.event_id, session_s=d.at_s)
                latest = self.latest.get(d.event.event_id)
                if latest is not None:
                    self._queue_upload(latest)
            body = self._prompt_bodies.apply(d, sent.reached)
            if body is not None:
                for box, _ in self.outboxes.values():
                    # Prompt ids restart every run: the night and run make them unique.
                    box.put(f"prompt:{self.journal.session_id}-{d.prompt_id}", "prompt", body)
