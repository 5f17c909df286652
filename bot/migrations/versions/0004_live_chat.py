"""在线人工: live_agents, live_chats, live_chat_holds, live_messages (issue 15).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _dt() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "live_agents",
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("changed_at", _dt(), nullable=False),
        sa.Column("seen_at", _dt(), nullable=False),
        sa.CheckConstraint("status IN ('online', 'busy', 'away')", name="ck_live_agents_status"),
        sa.PrimaryKeyConstraint("username", name="pk_live_agents"),
    )
    op.create_table(
        "live_chats",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sender_id", sa.String(255), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("queued_at", _dt(), nullable=False),
        sa.Column("waiting_since", _dt(), nullable=False),
        sa.Column("accepted_at", _dt(), nullable=True),
        sa.Column("ended_at", _dt(), nullable=True),
        sa.Column("agent", sa.String(64), nullable=True),
        sa.Column("end_reason", sa.String(16), nullable=True),
        sa.Column("order_no", sa.String(32), nullable=True),
        sa.Column("rating", sa.String(8), nullable=True),
        sa.Column("rated_at", _dt(), nullable=True),
        sa.CheckConstraint("state IN ('waiting', 'held', 'ended', 'ordered', 'left')",
                           name="ck_live_chats_state"),
        sa.PrimaryKeyConstraint("id", name="pk_live_chats"),
    )
    op.create_index("uq_live_chats_open_sender", "live_chats", ["sender_id"], unique=True,
                    sqlite_where=sa.text("state IN ('waiting', 'held')"),
                    postgresql_where=sa.text("state IN ('waiting', 'held')"))
    op.create_index("ix_live_chats_state_queued", "live_chats", ["state", "queued_at"])
    op.create_index("ix_live_chats_ended_at", "live_chats", ["ended_at"])
    op.create_table(
        "live_chat_holds",
        sa.Column("chat_id", sa.Integer(), nullable=False),
        sa.Column("agent", sa.String(64), nullable=False),
        sa.Column("since", _dt(), nullable=False),
        sa.ForeignKeyConstraint(["chat_id"], ["live_chats.id"], ondelete="CASCADE",
                                name="fk_live_chat_holds_chat_id_live_chats"),
        sa.PrimaryKeyConstraint("chat_id", name="pk_live_chat_holds"),
    )
    op.create_table(
        "live_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.Integer(), nullable=False),
        sa.Column("sender_id", sa.String(255), nullable=False),
        sa.Column("direction", sa.String(3), nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("source", sa.String(255), nullable=True),
        sa.Column("created_at", _dt(), nullable=False),
        sa.Column("delivered_at", _dt(), nullable=True),
        sa.Column("delivery_error", sa.String(255), nullable=True),
        sa.Column("tracker_synced", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.CheckConstraint("direction IN ('in', 'out')", name="ck_live_messages_direction"),
        sa.ForeignKeyConstraint(["chat_id"], ["live_chats.id"], ondelete="CASCADE",
                                name="fk_live_messages_chat_id_live_chats"),
        sa.PrimaryKeyConstraint("id", name="pk_live_messages"),
    )
    op.create_index("ix_live_messages_sender_id_id", "live_messages", ["sender_id", "id"])
    op.create_index("ix_live_messages_chat_id_id", "live_messages", ["chat_id", "id"])


def downgrade() -> None:
    op.drop_table("live_messages")
    op.drop_table("live_chat_holds")
    op.drop_index("ix_live_chats_ended_at", table_name="live_chats")
    op.drop_index("ix_live_chats_state_queued", table_name="live_chats")
    op.drop_index("uq_live_chats_open_sender", table_name="live_chats")
    op.drop_table("live_chats")
    op.drop_table("live_agents")
