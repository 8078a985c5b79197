"""Users and tokens, managed by an admin (the command line does the same offline)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Response
from sqlalchemy import select

from api.deps import DB, MAX_ID, AdminCaller
from api.errors import problem_responses
from api.models import Token, User, utcnow
from api.schemas import TokenIn, TokenOut, UserIn, UserOut
from api.security import new_token
from api.users import UserAdminError, create_user, user_out

router = APIRouter(
    prefix="/api/v1/users", tags=["users"], responses=problem_responses(401, 403, 422)
)
UserId = Annotated[int, Path(ge=1, le=MAX_ID, description="The user's id.")]
TokenId = Annotated[int, Path(ge=1, le=MAX_ID, description="The token's id.")]


def _user(db: DB, user_id: int) -> User:
    user = db.get(User, user_id)
    if user is None:
        raise HTTPException(404, f"no user with id {user_id}")
    return user


@router.get("", response_model=list[UserOut], summary="All users (admin)")
def list_users(db: DB, _admin: AdminCaller) -> list[UserOut]:
    """Return every user with role and assignments."""
    return [user_out(db, user) for user in db.scalars(select(User).order_by(User.name))]


@router.post(
    "",
    response_model=UserOut,
    status_code=201,
    summary="Create a user (admin)",
    responses=problem_responses(404, 409),
)
def add_user(body: UserIn, db: DB, _admin: AdminCaller) -> UserOut:
    """Return the new user; a hub must name its sleeper, others must not."""
    try:
        user = create_user(db, body.name, body.role, body.sleeper_id)
    except UserAdminError as exc:
        raise HTTPException(exc.status, str(exc)) from exc
    return user_out(db, user)


@router.post(
    "/{user_id}/tokens",
    response_model=TokenOut,
    status_code=201,
    summary="Issue a token (admin)",
    responses=problem_responses(404),
)
def issue_token(user_id: UserId, body: TokenIn, db: DB, _admin: AdminCaller) -> TokenOut:
    """Return a new bearer token for the user; it is shown only in this answer."""
    user = _user(db, user_id)
    token, row = new_token(db, user, body.label)
    db.commit()
    return TokenOut(token_id=row.id, user_id=user.id, token=token, prefix=row.prefix)


@router.delete(
    "/{user_id}/tokens/{token_id}",
    status_code=204,
    summary="Revoke a token (admin)",
    responses=problem_responses(404),
)
def revoke_token(user_id: UserId, token_id: TokenId, db: DB, _admin: AdminCaller) -> Response:
    """Revoke the token: requests carrying it get 401 from now on."""
    row = db.get(Token, token_id)
    if row is None or row.user_id != user_id:
        raise HTTPException(404, f"user {user_id} has no token {token_id}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        db.commit()
    return Response(status_code=204)
