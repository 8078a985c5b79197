"""`crampwatch users` and `crampwatch serve`, run through the real command line."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from crampwatch.cli import main
from tests.api.live_server import free_port

TOKEN = re.compile(r"cw_[A-Za-z0-9_-]{20,}")


def _users(url: str, *args: str) -> int:
    return main(["users", "--database-url", url, *args])


def test_users_commands_set_up_a_clinic(
    empty_database_url: str, capsys: pytest.CaptureFixture
) -> None:
    url = empty_database_url
    assert _users(url, "add-sleeper", "S-0042") == 0
    assert _users(url, "add", "dr-lee", "--role", "clinician") == 0
    assert _users(url, "add", "hub-42", "--role", "hub", "--sleeper", "S-0042") == 0
    out = capsys.readouterr().out
    assert len(TOKEN.findall(out)) == 2
    assert _users(url, "assign", "dr-lee", "S-0042") == 0
    assert _users(url, "list") == 0
    listing = capsys.readouterr().out
    assert re.search(r"dr-lee\s+clinician\s+reads S-0042", listing)
    assert re.search(r"hub-42\s+hub\s+writes S-0042", listing)
    assert TOKEN.search(listing) is None  # only prefixes, never whole tokens

    assert _users(url, "token", "dr-lee", "--label", "ward tablet") == 0
    assert TOKEN.fullmatch(capsys.readouterr().out.strip())
    assert _users(url, "revoke", "dr-lee") == 0
    assert "revoked 2 token(s)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add", "h", "--role", "hub"], "say which sleeper"),
        (["add", "h", "--role", "hub", "--sleeper", "nobody"], "no sleeper labelled 'nobody'"),
        (["token", "ghost"], "no user named 'ghost'"),
        (["add-sleeper", "Jane Doe <x>"], "bad sleeper label"),
    ],
)
def test_users_mistakes_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture, args: list[str], message: str
) -> None:
    assert _users(f"sqlite:///{tmp_path / 'c.db'}", *args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_serve_refuses_an_unmigrated_store_when_told_not_to_migrate(
    empty_database_url: str, capsys: pytest.CaptureFixture
) -> None:
    url = empty_database_url
    assert main(["serve", "--database-url", url, "--no-migrate"]) == 2
    assert "--migrate" in capsys.readouterr().err
    assert main(["serve", "--database-url", url, "--migrate-only"]) == 0
    assert "newest schema" in capsys.readouterr().err


@pytest.mark.slow
def test_serve_answers_http_with_settings_from_the_environment(empty_database_url: str) -> None:
    url = empty_database_url
    assert _users(url, "add", "admin", "--role", "admin") == 0
    port = free_port()
    env = {"CRAMPWATCH_DATABASE_URL": url, "PATH": "/usr/bin:/bin"}
    server = subprocess.Popen(
        [sys.executable, "-m", "crampwatch", "serve", "--port", str(port), "--log-level",
         "warning"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        # Generous: on a busy machine the imports alone have taken over 30 s.
        deadline = time.monotonic() + 180
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/api/v1/me", timeout=1)
                break
            except httpx.TransportError:
                if server.poll() is not None or time.monotonic() > deadline:
                    server.kill()  # else reading its stderr waits for it forever
                    raise AssertionError(server.stderr.read().decode()) from None
                time.sleep(0.1)
        assert response.status_code == 401
        assert httpx.get(f"http://127.0.0.1:{port}/openapi.json").json()["info"]["title"] == (
            "crampwatch"
        )
    finally:
        server.terminate()
        server.wait(timeout=10)
