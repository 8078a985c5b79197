"""Who the caller is: a hub learns its sleeper id here."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CurrentCaller
from api.errors import problem_responses
from api.schemas import Me

router = APIRouter(prefix="/api/v1", tags=["me"], responses=problem_responses(401))


@router.get("/me", response_model=Me, summary="The authenticated caller")
def read_me(caller: CurrentCaller) -> Me:
    """Return the caller's user id, name, role and (for a hub) its one sleeper."""
    return Me(
        user_id=caller.user_id, name=caller.name, role=caller.role, sleeper_id=caller.sleeper_id
    )
