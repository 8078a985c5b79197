"""One night from one source to its sinks: blocks -> pipeline -> events -> sinks.

:class:`NightSession` is the synchronous core every night runs through. Blocks (already
on the night's clock) go to the pipeline; the events and gaps it returns go to the
night's sinks, and each event to the prompt policy on the night's clock
(:class:`~crampwatch.prompt.night_clock.NightPrompter`), whose decisions go to the sinks
too. ``crampwatch replay`` plays a recording through it as fast as the machine allows
(:mod:`crampwatch.replay`); a live session (``run``, ``demo``) wraps it for its asyncio
link, reconnects and prompt channels (:class:`crampwatch.live.session.LiveSession`),
running :meth:`NightSession.process` on its worker thread and :meth:`NightSession.deliver`
on its event loop. Either way a night gives the same events and the same prompts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from crampwatch.live.pipeline_feed import NewStream, Output, PipelineFeed
from crampwatch.prompt.night_clock import NightPrompter
from crampwatch.prompt.policy import AckResponse, PromptDecision
from sensor.records import Event, SampleBlock, SignalGap

SourceItem = SampleBlock | NewStream


class NightSink:
    """Where a night's blocks, events, gaps and prompt decisions go; override what you need."""

    def on_block(self, block: SampleBlock) -> None:
        """Take a block about to be processed (on the night's clock)."""

    def on_event(self, event: Event) -> None:
        """Take one version of an event (provisional or final), in the order it became known."""

    def on_gap(self, gap: SignalGap) -> None:
        """Take a signal gap the Detector reported."""

    def on_decisions(self, decisions: list[PromptDecision]) -> None:
        """Take what the prompt policy decided, in order."""

    def finish(self, stream_end_s: float) -> None:
        """The night has ended at stream time ``stream_end_s``: write what is left."""


class NightSession:
    """Runs one night: feed it blocks in time order (:meth:`step` or :meth:`play`)."""

    def __init__(self, feed: PipelineFeed, prompter: NightPrompter,
                 sinks: Sequence[NightSink] = (), start_s: float = 0.0) -> None:
        self.feed = feed
        self.prompter = prompter
        self.sinks = list(sinks)
        self.processed_s = start_s  # stream time the pipeline has processed up to

    # -- the pipeline side (a live session runs it on its worker thread) -----------------

    def process(self, items: list[SourceItem]) -> list[Output]:
        """Return the pipeline's outputs for ``items`` (blocks, new-stream markers).

        Call :meth:`processed` once they are delivered: until then the night's clock
        must not run past events not yet handed to the prompt policy.
        """
        return self.feed.process(items)

    def processed(self, items: Iterable[SourceItem]) -> None:
        """Note that the outputs of ``items`` were delivered: night time reaches their end."""
        for item in items:
            if isinstance(item, SampleBlock) and item.t_end_s > self.processed_s:
                self.processed_s = item.t_end_s

    def close_pipeline(self) -> list[Output]:
        """Return what closes as the current pipeline ends (open episodes end here)."""
        return self.feed.finish()

    # -- the sinks and the night's clock --------------------------------------------------

    def deliver(self, outputs: Iterable[Output]) -> list[PromptDecision]:
        """Hand the pipeline's outputs to the sinks and the prompt policy; return its decisions."""
        decisions: list[PromptDecision] = []
        for out in outputs:
            if isinstance(out, SignalGap):
                for sink in self.sinks:
                    sink.on_gap(out)
                continue
            for sink in self.sinks:
                sink.on_event(out)
            decisions += self._decided(self.prompter.on_event(out))
        return decisions

    def advance(self, t_s: float) -> list[PromptDecision]:
        """Return the decisions time alone causes up to night time ``t_s``."""
        return self._decided(self.prompter.advance(t_s))

    def acknowledge(self, t_s: float, response: AckResponse) -> list[PromptDecision]:
        """Return the decisions when the sleeper answers at night time ``t_s``."""
        return self._decided(self.prompter.acknowledge(t_s, response))

    def _decided(self, decisions: list[PromptDecision]) -> list[PromptDecision]:
        if decisions:
            for sink in self.sinks:
                sink.on_decisions(decisions)
        return decisions

    # -- one thread, as fast as the source gives blocks -----------------------------------

    def step(self, item: SourceItem) -> list[PromptDecision]:
        """Process one block (or new-stream marker) and deliver what it made known."""
        if isinstance(item, SampleBlock):
            for sink in self.sinks:
                sink.on_block(item)
        decisions = self.deliver(self.process([item]))
        self.processed([item])
        return decisions

    def end(self) -> list[PromptDecision]:
        """End the night: close the pipeline, let time reach the last sample, finish sinks."""
        decisions = self.deliver(self.close_pipeline())
        decisions += self.advance(self.processed_s)
        for sink in self.sinks:
            sink.finish(self.processed_s)
        return decisions

    def play(self, items: Iterable[SourceItem]) -> list[PromptDecision]:
        """Run the whole night from ``items``; return every prompt decision, in order."""
        decisions: list[PromptDecision] = []
        for item in items:
            decisions += self.step(item)
        return decisions + self.end()
