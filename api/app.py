"""The FastAPI application: API routers per resource, the clinician pages, static files."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api.errors import install_error_handlers, problem_responses
from api.middleware import BodyLimitMiddleware, SecurityHeadersMiddleware
from api.routers import (
    diary,
    events,
    exports,
    me,
    nights,
    pages,
    prompts,
    sleepers,
    summaries,
    users,
)
from api.settings import Settings
from api.store import Store

STATIC_DIR = Path(__file__).parent / "static"

DESCRIPTION = """
The crampwatch event store: bedside hubs upload nights, events (with the muscles'
envelopes around them), prompts and diary entries; clinicians read their assigned sleepers' logs,
summaries and exports; admins manage users and sleepers.

**Authentication.** Every request carries `Authorization: Bearer <token>`; tokens come
from `crampwatch users token NAME` or `POST /api/v1/users/{id}/tokens`. The web pages
use a session cookie from the login form, which the API also accepts for GET requests.

**Access.** A hub token reads and writes one sleeper; a clinician reads assigned
sleepers; an admin manages everything. A sleeper you cannot see answers 404, exactly
like one that does not exist.

**Limits.** A request body over the server's limit (16 MiB unless configured with
`CRAMPWATCH_MAX_BODY_BYTES`) is refused with 413 stating the limit; split larger
uploads into several batches.

**Idempotency.** Nights, bands, prompts and diary entries are PUT by client-chosen id;
events are POSTed in batches keyed by client-chosen event ids. Retrying any upload
never duplicates anything.
"""


def create_worker_app() -> FastAPI:
    """Return the app for one of several server processes (``uvicorn --factory``): settings
    from the environment, and a store that must already be migrated (the parent did it)."""
    settings = Settings.from_env()
    return create_app(settings, Store.open(settings.database_url, run_migrations=False))


def create_app(settings: Settings | None = None, store: Store | None = None) -> FastAPI:
    """Return the app for ``settings`` (from the environment if None) on ``store``.

    The store is opened (and migrated) here unless given; ``crampwatch serve`` opens it
    first so migration errors are reported before the server listens.
    """
    settings = settings or Settings.from_env()
    store = store or Store.open(settings.database_url, run_migrations=True)
    app = FastAPI(
        title="crampwatch",
        version="1",
        description=DESCRIPTION,
        openapi_tags=[
            {"name": "me", "description": "The caller."},
            {"name": "sleepers", "description": "Sleepers and clinician assignments."},
            {"name": "nights", "description": "Bands and recording nights."},
            {"name": "events", "description": "Detected events: upload and query."},
            {"name": "prompts", "description": "Wake-up prompts and acknowledgements."},
            {"name": "diary", "description": "Pain and sleep-disturbance diary."},
            {"name": "summaries", "description": "Night and week summaries."},
            {"name": "exports", "description": "CSV and FHIR R4 exports."},
            {"name": "users", "description": "Users and tokens (admin)."},
        ],
    )
    app.state.settings = settings
    app.state.store = store
    install_error_handlers(app, html_page=pages.error_page)
    for module in (me, sleepers, nights, events, prompts, diary, summaries, exports, users):
        # 400: a body that cannot even be parsed; 503: the database is locked by other writes.
        app.include_router(module.router, responses=problem_responses(400, 503))
    # Pages are not part of the API contract, so they stay out of the OpenAPI document.
    app.include_router(pages.router, include_in_schema=False)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # Added last, so outermost: a too-large body is refused before anything reads it.
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    return app
