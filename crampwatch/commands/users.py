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


def _user(db, name: str):  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from api.models import User

    user = db.scalars(select(User).where(User.name == name)).first()
    if user is None:
        raise UserError(f"no user named {printable(name)!r}: see `crampwatch users list`")
    return user


def _sleeper(db, args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """Return the sleeper named by --sleeper-id, else by its label; None if neither given."""
    from sqlalchemy import select

    from api.models import Sleeper

    if args.sleeper_id is not None:
        sleeper = db.get(Sleeper, args.sleeper_id) if 0 < args.sleeper_id < 2**31 else None
        if sleeper is None:
            raise UserError(
                f"no sleeper with id {args.sleeper_id}: see `crampwatch users sleepers`"
            )
        return sleeper
    if args.sleeper is None:
        return None
    sleeper = db.scalars(select(Sleeper).where(Sleeper.label == args.sleeper)).first()
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
    from api.models import Role
    from api.security import new_token
    from api.users import UserAdminError, create_user

    name = _valid_name(args.name)
    with _session(args) as db:
        sleeper = _sleeper(db, args)
        sleeper_id = None if sleeper is None else sleeper.id
        try:
            user = create_user(db, name, Role(args.role), sleeper_id)
        except UserAdminError as exc:
            raise UserError(str(exc)) from exc
        print(f"added {args.role} {user.name!r} (user id {user.id})")
        if not args.no_token:
            token, _row = new_token(db, user, "first token")
            db.commit()
            print(f"token (shown once, keep it secret): {token}")
    return 0


def _list(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from api.models import Sleeper, User
    from api.users import user_out

    with _session(args) as db:
        labels = {s.id: s.label for s in db.scalars(select(Sleeper))}
        users = db.scalars(select(User).order_by(User.name)).all()
        if not users:
            print("no users yet: add an admin with `crampwatch users add NAME --role admin`")
        for user in users:
            view = user_out(db, user)
            live = [t.prefix + "…" for t in user.tokens if t.revoked_at is None]
            where = ""
            if user.sleeper_id is not None:
                where = f" writes {labels[user.sleeper_id]}"
            elif view.assigned_sleeper_ids:
                where = " reads " + ", ".join(labels[i] for i in view.assigned_sleeper_ids)
            state = " DISABLED" if user.disabled else ""
            line = f"{user.name:20} {user.role:9}{where}{state}  tokens: {', '.join(live) or '-'}"
            print(printable(line))
    return 0


def _token(args: argparse.Namespace) -> int:
    from api.security import new_token

    with _session(args) as db:
        user = _user(db, args.name)
        if user.disabled:
            raise UserError(f"user {args.name!r} is disabled")
        token, _row = new_token(db, user, args.label)
        db.commit()
        print(token)
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from api.models import utcnow

    with _session(args) as db:
        user = _user(db, args.name)
        live = [t for t in user.tokens if t.revoked_at is None]
        if args.prefix:
            live = [t for t in live if t.prefix.startswith(args.prefix.rstrip("…"))]
            if not live:
                raise UserError(f"{args.name!r} has no live token starting {args.prefix!r}")
        for row in live:
            row.revoked_at = utcnow()
        db.commit()
        print(f"revoked {len(live)} token(s) of {args.name!r}")
    return 0


def _disable(args: argparse.Namespace) -> int:
    with _session(args) as db:
        user = _user(db, args.name)
        user.disabled = True
        db.commit()
        print(f"disabled {args.name!r}")
    return 0


def _add_sleeper(args: argparse.Namespace) -> int:
    from pydantic import ValidationError
    from sqlalchemy.exc import IntegrityError

    from api.models import Sleeper
    from api.schemas import SleeperIn

    try:
        body = SleeperIn(label=args.label, note=args.note)
    except ValidationError as exc:
        raise UserError(f"bad sleeper label {args.label!r}: {exc.errors()[0]['msg']}") from exc
    with _session(args) as db:
        sleeper = Sleeper(label=body.label, note=body.note)
        db.add(sleeper)
        try:
            db.commit()
        except IntegrityError as exc:
            raise UserError(f"a sleeper labelled {args.label!r} exists already") from exc
        print(f"added sleeper {sleeper.label!r} (sleeper id {sleeper.id})")
    return 0


def _sleepers(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from api.models import ClinicianAssignment, Sleeper, User

    with _session(args) as db:
        for sleeper in db.scalars(select(Sleeper).order_by(Sleeper.label)):
            readers = db.scalars(
                select(User.name)
                .join(ClinicianAssignment, ClinicianAssignment.user_id == User.id)
                .where(ClinicianAssignment.sleeper_id == sleeper.id)
            ).all()
            hubs = db.scalars(select(User.name).where(User.sleeper_id == sleeper.id)).all()
            print(printable(
                f"{sleeper.id:5} {sleeper.label:20} clinicians: {', '.join(readers) or '-'}"
                f"  hubs: {', '.join(hubs) or '-'}"
            ))
    return 0


def _assignment(args: argparse.Namespace, assign: bool) -> int:
    from api.models import ClinicianAssignment, Role

    with _session(args) as db:
        user = _user(db, args.clinician)
        if user.role != Role.CLINICIAN.value:
            raise UserError(f"{args.clinician!r} is a {user.role}, not a clinician")
        sleeper = _sleeper(db, args)
        row = db.get(ClinicianAssignment, (user.id, sleeper.id))
        if assign and row is None:
            db.add(ClinicianAssignment(user_id=user.id, sleeper_id=sleeper.id))
        elif not assign and row is not None:
            db.delete(row)
        db.commit()
        verb = "may read" if assign else "no longer reads"
        print(f"{user.name!r} {verb} sleeper {sleeper.label!r} (sleeper id {sleeper.id})")
    return 0


def _assign(args: argparse.Namespace) -> int:
    return _assignment(args, True)


def _unassign(args: argparse.Namespace) -> int:
    return _assignment(args, False)
