"""Puts a live night together: journal, local store and API server, prompt, session, summary.

Used by ``crampwatch run`` and ``crampwatch demo``. The hub's own store is the clinic
API app over a SQLite file, served on 127.0.0.1 together with the bedside page; the
session writes to it through the outbox like to any clinic server, and to a remote
clinic API as well when one is given.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import uvicorn

from api.db import make_private_file
from crampwatch.errors import UserError
from crampwatch.live.bedside import bedside_router, new_bedside_token
from crampwatch.live.calibration import Calibration, CalibrationError, record_calibration
from crampwatch.live.localstore import LocalStore, prepare_local_store
from crampwatch.live.night import NightJournal, NightState, read_night
from crampwatch.live.session import LiveSession, SessionParams, SessionReport
from crampwatch.live.sources import LiveSource
from crampwatch.live.timeline import night_time
from crampwatch.live.upload import HubUploader, queue_night
from crampwatch.outbox import Outbox, Sender
from crampwatch.pipeline import PipelineFactory, pipeline_factory
from crampwatch.prompt.channels.band import BandBuzzChannel
from crampwatch.prompt.channels.base import PromptChannel
from crampwatch.prompt.channels.bedside import BedsideChannel, BedsideHub
from crampwatch.prompt.channels.sound import SoundChannel
from crampwatch.prompt.channels.terminal import TerminalChannel
from crampwatch.prompt.channels.webhook import WebhookChannel
from crampwatch.prompt.dispatcher import PromptDispatcher
from crampwatch.prompt.guidance import GuidanceError, load_guidance
from crampwatch.prompt.log import PromptLog, read_prompt_log
from crampwatch.prompt.policy import PromptParams, PromptPolicy
from crampwatch.summary import (
    NightSummary,
    ask_diary,
    plot_summary,
    render_summary,
    summarize_night,
)
from models import DEFAULT_CLASSIFIER

log = logging.getLogger(__name__)


@dataclass
class RunOptions:
    """Everything a live night can be told from the command line."""

    data_dir: Path
    new_night: bool = False
    prompt: PromptParams = field(default_factory=PromptParams)
    classifier: str = DEFAULT_CLASSIFIER
    language: str = "en"
    sound: bool = True
    speak: bool = True
    webhook: str | None = None
    host: str = "127.0.0.1"
    port: int = 0  # 0: any free port
    serve: bool = True
    upload_url: str | None = None
    upload_token: str | None = None
    sleeper: str = "me"
    capture: bool = True
    calibrate: bool = False  # guided rest + contraction before the night
    diary: bool = False  # ask pain / sleep-disturbance scores at the end (a terminal)
    linger_s: float = 0.0  # keep serving the pages this long after the night
    params: SessionParams = field(default_factory=SessionParams)


@dataclass
class LiveResult:
    """The run's report, where its night lives, and the morning summary."""

    report: SessionReport
    night_dir: Path
    summary: NightSummary
    summary_text: str
    plot: Path | None
    store: LocalStore | None
    base_url: str | None


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the session owns Ctrl-C."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port free on ``host`` right now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def make_pipeline_factory(classifier: str) -> PipelineFactory:
    """Return a factory of fresh pipelines using the named classifier (see
    :func:`crampwatch.pipeline.pipeline_factory`)."""
    return pipeline_factory(classifier)


