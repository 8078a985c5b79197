"""What one client must not be able to do to the server or to the data: oversized bodies,
cursors past the id range, access outliving its revocation, readable store files,
formulas in CSV exports, framing, and `crampwatch users` names the API would refuse."""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from api.models import Token, User
from api.settings import Settings
from api.store import Store
from crampwatch.cli import main
from tests.api.conftest import World, auth, sample_events, upload_night

SMALL_LIMIT = 256 * 1024


@pytest.fixture
def small_client(store: Store, database_url: str) -> Iterator[TestClient]:
    """A client of a server whose request body limit is 256 KiB."""
    app = create_app(Settings(database_url=database_url, max_body_bytes=SMALL_LIMIT), store)
    with TestClient(app) as test_client:
        yield test_client


def _events_url(world: World, night_id: str = "n0302") -> str:
    return f"/api/v1/sleepers/{world.sleeper_a}/nights/{night_id}/events"


def test_a_body_over_the_limit_is_413_naming_the_limit(
    world: World, small_client: TestClient
) -> None:
    upload_night(small_client, world.sleeper_a, world.hub_a, events=[])
    body = json.dumps({"events": sample_events()}).encode()
    # Valid JSON padded with whitespace past the limit: refused from its Content-Length.
    padded = b" " * SMALL_LIMIT + body
    response = small_client.post(
        _events_url(world), content=padded,
        headers={**auth(world.hub_a), "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert str(SMALL_LIMIT) in response.json()["detail"]

    # The same body sent without a Content-Length (chunked): refused once it passes the limit.
    def chunks() -> Iterator[bytes]:
        for start in range(0, len(padded), 32 * 1024):
            yield padded[start:start + 32 * 1024]

    response = small_client.post(
        _events_url(world), content=chunks(),
        headers={**auth(world.hub_a), "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert str(SMALL_LIMIT) in response.json()["detail"]
    # A body within the limit still goes through, and nothing of the refused ones was stored.
    response = small_client.post(_events_url(world), content=body,
                                 headers={**auth(world.hub_a), "Content-Type": "application/json"})
    assert response.status_code == 200 and response.json()["created"] == 5


def test_the_body_limit_is_configurable_from_the_environment() -> None:
    settings = Settings.from_env({"CRAMPWATCH_MAX_BODY_BYTES": "1048576"})
    assert settings.max_body_bytes == 1_048_576
    assert Settings.from_env({}).max_body_bytes == 16 * 1024 * 1024


def test_envelopes_are_bounded_by_the_schema(world: World, client: TestClient) -> None:
    upload_night(client, world.sleeper_a, world.hub_a, events=[])
    channel = {"label": "EMG R Gastroc", "muscle": "gastrocnemius", "side": "right",
               "role": "calf", "values_uv": [1.0] * 2000}

    def post(channels: list[dict]) -> httpx.Response:
        event = sample_events()[0]
        event["envelope"]["channels"] = channels
        return client.post(_events_url(world), json={"events": [event]}, headers=auth(world.hub_a))

    # Eight channels at the per-channel maximum: the most one event may carry.
    assert post([channel] * 8).status_code == 200
    too_many = post([channel] * 9)
    assert too_many.status_code == 422
    assert "9 channels, more than 8" in too_many.json()["detail"]
    too_long = post([{**channel, "values_uv": [1.0] * 2001}])
    assert too_long.status_code == 422
    assert "2001 values, more than 2000" in too_long.json()["detail"]
    assert "larger step_s" in too_long.json()["detail"]
    negative = post([{**channel, "values_uv": [1.0, -0.5]}])
    assert negative.status_code == 422 and "negative" in negative.json()["detail"]
    # Each event within its bound, but the batch's envelopes together over theirs.
    events = []
    for i in range(30):
        ok = sample_events()[0]
        ok["event_id"] = f"big{i}"
        ok["envelope"]["channels"] = [channel] * 8
        events.append(ok)
    response = client.post(_events_url(world), json={"events": events}, headers=auth(world.hub_a))
    assert response.status_code == 422
    assert "smaller batches" in response.json()["detail"]


def test_hub_client_coarsens_a_long_envelope_to_fit_and_the_store_takes_it(
    world: World, client: TestClient
) -> None:
    from api.client import _json_safe, fit_envelope

    upload_night(client, world.sleeper_a, world.hub_a, events=[])
    # An 11-minute cramp at 0.1 s steps: 6600 values a channel, over the bound of 2000.
    values = [4.0] * 100 + [200.0] * 6400 + [4.0] * 100
    channel = {"label": "EMG R Gastroc", "muscle": "gastrocnemius", "side": "right",
               "role": "calf", "values_uv": values}
    envelope = {"start_s": 100.0, "step_s": 0.1, "channels": [channel, channel]}
    fitted = fit_envelope(envelope)
    assert fitted is not None
    assert fitted["step_s"] == pytest.approx(0.4)  # k = 4 neighbours per value
    assert fitted["start_s"] == pytest.approx(100.15)  # the middle of the first four
    assert [len(c["values_uv"]) for c in fitted["channels"]] == [1650, 1650]
    assert fitted["channels"][0]["values_uv"][:26] == [4.0] * 25 + [200.0]
    assert fit_envelope(sample_events()[0]["envelope"]) == sample_events()[0]["envelope"]
    event = {**sample_events()[0], "envelope": envelope}
    assert _json_safe(event)["envelope"] == fitted  # what HubClient.upload_events sends
    refused = client.post(_events_url(world), json={"events": [event]},
                          headers=auth(world.hub_a))
    assert refused.status_code == 422
    fitting = client.post(_events_url(world), json={"events": [{**event, "envelope": fitted}]},
                          headers=auth(world.hub_a))
    assert fitting.status_code == 200, fitting.text


def test_hub_client_splits_batches_to_fit_the_envelope_bound() -> None:
    from api.client import _batches

    channel = {"label": "x", "muscle": "gastrocnemius", "side": "left", "role": "calf",
               "values_uv": [1.0] * 2000}
    big = {**sample_events()[0], "envelope": {"start_s": 0, "step_s": 0.1,
                                              "channels": [channel] * 4}}
    plain = sample_events()[3]
    batches = _batches([big] * 120 + [plain] * 10)
    assert [len(b) for b in batches] == [50, 50, 30]
    assert all(sum(8000 for e in b if "envelope" in e) <= 400_000 for b in batches)


def _cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "text",
    [
        "2026-03-03T01:24:03|9223372036854775808",  # 2^63: overflowed SQLite's integer (500)
        "2026-03-03T01:24:03|2147483648",  # past PostgreSQL's integer
        "2026-03-03T01:24:03|-1",
        "0001-01-01T00:00:00|1",
        "2026-03-03T01:24:03+05:00|1",
    ],
)
def test_cursors_past_the_id_range_are_refused(
    world: World, client: TestClient, text: str
) -> None:
    upload_night(client, world.sleeper_a, world.hub_a)
    response = client.get(
        f"/api/v1/sleepers/{world.sleeper_a}/events",
        params={"cursor": _cursor(text)}, headers=auth(world.clinician),
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["location"] == "query.cursor"


@pytest.mark.parametrize("path", ["/api/v1/sleepers/{big}/events", "/api/v1/users/{big}/tokens",
                                  "/sleepers/{big}"])
def test_ids_past_the_id_range_are_refused(world: World, client: TestClient, path: str) -> None:
    _login(client, world.admin)
    for big in (2**31, 2**63, 2**64):
        response = client.get(path.format(big=big), headers=auth(world.admin),
                              follow_redirects=False)
        assert response.status_code in (404, 405, 422), (big, response.text)


def _login(client: TestClient, token: str) -> None:
    response = client.post("/login", data={"token": token}, follow_redirects=False)
    assert response.status_code == 303


def _token_id(world: World, token: str) -> tuple[int, int]:
    from api.security import hash_secret

    with world.store.sessions() as db:
        row = db.scalars(select(Token).where(Token.token_hash == hash_secret(token))).one()
        return row.user_id, row.id


def test_revoking_the_token_ends_its_page_sessions_at_once(
    world: World, client: TestClient
) -> None:
    upload_night(client, world.sleeper_a, world.hub_a)
    _login(client, world.clinician)
    page = f"/sleepers/{world.sleeper_a}"
    api_get = f"/api/v1/sleepers/{world.sleeper_a}/events"
    assert client.get(page).status_code == 200
    assert client.get(api_get).status_code == 200  # the cookie reads the API too
    user_id, token_id = _token_id(world, world.clinician)
    revoked = client.delete(f"/api/v1/users/{user_id}/tokens/{token_id}",
                            headers=auth(world.admin))
    assert revoked.status_code == 204
    response = client.get(page, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert client.get(api_get).status_code == 401


def test_a_new_token_does_not_revive_a_revoked_tokens_session(
    world: World, client: TestClient
) -> None:
    _login(client, world.clinician)
    user_id, token_id = _token_id(world, world.clinician)
    client.delete(f"/api/v1/users/{user_id}/tokens/{token_id}", headers=auth(world.admin))
    fresh = client.post(f"/api/v1/users/{user_id}/tokens", json={}, headers=auth(world.admin))
    assert fresh.status_code in (200, 201)
    assert client.get("/sleepers", follow_redirects=False).status_code == 303


def test_disabling_the_user_ends_their_page_sessions_at_once(
    world: World, client: TestClient, database_url: str
) -> None:
    _login(client, world.clinician)
    assert client.get("/sleepers").status_code == 200
    assert main(["users", "--database-url", database_url, "disable", "dr-lee"]) == 0
    assert client.get("/sleepers", follow_redirects=False).status_code == 303


def test_sqlite_store_is_private_to_its_owner(tmp_path: Path) -> None:
    old = os.umask(0o022)  # the usual umask, which made the store world-readable
    try:
        path = tmp_path / "clinic" / "data" / "crampwatch.db"
        store = Store.open(f"sqlite:///{path}")
        try:
            with store.engine.connect() as connection:  # makes the -wal and -shm files
                connection.exec_driver_sql("SELECT 1")
                modes = {
                    p.name: stat.S_IMODE(p.stat().st_mode)
                    for p in path.parent.iterdir() if p.name.startswith(path.name)
                }
        finally:
            store.close()
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert {"crampwatch.db", "crampwatch.db-wal"} <= set(modes)
    assert all(mode & 0o077 == 0 for mode in modes.values()), modes
    for folder in (path.parent, path.parent.parent):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_an_existing_readable_store_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    path.touch()
    path.chmod(0o644)
    Store.open(f"sqlite:///{path}").close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_cells_never_start_a_formula(
    world: World, client: TestClient, start: str
) -> None:
    event = sample_events()[3]
    event["channel"]["label"] = start + "HYPERLINK(\"http://x\",\"y\")"
    event["model_version"] = start + "1+1"
    upload_night(client, world.sleeper_a, world.hub_a, events=[event])
    response = client.get(f"/api/v1/sleepers/{world.sleeper_a}/export/events.csv",
                          headers=auth(world.clinician))
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert rows[0]["channel_label"].startswith("'" + start)
    assert rows[0]["model_version"] == "'" + start + "1+1"


def test_exports_are_streamed_not_built_whole(world: World, client: TestClient) -> None:
    plm = sample_events()[3]
    events = [{**plm, "event_id": f"p{i}", "start_s": 60.0 + i} for i in range(2500)]
    upload_night(client, world.sleeper_a, world.hub_a, events=[])
    for first in range(0, len(events), 1000):
        response = client.post(_events_url(world), json={"events": events[first:first + 1000]},
                               headers=auth(world.hub_a))
        assert response.status_code == 200
    base = f"/api/v1/sleepers/{world.sleeper_a}/export"
    with client.stream("GET", f"{base}/events.csv", headers=auth(world.clinician)) as response:
        assert "content-length" not in response.headers  # written as it is read
        chunks = list(response.iter_text())
    rows = list(csv.DictReader(io.StringIO("".join(chunks))))
    assert [r["event_id"] for r in rows] == [f"p{i}" for i in range(2500)]
    with client.stream("GET", f"{base}/events.fhir.json",
                       headers=auth(world.clinician)) as response:
        assert "content-length" not in response.headers
        text = "".join(response.iter_text())
    bundle = json.loads(text)
    assert bundle["resourceType"] == "Bundle" and len(bundle["entry"]) == 2500
    ids = [e["resource"]["identifier"][0]["value"] for e in bundle["entry"]]
    assert ids == [f"p{i}" for i in range(2500)]


def test_pages_and_api_send_security_headers(world: World, client: TestClient) -> None:
    for path in ("/login", "/sleepers"):
        response = client.get(path, follow_redirects=False)
        csp = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
        assert "script-src" not in csp  # the pages run no script at all
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-frame-options"] == "DENY"
    _login(client, world.clinician)
    page = client.get(f"/sleepers/{world.sleeper_a}")
    assert page.status_code == 200 and "frame-ancestors 'none'" in page.headers[
        "content-security-policy"]
    api = client.get("/api/v1/me", headers=auth(world.clinician))
    assert api.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in api.headers["content-security-policy"]


def _users(url: str, *args: str) -> int:
    return main(["users", "--database-url", url, *args])


@pytest.mark.parametrize(
    "name", ["", "x" * 100, "bob ", " bob", "\x1b[31mred\x1b[0m", "dr lee", "bob\n"]
)
def test_users_add_refuses_names_the_api_refuses(
    database_url: str, capsys: pytest.CaptureFixture, name: str
) -> None:
    assert _users(database_url, "add", name, "--role", "clinician") == 2
    err = capsys.readouterr().err
    assert "bad user name" in err and "\x1b" not in err
    with _open(database_url) as db:
        assert db.scalars(select(User).where(User.name == name)).first() is None


def _open(url: str):  # type: ignore[no-untyped-def]
    from contextlib import contextmanager

    @contextmanager
    def session():  # type: ignore[no-untyped-def]
        store = Store.open(url)
        try:
            with store.sessions() as db:
                yield db
        finally:
            store.close()

    return session()


def test_users_list_never_prints_control_characters(
    database_url: str, capsys: pytest.CaptureFixture
) -> None:
    # A name stored before names were checked (or written by other tools).
    with _open(database_url) as db:
        db.add(User(name="eve\x1b]0;owned\x07\x1b[2J", role="clinician"))
        db.commit()
    assert _users(database_url, "list") == 0
    out = capsys.readouterr().out
    assert "eve" in out and "\x1b" not in out and "\x07" not in out


def test_sleeper_labels_and_ids_are_never_confused(
    database_url: str, capsys: pytest.CaptureFixture
) -> None:
    assert _users(database_url, "add-sleeper", "S-0001") == 0  # sleeper id 1
    assert _users(database_url, "add-sleeper", "1") == 0  # sleeper id 2, labelled "1"
    assert _users(database_url, "add", "dr-lee", "--role", "clinician", "--no-token") == 0
    capsys.readouterr()
    assert _users(database_url, "assign", "dr-lee", "--sleeper-id", "1") == 0
    assert "'S-0001' (sleeper id 1)" in capsys.readouterr().out
    assert _users(database_url, "assign", "dr-lee", "1") == 0
    assert "'1' (sleeper id 2)" in capsys.readouterr().out
    # A number that is no label is not taken for an id.
    assert _users(database_url, "unassign", "dr-lee", "2") == 2
    assert "--sleeper-id" in capsys.readouterr().err
    assert _users(database_url, "add", "hub-1", "--role", "hub", "--sleeper-id", "2") == 0
    assert _users(database_url, "list") == 0
    assert "hub-1" in (listing := capsys.readouterr().out) and "writes 1" in listing
    with pytest.raises(SystemExit):
        _users(database_url, "assign", "dr-lee", "S-0001", "--sleeper-id", "1")
