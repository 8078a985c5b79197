"""Keep each event's envelope as the hub sends it: muscles named, values in uV at fixed steps

The envelope replaces the snippet (start_s and step_s instead of t0_s and rate_hz; each
channel names its muscle, side and role). Stored snippets are carried over: their EMG
channels become envelope channels of unknown muscle and side; accelerometer channels,
which an envelope does not hold, are left behind.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 08:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_snippets = sa.table(
    "event_snippets",
    sa.column("event_pk", sa.Integer()),
    sa.column("t0_s", sa.Float()),
    sa.column("rate_hz", sa.Float()),
    sa.column("channels", sa.JSON()),
)
_envelopes = sa.table(
    "event_envelopes",
    sa.column("event_pk", sa.Integer()),
    sa.column("start_s", sa.Float()),
    sa.column("step_s", sa.Float()),
    sa.column("channels", sa.JSON()),
)


def upgrade() -> None:
    op.create_table(
        "event_envelopes",
        sa.Column("event_pk", sa.Integer(), nullable=False),
        sa.Column("start_s", sa.Float(), nullable=False),
        sa.Column("step_s", sa.Float(), nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["event_pk"], ["events.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("event_pk"),
    )
    connection = op.get_bind()
    rows = []
    for event_pk, t0_s, rate_hz, channels in connection.execute(sa.select(_snippets)):
        emg = [
            {"label": c["label"], "muscle": "unknown", "side": "unknown", "role": "other",
             "values_uv": c["values"]}
            for c in channels
            if c.get("group") == "emg"
        ]
        if emg:
            rows.append({"event_pk": event_pk, "start_s": t0_s, "step_s": 1.0 / rate_hz,
                         "channels": emg})
    if rows:
        op.bulk_insert(_envelopes, rows)
    op.drop_table("event_snippets")


def downgrade() -> None:
    op.create_table(
        "event_snippets",
        sa.Column("event_pk", sa.Integer(), nullable=False),
        sa.Column("t0_s", sa.Float(), nullable=False),
        sa.Column("rate_hz", sa.Float(), nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["event_pk"], ["events.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("event_pk"),
    )
    connection = op.get_bind()
    rows = [
        {"event_pk": event_pk, "t0_s": start_s, "rate_hz": 1.0 / step_s,
         "channels": [{"label": c["label"], "group": "emg", "unit": "uV",
                       "values": c["values_uv"]} for c in channels]}
        for event_pk, start_s, step_s, channels in connection.execute(sa.select(_envelopes))
    ]
    if rows:
        op.bulk_insert(_snippets, rows)
    op.drop_table("event_envelopes")
