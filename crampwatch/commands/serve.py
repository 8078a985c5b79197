"""`crampwatch serve`: the event store's HTTP API and clinician pages (uvicorn)."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys

from crampwatch.errors import UserError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve the event store's HTTP API and clinician pages",
        description=(
            "Serve the REST API (/api/v1, OpenAPI at /docs) and the clinician pages (/). "
            "The database URL comes from --database-url, else CRAMPWATCH_DATABASE_URL, else "
            "sqlite:///crampwatch.db in the working directory. Schema migrations run on start "
            "unless --no-migrate. Create users and tokens with `crampwatch users`."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1; 0.0.0.0 for the LAN)")
    parser.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    parser.add_argument("--database-url", help="SQLAlchemy URL (overrides the environment)")
    migrate = parser.add_mutually_exclusive_group()
    migrate.add_argument("--no-migrate", action="store_true",
                         help="do not migrate; refuse to start if the schema is not current")
    migrate.add_argument("--migrate-only", action="store_true",
                         help="migrate the schema to the newest revision, then exit")
    parser.add_argument("--cookie-secure", action="store_true",
                        help="send the session cookie over HTTPS only (behind TLS)")
    parser.add_argument("--max-body-bytes", type=int,
                        help="refuse request bodies larger than this with 413 (default 16 MiB, "
                        "or CRAMPWATCH_MAX_BODY_BYTES)")
    parser.add_argument("--workers", type=int, default=1,
                        help="server processes (default 1); several need a server database "
                        "such as PostgreSQL to be of use")
    parser.add_argument("--log-level", default="info",
                        choices=("critical", "error", "warning", "info", "debug"))
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn
    from sqlalchemy import make_url

    from api.app import create_app
    from api.settings import Settings, SettingsError
    from api.store import Store, StoreNotMigratedError

    if not 0 < args.port < 65536:
        raise UserError(f"--port must be 1-65535, got {args.port}")
    if not 1 <= args.workers <= 64:
        raise UserError(f"--workers must be 1-64, got {args.workers}")
    try:
        settings = Settings.from_env()
        overrides = {}
        if args.database_url:
            overrides["database_url"] = args.database_url
        if args.cookie_secure:
            overrides["cookie_secure"] = True
        if args.max_body_bytes is not None:
            overrides["max_body_bytes"] = args.max_body_bytes
        settings = dataclasses.replace(settings, **overrides)
    except SettingsError as exc:
        raise UserError(str(exc)) from exc
    try:
        store = Store.open(settings.database_url, run_migrations=not args.no_migrate)
    except StoreNotMigratedError as exc:
        raise UserError(str(exc)) from exc
    except Exception as exc:  # a bad URL or unreachable database: say which, no traceback
        raise UserError(f"cannot open the store at {settings.database_url}: {exc}") from exc
    if args.migrate_only:
        print(f"store at {settings.database_url} is at the newest schema", file=sys.stderr)
        store.close()
        return 0
    shown = make_url(settings.database_url).render_as_string(hide_password=True)
    print(
        f"crampwatch: serving {shown} on http://{args.host}:{args.port}/ "
        f"with {args.workers} worker(s) (pages at /, API docs at /docs)",
        file=sys.stderr,
    )
    if args.workers > 1:
        # Each worker process builds its own app from the environment (migrated above).
        store.close()
        os.environ.update(
            CRAMPWATCH_DATABASE_URL=settings.database_url,
            CRAMPWATCH_SESSION_TTL_S=str(settings.session_ttl_s),
            CRAMPWATCH_COOKIE_SECURE="1" if settings.cookie_secure else "0",
            CRAMPWATCH_MAX_BODY_BYTES=str(settings.max_body_bytes),
        )
        uvicorn.run(
            "api.app:create_worker_app", factory=True, workers=args.workers,
            host=args.host, port=args.port, log_level=args.log_level,
        )
        return 0
    app = create_app(settings, store)
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    finally:
        store.close()
    return 0
