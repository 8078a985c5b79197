"""`crampwatch serve`: the event store's HTTP API and clinician pages (uvicorn)."""

from __future__ import annotations

import argparse
import dataclasses
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
    parser.add_argument("--log-level", default="info",
                        choices=("critical", "error", "warning", "info", "debug"))
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app
    from api.settings import Settings, SettingsError
    from api.store import Store, StoreNotMigratedError

    if not 0 < args.port < 65536:
        raise UserError(f"--port must be 1-65535, got {args.port}")
    try:
        settings = Settings.from_env()
        overrides = {}
        if args.database_url:
            overrides["database_url"] = args.database_url
        if args.cookie_secure:
            overrides["cookie_secure"] = True
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
    app = create_app(settings, store)
    print(
        f"crampwatch: serving {settings.database_url} on http://{args.host}:{args.port}/ "
        "(pages at /, API docs at /docs)",
        file=sys.stderr,
    )
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    finally:
        store.close()
    return 0
