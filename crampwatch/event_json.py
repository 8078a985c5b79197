"""One Event as JSON: the dict the journal, the upload, replay's JSON lines and the API share.

:func:`event_to_json` gives the API's event body (``api.schemas.EventIn``) plus the
hub's own ``session_id`` and the channel's ``role``::

    {"event_id", "session_id", "channel": {"label", "muscle", "side", "role"},
     "start_s", "end_s", "kind", "confidence", "final", "known_at_s",
     "first_cramp_call_s", "detector_version", "model_version",
     "features": {name: value or null}, "envelope": null or
     {"start_s", "step_s", "channels": [{"label", "muscle", "side", "role",
                                         "values_uv": [...]}]}}

Times are seconds on the session clock; a value that cannot be computed (NaN) is
null; envelope values are rounded to 0.1 uV. :func:`event_from_json` reads it back,
and also what older versions wrote: journals with ``known_at_s`` and
``first_cramp_call_s`` among the features, and replay lines whose ``channel`` is the
label with ``muscle`` and ``side`` beside it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from sensor.records import ChannelInfo, EnvelopeSnippet, Event, EventKind, Muscle, Role, Side

# The two call times, as named in JSON; older files carried them among the features.
KNOWN_AT = "known_at_s"
FIRST_CRAMP_CALL = "first_cramp_call_s"
ENVELOPE_DECIMALS = 1  # envelope values in JSON: 0.1 uV


class EventJsonError(ValueError):
    """A JSON object is not an event this codec can read (says which field)."""


def _number(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def channel_to_json(channel: ChannelInfo) -> dict[str, str]:
    return {"label": channel.label, "muscle": channel.muscle.value,
            "side": channel.side.value, "role": channel.role.value}


def envelope_to_json(envelope: EnvelopeSnippet | None) -> dict[str, Any] | None:
    """Return the envelope's JSON shape (values rounded to 0.1 uV), or None."""
    if envelope is None:
        return None
    return {
        "start_s": float(envelope.start_s),
        "step_s": float(envelope.step_s),
        "channels": [
            {**channel_to_json(channel),
             "values_uv": [round(float(v), ENVELOPE_DECIMALS) for v in values]}
            for channel, values in zip(envelope.channels, envelope.values_uv, strict=True)
        ],
    }


def event_to_json(event: Event) -> dict[str, Any]:
    """Return ``event`` as the shared JSON-ready dict (see the module docstring)."""
    return {
        "event_id": event.event_id,
        "session_id": event.session_id,
        "channel": channel_to_json(event.channel),
        "start_s": float(event.start_s),
        "end_s": _number(event.end_s),
        "kind": event.kind.value,
        "confidence": float(event.confidence),
        "final": event.final,
        KNOWN_AT: _number(event.known_at_s),
        FIRST_CRAMP_CALL: _number(event.first_cramp_call_s),
        "detector_version": event.detector_version,
        "model_version": event.model_version,
        "features": {name: _number(value) for name, value in event.features.items()},
        "envelope": envelope_to_json(event.envelope),
    }


def channel_columns(line: Mapping[str, Any]) -> dict[str, str]:
    """Return ``channel`` (the label), ``muscle``, ``side`` and ``role`` of an event's JSON,
    for flat tables (TSV, DataFrame); older replay lines already held them flat."""
    raw = line.get("channel")
    source = raw if isinstance(raw, Mapping) else line
    label = raw.get("label", "") if isinstance(raw, Mapping) else raw
    return {"channel": str(label or ""), "muscle": str(source.get("muscle", "unknown")),
            "side": str(source.get("side", "unknown")), "role": str(source.get("role", "other"))}


def _channel_from_json(d: Mapping[str, Any]) -> ChannelInfo:
    raw = d.get("channel")
    if isinstance(raw, Mapping):
        return ChannelInfo(str(raw.get("label", "")), Muscle(raw.get("muscle", "unknown")),
                           Side(raw.get("side", "unknown")), Role(raw.get("role", "other")))
    # Replay lines before the shared codec: the label, with muscle and side beside it.
    return ChannelInfo(str(raw or ""), Muscle(d.get("muscle", "unknown")),
                       Side(d.get("side", "unknown")), Role(d.get("role", "other")))


def _envelope_from_json(raw: Mapping[str, Any] | None) -> EnvelopeSnippet | None:
    if raw is None:
        return None
    channels = raw["channels"]
    return EnvelopeSnippet(
        start_s=float(raw["start_s"]),
        step_s=float(raw["step_s"]),
        channels=tuple(_channel_from_json({"channel": c}) for c in channels),
        values_uv=tuple(tuple(float(v) for v in c["values_uv"]) for c in channels),
    )


def _float_or_nan(value: Any) -> float:
    return math.nan if value is None else float(value)


def event_from_json(d: Mapping[str, Any]) -> Event:
    """Return the Event of a dict written by :func:`event_to_json` (or an older writer)."""
    try:
        features = {str(k): _float_or_nan(v) for k, v in (d.get("features") or {}).items()}
        # Older journals carried the call times among the features.
        known_at = d[KNOWN_AT] if KNOWN_AT in d else features.get(KNOWN_AT)
        first_call = d[FIRST_CRAMP_CALL] if FIRST_CRAMP_CALL in d else features.get(
            FIRST_CRAMP_CALL)
        features.pop(KNOWN_AT, None)
        features.pop(FIRST_CRAMP_CALL, None)
        event_id = str(d["event_id"])
        session_id = d.get("session_id") or event_id.rpartition(":")[0]
        first = None if first_call is None else float(first_call)
        return Event(
            event_id=event_id,
            session_id=str(session_id),
            channel=_channel_from_json(d),
            start_s=float(d["start_s"]),
            end_s=None if d.get("end_s") is None else float(d["end_s"]),
            kind=EventKind(d["kind"]),
            confidence=float(d["confidence"]),
            features=features,
            detector_version=str(d.get("detector_version", "")),
            model_version=str(d.get("model_version", "")),
            final=bool(d["final"]),
            envelope=_envelope_from_json(d.get("envelope")),
            known_at_s=_float_or_nan(known_at),
            first_cramp_call_s=None if first is None or math.isnan(first) else first,
        )
    except KeyError as exc:
        raise EventJsonError(f"an event needs {exc.args[0]!r}") from None
    except (TypeError, ValueError) as exc:
        raise EventJsonError(f"not an event: {exc}") from None
