"""Service settings, read from the environment with safe defaults."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

#: The SQLite file used when no database URL is configured (relative to the working directory).
DEFAULT_DATABASE_URL = "sqlite:///crampwatch.db"
#: A browser session lasts one working day (a clinic shift) before the login form asks again.
DEFAULT_SESSION_TTL_S = 12 * 3600
#: The largest request body accepted: a full batch of 1000 events with their features and
#: envelopes fits in a few MB, so 16 MiB leaves room without letting one client exhaust memory.
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024


class SettingsError(ValueError):
    """A setting from the environment or a flag has a value the service cannot use."""


@dataclass(frozen=True)
class Settings:
    """Where the store lives and how browser sessions behave.

    ``database_url`` is any SQLAlchemy URL (``sqlite:///path.db`` by default,
    ``postgresql+psycopg://...`` for a clinic server). ``cookie_secure`` marks the
    session cookie HTTPS-only; turn it on whenever the service is behind TLS.
    """

    database_url: str = DEFAULT_DATABASE_URL
    session_ttl_s: int = DEFAULT_SESSION_TTL_S
    cookie_secure: bool = False
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES

    def __post_init__(self) -> None:
        if not self.database_url or "://" not in self.database_url:
            raise SettingsError(
                f"database URL {self.database_url!r} is not a URL: "
                "use e.g. sqlite:///crampwatch.db or postgresql+psycopg://user@host/db"
            )
        if self.session_ttl_s <= 0:
            raise SettingsError(f"session lifetime must be > 0 s, got {self.session_ttl_s}")
        if self.max_body_bytes < 64 * 1024:
            raise SettingsError(
                f"request body limit must be at least 65536 bytes, got {self.max_body_bytes}"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Return settings from ``CRAMPWATCH_DATABASE_URL``, ``CRAMPWATCH_SESSION_TTL_S``,
        ``CRAMPWATCH_COOKIE_SECURE`` and ``CRAMPWATCH_MAX_BODY_BYTES`` (defaults where unset)."""
        env = os.environ if environ is None else environ
        ttl_s = _whole(env, "CRAMPWATCH_SESSION_TTL_S", DEFAULT_SESSION_TTL_S, "seconds")
        max_body = _whole(env, "CRAMPWATCH_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, "bytes")
        secure_text = env.get("CRAMPWATCH_COOKIE_SECURE", "0").strip().lower()
        if secure_text not in ("0", "1", "true", "false", "yes", "no", ""):
            raise SettingsError(f"CRAMPWATCH_COOKIE_SECURE must be 1 or 0, got {secure_text!r}")
        return cls(
            database_url=env.get("CRAMPWATCH_DATABASE_URL") or DEFAULT_DATABASE_URL,
            session_ttl_s=ttl_s,
            cookie_secure=secure_text in ("1", "true", "yes"),
            max_body_bytes=max_body,
        )


def _whole(env: Mapping[str, str], name: str, default: int, unit: str) -> int:
    text = env.get(name, str(default))
    try:
        return int(text)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a whole number of {unit}, got {text!r}") from exc
