"""The hub client's error classes for answers the real API never gives but a network does:
an overloaded server, a captive portal, and uploads larger than one batch."""

from __future__ import annotations

import datetime as dt
import json

import httpx
import pytest

from api.client import HubClient, TransientUploadError, UploadRejectedError
from tests.api.conftest import sample_events


def _client(handler) -> HubClient:  # type: ignore[no-untyped-def]
    transport = httpx.MockTransport(handler)
    return HubClient("http://hub.test", "cw_x", sleeper_id=3, transport=transport)


def test_overloaded_server_is_transient() -> None:
    hub = _client(lambda request: httpx.Response(503, json={"detail": "busy"}))
    with hub, pytest.raises(TransientUploadError, match="503"):
        hub.upload_events("n1", sample_events())


def test_captive_portal_page_is_transient() -> None:
    portal = httpx.Response(200, text="<html>Sign in to hotel wifi</html>")
    with _client(lambda request: portal) as hub, pytest.raises(TransientUploadError, match="JSON"):
        hub.put_night("n1", dt.datetime.now().astimezone())


def test_rejection_carries_the_servers_reason() -> None:
    body = {"status": 422, "detail": "invalid request: body.events.0.confidence: too big",
            "errors": [{"location": "body.events.0.confidence", "message": "too big"}]}
    hub = _client(lambda request: httpx.Response(422, json=body))
    with hub, pytest.raises(UploadRejectedError) as rejected:
        hub.upload_events("n1", sample_events())
    assert rejected.value.status == 422
    assert rejected.value.errors[0]["location"] == "body.events.0.confidence"


def test_large_uploads_go_in_batches_of_1000() -> None:
    sizes: list[int] = []

    def server(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/v1/sleepers/3/nights/n1/events"
        assert request.headers["Authorization"] == "Bearer cw_x"
        n = len(json.loads(request.content)["events"])
        sizes.append(n)
        return httpx.Response(200, json={"created": n, "updated": 0, "unchanged": 0,
                                         "kept_final": []})

    plm = sample_events()[3]
    events = [{**plm, "event_id": f"p{i}"} for i in range(2500)]
    with _client(server) as hub:
        summary = hub.upload_events("n1", events)
    assert sizes == [1000, 1000, 500]
    assert summary.created == 2500
