"""User administration shared by the admin API and the `crampwatch users` command."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.models import ClinicianAssignment, Role, Sleeper, User
from api.schemas import UserOut


class UserAdminError(ValueError):
    """A user cannot be created or changed as asked; ``status`` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


def create_user(db: Session, name: str, role: Role, sleeper_id: int | None = None) -> User:
    """Return a new user; a hub is bound to one existing sleeper, other roles to none."""
    role = Role(role)
    if role is Role.HUB and sleeper_id is None:
        raise UserAdminError("a hub user writes one sleeper's log: say which sleeper")
    if role is not Role.HUB and sleeper_id is not None:
        raise UserAdminError(
            f"only hub users are bound to a sleeper; assign a {role.value} to sleepers instead"
        )
    if sleeper_id is not None and db.get(Sleeper, sleeper_id) is None:
        raise UserAdminError(f"no sleeper {sleeper_id}", status=404)
    user = User(name=name, role=role.value, sleeper_id=sleeper_id)
    db.add(user)
    try:
        db.commit()
    except IntegrityError as exc:
        db.rollback()
        raise UserAdminError(f"a user named {name!r} exists already", status=409) from exc
    return user


def user_out(db: Session, user: User) -> UserOut:
    """Return the API view of a user with the sleepers assigned to them."""
    assigned = list(
        db.scalars(
            select(ClinicianAssignment.sleeper_id)
            .where(ClinicianAssignment.user_id == user.id)
            .order_by(ClinicianAssignment.sleeper_id)
        )
    )
    return UserOut(
        user_id=user.id,
        name=user.name,
        role=Role(user.role),
        sleeper_id=user.sleeper_id,
        disabled=user.disabled,
        assigned_sleeper_ids=assigned,
    )
