"""SQLAlchemy models of the work-order tables, and the workflow vocabulary they enforce.

Only bot/orders/store.py queries these tables; everything else sees plain dataclasses. The
schema itself is created by the Alembic migrations in bot/migrations/versions/ — keep the two in
step (tests/test_orders_store.py compares them).

Integrity lives in the database, not only in code, because several action-server processes
write at once: one open order per (channel, sender_id) is a partial unique index, order
numbers and idempotency keys are unique, statuses are CHECKed. Kinds, reasons and priorities
are not CHECKed: OrderService validates them against vocabulary.py, so a new kind needs no
migration (0002 dropped the reason CHECK for that reason).
"""
from __future__ import annotations

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import declarative_base, relationship

# The constraint names and the UTC time type are shared with the console's tables (bot/db.py).
from bot.db import NAMING_CONVENTION, UTCDateTime  # noqa: F401

# The vocabulary (statuses, kinds, reasons, priorities, labels) lives in vocabulary.py; it is
# re-exported here for the modules that have always imported it from models.
from bot.orders.vocabulary import (  # noqa: E402,F401
    ACTIVE_STATUSES,
    CUSTOMER_ACTOR,
    KIND_CONSULT,
    KINDS,
    PRIORITIES,
    PRIORITY_NORMAL,
    REASON_LABELS,
    REASONS,
    ROLES,
    SATISFACTIONS,
    STATUS_CALLED_BACK,
    STATUS_CLOSED,
    STATUS_IN_PROGRESS,
    STATUS_NEW,
    STATUS_RESOLVED,
    STATUSES,
    SYSTEM_ACTOR,
    TOPIC_LABELS,
    TRANSITIONS,
)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


metadata = MetaData(naming_convention=NAMING_CONVENTION)
Base = declarative_base(metadata=metadata)


class OrderCounter(Base):
    """One row per Beijing calendar day: the last sequence number handed out that day."""

    __tablename__ = "order_counters"

    day = Column(String(8), primary_key=True)  # YYYYMMDD
    last_seq = Column(Integer, nullable=False)


class WorkOrder(Base):
    __tablename__ = "work_orders"

    id = Column(Integer, primary_key=True)
    order_no = Column(String(24), nullable=False)
    status = Column(String(8), nullable=False)
    reason = Column(String(24), nullable=False)
    # vocabulary.KINDS / PRIORITIES, validated by OrderService (no CHECK: see the module doc)
    kind = Column(String(16), nullable=False, server_default=KIND_CONSULT)
    priority = Column(String(8), nullable=False, server_default=PRIORITY_NORMAL)
    # What the conversation collected for this kind: a repair's address, area class, hazard,
    # description; a complaint's contact deadline. Free-form JSON, shown in the console.
    details = Column(JSON)
    topic = Column(String(32))
    candidates = Column(JSON, nullable=False)
    channel = Column(String(32), nullable=False)
    sender_id = Column(String(255), nullable=False)
    conversation_id = Column(String(255))
    phone = Column(String(20))
    assignee = Column(String(64))
    created_at = Column(UTCDateTime(), nullable=False)
    updated_at = Column(UTCDateTime(), nullable=False)
    due_at = Column(UTCDateTime(), nullable=False)
    closed_at = Column(UTCDateTime())
    satisfaction = Column(String(8))
    idempotency_key = Column(String(255), nullable=False)

    events = relationship("OrderEvent", back_populates="order", order_by="OrderEvent.id",
                          cascade="all, delete-orphan", passive_deletes=True)
    transcript = relationship("TranscriptMessage", back_populates="order",
                              order_by="TranscriptMessage.seq", cascade="all, delete-orphan",
                              passive_deletes=True)

    __table_args__ = (
        UniqueConstraint("order_no"),
        UniqueConstraint("idempotency_key"),
        CheckConstraint(_one_of("status", STATUSES), name="status"),
        CheckConstraint(f"satisfaction IS NULL OR {_one_of('satisfaction', SATISFACTIONS)}",
                        name="satisfaction"),
        # Exactly one open order per conversation partner and kind, enforced by the database so
        # that two action-server processes racing on the same customer cannot both insert one.
        # (A repair reported while a consultation is open is its own order, with its own crew.)
        Index("uq_work_orders_open_sender_kind", "channel", "sender_id", "kind", unique=True,
              sqlite_where=text(f"status != '{STATUS_CLOSED}'"),
              postgresql_where=text(f"status != '{STATUS_CLOSED}'")),
        Index("ix_work_orders_sender_created", "channel", "sender_id", "created_at"),
        Index("ix_work_orders_status_due", "status", "due_at"),
        Index("ix_work_orders_created_at", "created_at"),
        Index("ix_work_orders_kind_priority", "kind", "priority"),
    )


