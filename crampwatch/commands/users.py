"""`crampwatch users`: users, tokens, sleepers and clinician assignments in the event store."""

from __future__ import annotations

import argparse
import dataclasses
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager

from crampwatch.errors import UserError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "users",
        help="manage users, access tokens, sleepers and clinician assignments",
        description=(
            "Manage who may use the event store. Roles: admin (manages users and sleepers, "
            "reads everything), clinician (reads assigned sleepers), hub (writes one "
            "sleeper's log). Tokens are printed once and stored only as hashes. The database "
            "is --database-url, else CRAMPWATCH_DATABASE_URL, else sqlite:///crampwatch.db; "
            "it is migrated to the newest schema first."
        ),
    )
    parser.add_argument("--database-url", help="SQLAlchemy URL (overrides the environment)")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    add = actions.add_parser("add", help="add a user and print a first token")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=("admin", "clinician", "hub"))
    _sleeper_options(add, "for a hub: the sleeper it writes for", positional=False)
    add.add_argument("--no-token", action="store_true", help="do not issue a token now")
    add.set_defaults(func=_add)

    lst = actions.add_parser("list", help="list users with role, sleeper and live tokens")
    lst.set_defaults(func=_list)

    token = actions.add_parser("token", help="issue a new token for a user (printed once)")
    token.add_argument("name")
    token.add_argument("--label", default="", help="what the token is for (e.g. 'ward tablet')")
    token.set_defaults(func=_token)

    revoke = actions.add_parser("revoke", help="revoke a user's tokens")
    revoke.add_argument("name")
    revoke.add_argument("--prefix", help="only the token starting with this (see `list`)")
    revoke.set_defaults(func=_revoke)

    disable = actions.add_parser("disable", help="disable a user (tokens and sessions stop)")
    disable.add_argument("name")
    disable.set_defaults(func=_disable)

    sleeper = actions.add_parser("add-sleeper", help="add a sleeper (a pseudonym, not a name)")
    sleeper.add_argument("label")
    sleeper.add_argument("--note", default="")
    sleeper.set_defaults(func=_add_sleeper)

    sleepers = actions.add_parser("sleepers", help="list sleepers and who may read them")
    sleepers.set_defaults(func=_sleepers)

    assign = actions.add_parser("assign", help="let a clinician read a sleeper's log")
    assign.add_argument("clinician")
    _sleeper_options(assign, "the sleeper to read", positional=True)
    assign.set_defaults(func=_assign)

    unassign = actions.add_parser("unassign", help="stop a clinician reading a sleeper's log")
    unassign.add_argument("clinician")
    _sleeper_options(unassign, "the sleeper no longer to read", positional=True)
    unassign.set_defaults(func=_unassign)


def _sleeper_options(parser: argparse.ArgumentParser, what: str, positional: bool) -> None:
    # A label and an id are never guessed from each other: a sleeper labelled "2" is not
    # sleeper id 2, so each has its own option.
    group = parser.add_mutually_exclusive_group(required=positional)
    if positional:
        group.add_argument("sleeper", nargs="?", metavar="LABEL", help=f"{what}, by label")
    else:
        group.add_argument("--sleeper", metavar="LABEL", help=f"{what}, by label")
    group.add_argument("--sleeper-id", type=int, metavar="N", help=f"{what}, by sleeper id")


def printable(text: str) -> str:
    """Return ``text`` without control or format characters (terminal escape codes)."""
    return "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")


@contextmanager
def _session(args: argparse.Namespace) -> Iterator[object]:
    from api.settings import Settings, SettingsError
    from api.store import Store

    try:
        settings = Settings.from_env()
        if args.database_url:
            settings = dataclasses.replace(settings, database_url=args.database_url)
    except SettingsError as exc:
        raise UserError(str(exc)) from exc
    try:
        store = Store.open(settings.database_url)
    except Exception as exc:  # bad URL, unreachable server: one clear line
        raise UserError(f"cannot open the store at {settings.database_url}: {exc}") from exc
    try:
        with store.sessions() as db:
            yield db
    finally:
        store.close()


@contextmanager
def _refused() -> Iterator[None]:
    """Turn the store's refusals (no such user, a duplicate...) into one clear line."""
    from api.hub_store import HubStoreError

    try:
        yield
    except HubStoreError as exc:
        raise UserError(printable(str(exc))) from exc


