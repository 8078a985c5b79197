"""Index events by sleeper, kind and start, for cramp-only queries

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
        "ix_events_sleeper_kind_start", "events", ["sleeper_id", "kind", "start_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_events_sleeper_kind_start", table_name="events")
