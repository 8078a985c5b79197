"""Electrode contact through the night: the signal-quality check and the band's lead-off.

The first seconds of EMG are judged at rest (each electrode ok or not, said at once on
the terminal as CHECK THE BAND); afterwards a change of verdict is journaled. The
band's own lead-off flags mark an electrode "OFF" until it touches the skin again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TextIO

from crampwatch.live.night import NightJournal
from crampwatch.live.quality import QualityMonitor
from crampwatch.live.session_report import SessionReport
from crampwatch.live.status import SessionStatus
from firmware_bridge.events import BandStatus
from sensor.channels import assign_roles
from sensor.records import SampleBlock, SignalGroup


class ElectrodeWatch:
    """Keeps ``status.electrodes`` and the journal up to date for one session."""

    def __init__(self, status: SessionStatus, journal: NightJournal, report: SessionReport,
                 out: TextIO | None, now_s: Callable[[], float]) -> None:
        self.status = status
        self.journal = journal
        self.report = report
        self.out = out
        self.now_s = now_s
        self._quality: QualityMonitor | None = None
        self._reported = False

    def restart(self) -> None:
        """New EMG channels (a new stream layout): judge them afresh."""
        self._quality = None
        self._reported = False

    def _say(self, lines: list[str]) -> None:
        if self.out is None or not lines:
            return
        for line in lines:
            self.out.write(f"\nCHECK THE BAND: {line}\n")
        self.out.flush()

    def check(self, block: SampleBlock) -> None:
        """Feed an EMG block to the quality check; report what it finds."""
        if block.group is not SignalGroup.EMG:
            return
        if self._quality is None:
            self._quality = QualityMonitor(tuple(assign_roles(block.labels)))
            self.status.electrodes = {label: "?" for label in block.labels}
        verdicts = self._quality.feed(block, at_rest=not self._reported)
        if verdicts is None:
            return
        previous = dict(self.status.electrodes)
        for v in verdicts:
            if self.status.electrodes.get(v.label) != "OFF":
                self.status.electrodes[v.label] = "ok" if v.ok else "BAD"
        if not self._reported:
            self._reported = True
            self.report.quality_at_start = verdicts
            self.journal.write("quality", at="start", session_s=self.now_s(),
                               electrodes=[dataclasses.asdict(v) for v in verdicts])
            self._say([v.message() for v in verdicts if not v.ok])
        elif self.status.electrodes != previous:
            self.journal.write("quality", at="night", session_s=self.now_s(),
                               electrodes=[dataclasses.asdict(v) for v in verdicts])

    def band_status(self, item: BandStatus) -> None:
        """Take the band's battery and lead-off report."""
        self.status.battery_pct = item.battery_pct
        off = set(item.electrodes_off)
        newly_off = sorted(label for label in off if self.status.electrodes.get(label) != "OFF")
        self._say([f"electrode {label} is not touching the skin (the band reports lead-off)"
                   for label in newly_off])
        for label in set(self.status.electrodes) | off:
            if label in off:
                self.status.electrodes[label] = "OFF"
            elif self.status.electrodes.get(label) == "OFF":
                self.status.electrodes[label] = "ok"
        if off:
            self.journal.write("lead_off", session_s=self.now_s(), electrodes=sorted(off))