class OrderEvent(Base):
    """One row per change of an order, its creation included (the 处理记录 staff see)."""

    __tablename__ = "order_events"

    id = Column(Integer, primary_key=True)
    order_id = Column(Integer, ForeignKey("work_orders.id", ondelete="CASCADE"), nullable=False)
    at = Column(UTCDateTime(), nullable=False)
    actor = Column(String(64), nullable=False)
    from_status = Column(String(8))  # NULL on the creation event
    to_status = Column(String(8), nullable=False)
    note = Column(Text, nullable=False)
    # The key of the customer-side trigger that produced this event (creation or "再次触发"), so
    # that a retried or replayed trigger — even one that only appended — is recognised.
    idempotency_key = Column(String(255))

    order = relationship("WorkOrder", back_populates="events")

    __table_args__ = (
        UniqueConstraint("idempotency_key"),
        Index("ix_order_events_order_id", "order_id"),
    )


class TranscriptMessage(Base):
    __tablename__ = "transcript_messages"

    id = Column(Integer, primary_key=True)
    order_id = Column(Integer, ForeignKey("work_orders.id", ondelete="CASCADE"), nullable=False)
    seq = Column(Integer, nullable=False)
    role = Column(String(8), nullable=False)
    text = Column(Text, nullable=False)
    at = Column(UTCDateTime(), nullable=False)
    buttons = Column(JSON)           # bot message: titles of the buttons shown
    chosen_button = Column(String(255))  # user message: the title of the button clicked
    # Stable identity of the Rasa event, so re-syncing the same conversation never duplicates.
    event_key = Column(String(128), nullable=False)

    order = relationship("WorkOrder", back_populates="transcript")

    __table_args__ = (
        UniqueConstraint("order_id", "seq"),
        UniqueConstraint("order_id", "event_key"),
        CheckConstraint(_one_of("role", ROLES), name="role"),
    )


class OutageNotice(Base):
    """停电公告: a planned or fault outage that staff publish (console, CSV import); the bot
    answers "我们村明天停电吗" from these. Only bot/orders/notices.py queries this table."""

    __tablename__ = "outage_notices"

    id = Column(Integer, primary_key=True)
    places = Column(JSON, nullable=False)        # ["张家村", "幸福小区"]: 村, 小区, 街道, 路段 …
    places_text = Column(Text, nullable=False)   # the same, "、"-joined, for a LIKE pre-filter
    starts_at = Column(UTCDateTime(), nullable=False)
    ends_at = Column(UTCDateTime(), nullable=False)
    kind = Column(String(16), nullable=False)    # notices.NOTICE_KINDS, validated in notices.py
    reason = Column(Text, nullable=False)
    source = Column(String(255), nullable=False)
    published_by = Column(String(64), nullable=False)
    created_at = Column(UTCDateTime(), nullable=False)
    updated_at = Column(UTCDateTime(), nullable=False)
    ended_at = Column(UTCDateTime())             # ended early by staff (power back before ends_at)
    ended_by = Column(String(64))

    __table_args__ = (
        Index("ix_outage_notices_ends_at", "ends_at"),
        Index("ix_outage_notices_starts_at", "starts_at"),
    )


# --- 在线人工 (live chat with agents, issue 15); only bot/orders/livechat.py queries these ---------
LIVE_STATES = ("waiting", "held", "ended", "ordered", "left")
LIVE_OPEN_STATES = ("waiting", "held")
AGENT_STATUSES = ("online", "busy", "away")
LIVE_DIRECTIONS = ("in", "out")


