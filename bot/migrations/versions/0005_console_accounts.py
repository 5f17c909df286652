"""工作台 accounts: console_users and console_sessions join the one Alembic tree.

Before this revision the console created these two tables itself (``create_all`` on first
use), so an existing install already has them, with the same names and constraint names (the
shared naming convention): each table is created only when it is missing.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _dt() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    # Offline (--sql) there is no database to look at: emit the full CREATE script.
    existing = set() if context.is_offline_mode() else set(sa.inspect(op.get_bind()).get_table_names())
    if "console_users" not in existing:
        op.create_table(
            "console_users",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("username", sa.String(64), nullable=False),
            sa.Column("role", sa.String(16), nullable=False),
            sa.Column("password_hash", sa.String(255), nullable=False),
            sa.Column("active", sa.Boolean(), nullable=False),
            sa.Column("created_at", _dt(), nullable=False),
            sa.Column("password_changed_at", _dt(), nullable=False),
            sa.Column("last_login_at", _dt()),
            sa.CheckConstraint("role IN ('staff', 'trainer', 'admin')", name="ck_console_users_role"),
            sa.PrimaryKeyConstraint("id", name="pk_console_users"),
            sa.UniqueConstraint("username", name="uq_console_users_username"),
        )
    if "console_sessions" not in existing:
        op.create_table(
            "console_sessions",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("token_hash", sa.String(64), nullable=False),
            sa.Column("user_id", sa.Integer(), nullable=False),
            sa.Column("csrf_token", sa.String(64), nullable=False),
            sa.Column("created_at", _dt(), nullable=False),
            sa.Column("last_seen_at", _dt(), nullable=False),
            sa.ForeignKeyConstraint(["user_id"], ["console_users.id"], ondelete="CASCADE",
                                    name="fk_console_sessions_user_id_console_users"),
            sa.PrimaryKeyConstraint("id", name="pk_console_sessions"),
            sa.UniqueConstraint("token_hash", name="uq_console_sessions_token_hash"),
        )
        op.create_index("ix_console_sessions_user_id", "console_sessions", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_console_sessions_user_id", table_name="console_sessions")
    op.drop_table("console_sessions")
    op.drop_table("console_users")
