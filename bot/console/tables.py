"""The console's tables, ``console_users`` and ``console_sessions``, in the work-order database.

Created and changed by the Alembic tree in bot/migrations/ (0005), like the work-order tables;
only bot/console/accounts.py queries them. Kept apart from accounts.py so that the migrations
can load these models without the console's password code.
"""
from __future__ import annotations

from sqlalchemy import Boolean, CheckConstraint, Column, ForeignKey, Index, Integer, MetaData, String
from sqlalchemy.orm import declarative_base

from bot.db import NAMING_CONVENTION, UTCDateTime

# The orders tables' constraint names, so both sets of tables in one database follow one scheme.
metadata = MetaData(naming_convention=NAMING_CONVENTION)
Base = declarative_base(metadata=metadata)


class ConsoleUser(Base):
    __tablename__ = "console_users"

    id = Column(Integer, primary_key=True)
    username = Column(String(64), nullable=False, unique=True)
    role = Column(String(16), nullable=False)
    password_hash = Column(String(255), nullable=False)
    active = Column(Boolean, nullable=False, default=True)
    created_at = Column(UTCDateTime(), nullable=False)
    password_changed_at = Column(UTCDateTime(), nullable=False)
    last_login_at = Column(UTCDateTime())

    __table_args__ = (CheckConstraint("role IN ('staff', 'trainer', 'admin')", name="role"),)


class ConsoleSession(Base):
    __tablename__ = "console_sessions"

    id = Column(Integer, primary_key=True)
    token_hash = Column(String(64), nullable=False, unique=True)  # sha256 of the cookie value
    user_id = Column(Integer, ForeignKey("console_users.id", ondelete="CASCADE"), nullable=False)
    csrf_token = Column(String(64), nullable=False)
    created_at = Column(UTCDateTime(), nullable=False)
    last_seen_at = Column(UTCDateTime(), nullable=False)

    __table_args__ = (Index("ix_console_sessions_user_id", "user_id"),)