class LiveAgent(Base):
    """A staff member's live-chat status (在线 / 忙碌 / 离开) and when their console last polled."""

    __tablename__ = "live_agents"

    username = Column(String(64), primary_key=True)
    status = Column(String(8), nullable=False)
    changed_at = Column(UTCDateTime(), nullable=False)
    seen_at = Column(UTCDateTime(), nullable=False)

    __table_args__ = (CheckConstraint(_one_of("status", AGENT_STATUSES), name="status"),)


class LiveChat(Base):
    """One request for a person: queued, held by an agent, then ended, turned into an order, or
    left by the customer. At most one open (waiting/held) chat per customer: a partial unique index."""

    __tablename__ = "live_chats"

    id = Column(Integer, primary_key=True)
    sender_id = Column(String(255), nullable=False)
    channel = Column(String(16), nullable=False)
    state = Column(String(8), nullable=False)
    priority = Column(Integer, nullable=False)   # 2 a hazard, 1 a complaint, 0 the rest
    reason = Column(String(32), nullable=False)
    queued_at = Column(UTCDateTime(), nullable=False)      # the place in the queue
    waiting_since = Column(UTCDateTime(), nullable=False)  # the wait limit counts from here (re-queued: anew)
    accepted_at = Column(UTCDateTime())          # first accepted (the wait ends here)
    ended_at = Column(UTCDateTime())
    agent = Column(String(64))                   # the last agent who held it
    end_reason = Column(String(16))              # agent / no_agent / timeout / customer
    order_no = Column(String(32))
    rating = Column(String(8))
    rated_at = Column(UTCDateTime())

    __table_args__ = (
        CheckConstraint(_one_of("state", LIVE_STATES), name="state"),
        Index("uq_live_chats_open_sender", "sender_id", unique=True,
              sqlite_where=text("state IN ('waiting', 'held')"),
              postgresql_where=text("state IN ('waiting', 'held')")),
        Index("ix_live_chats_state_queued", "state", "queued_at"),
        Index("ix_live_chats_ended_at", "ended_at"),
    )


class LiveChatHold(Base):
    """Who holds a chat right now. The primary key is the chat: a second agent's accept fails in
    the database, whatever the application checked before."""

    __tablename__ = "live_chat_holds"

    chat_id = Column(Integer, ForeignKey("live_chats.id", ondelete="CASCADE"), primary_key=True)
    agent = Column(String(64), nullable=False)
    since = Column(UTCDateTime(), nullable=False)


class LiveMessage(Base):
    """A message of a live chat: the customer's (in) or one to the customer (out: an agent's reply
    or a notice). Out rows are the outbox: the web chat polls them, WeChat gets them through the
    客服消息 API, and each is also written to the Rasa tracker (tracker_synced) so the transcript
    stays whole even if Rasa was down when it was sent."""

    __tablename__ = "live_messages"

    id = Column(Integer, primary_key=True)
    chat_id = Column(Integer, ForeignKey("live_chats.id", ondelete="CASCADE"), nullable=False)
    sender_id = Column(String(255), nullable=False)
    direction = Column(String(3), nullable=False)
    author = Column(String(64), nullable=False)   # the agent, "customer" or "system"
    text = Column(Text, nullable=False)
    payload = Column(JSON)                        # out: the Rasa message (buttons, custom)
    source = Column(String(255))                  # out: the knowledge entry an answer came from
    created_at = Column(UTCDateTime(), nullable=False)
    delivered_at = Column(UTCDateTime())          # WeChat: sent through the API
    delivery_error = Column(String(255))
    tracker_synced = Column(Integer, nullable=False, server_default="0")

    __table_args__ = (
        CheckConstraint(_one_of("direction", LIVE_DIRECTIONS), name="direction"),
        Index("ix_live_messages_sender_id_id", "sender_id", "id"),
        Index("ix_live_messages_chat_id_id", "chat_id", "id"),
    )
