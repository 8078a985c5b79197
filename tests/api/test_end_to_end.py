"""Real HTTP against uvicorn on a real SQLite file: a hub uploads with the hub client, a
clinician reads, and access across sleepers is refused."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from api.app import create_app
from api.client import HubClient, TransientUploadError, UploadRejectedError
from api.settings import Settings
from tests.api.conftest import NIGHT_START, World, auth, sample_events
from tests.api.live_server import free_port, serving

pytestmark = pytest.mark.slow


@pytest.fixture
def base_url(world: World, database_url: str):
    app = create_app(Settings(database_url=database_url), world.store)
    with serving(app) as url:
        yield url


def test_hub_uploads_clinician_reads_other_sleepers_refused(world: World, base_url: str) -> None:
    with HubClient(base_url, world.hub_a) as hub:
        assert hub.sleeper_id == world.sleeper_a
        hub.register_band("band-7f3a", name="left/right calf band", firmware="1.2.0")
        night = hub.put_night(
            "n0302", NIGHT_START, NIGHT_START + dt.timedelta(hours=8), band_id="band-7f3a"
        )
        assert night["band_id"] == "band-7f3a"
        first = hub.upload_events("n0302", sample_events())
        # The hub's network dropped before it saw the answer: it sends everything again.
        retry = hub.upload_events("n0302", sample_events())
        hub.put_prompt(
            "p1",
            {
                "event_id": "e1",
                "night_id": "n0302",
                "sent_at": (NIGHT_START + dt.timedelta(seconds=9846)).isoformat(),
                "channel": "band",
                "acknowledged_at": (NIGHT_START + dt.timedelta(seconds=9861)).isoformat(),
                "acknowledged_channel": "bedside",
            },
        )
        hub.put_diary_entry(
            "d1", {"entry_date": "2026-03-03", "event_id": "e1", "pain_0_10": 6}
        )
    assert (first.created, first.updated, first.unchanged) == (5, 0, 0)
    assert (retry.created, retry.updated, retry.unchanged) == (0, 0, 5)

    with httpx.Client(base_url=base_url, headers=auth(world.clinician)) as clinician:
        page = clinician.get(f"/api/v1/sleepers/{world.sleeper_a}/events").json()
        assert [e["event_id"] for e in page["items"]] == ["e4", "e5", "e1", "e2", "e3"]
        detail = clinician.get(f"/api/v1/sleepers/{world.sleeper_a}/events/e1").json()
        assert detail["prompts"][0]["response_s"] == pytest.approx(15.0)
        assert detail["diary"][0]["pain_0_10"] == 6
        assert len(detail["envelope"]["channels"]) == 2
        # Sleeper B is not assigned to this clinician: 404, same as a sleeper that never existed.
        other = clinician.get(f"/api/v1/sleepers/{world.sleeper_b}/events")
        missing = clinician.get("/api/v1/sleepers/999/events")
        assert other.status_code == missing.status_code == 404
        assert other.json()["detail"].replace(str(world.sleeper_b), "N") == missing.json()[
            "detail"
        ].replace("999", "N")

    # Hub A may not write sleeper B's log, and it cannot tell that sleeper B exists.
    wrong = HubClient(base_url, world.hub_a, sleeper_id=world.sleeper_b)
    with wrong, pytest.raises(UploadRejectedError) as refused:
        wrong.put_night("n0302", NIGHT_START)
    assert refused.value.status == 404
    with httpx.Client(base_url=base_url) as anonymous:
        assert anonymous.get(f"/api/v1/sleepers/{world.sleeper_a}/events").status_code == 401


def test_client_reports_rejections_and_unreachable_server(world: World, base_url: str) -> None:
    with HubClient(base_url, world.hub_a) as hub:
        hub.put_night("n1", NIGHT_START)
        bad = dict(sample_events()[0], confidence=1.7)
        with pytest.raises(UploadRejectedError) as rejected:
            hub.upload_events("n1", [bad])
    assert rejected.value.status == 422
    assert "confidence" in rejected.value.detail
    # The pipeline marks a feature it could not compute with NaN: stored as null.
    with HubClient(base_url, world.hub_a) as hub:
        odd = dict(sample_events()[1], features={"burst_count": 6.0, "amp_rel_peak": float("nan")})
        assert hub.upload_events("n1", [odd]).created == 1
    detail = httpx.get(f"{base_url}/api/v1/sleepers/{world.sleeper_a}/events/e2",
                       headers=auth(world.clinician)).json()
    assert detail["features"] == {"burst_count": 6.0, "amp_rel_peak": None}
    with HubClient(base_url, "cw_not-a-token") as stranger, pytest.raises(UploadRejectedError) as e:
        stranger.put_night("n1", NIGHT_START)
    assert e.value.status == 401
    # Nothing listens on this port: the upload may be retried later, not dropped.
    offline = HubClient(f"http://127.0.0.1:{free_port()}", world.hub_a, sleeper_id=1)
    with offline, pytest.raises(TransientUploadError):
        offline.put_night("n1", NIGHT_START)


def test_racing_retries_never_fail_with_a_server_error(world: World, base_url: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with HubClient(base_url, world.hub_a) as hub:
        hub.put_night("n0302", NIGHT_START)
    body = {"events": sample_events()}
    url = f"{base_url}/api/v1/sleepers/{world.sleeper_a}/nights/n0302/events"

    def upload(_: int) -> int:
        return httpx.post(url, json=body, headers=auth(world.hub_a), timeout=30).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(upload, range(12)))
    # Every racer is answered as if it came alone; nothing is duplicated.
    assert statuses == [200] * 12
    with httpx.Client(base_url=base_url, headers=auth(world.clinician)) as clinician:
        items = clinician.get(f"/api/v1/sleepers/{world.sleeper_a}/events").json()["items"]
    assert sorted(e["event_id"] for e in items) == ["e1", "e2", "e3", "e4", "e5"]
