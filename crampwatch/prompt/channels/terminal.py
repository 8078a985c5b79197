"""Prompt channel: clear, large text on the bedside terminal."""

from __future__ import annotations

import shutil
import sys
import textwrap
from typing import TextIO

from crampwatch.prompt.channels.base import PromptChannel
from crampwatch.prompt.notice import PromptNotice
from crampwatch.prompt.policy import PromptAction

_BOLD = "\033[1m"
_REVERSE = "\033[7m"
_RESET = "\033[0m"


class TerminalChannel(PromptChannel):
    """Writes prompts as a framed block of big, numbered lines; colour only on a real terminal."""

    name = "terminal"

    def __init__(self, stream: TextIO | None = None, width: int | None = None) -> None:
        self._stream = stream if stream is not None else sys.stdout
        self._ansi = bool(getattr(self._stream, "isatty", lambda: False)())
        self._width = width or min(max(shutil.get_terminal_size((80, 24)).columns, 40), 100)

    async def deliver(self, notice: PromptNotice) -> str:
        text = self.render(notice)
        self._stream.write(text)
        self._stream.flush()
        return f"{len(text.splitlines())} lines"

    def render(self, notice: PromptNotice) -> str:
        """Return the text block for ``notice`` (no ANSI codes unless on a terminal)."""
        d = notice.decision
        clock = notice.wall_time.astimezone().strftime("%H:%M:%S")
        ev = d.event
        if d.action is PromptAction.START:
            lines = [f"{notice.headline().upper()}", "", "Do this now:"]
            lines += [f"  {i}. {s}" for i, s in enumerate(notice.guidance.now, 1)]
            lines += ["", f"Press [{notice.book.ack_ok}] on the bedside page when you are OK."]
            return self._frame(lines, clock, loud=True)
        if d.action is PromptAction.ESCALATE:
            lines = [f"STILL CRAMPING? {notice.headline().upper()}"]
            lines += [f"  {i}. {s}" for i, s in enumerate(notice.guidance.now, 1)]
            lines += [f"(reminder level {d.level}: {d.reason})"]
            return self._frame(lines, clock, loud=True)
        if d.action is PromptAction.RED_FLAG:
            lines = [notice.book.red_flag_title.upper(), ""]
            lines += [f"  ! {s}" for s in notice.book.red_flag_text]
            return self._frame(lines, clock, loud=True)
        if d.action is PromptAction.STOP:
            lasted = "" if ev.end_s is None else f" after {ev.end_s - ev.start_s:.0f} s"
            lines = [f"The cramp is over{lasted} ({d.reason}).", "", "Now:"]
            lines += [f"  - {s}" for s in notice.guidance.after]
            lines += ["", notice.book.disclaimer]
            return self._frame(lines, clock, loud=False)
        if d.action is PromptAction.ACKNOWLEDGED:
            return f"[{clock}] Thank you: {d.reason}. Reminders stopped.\n"
        return f"[{clock}] {ev.kind.value} cramp at {ev.start_s:.0f} s not prompted: {d.reason}\n"

    def _frame(self, lines: list[str], clock: str, loud: bool) -> str:
        inner = self._width - 4
        bar = "=" * self._width if loud else "-" * self._width
        wrapped: list[str] = []
        for line in [f"[{clock}]", *lines]:
            indent = " " * (len(line) - len(line.lstrip(" -0123456789.!")))
            wrapped += textwrap.wrap(line, inner, subsequent_indent=indent) or [""]
        body = [f"| {line.ljust(inner)} |" for line in wrapped]
        block = "\n".join([bar, *body, bar])
        if self._ansi and loud:
            block = f"{_BOLD}{_REVERSE}{block}{_RESET}"
        elif self._ansi:
            block = f"{_BOLD}{block}{_RESET}"
        return "\n" + block + "\n"
