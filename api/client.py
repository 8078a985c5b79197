"""A small HTTP client for a bedside hub: upload nights, events, prompts and diary entries.

It depends on httpx only, so a hub can vendor it. Every upload is idempotent on the
server (client-chosen ids), so a caller may retry any call after a network failure;
:class:`TransientUploadError` says when a retry may help, :class:`UploadRejectedError`
when it cannot (fix the data or the token instead).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

#: The most events the server takes in one upload.
MAX_EVENTS_PER_UPLOAD = 1000
#: The most envelope values the server takes in one upload (api.schemas).
MAX_ENVELOPE_VALUES_PER_UPLOAD = 400_000
#: The most values the server takes per envelope channel (api.schemas).
MAX_ENVELOPE_VALUES = 2000
DEFAULT_TIMEOUT_S = 10.0


class UploadError(Exception):
    """An upload did not go through."""


class TransientUploadError(UploadError):
    """The server could not be reached or was briefly unable to answer: retry later."""


class UploadRejectedError(UploadError):
    """The server refused the request; ``status`` and ``detail`` say why. Retrying won't help."""

    def __init__(self, status: int, detail: str, errors: Sequence[Mapping[str, str]] = ()) -> None:
        super().__init__(f"HTTP {status}: {detail}")
        self.status = status
        self.detail = detail
        self.errors = list(errors)


@dataclass(frozen=True)
class IngestSummary:
    """What an events upload did, summed over its batches."""

    created: int
    updated: int
    unchanged: int
    kept_final: tuple[str, ...]


def _envelope_values(event: Mapping[str, Any]) -> int:
    envelope = event.get("envelope") or {}
    return sum(len(channel.get("values_uv", ())) for channel in envelope.get("channels", ()))