def _sleeper(db, args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """Return the sleeper named by --sleeper-id, else by its label; None if neither given."""
    from api.hub_store import find_sleeper

    if args.sleeper_id is not None:
        sleeper = find_sleeper(db, sleeper_id=args.sleeper_id)
        if sleeper is None:
            raise UserError(
                f"no sleeper with id {args.sleeper_id}: see `crampwatch users sleepers`"
            )
        return sleeper
    if args.sleeper is None:
        return None
    sleeper = find_sleeper(db, label=args.sleeper)
    if sleeper is None:
        hint = " (for a sleeper id, use --sleeper-id)" if args.sleeper.isdigit() else ""
        raise UserError(
            f"no sleeper labelled {printable(args.sleeper)!r}{hint}: add it with "
            "`crampwatch users add-sleeper` or see `crampwatch users sleepers`"
        )
    return sleeper


def _valid_name(name: str) -> str:
    """Return ``name`` if the API would accept it as a user name, else raise UserError."""
    from pydantic import TypeAdapter, ValidationError

    from api.schemas import UserName

    try:
        return TypeAdapter(UserName).validate_python(name)
    except ValidationError as exc:
        raise UserError(
            f"bad user name {printable(name)!r}: 1-64 letters, digits and . _ @ - "
            f"({exc.errors()[0]['msg']})"
        ) from exc


def _add(args: argparse.Namespace) -> int:
    from api import hub_store

    name = _valid_name(args.name)
    with _session(args) as db, _refused():
        sleeper = _sleeper(db, args)
        user_id = hub_store.add_user(db, name, args.role,
                                     None if sleeper is None else sleeper.sleeper_id)
        print(f"added {args.role} {name!r} (user id {user_id})")
        if not args.no_token:
            token = hub_store.issue_token(db, name, "first token")
            print(f"token (shown once, keep it secret): {token}")
    return 0


def _list(args: argparse.Namespace) -> int:
    from api.hub_store import user_lines

    with _session(args) as db:
        users = user_lines(db)
    if not users:
        print("no users yet: add an admin with `crampwatch users add NAME --role admin`")
    for user in users:
        live = [prefix + "…" for prefix in user.live_token_prefixes]
        where = ""
        if user.writes is not None:
            where = f" writes {user.writes}"
        elif user.reads:
            where = " reads " + ", ".join(user.reads)
        state = " DISABLED" if user.disabled else ""
        line = f"{user.name:20} {user.role:9}{where}{state}  tokens: {', '.join(live) or '-'}"
        print(printable(line))
    return 0


def _token(args: argparse.Namespace) -> int:
    from api.hub_store import issue_token

    with _session(args) as db, _refused():
        print(issue_token(db, args.name, args.label))
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from api.hub_store import revoke_tokens

    with _session(args) as db, _refused():
        count = revoke_tokens(db, args.name, args.prefix)
    print(f"revoked {count} token(s) of {args.name!r}")
    return 0


def _disable(args: argparse.Namespace) -> int:
    from api.hub_store import disable_user

    with _session(args) as db, _refused():
        disable_user(db, args.name)
    print(f"disabled {args.name!r}")
    return 0


def _add_sleeper(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from api.hub_store import add_sleeper
    from api.schemas import SleeperIn

    try:
        body = SleeperIn(label=args.label, note=args.note)
    except ValidationError as exc:
        raise UserError(f"bad sleeper label {args.label!r}: {exc.errors()[0]['msg']}") from exc
    with _session(args) as db, _refused():
        sleeper = add_sleeper(db, body.label, body.note)
    print(f"added sleeper {sleeper.label!r} (sleeper id {sleeper.sleeper_id})")
    return 0


def _sleepers(args: argparse.Namespace) -> int:
    from api.hub_store import sleeper_lines

    with _session(args) as db:
        for line in sleeper_lines(db):
            print(printable(
                f"{line.sleeper_id:5} {line.label:20} clinicians: "
                f"{', '.join(line.clinicians) or '-'}  hubs: {', '.join(line.hubs) or '-'}"
            ))
    return 0


def _assignment(args: argparse.Namespace, assign: bool) -> int:
    from api.hub_store import set_assignment

    with _session(args) as db, _refused():
        sleeper = _sleeper(db, args)
        set_assignment(db, args.clinician, sleeper.sleeper_id, assign)
    verb = "may read" if assign else "no longer reads"
    print(f"{args.clinician!r} {verb} sleeper {sleeper.label!r} (sleeper id {sleeper.sleeper_id})")
    return 0


def _assign(args: argparse.Namespace) -> int:
    return _assignment(args, True)


def _unassign(args: argparse.Namespace) -> int:
    return _assignment(args, False)
