"""Orders know their kind: kind, priority and details columns; one open order per sender AND kind.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06

- kind (consult | repair | complaint | feedback) and priority (urgent | normal) are plain strings
  validated by OrderService against bot/orders/vocabulary.py: no CHECK, so a new kind or reason
  never needs a migration again. The reason CHECK of 0001 is dropped for the same reason.
- details: JSON with what the conversation collected (a repair's address, hazard, area class …).
- The partial unique index "one open order per (channel, sender_id)" becomes per
  (channel, sender_id, kind): a fault report while a consultation is open is its own order.

Existing rows become kind 'consult', priority 'normal' (what they were).
SQLite cannot drop a CHECK in place: batch mode rebuilds the table from the definition below.
The rebuild drops the old table, and with foreign keys on (they are, and a PRAGMA cannot change
inside the migration's transaction) that cascades to order_events and transcript_messages: their
rows are kept aside in temporary tables and put back.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

CLOSED = "已关闭"
_REASONS_0001 = ("engine_fail", "not_helpful", "request_human", "nlu_fallback", "error")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _table_0001() -> sa.Table:
    """work_orders as revision 0001 left it (batch mode copies from this on SQLite)."""
    return sa.Table(
        "work_orders", sa.MetaData(),
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
                           name="ck_work_orders_status"),
        sa.CheckConstraint(_one_of("reason", _REASONS_0001), name="ck_work_orders_reason"),
        sa.CheckConstraint("satisfaction IS NULL OR " + _one_of("satisfaction", ("满意", "基本满意", "不满意")),
                           name="ck_work_orders_satisfaction"),
    )


_CHILDREN = ("order_events", "transcript_messages")


def _keep_children() -> bool:
    if op.get_bind().dialect.name != "sqlite":
        return False
    for table in _CHILDREN:
        op.execute(f"CREATE TEMP TABLE keep_{table} AS SELECT * FROM {table}")
    return True


def _restore_children() -> None:
    for table in _CHILDREN:
        op.execute(f"DELETE FROM {table}")
        op.execute(f"INSERT INTO {table} SELECT * FROM keep_{table}")
        op.execute(f"DROP TABLE keep_{table}")


def upgrade() -> None:
    kept = _keep_children()
    # Indexes first: SQLite's table rebuild would not carry the partial index's WHERE over.
    op.drop_index("uq_work_orders_open_sender", table_name="work_orders")
    op.drop_index("ix_work_orders_sender_created", table_name="work_orders")
    op.drop_index("ix_work_orders_status_due", table_name="work_orders")
    op.drop_index("ix_work_orders_created_at", table_name="work_orders")
    with op.batch_alter_table("work_orders", copy_from=_table_0001()) as batch:
        batch.drop_constraint(op.f("ck_work_orders_reason"), type_="check")
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="consult"))
        batch.add_column(sa.Column("priority", sa.String(8), nullable=False, server_default="normal"))
        batch.add_column(sa.Column("details", sa.JSON(), nullable=True))
    if kept:
        _restore_children()
    op.create_index("uq_work_orders_open_sender_kind", "work_orders", ["channel", "sender_id", "kind"],
                    unique=True, sqlite_where=sa.text(f"status != '{CLOSED}'"),
                    postgresql_where=sa.text(f"status != '{CLOSED}'"))
    op.create_index("ix_work_orders_sender_created", "work_orders", ["channel", "sender_id", "created_at"])
    op.create_index("ix_work_orders_status_due", "work_orders", ["status", "due_at"])
    op.create_index("ix_work_orders_created_at", "work_orders", ["created_at"])
    op.create_index("ix_work_orders_kind_priority", "work_orders", ["kind", "priority"])


def downgrade() -> None:
    # Only possible while no sender has two open orders and every reason is one 0001 knew.
    op.drop_index("ix_work_orders_kind_priority", table_name="work_orders")
    op.drop_index("uq_work_orders_open_sender_kind", table_name="work_orders")
    op.drop_index("ix_work_orders_sender_created", table_name="work_orders")
    op.drop_index("ix_work_orders_status_due", table_name="work_orders")
    op.drop_index("ix_work_orders_created_at", table_name="work_orders")
    kept = _keep_children()
    with op.batch_alter_table("work_orders") as batch:
        batch.drop_column("details")
        batch.drop_column("priority")
        batch.drop_column("kind")
        batch.create_check_constraint(op.f("ck_work_orders_reason"), _one_of("reason", _REASONS_0001))
    if kept:
        _restore_children()
    op.create_index("uq_work_orders_open_sender", "work_orders", ["channel", "sender_id"], unique=True,
                    sqlite_where=sa.text(f"status != '{CLOSED}'"),
                    postgresql_where=sa.text(f"status != '{CLOSED}'"))
    op.create_index("ix_work_orders_sender_created", "work_orders", ["channel", "sender_id", "created_at"])
    op.create_index("ix_work_orders_status_due", "work_orders", ["status", "due_at"])
    op.create_index("ix_work_orders_created_at", "work_orders", ["created_at"])