def _batches(events: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Return ``events`` cut into uploads within the server's event and envelope limits."""
    batches: list[list[dict[str, Any]]] = []
    batch: list[dict[str, Any]] = []
    values = 0
    for event in events:
        n = _envelope_values(event)
        if batch and (
            len(batch) >= MAX_EVENTS_PER_UPLOAD or values + n > MAX_ENVELOPE_VALUES_PER_UPLOAD
        ):
            batches.append(batch)
            batch, values = [], 0
        batch.append(event)
        values += n
    if batch:
        batches.append(batch)
    return batches


def fit_envelope(envelope: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Return ``envelope`` (an API Envelope body) with each channel within the server's
    2000 values: a longer one is coarsened by a whole factor k (the RMS of k neighbouring
    values, step_s times k, each value at the middle of its k), so a long cramp is still
    shown whole rather than refused."""
    if envelope is None:
        return None
    longest = max((len(c.get("values_uv", ())) for c in envelope.get("channels", ())), default=0)
    if longest <= MAX_ENVELOPE_VALUES:
        return dict(envelope)
    k = math.ceil(longest / MAX_ENVELOPE_VALUES)
    step_s = float(envelope["step_s"])

    def coarse(values: Sequence[float]) -> list[float]:
        return [
            round(math.sqrt(sum(v * v for v in values[i : i + k]) / len(values[i : i + k])), 3)
            for i in range(0, len(values), k)
        ]

    return {
        **envelope,
        "start_s": float(envelope["start_s"]) + (k - 1) * step_s / 2,
        "step_s": step_s * k,
        "channels": [
            {**channel, "values_uv": coarse(channel["values_uv"])}
            for channel in envelope["channels"]
        ],
    }


def _json_safe(event: Mapping[str, Any]) -> dict[str, Any]:
    # The pipeline writes NaN for a feature it cannot compute; JSON has no NaN, the API
    # takes null for "not computable".
    if event.get("envelope") is not None:
        event = {**event, "envelope": fit_envelope(event["envelope"])}
    features = event.get("features")
    if not features:
        return dict(event)
    return {
        **event,
        "features": {
            name: None if isinstance(value, float) and not math.isfinite(value) else value
            for name, value in features.items()
        },
    }


class HubClient:
    """Uploads one sleeper's log with a hub token.

    ``base_url`` is the service root (e.g. ``https://clinic.example/``); the sleeper id is
    learned from the token on first use (``GET /api/v1/me``) unless given.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        sleeper_id: int | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}", "User-Agent": "crampwatch-hub"},
            timeout=timeout_s,
            transport=transport,
        )
        self._sleeper_id = sleeper_id

    def __enter__(self) -> HubClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _request(self, method: str, path: str, json: Any = None) -> Any:
        try:
            response = self._http.request(method, path, json=json)
        except httpx.TransportError as exc:
            raise TransientUploadError(f"{method} {path}: {exc!r}; retry later") from exc
        if response.status_code >= 500 or response.status_code in (408, 429):
            raise TransientUploadError(
                f"{method} {path}: server answered {response.status_code}; retry later"
            )
        if response.status_code >= 400:
            detail, errors = response.reason_phrase, []
            try:
                body = response.json()
                detail, errors = body.get("detail", detail), body.get("errors", [])
            except ValueError:
                pass
            raise UploadRejectedError(response.status_code, str(detail), errors)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            # A proxy or captive portal answered instead of the API: worth trying again later.
            raise TransientUploadError(
                f"{method} {path}: answer {response.status_code} is not JSON; retry later"
            ) from exc

    @property
    def sleeper_id(self) -> int:
        """Return the sleeper this hub's token writes for (asked of the server once)."""
        if self._sleeper_id is None:
            me = self._request("GET", "/api/v1/me")
            if me.get("sleeper_id") is None:
                raise UploadRejectedError(403, f"user {me.get('name')!r} is not a hub token")
            self._sleeper_id = int(me["sleeper_id"])
        return self._sleeper_id

    def _base(self) -> str:
        return f"/api/v1/sleepers/{self.sleeper_id}"

    def register_band(self, band_id: str, name: str = "", firmware: str = "") -> dict[str, Any]:
        """Return the stored band after registering (or updating) it."""
        return self._request(
            "PUT", f"{self._base()}/bands/{band_id}", {"name": name, "firmware": firmware}
        )

    def put_night(
        self,
        night_id: str,
        started_at: dt.datetime,
        ended_at: dt.datetime | None = None,
        band_id: str | None = None,
        detector_version: str = "",
        model_version: str = "",
        note: str = "",
    ) -> dict[str, Any]:
        """Return the stored night; ``started_at`` is session second 0, timezone-aware."""
        if started_at.tzinfo is None:
            raise ValueError("started_at must carry a timezone (the sleeper's UTC offset)")
        body = {
            "started_at": started_at.isoformat(),
            "ended_at": None if ended_at is None else ended_at.isoformat(),
            "band_id": band_id,
            "detector_version": detector_version,
            "model_version": model_version,
            "note": note,
        }
        return self._request("PUT", f"{self._base()}/nights/{night_id}", body)

    def upload_events(self, night_id: str, events: Sequence[Mapping[str, Any]]) -> IngestSummary:
        """Return what uploading ``events`` (API EventIn bodies) did, in batches of at most
        1000 events and 400 000 envelope values (the server's limits); an envelope channel
        over 2000 values is coarsened to fit (:func:`fit_envelope`).

        Safe to repeat: stored ids are updated in place, never duplicated. A NaN feature
        (not computable) is sent as null.
        """
        created = updated = unchanged = 0
        kept: list[str] = []
        for batch in _batches([_json_safe(event) for event in events]):
            result = self._request(
                "POST", f"{self._base()}/nights/{night_id}/events", {"events": batch}
            )
            created += result["created"]
            updated += result["updated"]
            unchanged += result["unchanged"]
            kept.extend(result["kept_final"])
        return IngestSummary(created, updated, unchanged, tuple(kept))

    def put_prompt(self, prompt_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Return the stored prompt (API PromptIn body); send again on escalation or ack."""
        return self._request("PUT", f"{self._base()}/prompts/{prompt_id}", dict(body))

    def put_diary_entry(self, entry_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Return the stored diary entry (API DiaryIn body)."""
        return self._request("PUT", f"{self._base()}/diary/{entry_id}", dict(body))
