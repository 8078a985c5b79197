"""Wake-up prompts: when sent, escalated and acknowledged, and through which channel."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from sqlalchemy import select

from api.deps import DB, ReadableSleeper, WritableSleeper
from api.errors import problem_responses
from api.models import Prompt
from api.routers.nights import ClientIdPath
from api.schemas import NoNul, PromptIn, PromptOut
from api.timeutil import offset_minutes, to_store
from api.upsert import claim
from api.views import prompt_out

router = APIRouter(prefix="/api/v1/sleepers/{sleeper_id}/prompts", tags=["prompts"])


@router.put(
    "/{prompt_id}",
    response_model=PromptOut,
    summary="Record a prompt or its escalation/acknowledgement (idempotent)",
    responses={
        201: {"model": PromptOut, "description": "The prompt was new."},
        **problem_responses(401, 403, 404, 409, 422),
    },
)
def put_prompt(
    prompt_id: ClientIdPath, body: PromptIn, sleeper: WritableSleeper, db: DB, response: Response
) -> PromptOut:
    """Return the prompt as stored; send it again when it escalates or is acknowledged."""
    row, created = claim(
        db, Prompt, {"sleeper_id": sleeper.id, "prompt_id": prompt_id},
        {"sent_at": to_store(body.sent_at), "channel": body.channel},
    )
    row.event_id, row.night_id = body.event_id, body.night_id
    row.sent_at, row.channel, row.level = to_store(body.sent_at), body.channel, body.level
    row.escalated_at = None if body.escalated_at is None else to_store(body.escalated_at)
    row.escalated_channel = body.escalated_channel
    row.acknowledged_at = None if body.acknowledged_at is None else to_store(body.acknowledged_at)
    row.acknowledged_channel = body.acknowledged_channel
    db.commit()
    response.status_code = 201 if created else 200
    return prompt_out(row, offset_minutes(body.sent_at))


@router.get(
    "",
    response_model=list[PromptOut],
    summary="The sleeper's prompts, newest first",
    responses=problem_responses(401, 404, 422),
)
def list_prompts(
    sleeper: ReadableSleeper,
    db: DB,
    night_id: Annotated[
        str | None, Query(max_length=64, description="Only prompts of this night."), NoNul()
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[PromptOut]:
    """Return prompts (times in UTC)."""
    stmt = select(Prompt).where(Prompt.sleeper_id == sleeper.id)
    if night_id is not None:
        stmt = stmt.where(Prompt.night_id == night_id)
    rows = db.scalars(stmt.order_by(Prompt.sent_at.desc()).limit(limit))
    return [prompt_out(row) for row in rows]
