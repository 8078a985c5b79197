"""Service settings, read from the environment with safe defaults."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

#: The SQLite file used when no database URL is configured (relative to the working directory).
DEFAULT_DATABASE_URL = "sqlite:///crampwatch.db"
#: A browser session lasts one working day (a clinic shift) before the login form asks again.
DEFAULT_SESSION_TTL_S = 12 * 3600


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

    def __post_init__(self) -> None:
        if not self.database_url or "://" not in self.database_url:
            raise SettingsError(
                f"database URL {self.database_url!r} is not a URL: "
                "use e.g. sqlite:///crampwatch.db or postgresql+psycopg://user@host/db"
            )
        if self.session_ttl_s <= 0:
            raise SettingsError(f"session lifetime must be > 0 s, got {self.session_ttl_s}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Return settings from ``CRAMPWATCH_DATABASE_URL``, ``CRAMPWATCH_SESSION_TTL_S``
        and ``CRAMPWATCH_COOKIE_SECURE`` (defaults where unset)."""
        env = os.environ if environ is None else environ
        ttl_text = env.get("CRAMPWATCH_SESSION_TTL_S", str(DEFAULT_SESSION_TTL_S))
        try:
            ttl_s = int(ttl_text)
        except ValueError as exc:
            raise SettingsError(
                f"CRAMPWATCH_SESSION_TTL_S must be a whole number of seconds, got {ttl_text!r}"
            ) from exc
        secure_text = env.get("CRAMPWATCH_COOKIE_SECURE", "0").strip().lower()
        if secure_text not in ("0", "1", "true", "false", "yes", "no", ""):
            raise SettingsError(f"CRAMPWATCH_COOKIE_SECURE must be 1 or 0, got {secure_text!r}")
        return cls(
            database_url=env.get("CRAMPWATCH_DATABASE_URL") or DEFAULT_DATABASE_URL,
            session_ttl_s=ttl_s,
            cookie_secure=secure_text in ("1", "true", "yes"),
        )
