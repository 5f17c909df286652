"""Work orders: orders, their events and transcripts, and the daily number counters.

Revision ID: 0001
Revises:
Create Date: 2026-11-22

Written out by hand (not imported from models.py) so this revision stays what it was when
later revisions change the models; tests/test_orders_store.py checks the two agree.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

CLOSED = "已关闭"


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table(
        "order_counters",
        sa.Column("day", sa.String(8), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", name="pk_order_counters"),
    )
    op.create_table(
        "work_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_no", sa.String(24), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("reason", sa.String(24), nullable=False),
        sa.Column("topic", sa.String(32), nullable=True),
        sa.Column("candidates", sa.JSON(), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("sender_id", sa.String(255), nullable=False),
        sa.Column("conversation_id", sa.String(255), nullable=True),
        sa.Column("phone", sa.String(20), nullable=True),
        sa.Column("assignee", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("satisfaction", sa.String(8), nullable=True),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_work_orders"),
        sa.UniqueConstraint("order_no", name="uq_work_orders_order_no"),
        sa.UniqueConstraint("idempotency_key", name="uq_work_orders_idempotency_key"),
        sa.CheckConstraint(_one_of("status", ("待处理", "处理中", "已办结", "已回访", "已关闭")),
                           name=op.f("ck_work_orders_status")),
        sa.CheckConstraint(_one_of("reason", ("engine_fail", "not_helpful", "request_human",
                                              "nlu_fallback", "error")),
                           name=op.f("ck_work_orders_reason")),
        sa.CheckConstraint("satisfaction IS NULL OR " + _one_of("satisfaction", ("满意", "基本满意", "不满意")),
                           name=op.f("ck_work_orders_satisfaction")),
    )
    # One open order per (channel, sender_id), enforced by the database.
    op.create_index("uq_work_orders_open_sender", "work_orders", ["channel", "sender_id"], unique=True,
                    sqlite_where=sa.text(f"status != '{CLOSED}'"),
                    postgresql_where=sa.text(f"status != '{CLOSED}'"))
    op.create_index("ix_work_orders_sender_created", "work_orders", ["channel", "sender_id", "created_at"])
    op.create_index("ix_work_orders_status_due", "work_orders", ["status", "due_at"])
    op.create_index("ix_work_orders_created_at", "work_orders", ["created_at"])

    op.create_table(
        "order_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("from_status", sa.String(8), nullable=True),
        sa.Column("to_status", sa.String(8), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_order_events"),
        sa.ForeignKeyConstraint(["order_id"], ["work_orders.id"], ondelete="CASCADE",
                                name="fk_order_events_order_id_work_orders"),
        sa.UniqueConstraint("idempotency_key", name="uq_order_events_idempotency_key"),
    )
    op.create_index("ix_order_events_order_id", "order_events", ["order_id"])

    op.create_table(
        "transcript_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(8), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("buttons", sa.JSON(), nullable=True),
        sa.Column("chosen_button", sa.String(255), nullable=True),
        sa.Column("event_key", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_transcript_messages"),
        sa.ForeignKeyConstraint(["order_id"], ["work_orders.id"], ondelete="CASCADE",
                                name="fk_transcript_messages_order_id_work_orders"),
        sa.UniqueConstraint("order_id", "seq", name="uq_transcript_messages_order_id_seq"),
        sa.UniqueConstraint("order_id", "event_key", name="uq_transcript_messages_order_id_event_key"),
        sa.CheckConstraint("role IN ('user', 'bot')", name=op.f("ck_transcript_messages_role")),
    )


def downgrade() -> None:
    op.drop_table("transcript_messages")
    op.drop_index("ix_order_events_order_id", table_name="order_events")
    op.drop_table("order_events")
    op.drop_index("ix_work_orders_created_at", table_name="work_orders")
    op.drop_index("ix_work_orders_status_due", table_name="work_orders")
    op.drop_index("ix_work_orders_sender_created", table_name="work_orders")
    op.drop_index("uq_work_orders_open_sender", table_name="work_orders")
    op.drop_table("work_orders")
    op.drop_table("order_counters")
