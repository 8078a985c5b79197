"""Index events by sleeper, kind and duration, for queries of long cramps

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 19:10:00
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_events_sleeper_kind_duration",
        "events",
        ["sleeper_id", "kind", "duration_s"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_events_sleeper_kind_duration", table_name="events")
