"""Errors as HTTP problems: a status, a sentence saying what was wrong, and field details."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.deps import LoginRequiredError
from api.event_log import BadCursorError, EventConflictError
from api.schemas import Problem

_DESCRIPTIONS = {
    400: "The request is malformed.",
    401: "No valid credential: send Authorization: Bearer <token>.",
    403: "Authenticated, but this role may not do this.",
    404: "No such resource among those the caller may see.",
    409: "The request conflicts with what is stored.",
    422: "A field is missing or has a value outside its range.",
    503: "The store is busy: retry after the Retry-After seconds.",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Return OpenAPI response entries (Problem body) for the given error statuses."""
    return {status: {"model": Problem, "description": _DESCRIPTIONS[status]} for status in statuses}


#: The errors every authenticated endpoint may answer.
COMMON_ERRORS = problem_responses(401, 422)


def _problem(
    status: int,
    detail: str,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = Problem(status=status, detail=detail, errors=errors or [])
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def _location(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc)


async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [
        {"location": _location(tuple(err.get("loc", ()))), "message": str(err.get("msg", ""))}
        for err in exc.errors()
    ]
    summary = "; ".join(f"{e['location']}: {e['message']}" for e in errors[:5])
    if len(errors) > 5:
        summary += f"; and {len(errors) - 5} more"
    return _problem(422, f"invalid request: {summary}", errors)


HtmlErrorPage = Callable[[Request, int, str], Response]


def _http_error_handler(html_page: HtmlErrorPage | None):  # type: ignore[no-untyped-def]
    async def handler(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if html_page is not None and not request.url.path.startswith(("/api/", "/openapi")):
            return html_page(request, exc.status_code, detail)
        return _problem(exc.status_code, detail, headers=getattr(exc, "headers", None))

    return handler


async def _conflict(_request: Request, exc: EventConflictError) -> JSONResponse:
    return _problem(409, str(exc))


async def _bad_cursor(_request: Request, exc: BadCursorError) -> JSONResponse:
    return _problem(422, str(exc), [{"location": "query.cursor", "message": str(exc)}])


async def _integrity(_request: Request, _exc: IntegrityError) -> JSONResponse:
    # Two uploads of the same new id racing each other: the retry finds it stored.
    return _problem(409, "a concurrent write stored the same id first: send the request again")


async def _busy(_request: Request, exc: OperationalError) -> JSONResponse:
    if "locked" in str(exc.orig).lower() or "busy" in str(exc.orig).lower():
        return _problem(
            503, "the store is busy with other writes: retry shortly", headers={"Retry-After": "2"}
        )
    raise exc


async def _login_required(request: Request, _exc: LoginRequiredError) -> RedirectResponse:
    target = request.url.path
    return RedirectResponse(f"/login?next={target}", status_code=303)


def install_error_handlers(app: FastAPI, html_page: HtmlErrorPage | None = None) -> None:
    """Make every API error a Problem body; pages get ``html_page`` (and a redirect to the
    login form when logged out)."""
    http_error = _http_error_handler(html_page)
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, http_error)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, http_error)  # type: ignore[arg-type]
    app.add_exception_handler(EventConflictError, _conflict)  # type: ignore[arg-type]
    app.add_exception_handler(BadCursorError, _bad_cursor)  # type: ignore[arg-type]
    app.add_exception_handler(LoginRequiredError, _login_required)  # type: ignore[arg-type]
    app.add_exception_handler(IntegrityError, _integrity)  # type: ignore[arg-type]
    app.add_exception_handler(OperationalError, _busy)  # type: ignore[arg-type]
