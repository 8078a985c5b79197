"""Tie each browser session to the token it was made from, so revoking the token ends it

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing sessions cannot be traced to a token: they end, and their users log in again.
    op.execute("DELETE FROM browser_sessions")
    with op.batch_alter_table("browser_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("token_id", sa.Integer(), nullable=False))
        batch_op.create_foreign_key(
            "fk_browser_sessions_token_id_tokens", "tokens", ["token_id"], ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_index(
            batch_op.f("ix_browser_sessions_token_id"), ["token_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("browser_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_browser_sessions_token_id"))
        batch_op.drop_constraint("fk_browser_sessions_token_id_tokens", type_="foreignkey")
        batch_op.drop_column("token_id")
