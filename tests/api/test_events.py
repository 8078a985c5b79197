"""Event upload (idempotent, updates in place) and the events query (filters, pagination)."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from tests.api.conftest import NIGHT_START, World, auth, sample_events, upload_night


def _post(client: TestClient, world: World, events: list[dict], night: str = "n0302"):
    return client.post(f"/api/v1/sleepers/{world.sleeper_a}/nights/{night}/events",
                       json={"events": events}, headers=auth(world.hub_a))


def _events(client: TestClient, world: World, **params) -> list[dict]:
    response = client.get(f"/api/v1/sleepers/{world.sleeper_a}/events", params=params,
                          headers=auth(world.clinician))
    assert response.status_code == 200, response.text
    return response.json()["items"]


def test_retried_upload_never_duplicates(world: World, client: TestClient) -> None:
    upload_night(client, world.sleeper_a, world.hub_a)
    for _ in range(3):
        again = _post(client, world, sample_events())
        assert again.json() == {"created": 0, "updated": 0, "unchanged": 5, "kept_final": []}
    assert len(_events(client, world)) == 5


def test_provisional_event_is_finalised_in_place(world: World, client: TestClient) -> None:
    upload_night(client, world.sleeper_a, world.hub_a, events=[])
    running = copy.deepcopy(sample_events()[0])
    running.update(end_s=None, final=False, confidence=0.6)
    running.pop("envelope")
    assert _post(client, world, [running]).json()["created"] == 1
    (stored,) = _events(client, world)
    assert stored["end_s"] is None and stored["duration_s"] is None and not stored["final"]

    final = sample_events()[0]
    assert _post(client, world, [final]).json()["updated"] == 1
    (stored,) = _events(client, world)
    assert stored["final"] and stored["duration_s"] == pytest.approx(132.5)
    assert stored["confidence"] == pytest.approx(0.93)
    assert stored["has_envelope"]

    # A late retry of the provisional version must not undo the final call.
    late = _post(client, world, [running]).json()
    assert late["kept_final"] == ["e1"] and late["updated"] == 0
    assert _events(client, world)[0]["final"]


def test_event_id_used_by_another_night_is_a_conflict(world: World, client: TestClient) -> None:
    upload_night(client, world.sleeper_a, world.hub_a)
    upload_night(client, world.sleeper_a, world.hub_a, "n0303",
                 NIGHT_START + dt.timedelta(days=1), events=[])
    clash = _post(client, world, sample_events()[:1], night="n0303")
    assert clash.status_code == 409
    assert "unique per sleeper" in clash.json()["detail"]
    # The other sleeper may reuse the same ids: ids are per sleeper.
    upload_night(client, world.sleeper_b, world.hub_b)


def test_event_wall_clock_follows_the_night_start(world: World, client: TestClient) -> None:
    upload_night(client, world.sleeper_a, world.hub_a)
    first = _events(client, world, kind="plm")[0]
    assert first["start_at"] == "2026-03-02T23:40:00+01:00"  # 22:40 + 3600 s
    # The hub corrects the night's start (clock sync): events move with it.
    moved = client.put(f"/api/v1/sleepers/{world.sleeper_a}/nights/n0302",
                       json={"started_at": "2026-03-02T22:50:00+01:00"},
                       headers=auth(world.hub_a))
    assert moved.status_code == 200
    assert _events(client, world, kind="plm")[0]["start_at"] == "2026-03-02T23:50:00+01:00"


def test_filters_by_kind_duration_confidence_and_time(world: World, client: TestClient) -> None:
    upload_night(client, world.sleeper_a, world.hub_a)
    ids = lambda items: [e["event_id"] for e in items]  # noqa: E731
    assert ids(_events(client, world, cramps_only=True)) == ["e1", "e2", "e3"]
    assert ids(_events(client, world, kind=["plm", "movement"])) == ["e4", "e5"]
    assert ids(_events(client, world, min_duration_s=600)) == ["e3"]
    assert ids(_events(client, world, min_confidence=0.9)) == ["e1", "e3"]
    window = {"start": "2026-03-03T01:00:00+01:00", "end": "2026-03-03T03:00:00+01:00"}
    assert ids(_events(client, world, **window)) == ["e1", "e2"]
    # The same instant written in UTC selects the same events.
    utc = {"start": "2026-03-03T00:00:00Z", "end": "2026-03-03T02:00:00Z"}
    assert ids(_events(client, world, **utc)) == ["e1", "e2"]
    assert ids(_events(client, world, night_id="n0302", cramps_only=True, min_confidence=0.9)) == [
        "e1", "e3"]


def test_cursor_pagination_visits_every_event_once(world: World, client: TestClient) -> None:
    upload_night(client, world.sleeper_a, world.hub_a, events=[])
    many = []
    plm = sample_events()[3]
    for i in range(53):
        event = dict(plm)
        # Pairs share a start time: the cursor must break ties without skipping either.
        start_s = 1000.0 + (i // 2) * 30
        event.update(event_id=f"p{i:03d}", start_s=start_s, end_s=start_s + 1.0)
        many.append(event)
    assert _post(client, world, many).json()["created"] == 53
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 10, **({"cursor": cursor} if cursor else {})}
        page = client.get(f"/api/v1/sleepers/{world.sleeper_a}/events", params=params,
                          headers=auth(world.clinician)).json()
        seen += [e["event_id"] for e in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 6
    assert sorted(seen) == [f"p{i:03d}" for i in range(53)] and len(set(seen)) == 53


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"confidence": 1.5}, "confidence"),
        ({"end_s": 9000.0}, "end_s (9000.0) is before start_s"),
        ({"end_s": None}, "a final event has ended"),
        ({"kind": "cramp"}, "kind"),
        ({"channel": {"muscle": "biceps", "side": "left"}}, "muscle"),
        ({"colour": "red"}, "colour"),
        ({"event_id": "has space"}, "event_id"),
    ],
)
def test_bad_events_are_refused_with_the_reason(
    world: World, client: TestClient, change: dict, words: str
) -> None:
    upload_night(client, world.sleeper_a, world.hub_a, events=[])
    event = {**sample_events()[0], **change}
    response = _post(client, world, [event])
    assert response.status_code == 422
    assert words in response.json()["detail"]
    assert _events(client, world) == []


def test_whole_batch_is_refused_if_one_event_is_bad(world: World, client: TestClient) -> None:
    upload_night(client, world.sleeper_a, world.hub_a, events=[])
    events = sample_events()
    events[4]["confidence"] = -0.1
    response = _post(client, world, events)
    assert response.status_code == 422
    assert response.json()["errors"][0]["location"] == "body.events.4.confidence"
    assert _events(client, world) == []


def test_duplicate_ids_in_one_upload_are_refused(world: World, client: TestClient) -> None:
    upload_night(client, world.sleeper_a, world.hub_a, events=[])
    events = sample_events()[:2]
    events[1]["event_id"] = events[0]["event_id"]
    response = _post(client, world, events)
    assert response.status_code == 422 and "appears twice" in response.json()["detail"]


def test_query_refusals_say_what_is_wrong(world: World, client: TestClient) -> None:
    base = f"/api/v1/sleepers/{world.sleeper_a}/events"
    cases = [
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"start": "2026-03-03T01:00:00"}, "timezone"),
        ({"start": "2026-03-03T02:00:00Z", "end": "2026-03-03T01:00:00Z"}, "end must be after"),
        ({"limit": 0}, "limit"),
        ({"kind": "cramp"}, "kind"),
    ]
    for params, words in cases:
        response = client.get(base, params=params, headers=auth(world.clinician))
        assert response.status_code == 422, params
        assert words in response.json()["detail"], response.json()


def test_event_detail_carries_envelope_prompts_and_diary(world: World, client: TestClient) -> None:
    upload_night(client, world.sleeper_a, world.hub_a)
    base = f"/api/v1/sleepers/{world.sleeper_a}"
    prompt = {"event_id": "e1", "night_id": "n0302", "sent_at": "2026-03-03T01:24:06+01:00",
              "channel": "band", "level": 1, "escalated_at": "2026-03-03T01:24:36+01:00",
              "escalated_channel": "sound"}
    put = client.put(f"{base}/prompts/p1", json=prompt, headers=auth(world.hub_a))
    assert put.status_code == 201
    # The sleeper acknowledges at the bedside: the hub sends the prompt again, completed.
    prompt.update(acknowledged_at="2026-03-03T01:24:50+01:00", acknowledged_channel="bedside")
    put = client.put(f"{base}/prompts/p1", json=prompt, headers=auth(world.hub_a))
    assert put.status_code == 200
    diary = {"entry_date": "2026-03-03", "event_id": "e1", "pain_0_10": 7,
             "sleep_disturbance_0_10": 8, "note": "could not get back to sleep"}
    assert client.put(f"{base}/diary/d1", json=diary, headers=auth(world.hub_a)).status_code == 201
    detail = client.get(f"{base}/events/e1", headers=auth(world.clinician)).json()
    sent = sample_events()[0]["envelope"]
    assert detail["envelope"] == sent
    assert [c["role"] for c in detail["envelope"]["channels"]] == ["calf", "shin"]
    assert detail["has_envelope"]
    assert client.get(f"{base}/events/e2", headers=auth(world.clinician)).json()["envelope"] is None
    (stored_prompt,) = detail["prompts"]
    assert stored_prompt["response_s"] == pytest.approx(44.0)
    assert stored_prompt["escalated_channel"] == "sound"
    assert detail["diary"][0]["pain_0_10"] == 7
    assert detail["features"]["amp_rel_peak"] == pytest.approx(11.4)
    bad = client.put(f"{base}/diary/d2", json={"entry_date": "2026-03-03", "pain_0_10": 11},
                     headers=auth(world.hub_a))
    assert bad.status_code == 422 and "pain_0_10" in bad.json()["detail"]


def test_times_at_the_ends_of_the_calendar_are_refused_not_crashed(
    world: World, client: TestClient
) -> None:
    base = f"/api/v1/sleepers/{world.sleeper_a}"
    night = {"started_at": "2026-03-02T22:00:00+01:00", "ended_at": "0001-01-01T00:00:00+05:00"}
    response = client.put(f"{base}/nights/n1", json=night, headers=auth(world.hub_a))
    assert response.status_code == 422 and "ended_at" in response.json()["detail"]
    prompt = {"sent_at": "2026-03-03T01:00:00+01:00", "channel": "band",
              "acknowledged_at": "0001-01-01T00:00:00+05:00", "acknowledged_channel": "band"}
    response = client.put(f"{base}/prompts/p1", json=prompt, headers=auth(world.hub_a))
    assert response.status_code == 422 and "2000-2999" in response.json()["detail"]


def test_a_nul_in_any_text_is_refused_naming_the_field(world: World, client: TestClient) -> None:
    # PostgreSQL cannot store NUL in text: both backends refuse it before the store sees it.
    base = f"/api/v1/sleepers/{world.sleeper_a}"
    event = {**sample_events()[0], "channel": {**sample_events()[0]["channel"], "label": "R\0"}}
    bodies = [
        (f"{base}/bands/b1", {"name": "left\0band"}, "body.name"),
        (f"{base}/bands/b1", {"firmware": "1.2\0"}, "body.firmware"),
        (f"{base}/nights/n1", {"started_at": NIGHT_START.isoformat(), "detector_version": "\0"},
         "body.detector_version"),
        (f"{base}/nights/n1", {"started_at": NIGHT_START.isoformat(), "note": "a\0b"}, "body.note"),
        (f"{base}/diary/d1", {"entry_date": "2026-03-03", "note": "sore\0"}, "body.note"),
    ]
    for path, body, location in bodies:
        response = client.put(path, json=body, headers=auth(world.hub_a))
        assert response.status_code == 422, (path, body, response.text)
        (error,) = response.json()["errors"]
        assert error["location"] == location
        assert "NUL" in error["message"] and "NUL" in response.json()["detail"]
    assert client.get(f"{base}/nights", headers=auth(world.clinician)).json() == []

    upload_night(client, world.sleeper_a, world.hub_a, events=[])
    response = _post(client, world, [event])
    assert response.status_code == 422
    assert response.json()["errors"][0]["location"] == "body.events.0.channel.label"
    assert _events(client, world) == []
    note = client.post("/api/v1/sleepers", json={"label": "S-0003", "note": "\0"},
                       headers=auth(world.admin))
    assert note.status_code == 422 and "body.note" in note.json()["detail"]

    for path, params in ((f"{base}/prompts", {"night_id": "n\0"}), (f"{base}/events",
                                                                     {"cursor": "\0"})):
        response = client.get(path, params=params, headers=auth(world.clinician))
        assert response.status_code == 422, (path, response.text)
        assert "NUL" in response.json()["detail"]


def test_every_request_text_field_is_documented_without_nul(tmp_path: Path) -> None:
    # The document is the same on every backend: one run on SQLite.
    database_url = f"sqlite:///{tmp_path / 'crampwatch.db'}"
    document = create_app(Settings(database_url=database_url)).openapi()

    def strings(schema: dict, where: str) -> list[tuple[str, dict]]:
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[1]
            return strings(document["components"]["schemas"][name], name)
        found = [(where, schema)] if schema.get("type") == "string" else []
        for key, value in schema.get("properties", {}).items():
            found += strings(value, f"{where}.{key}")
        for member in schema.get("anyOf", []) + ([schema["items"]] if "items" in schema else []):
            found += strings(member, where)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            found += strings(extra, where)
        names = schema.get("propertyNames")
        if isinstance(names, dict):
            found += strings(names, f"{where} (key)")
        return found

    texts = []
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            for parameter in operation.get("parameters", []):
                texts += strings(parameter["schema"], f"{method} {path} {parameter['name']}")
            for content in operation.get("requestBody", {}).get("content", {}).values():
                texts += strings(content["schema"], f"{method} {path} body")
    free = [
        where for where, schema in texts
        if "pattern" not in schema and "enum" not in schema and "format" not in schema
    ]
    assert len(texts) > 30 and free == []
