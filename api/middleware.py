"""ASGI middleware: a request body limit, and the security headers every response carries."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.exceptions import HTTPException

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Sent with every response: no MIME sniffing, no page in a frame, no URL in Referer headers
#: (page URLs carry sleeper ids).
COMMON_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}
#: The clinician pages load only their own stylesheet; the plots are inline SVG whose colours
#: are style attributes. No scripts at all, and no page may be framed (clickjacking).
PAGE_CSP = (
    "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
#: API answers are data, never a document to render.
API_CSP = "default-src 'none'; frame-ancestors 'none'"
#: The clinician pages' paths (api.routers.pages) and the API's. Other paths (the interactive
#: API docs, a bedside page mounted by the hub) bring scripts and set their own policy.
_PAGE_PREFIXES = ("/login", "/logout", "/sleepers", "/static")
_API_PREFIXES = ("/api/", "/openapi")


def _policy_for(path: str) -> str | None:
    if path.startswith(_API_PREFIXES):
        return API_CSP
    if path == "/" or path.startswith(_PAGE_PREFIXES):
        return PAGE_CSP
    return None


def body_too_large(limit: int) -> str:
    """Return the 413 message for a body over ``limit`` bytes."""
    return (
        f"request body is larger than the limit of {limit} bytes ({limit / 2**20:.1f} MiB): "
        "send fewer events per batch"
    )


class BodyLimitMiddleware:
    """Refuse request bodies over ``max_bytes`` with 413, before reading them when the
    Content-Length says so, else as soon as the streamed body passes the limit."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > self.max_bytes:
                    await _send_problem(send, 413, body_too_large(self.max_bytes))
                    return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Raised into the route's body reading: FastAPI passes HTTPExceptions on.
                    raise HTTPException(413, body_too_large(self.max_bytes))
            return message

        await self.app(scope, limited_receive, send)


class SecurityHeadersMiddleware:
    """Add nosniff, no framing and no referrer to every response, and a
    Content-Security-Policy to the pages' and the API's (a route's own policy is kept)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = _policy_for(scope.get("path", ""))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in COMMON_HEADERS.items():
                    if name.encode() not in present:
                        headers.append((name.encode(), value.encode()))
                if csp is not None and b"content-security-policy" not in present:
                    headers.append((b"content-security-policy", csp.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _send_problem(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"status": status, "detail": detail, "errors": []}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
