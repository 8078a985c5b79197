"""Tokens and browser sessions: random secrets handed out once, kept only as hashes."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from api.models import BrowserSession, Token, User, utcnow

#: Tokens start with this so a leaked one is recognisable in logs and secret scanners.
TOKEN_PREFIX = "cw_"
#: 32 random bytes: 256 bits, beyond guessing, so a plain SHA-256 is a safe hash at rest.
TOKEN_BYTES = 32


def hash_secret(secret: str) -> str:
    """Return the hex SHA-256 of ``secret`` (how tokens and session ids are stored)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_token(db: Session, user: User, label: str = "") -> tuple[str, Token]:
    """Return a new bearer token for ``user`` and its stored row (which keeps only a hash)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    row = Token(user=user, token_hash=hash_secret(token), prefix=token[:10], label=label)
    db.add(row)
    db.flush()
    return token, row


def user_for_token(db: Session, token: str) -> User | None:
    """Return the enabled user whose live token this is, or None."""
    row = live_token(db, token)
    return None if row is None else row.user


def live_token(db: Session, token: str) -> Token | None:
    """Return the stored row of a live token of an enabled user, or None."""
    row = db.execute(
        select(Token).where(Token.token_hash == hash_secret(token), Token.revoked_at.is_(None))
    ).scalar_one_or_none()
    if row is None or row.user.disabled:
        return None
    now = utcnow()
    # Coarse last-use stamp: writing on every request would serialise readers on SQLite.
    if row.last_used_at is None or now - row.last_used_at > dt.timedelta(minutes=5):
        row.last_used_at = now
        db.commit()
    return row


def new_browser_session(db: Session, token: Token, ttl_s: int) -> str:
    """Return a new session cookie value for the user of ``token`` lasting ``ttl_s`` seconds;
    the session lives only as long as the token does."""
    value = secrets.token_urlsafe(TOKEN_BYTES)
    # Logging in is rare: a good moment to forget sessions that have expired.
    db.execute(delete(BrowserSession).where(BrowserSession.expires_at <= utcnow()))
    db.add(
        BrowserSession(
            session_hash=hash_secret(value),
            user_id=token.user_id,
            token_id=token.id,
            expires_at=utcnow() + dt.timedelta(seconds=ttl_s),
        )
    )
    db.commit()
    return value


def user_for_session(db: Session, value: str) -> User | None:
    """Return the user of an unexpired browser session whose token is still live and whose
    user is still enabled, or None (checked on every request: revoking ends it at once)."""
    row = db.execute(
        select(User)
        .join(BrowserSession, BrowserSession.user_id == User.id)
        .join(Token, Token.id == BrowserSession.token_id)
        .where(
            BrowserSession.session_hash == hash_secret(value),
            BrowserSession.expires_at > utcnow(),
            Token.revoked_at.is_(None),
            Token.user_id == User.id,
            User.disabled.is_(False),
        )
    ).scalar_one_or_none()
    return row


def end_browser_session(db: Session, value: str) -> None:
    """Forget the browser session with cookie ``value`` (logging out)."""
    row = db.execute(
        select(BrowserSession).where(BrowserSession.session_hash == hash_secret(value))
    ).scalar_one_or_none()
    if row is not None:
        db.delete(row)
        db.commit()