async def run_live(
    source: LiveSource,
    options: RunOptions,
    out: TextIO | None = None,
    on_ready: Callable[[str | None, str, LocalStore | None, LiveSession], None] | None = None,
) -> LiveResult:
    """Run one live night from ``source`` until it ends or Ctrl-C; return what happened.

    ``on_ready(base_url, bedside_token, store, session)`` is called once the server
    listens and the session is about to start (the demo prints where to look).
    """
    out = out if out is not None else sys.stdout
    try:
        book = load_guidance(options.language)
    except GuidanceError as exc:
        raise UserError(str(exc)) from exc
    make_pipeline = make_pipeline_factory(options.classifier)
    journal, resumed = NightJournal.start(options.data_dir, new_night=options.new_night,
                                          started_at=source.recorded_start)
    if resumed is not None:
        out.write(f"continuing {journal.night_id} (run {journal.run}, "
                  f"{len(resumed.events)} events so far)\n")
    else:
        out.write(f"new night {journal.night_id} in {journal.dir}\n")
    calibration = Calibration.load(options.data_dir)
    if options.calibrate:
        calibration = await _calibrate(source, options.data_dir, out)
    hub = BedsideHub()
    token = new_bedside_token()
    store = prepare_local_store(options.data_dir, options.sleeper) if options.serve else None
    server: _Server | None = None
    serving: asyncio.Task[None] | None = None
    base_url: str | None = None
    if options.serve:
        from api.app import create_app
        from api.settings import Settings

        assert store is not None
        app = create_app(Settings(database_url=store.database_url))
        app.include_router(bedside_router(hub, token))
        port = options.port or free_port(options.host)
        config = uvicorn.Config(app, host=options.host, port=port, log_level="warning",
                                lifespan="off")
        server = _Server(config)
        serving = asyncio.create_task(server.serve(), name="api-server")
        while not server.started:
            if serving.done():
                serving.result()  # raises the bind error
                raise UserError(f"the API server on {options.host}:{port} did not start")
            await asyncio.sleep(0.05)
        base_url = f"http://{options.host}:{port}"

    outboxes = _outboxes(journal, store, base_url, options)
    versions = {"detector_version": make_pipeline.detector_version[:64],
                "model_version": make_pipeline.model_version[:64]}
    for box, _ in outboxes.values():
        queue_night(box, journal.night_id, journal.started_at, **versions)
    prompt_log = PromptLog(journal.dir / "prompts.jsonl")
    channels: list[PromptChannel] = [TerminalChannel(out), BedsideChannel(hub)]
    if source.can_buzz:
        channels.append(BandBuzzChannel(source.buzz))
    if options.sound:
        channels.append(SoundChannel(journal.dir / "sounds", speak=options.speak))
    if options.webhook:
        channels.append(WebhookChannel(options.webhook))
    dispatcher = PromptDispatcher(journal.session_id, book, channels, prompt_log)
    session = LiveSession(
        source, make_pipeline, journal, PromptPolicy(options.prompt), dispatcher,
        resumed=resumed, outboxes=outboxes, hub=hub, params=options.params,
        status_out=sys.stderr, capture=options.capture, calibration=calibration,
    )
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, session.request_stop, f"signal {sig.name}")
            installed.append(sig)
    if on_ready is not None:
        on_ready(base_url, token, store, session)
    try:
        report = await session.run()
        state = read_night(journal.dir)
        night_over = report.ended_by != ""
        if night_over:
            journal.write("night_end", ended_by=report.ended_by)
            ended_s = report.night_end_s
            for box, send in outboxes.values():
                queue_night(box, journal.night_id, journal.started_at,
                            ended_at=night_time(journal.started_at, ended_s), **versions)
                await asyncio.wait_for(box.send_due(send), options.params.final_upload_s)
        summary, text, plot = _summarize(journal, state, report)
        out.write("\n" + text + "\n")
        trouble = stream_trouble(report)
        if trouble:
            out.write(f"  band stream: {trouble}\n")
        if plot is not None:
            out.write(f"  plot: {plot}\n")
        if options.diary:
            await _ask_diary(journal, outboxes, out, options.params.final_upload_s)
        pending = sum(box.counts().pending for box, _ in outboxes.values())
        if pending:
            out.write(f"  {pending} record(s) wait in the outbox; the next run sends them\n")
        if options.linger_s > 0 and server is not None:
            out.write(f"still serving {base_url} for {options.linger_s:g} s (Ctrl-C ends)\n")
            out.flush()
            done = asyncio.Event()
            for sig in installed:
                loop.add_signal_handler(sig, done.set)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), options.linger_s)
        return LiveResult(report, journal.dir, summary, text, plot, store, base_url)
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        hub.close()
        prompt_log.close()
        journal.close()
        for box, _ in outboxes.values():
            box.close()
        if server is not None and serving is not None:
            server.should_exit = True
            await serving


