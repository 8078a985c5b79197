"""Who may read and write what: 401 without a credential, 404 for sleepers out of reach
(never revealing whether they exist), 403 for a role that may not do something it can see."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import NIGHT_START, World, auth, upload_night


def test_every_api_request_needs_a_valid_token(world: World, client: TestClient) -> None:
    for path in ("/api/v1/me", "/api/v1/sleepers", f"/api/v1/sleepers/{world.sleeper_a}/events"):
        missing = client.get(path)
        assert missing.status_code == 401
        assert missing.headers["WWW-Authenticate"] == "Bearer"
        assert "Bearer" in missing.json()["detail"]
        assert client.get(path, headers=auth("cw_made-up")).status_code == 401


def test_revoked_token_stops_working(world: World, client: TestClient) -> None:
    users = client.get("/api/v1/users", headers=auth(world.admin)).json()
    hub = next(u for u in users if u["name"] == "hub-a")
    issued = client.post(f"/api/v1/users/{hub['user_id']}/tokens", json={"label": "spare"},
                         headers=auth(world.admin))
    assert issued.status_code == 201
    token = issued.json()["token"]
    assert client.get("/api/v1/me", headers=auth(token)).json()["sleeper_id"] == world.sleeper_a
    revoked = client.delete(
        f"/api/v1/users/{hub['user_id']}/tokens/{issued.json()['token_id']}",
        headers=auth(world.admin),
    )
    assert revoked.status_code == 204
    assert client.get("/api/v1/me", headers=auth(token)).status_code == 401
    # The hub's first token is untouched.
    assert client.get("/api/v1/me", headers=auth(world.hub_a)).status_code == 200


def test_tokens_are_stored_only_as_hashes(world: World) -> None:
    raw = world.store.engine.raw_connection()
    try:
        stored = [row[0] for row in raw.execute("SELECT token_hash FROM tokens").fetchall()]
    finally:
        raw.close()
    assert len(stored) == 5
    for token in (world.admin, world.clinician, world.hub_a):
        assert token not in stored
        assert all(token not in value for value in stored)


def test_clinician_sees_only_assigned_sleepers(world: World, client: TestClient) -> None:
    upload_night(client, world.sleeper_a, world.hub_a)
    upload_night(client, world.sleeper_b, world.hub_b, events=[])
    listed = client.get("/api/v1/sleepers", headers=auth(world.clinician)).json()
    assert [s["sleeper_id"] for s in listed] == [world.sleeper_a]
    assert listed[0]["night_count"] == 1
    everyone = client.get("/api/v1/sleepers", headers=auth(world.admin)).json()
    assert {s["sleeper_id"] for s in everyone} == {world.sleeper_a, world.sleeper_b}


def test_unassigned_sleeper_answers_exactly_like_a_missing_one(
    world: World, client: TestClient
) -> None:
    upload_night(client, world.sleeper_b, world.hub_b)
    for suffix in ("", "/events", "/nights", "/nights/n0302", "/events/e1", "/weeks",
                   "/export/events.csv", "/diary", "/prompts", "/nights/n0302/summary"):
        real = client.get(f"/api/v1/sleepers/{world.sleeper_b}{suffix}",
                          headers=auth(world.clinician))
        ghost = client.get(f"/api/v1/sleepers/424242{suffix}", headers=auth(world.clinician))
        assert real.status_code == ghost.status_code == 404, suffix
        assert real.json()["detail"].replace(str(world.sleeper_b), "#") == ghost.json()[
            "detail"
        ].replace("424242", "#")


def test_hub_writes_only_its_own_sleeper(world: World, client: TestClient) -> None:
    body = {"started_at": NIGHT_START.isoformat()}
    own = client.put(f"/api/v1/sleepers/{world.sleeper_a}/nights/n1", json=body,
                     headers=auth(world.hub_a))
    assert own.status_code == 201
    other = client.put(f"/api/v1/sleepers/{world.sleeper_b}/nights/n1", json=body,
                       headers=auth(world.hub_a))
    assert other.status_code == 404
    # Nor can it read another sleeper, or manage users.
    assert client.get(f"/api/v1/sleepers/{world.sleeper_b}/events",
                      headers=auth(world.hub_a)).status_code == 404
    assert client.get("/api/v1/users", headers=auth(world.hub_a)).status_code == 403


def test_clinician_reads_but_may_not_write(world: World, client: TestClient) -> None:
    response = client.put(f"/api/v1/sleepers/{world.sleeper_a}/nights/n1",
                          json={"started_at": NIGHT_START.isoformat()},
                          headers=auth(world.clinician))
    assert response.status_code == 403
    assert "clinicians read" in response.json()["detail"]
    assert client.post("/api/v1/sleepers", json={"label": "S-9"},
                       headers=auth(world.clinician)).status_code == 403


def test_admin_assigns_a_clinician(world: World, client: TestClient) -> None:
    users = {u["name"]: u for u in client.get("/api/v1/users", headers=auth(world.admin)).json()}
    lee = users["dr-lee"]["user_id"]
    path = f"/api/v1/sleepers/{world.sleeper_b}"
    assert client.get(path, headers=auth(world.clinician)).status_code == 404
    assigned = client.put(f"{path}/clinicians/{lee}", headers=auth(world.admin))
    assert assigned.status_code == 204
    assert client.get(path, headers=auth(world.clinician)).status_code == 200
    client.delete(f"{path}/clinicians/{lee}", headers=auth(world.admin))
    assert client.get(path, headers=auth(world.clinician)).status_code == 404
    # A hub cannot be assigned as a clinician.
    hub = users["hub-a"]["user_id"]
    assert client.put(f"{path}/clinicians/{hub}", headers=auth(world.admin)).status_code == 404


def test_admin_creates_users_with_clear_refusals(world: World, client: TestClient) -> None:
    made = client.post("/api/v1/users", json={"name": "hub-c", "role": "hub",
                                              "sleeper_id": world.sleeper_b},
                       headers=auth(world.admin))
    assert made.status_code == 201 and made.json()["sleeper_id"] == world.sleeper_b
    again = client.post("/api/v1/users", json={"name": "hub-c", "role": "hub",
                                               "sleeper_id": world.sleeper_b},
                        headers=auth(world.admin))
    assert again.status_code == 409
    unbound = client.post("/api/v1/users", json={"name": "hub-d", "role": "hub"},
                          headers=auth(world.admin))
    assert unbound.status_code == 422 and "which sleeper" in unbound.json()["detail"]


def test_browser_cookie_may_read_but_never_write(world: World, client: TestClient) -> None:
    login = client.post("/login", data={"token": world.hub_a}, follow_redirects=False)
    assert login.status_code == 303
    assert client.get(f"/api/v1/sleepers/{world.sleeper_a}/nights").status_code == 200
    write = client.put(f"/api/v1/sleepers/{world.sleeper_a}/nights/n1",
                       json={"started_at": NIGHT_START.isoformat()})
    assert write.status_code == 401
    assert "Bearer" in write.json()["detail"]
