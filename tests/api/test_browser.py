"""Headless Chromium: a clinician logs in, opens a night and sees its events plotted."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from tests.api.conftest import NIGHT_START, World, auth, sample_events, upload_night
from tests.api.live_server import serving

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture
def base_url(world: World, database_url: str):
    app = create_app(Settings(database_url=database_url), world.store)
    with TestClient(app) as client:
        # Three weeks of nights so the calendar and trends have something to show.
        for day in range(0, 21, 2):
            start = NIGHT_START - dt.timedelta(days=day)
            # Earlier nights keep a varying subset of the sample events.
            events = [e for i, e in enumerate(sample_events(f"n{day}-")) if (i + day) % 3]
            if day == 0:
                events = sample_events()
            upload_night(client, world.sleeper_a, world.hub_a, f"n{day:02d}", start, events)
        upload_night(client, world.sleeper_b, world.hub_b, "b-night")
        # The sleeper was woken for e1: the band buzzed, then a sound, then acknowledged.
        prompt = {"event_id": "e1", "night_id": "n00", "sent_at": "2026-03-03T01:24:06+01:00",
                  "channel": "band", "level": 1, "escalated_at": "2026-03-03T01:24:36+01:00",
                  "escalated_channel": "sound", "acknowledged_at": "2026-03-03T01:24:50+01:00",
                  "acknowledged_channel": "bedside"}
        response = client.put(f"/api/v1/sleepers/{world.sleeper_a}/prompts/p1", json=prompt,
                              headers=auth(world.hub_a))
        assert response.status_code == 201, response.text
        night = {"started_at": NIGHT_START.isoformat(),
                 "ended_at": (NIGHT_START + dt.timedelta(hours=8, minutes=10)).isoformat(),
                 "detector_version": "0.1.0", "model_version": "tonic-clonic-2026.1"}
        response = client.put(f"/api/v1/sleepers/{world.sleeper_a}/nights/n00", json=night,
                              headers=auth(world.hub_a))
        assert response.status_code == 200, response.text
    with serving(app) as url:
        yield url


@pytest.mark.skipif(not CHROMIUM.exists(), reason="run scripts/debian-packages chromium:chromium")
def test_clinician_logs_in_and_sees_the_night_plotted(
    world: World, base_url: str, artifacts_dir: Path
) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1180, "height": 900})
        page.goto(f"{base_url}/sleepers/{world.sleeper_a}/nights/n00")
        # Not logged in: the login form, which returns to the night afterwards.
        assert "/login" in page.url
        page.fill("#token", "cw_wrong")
        page.click("button[type=submit]")
        assert page.locator(".error").inner_text().startswith("That token is not valid")
        page.fill("#token", world.clinician)
        page.click("button[type=submit]")
        page.wait_for_url(f"**/sleepers/{world.sleeper_a}/nights/n00")

        bars = page.locator("#timeline svg rect.event")
        assert bars.count() == 5
        ids = {bars.nth(i).get_attribute("data-event-id") for i in range(5)}
        assert ids == {"e1", "e2", "e3", "e4", "e5"}
        box = page.locator("#timeline svg rect.event-tonic").first.bounding_box()
        assert box is not None and box["width"] > 2 and box["height"] > 5
        assert "Red flag" in page.locator("main").inner_text()
        page.screenshot(path=str(artifacts_dir / "api-night-timeline.png"), full_page=True)
        # On a tablet held upright the page fits its width: nothing to scroll sideways.
        page.set_viewport_size({"width": 768, "height": 1024})
        assert page.evaluate("document.documentElement.scrollWidth") <= 768
        page.screenshot(path=str(artifacts_dir / "api-night-tablet.png"), full_page=True)
        page.set_viewport_size({"width": 1180, "height": 900})

        # The list: cramps first, the look-alikes hidden until asked for.
        rows = page.locator("table.events tbody tr[data-kind]")
        kinds = [rows.nth(i).get_attribute("data-kind") for i in range(rows.count())]
        assert kinds == ["tonic", "clonic", "tonic"]
        assert "2 look-alikes are hidden" in page.locator("p.filter").inner_text()
        page.screenshot(path=str(artifacts_dir / "night-page.png"), full_page=True)
        page.click("#show-lookalikes")
        page.wait_for_url("**show=all**")
        kinds = [rows.nth(i).get_attribute("data-kind") for i in range(rows.count())]
        assert kinds == ["tonic", "clonic", "tonic", "plm", "movement"]

        page.locator('#timeline a:has(rect[data-event-id="e1"])').click()
        page.wait_for_url("**/events/e1")
        traces = page.locator("#envelope svg polyline.trace")
        assert traces.count() == 2
        onset = page.locator("#envelope svg path.mark-onset")
        assert onset.count() == 1
        # The onset is drawn where the calf's envelope rises: 10 s into a 152 s window.
        plot = page.locator("#envelope svg").bounding_box()
        box = onset.bounding_box()
        assert plot is not None and box is not None and box["height"] > 100
        assert 0.05 < (box["x"] - plot["x"]) / plot["width"] < 0.2
        assert page.locator("#envelope svg path.mark-prompt").count() == 3
        assert "Right calf (gastrocnemius)" in page.locator("#envelope").inner_text()
        page.screenshot(path=str(artifacts_dir / "event-page.png"), full_page=True)

        page.goto(f"{base_url}/sleepers/{world.sleeper_a}")
        assert page.locator("table.calendar a.night").count() == 11
        page.screenshot(path=str(artifacts_dir / "api-sleeper-calendar.png"), full_page=True)

        # Sleeper B is not this clinician's: the page says not found, not forbidden.
        response = page.goto(f"{base_url}/sleepers/{world.sleeper_b}")
        assert response is not None and response.status == 404
        browser.close()