def stream_trouble(report: SessionReport) -> str:
    """Return one line on what the band's stream did wrong in the night ('' if nothing)."""
    parts = []
    for n, what in (
        (report.stream_restarts, "stream restart(s)"),
        (report.layout_changes, "new stream layout(s), each with a fresh detector"),
        (report.corrupt_packets, "corrupt packet(s) or damaged stretch(es) skipped"),
        (report.sequence_ignored, "wrong sequence number(s) ignored"),
        (report.clock_steps, "jump(s) of the band's clock re-learned"),
        (report.refused_blocks, f"block(s) the detector refused ({report.refused_samples} "
                                "samples dropped)"),
    ):
        if n:
            parts.append(f"{n} {what}")
    return "; ".join(parts)


async def _ask_diary(
    journal: NightJournal, outboxes: dict[str, tuple[Outbox, Sender]], out: TextIO,
    timeout_s: float,
) -> None:
    """Ask the diary scores; keep them in the journal and send them to the stores."""
    try:
        entry = await asyncio.to_thread(ask_diary, input, out)
    except (EOFError, ValueError) as exc:
        out.write(f"diary not saved: {exc}\n")
        return
    if entry is None:
        return
    journal.write("diary", pain_0_10=entry.pain_0_10,
                  sleep_disturbance_0_10=entry.sleep_disturbance_0_10, note=entry.note)
    body = {
        "entry_date": journal.started_at.astimezone().date().isoformat(),
        "night_id": journal.night_id,
        "pain_0_10": entry.pain_0_10,
        "sleep_disturbance_0_10": entry.sleep_disturbance_0_10,
        "note": entry.note,
    }
    for box, send in outboxes.values():
        box.put(f"diary:{journal.night_id}", "diary", body)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(box.send_due(send), timeout_s)
    out.write("diary saved\n")


async def _calibrate(source: LiveSource, data_dir: Path, out: TextIO) -> Calibration:
    def say(text: str) -> None:
        out.write(f"CALIBRATION: {text}\n")
        out.flush()

    items = await source.connect(None)
    try:
        calibration = await record_calibration(items, say)
    except CalibrationError as exc:
        raise UserError(str(exc)) from exc
    finally:
        await source.disconnect()
    path = calibration.save(data_dir)
    say(f"references saved in {path}: " + ", ".join(
        f"{k} rest {calibration.rest_rms_uv[k]:.1f} uV, contraction {v:.0f} uV"
        for k, v in calibration.contraction_rms_uv.items()))
    return calibration


def _outboxes(
    journal: NightJournal, store: LocalStore | None, base_url: str | None, options: RunOptions
) -> dict[str, tuple[Outbox, Sender]]:
    from api.client import HubClient

    boxes: dict[str, tuple[Outbox, Sender]] = {}
    if store is not None and base_url is not None:
        client = HubClient(base_url, store.hub_token, sleeper_id=store.sleeper_id)
        boxes["local"] = (Outbox(journal.dir / "outbox-local.sqlite"),
                          HubUploader(client, journal.night_id))
    if options.upload_url:
        if not options.upload_token:
            raise UserError("--upload needs --upload-token (a hub token from the clinic)")
        client = HubClient(options.upload_url, options.upload_token)
        boxes["clinic"] = (Outbox(journal.dir / "outbox-clinic.sqlite"),
                           HubUploader(client, journal.night_id))
    return boxes


def _summarize(
    journal: NightJournal, state: NightState, report: SessionReport
) -> tuple[NightSummary, str, Path | None]:
    events = list(state.events.values())
    records = read_prompt_log(journal.dir / "prompts.jsonl")
    summary = summarize_night(journal.night_id, events, records,
                              duration_s=max(report.night_end_s, state.last_session_s),
                              lost_signal_s=state.lost_s)
    text = render_summary(summary)
    try:
        plot = plot_summary(summary, events, journal.dir / "summary.png")
    except (OSError, ValueError) as exc:
        log.warning("could not draw the night's plot: %s", exc)
        plot = None
    make_private_file(journal.dir / "summary.txt")
    (journal.dir / "summary.txt").write_text(text + "\n", encoding="utf-8")
    return summary, text, plot
