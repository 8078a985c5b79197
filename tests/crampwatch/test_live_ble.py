"""The live session over BLE: virtual band as a bumble GATT peripheral -> bleak (our bumble
backend) -> BleLink -> live session; the cramp prompts and the buzz reaches the band."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from crampwatch.live.demo_night import make_demo_night, night_blocks
from crampwatch.live.night import NightJournal
from crampwatch.live.runner import make_pipeline_factory
from crampwatch.live.scoring import score_prompts
from crampwatch.live.session import LiveSession
from crampwatch.live.sources import LinkSource
from crampwatch.prompt.channels.band import BandBuzzChannel
from crampwatch.prompt.dispatcher import PromptDispatcher
from crampwatch.prompt.guidance import load_guidance
from crampwatch.prompt.log import PromptLog
from crampwatch.prompt.policy import PromptPolicy
from crampwatch.synth.truth import NightTruth
from firmware_bridge.ble.air import VirtualAir
from firmware_bridge.ble.bleak_bumble import BumbleBleakClient, BumbleBleakScanner
from firmware_bridge.ble.connection import BandSelector, BleBackend
from firmware_bridge.ble.link import BleLink
from firmware_bridge.ble.virtual_peripheral import BleVirtualBand
from firmware_bridge.clock import ClockParams
from firmware_bridge.virtual_band import BlockSource, VirtualBand

PACE = 15.0


@pytest.mark.slow
def test_live_session_over_ble(tmp_path: Path) -> None:
    files = make_demo_night(tmp_path / "synthetic", minutes=4, seed=4, cramps=2)
    truth = NightTruth.read(files.truth)
    band = VirtualBand(BlockSource(night_blocks(files.edf)), speed=PACE)

    async def main():  # type: ignore[no-untyped-def]
        air = VirtualAir()
        peripheral = BleVirtualBand(band, air, name="CrampBand-live")
        await peripheral.start()
        source = LinkSource(
            lambda cap: BleLink(
                BandSelector(name="CrampBand-live"),
                backend=BleBackend(BumbleBleakScanner, BumbleBleakClient, {"air": air}),
                clock=ClockParams(device_speed=PACE),
                capture=cap,
            ),
            "BLE band (bumble)",
        )
        source.pace = PACE
        journal, _ = NightJournal.start(tmp_path / "home")
        dispatcher = PromptDispatcher(journal.session_id, load_guidance(),
                                      [BandBuzzChannel(source.buzz)],
                                      PromptLog(journal.dir / "prompts.jsonl"))
        session = LiveSession(source, make_pipeline_factory("rules"), journal, PromptPolicy(),
                              dispatcher)

        async def stop_when_played() -> None:
            while not band.exhausted:
                await asyncio.sleep(0.1)
            await asyncio.sleep(1.0)
            session.request_stop("played")

        stopper = asyncio.create_task(stop_when_played())
        try:
            return await asyncio.wait_for(session.run(), 120)
        finally:
            stopper.cancel()
            journal.close()

    report = asyncio.run(main())
    score = score_prompts(truth.events, report.decisions, report.reconnect_gaps)
    assert score.missed == 0 and not score.false_prompts, score.describe()
    assert max(score.latencies_s) <= 3.0, score.describe()  # both cramps are tonic
    assert any(b.pulses > 0 for b in band.buzzes)
    assert list((tmp_path / "home").glob("nights/*/capture-*.cwcap"))
