"""OrderStore: the only module that knows the work-order schema and speaks SQL to it.

Every public method is one short transaction (bot/db.py ``Transactions``: SQLite ``BEGIN
IMMEDIATE``, re-runs on lost races, outages as StoreUnavailable) that is safe when several
processes write at once (several action servers, the staff CLI, the console):

- SQLite: writers are serialised by the database's write lock, so two processes can never read
  the same counter value or both miss each other's open order.
- PostgreSQL: the daily counter is one ``INSERT … ON CONFLICT DO UPDATE … RETURNING`` (the
  row lock is held until commit); an order being appended to or moved is locked with
  ``SELECT … FOR UPDATE``; the unique indexes (order number, idempotency keys, one open order
  per sender, transcript event keys) turn any remaining race into an IntegrityError, and the
  transaction is then re-run from the start, when its lookups see the winner's row.

Nothing ORM-shaped leaves this module: callers get frozen dataclasses.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import case, func, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, selectinload

# make_engine, VERSION_TABLE and schema_head are re-exported for the callers that have always
# imported them from here (tests, retention).
from bot.db import (  # noqa: F401
    VERSION_TABLE,
    DatabaseUnavailable,
    Transactions,
    make_engine,
    schema_head,
)
from bot.orders.breaker import Breaker
from bot.orders.models import (
    ACTIVE_STATUSES,
    CUSTOMER_ACTOR,
    KIND_CONSULT,
    PRIORITY_NORMAL,
    REASON_LABELS,
    SATISFACTIONS,
    STATUS_CLOSED,
    STATUS_IN_PROGRESS,
    STATUS_NEW,
    SYSTEM_ACTOR,
    TRANSITIONS,
    OrderCounter,
    OrderEvent,
    TranscriptMessage,
    WorkOrder,
)
from bot.orders.numbering import day_key, format_order_no
from bot.clock import beijing_day, day_start_utc, utcnow
from bot.orders.transcript import Msg

logger = logging.getLogger(__name__)

T = TypeVar("T")


# --- errors ----------------------------------------------------------------------------------
class OrderError(Exception):
    """A refusal a person reads (staff or customer): the message is Chinese and says what to do."""


class OrderNotFound(OrderError, LookupError):
    pass


class TransitionError(OrderError):
    pass


class StoreUnavailable(OrderError, DatabaseUnavailable):
    """The database cannot be reached (down, refused, timed out). Customer requests are spooled."""

    def __init__(self, detail: str = "") -> None:
        OrderError.__init__(self, "工单数据库暂时无法连接，请稍后再试。" + (f"（{detail}）" if detail else ""))
        self.detail = detail


# --- views -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class EventView:
    at: datetime
    actor: str
    from_status: str | None
    to_status: str
    note: str


@dataclass(frozen=True)
class OrderView:
    """A work order as plain data (no live ORM object), with its history and conversation."""

    id: int
    order_no: str
    status: str
    reason: str
    topic: str | None
    candidates: list[dict[str, Any]]
    channel: str
    sender_id: str
    conversation_id: str | None
    phone: str | None
    assignee: str | None
    created_at: datetime
    updated_at: datetime
    due_at: datetime
    closed_at: datetime | None
    satisfaction: str | None
    idempotency_key: str
    latest_note: str
    overdue: bool
    events: tuple[EventView, ...]
    transcript: tuple[Msg, ...]
    kind: str = KIND_CONSULT
    priority: str = PRIORITY_NORMAL
    details: dict[str, Any] | None = None


@dataclass(frozen=True)
class StoredOpen:
    order_no: str
    due_at: datetime
    created: bool    # this call inserted the order
    appended: bool   # the trigger was recorded on an order that was already open
    replayed: bool   # the idempotency key had been seen: nothing was written


# --- the store -------------------------------------------------------------------------------
class OrderStore:
    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] = utcnow,
                 max_attempts: int = 12) -> None:
        self.engine = engine
        self.clock = clock
        # Migrations, re-runs on lost races and outages classified as StoreUnavailable (bot/db.py).
        self._db = Transactions(engine, max_attempts=max_attempts, unavailable=StoreUnavailable)
        # A dead database costs one connect timeout per cooldown, not one per call (breaker.py).
        self.breaker = Breaker()
        # Orders one sender may open per Beijing day (0 = no cap); service.from_settings sets it.
        self.max_orders_per_day = 0

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> "OrderStore":
        return cls(make_engine(url), **kwargs)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def dispose(self) -> None:
        self.engine.dispose()

    # -- plumbing ------------------------------------------------------------------------------
    def ensure_schema(self) -> None:
        """Migrate to head once per store, lazily: a store can be built while the DB is down."""
        self._db.ensure_schema()

    def _tx(self, work: Callable[[Session], T], *, read_only: bool = False) -> T:
        """Run ``work`` in one transaction, behind the circuit breaker (StoreUnavailable at once
        while it is open)."""
        if not self.breaker.allow():
            raise StoreUnavailable(self.breaker.last_error or "circuit open")
        try:
            result = self._db.run(work, read_only=read_only)
        except StoreUnavailable as exc:
            self.breaker.failed(exc.detail)
            raise
        except BaseException:
            self.breaker.succeeded()  # the database answered (a bug or a refusal, not an outage)
            raise
        self.breaker.succeeded()
        return result

    # -- customer side -------------------------------------------------------------------------
    def open_or_append(self, *, channel: str, sender_id: str, conversation_id: str | None,
                       reason: str, topic: str | None, candidates: Sequence[dict[str, Any]],
                       transcript: Sequence[Msg], idempotency_key: str, at: datetime,
                       due_at: datetime, kind: str = KIND_CONSULT, priority: str = PRIORITY_NORMAL,
                       details: dict[str, Any] | None = None,
                       due_for: Callable[[datetime], datetime] | None = None,
                       note: str | None = None) -> StoredOpen:
        """Open an order of this kind for this sender, or record the trigger on the one open.

        ``at`` is when the customer triggered it (the spool keeps it across an outage);
        ``due_at`` is used only if an order is created. Appending an urgent trigger to a normal
        order makes it urgent; new details are merged into the order's. A repair is opened before
        its address is known: when an append brings an ``area`` the order did not have, its due
        time becomes ``due_for(created_at)`` (that area's commitment, counted from the report).
        ``note`` replaces the "再次触发" note of an append.
        """
        def work(s: Session) -> StoredOpen:
            seen = s.execute(select(OrderEvent.order_id, OrderEvent.from_status)
                             .where(OrderEvent.idempotency_key == idempotency_key)).first()
            if seen is not None:
                order = s.get(WorkOrder, seen.order_id)
                if (order.channel, order.sender_id) != (channel, sender_id):
                    # Never hand one customer another customer's order number: a reused key
                    # is a bug in the caller, not a retry.
                    raise ValueError(f"idempotency key {idempotency_key!r} already belongs to another sender")
                return StoredOpen(order.order_no, order.due_at, created=False,
                                  appended=seen.from_status is not None, replayed=True)
            now = self.clock()
            order = self._open_order(s, channel, sender_id, lock=True, kind=kind)
            capped = False
            if order is None:
                # Past the daily cap, a trigger is added to the sender's latest order of the day.
                order = self._over_daily_cap(s, channel, sender_id, at)
                capped = order is not None
            if order is not None:
                self._append(s, order.id, transcript)
                order.updated_at = now
                said = note or f"再次触发：{reason}"
                if capped:
                    said += f"（今日工单已达上限 {self.max_orders_per_day} 张，追加到本单）"
                if priority != order.priority and priority != PRIORITY_NORMAL:
                    said += f"；优先级 {order.priority} → {priority}"
                    order.priority = priority
                if details:
                    area_before = (order.details or {}).get("area")
                    order.details = {**(order.details or {}), **details}
                    if due_for is not None and details.get("area") and details["area"] != area_before:
                        order.due_at = due_for(order.created_at)
                        said += f"；地址类别：{details['area']}，时限按此计算"
                s.add(OrderEvent(order_id=order.id, at=at, actor=SYSTEM_ACTOR,
                                 from_status=order.status, to_status=order.status,
                                 note=said, idempotency_key=idempotency_key))
                return StoredOpen(order.order_no, order.due_at, created=False, appended=True,
                                  replayed=False)
            day = day_key(at)
            # Allocate the number last, so the counter row (PostgreSQL) is locked as briefly
            # as possible; it is released by this transaction's commit or rollback, and a
            # rollback also returns the number, so no gaps come from lost races.
            order = WorkOrder(
                order_no=format_order_no(day, self._next_seq(s, day)), status=STATUS_NEW,
                reason=reason, kind=kind, priority=priority, details=dict(details) if details else None,
                topic=topic, candidates=[dict(c) for c in candidates],
                channel=channel, sender_id=sender_id, conversation_id=conversation_id,
                created_at=at, updated_at=now, due_at=due_at, idempotency_key=idempotency_key)
            s.add(order)
            s.flush()  # the unique indexes speak here, before any more work is done
            s.add(OrderEvent(order_id=order.id, at=at, actor=SYSTEM_ACTOR, from_status=None,
                             to_status=STATUS_NEW,
                             note=f"对话触发：{REASON_LABELS.get(reason, reason)}（{reason}）",
                             idempotency_key=idempotency_key))
            self._append(s, order.id, transcript)
            return StoredOpen(order.order_no, order.due_at, created=True, appended=False,
                              replayed=False)

        return self._tx(work)

    def sync_transcript(self, *, channel: str, sender_id: str,
                        transcript: Sequence[Msg] | Callable[[], Sequence[Msg]]) -> int:
        """Append new messages to the sender's open orders; ``transcript`` may be a function, called
        only when an order is open (converting a long conversation costs more than the look)."""
        # Called after every conversation turn (the tracker store), and most conversations have
        # no open order: look first without the write lock, so those turns never queue for it.
        has_open = self._tx(lambda s: bool(self._open_orders(s, channel, sender_id, lock=False)),
                            read_only=True)
        if not has_open:
            return 0
        if callable(transcript):
            transcript = transcript()

        def work(s: Session) -> int:
            # A customer may have several open orders (one per kind): each carries the conversation.
            added = 0
            for order in self._open_orders(s, channel, sender_id, lock=True):
                n = self._append(s, order.id, transcript)
                if n:
                    order.updated_at = self.clock()
                added += n
            return added

        return self._tx(work)

    def set_phone(self, *, channel: str, sender_id: str, phone: str, at: datetime) -> str:
        """Store the phone on the sender's open orders, else their latest; returns the newest's number."""
        def work(s: Session) -> str:
            orders = self._open_orders(s, channel, sender_id, lock=True)
            if not orders:
                latest = s.execute(
                    select(WorkOrder).where(WorkOrder.channel == channel, WorkOrder.sender_id == sender_id)
                    .order_by(WorkOrder.created_at.desc(), WorkOrder.id.desc()).limit(1)
                    .with_for_update()).scalar_one_or_none()
                orders = [latest] if latest is not None else []
            if not orders:
                raise OrderNotFound("没有找到您的工单，电话号码暂未保存。")
            for order in orders:
                if order.phone != phone:  # a replayed request changes nothing the second time
                    order.phone = phone
                    order.updated_at = self.clock()
                    s.add(OrderEvent(order_id=order.id, at=at, actor=CUSTOMER_ACTOR,
                                     from_status=order.status, to_status=order.status,
                                     note=f"客户留下联系电话：{phone}"))
            return orders[-1].order_no

        return self._tx(work)

    # -- reading -------------------------------------------------------------------------------
    def get(self, order_no: str, *, channel: str | None = None,
            sender_id: str | None = None) -> OrderView | None:
        def work(s: Session) -> OrderView | None:
            q = _with_children(select(WorkOrder)).where(WorkOrder.order_no == order_no)
            if channel is not None or sender_id is not None:
                q = q.where(WorkOrder.channel == channel, WorkOrder.sender_id == sender_id)
            order = s.execute(q).scalar_one_or_none()
            return None if order is None else self._view(order)

        return self._tx(work, read_only=True)

    def orders_for(self, *, channel: str, sender_id: str) -> list[OrderView]:
        def work(s: Session) -> list[OrderView]:
            q = (_with_children(select(WorkOrder))
                 .where(WorkOrder.channel == channel, WorkOrder.sender_id == sender_id)
                 .order_by(WorkOrder.created_at.desc(), WorkOrder.id.desc()))
            return [self._view(o) for o in s.execute(q).scalars()]

        return self._tx(work, read_only=True)

    def query(self, *, statuses: Iterable[str] | None = None, topic: str | None = None,
              reason: str | None = None, overdue: bool | None = None,
              since: datetime | None = None, until: datetime | None = None,
              kind: str | None = None, priority: str | None = None,
              urgent_first: bool = False) -> list[OrderView]:
        def work(s: Session) -> list[OrderView]:
            now = self.clock()
            q = _with_children(select(WorkOrder))
            if urgent_first:
                # the queue: urgent repairs (a wire on the ground) before anything else
                q = q.order_by(case((WorkOrder.priority == "urgent", 0), else_=1))
            q = q.order_by(WorkOrder.created_at, WorkOrder.id)
            if kind is not None:
                q = q.where(WorkOrder.kind == kind)
            if priority is not None:
                q = q.where(WorkOrder.priority == priority)
            if statuses is not None:
                q = q.where(WorkOrder.status.in_(list(statuses)))
            if topic is not None:
                q = q.where(WorkOrder.topic == topic)
            if reason is not None:
                q = q.where(WorkOrder.reason == reason)
            if overdue is True:
                q = q.where(WorkOrder.status.in_(ACTIVE_STATUSES), WorkOrder.due_at < now)
            elif overdue is False:
                q = q.where(or_(WorkOrder.status.not_in(ACTIVE_STATUSES), WorkOrder.due_at >= now))
            if since is not None:
                q = q.where(WorkOrder.created_at >= since)
            if until is not None:
                q = q.where(WorkOrder.created_at < until)
            return [self._view(o) for o in s.execute(q).scalars()]

        return self._tx(work, read_only=True)

    # -- staff side ----------------------------------------------------------------------------
    def assign(self, order_no: str, assignee: str, actor: str, note: str = "") -> OrderView:
        """Give the order to a person; a 待处理 order becomes 处理中 (受理) at the same time."""
        def work(s: Session) -> OrderView:
            order = self._locked(s, order_no)
            if order.status == STATUS_CLOSED:
                raise TransitionError(f"工单 {order_no} 已关闭，不能再指派。")
            before = order.status
            if order.status == STATUS_NEW:
                order.status = STATUS_IN_PROGRESS
            order.assignee = assignee
            order.updated_at = self.clock()
            s.add(OrderEvent(order_id=order.id, at=order.updated_at, actor=actor, from_status=before,
                             to_status=order.status,
                             note=f"指派给 {assignee}" + (f"：{note}" if note else "")))
            s.flush()
            return self._view(order)

        return self._tx(work)

    def transition(self, order_no: str, to_status: str, actor: str, note: str = "", *,
                   satisfaction: str | None = None) -> OrderView:
        """Move the order along TRANSITIONS; the check happens under the row lock."""
        def work(s: Session) -> OrderView:
            order = self._locked(s, order_no)
            before = order.status
            allowed = TRANSITIONS.get(before, ())
            if to_status not in allowed:
                nxt = "、".join(f"「{a}」" for a in allowed) or "无（工单已结束）"
                raise TransitionError(
                    f"工单 {order_no} 当前状态为「{before}」，不能改为「{to_status}」；允许的下一步：{nxt}。")
            now = self.clock()
            if satisfaction is not None:
                if satisfaction not in SATISFACTIONS:
                    raise OrderError(f"满意度只能是：{' / '.join(SATISFACTIONS)}。")
                order.satisfaction = satisfaction
            order.status = to_status
            order.updated_at = now
            if to_status == STATUS_CLOSED:
                order.closed_at = now
            s.add(OrderEvent(order_id=order.id, at=now, actor=actor, from_status=before,
                             to_status=to_status, note=note))
            s.flush()
            return self._view(order)

        return self._tx(work)

    # -- staff notes (added for the staff console) ---------------------------------------------
    def add_note(self, order_no: str, actor: str, note: str) -> OrderView:
        """Record a note (处理进展/备注) on an order that is not closed; the status stays."""
        def work(s: Session) -> OrderView:
            order = self._locked(s, order_no)
            if order.status == STATUS_CLOSED:
                raise TransitionError(f"工单 {order_no} 已关闭，不能再添加备注。")
            order.updated_at = self.clock()
            s.add(OrderEvent(order_id=order.id, at=order.updated_at, actor=actor,
                             from_status=order.status, to_status=order.status, note=note))
            s.flush()
            return self._view(order)

        return self._tx(work)

    # -- internals -----------------------------------------------------------------------------
    @staticmethod
    def _open_order(s: Session, channel: str, sender_id: str, *, lock: bool,
                    kind: str = KIND_CONSULT) -> WorkOrder | None:
        """The sender's open order of this kind (the database allows one)."""
        q = select(WorkOrder).where(WorkOrder.channel == channel, WorkOrder.sender_id == sender_id,
                                    WorkOrder.kind == kind, WorkOrder.status != STATUS_CLOSED)
        if lock:
            # PostgreSQL re-checks the WHERE after waiting for the lock, so an order closed by
            # staff meanwhile is not returned and a new one is opened instead.
            q = q.with_for_update()
        return s.execute(q).scalar_one_or_none()

    @staticmethod
    def _open_orders(s: Session, channel: str, sender_id: str, *, lock: bool) -> list[WorkOrder]:
        """All the sender's open orders (at most one per kind), oldest first."""
        q = (select(WorkOrder).where(WorkOrder.channel == channel, WorkOrder.sender_id == sender_id,
                                     WorkOrder.status != STATUS_CLOSED)
             .order_by(WorkOrder.created_at, WorkOrder.id))
        if lock:
            q = q.with_for_update()
        return list(s.execute(q).scalars())

    def _over_daily_cap(self, s: Session, channel: str, sender_id: str, at: datetime) -> WorkOrder | None:
        """The sender's latest order of ``at``'s Beijing day if they already have the day's
        maximum (ORDERS_PER_SENDER_PER_DAY), else None."""
        if self.max_orders_per_day <= 0:
            return None
        start = day_start_utc(beijing_day(at))
        todays = s.execute(select(WorkOrder).where(WorkOrder.channel == channel, WorkOrder.sender_id == sender_id,
                                                   WorkOrder.created_at >= start)
                           .order_by(WorkOrder.created_at.desc(), WorkOrder.id.desc())
                           .with_for_update()).scalars().all()
        return todays[0] if len(todays) >= self.max_orders_per_day else None

    @staticmethod
    def _locked(s: Session, order_no: str) -> WorkOrder:
        order = s.execute(select(WorkOrder).where(WorkOrder.order_no == order_no)
                          .with_for_update()).scalar_one_or_none()
        if order is None:
            raise OrderNotFound(f"没有找到工单 {order_no}，请核对工单号（如 GD202611220007）。")
        return order

    @staticmethod
    def _next_seq(s: Session, day: str) -> int:
        """The next number of ``day``, inside the caller's transaction (see the module doc)."""
        dialect = s.get_bind().dialect.name
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            stmt = pg_insert(OrderCounter).values(day=day, last_seq=1)
            stmt = stmt.on_conflict_do_update(
                index_elements=[OrderCounter.day], set_={"last_seq": OrderCounter.last_seq + 1}
            ).returning(OrderCounter.last_seq)
            return int(s.execute(stmt).scalar_one())
        if dialect == "sqlite":
            # SQLAlchemy 1.4 cannot RETURN on SQLite; the BEGIN IMMEDIATE lock makes the
            # upsert-then-read pair atomic with respect to every other writer.
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            stmt = sqlite_insert(OrderCounter).values(day=day, last_seq=1)
            s.execute(stmt.on_conflict_do_update(index_elements=[OrderCounter.day],
                                                 set_={"last_seq": OrderCounter.last_seq + 1}))
            return int(s.execute(select(OrderCounter.last_seq).where(OrderCounter.day == day)).scalar_one())
        # Any other backend: lock the row; a racing first insert of the day fails on the
        # primary key and the whole transaction is re-run by _tx.
        row = s.execute(select(OrderCounter).where(OrderCounter.day == day).with_for_update()).scalar_one_or_none()
        if row is None:
            s.add(OrderCounter(day=day, last_seq=1))
            s.flush()
            return 1
        row.last_seq += 1
        s.flush()
        return int(row.last_seq)

    @staticmethod
    def _append(s: Session, order_id: int, messages: Sequence[Msg]) -> int:
        """Append the messages not stored yet (by event_key); returns how many were added."""
        if not messages:
            return 0
        existing = set(s.execute(select(TranscriptMessage.event_key)
                                 .where(TranscriptMessage.order_id == order_id)).scalars())
        last = s.execute(select(func.coalesce(func.max(TranscriptMessage.seq), 0))
                         .where(TranscriptMessage.order_id == order_id)).scalar_one()
        added = 0
        for m in messages:
            if m.event_key in existing:
                continue
            existing.add(m.event_key)
            last += 1
            added += 1
            s.add(TranscriptMessage(order_id=order_id, seq=last, role=m.role, text=m.text, at=m.at,
                                    buttons=list(m.buttons) or None, chosen_button=m.chosen_button,
                                    event_key=m.event_key))
        return added

    def _view(self, o: WorkOrder) -> OrderView:
        events = tuple(EventView(e.at, e.actor, e.from_status, e.to_status, e.note) for e in o.events)
        transcript = tuple(Msg(role=m.role, text=m.text, at=m.at, buttons=tuple(m.buttons or ()),
                               chosen_button=m.chosen_button, event_key=m.event_key)
                           for m in o.transcript)
        # What a customer is told as "最新进展": the latest note a person wrote, never our own
        # bookkeeping ("再次触发：…") or the customer's own phone number.
        latest_note = next((e.note for e in reversed(events)
                            if e.note and e.actor not in (SYSTEM_ACTOR, CUSTOMER_ACTOR)), "")
        return OrderView(
            id=o.id, order_no=o.order_no, status=o.status, reason=o.reason, topic=o.topic,
            candidates=[dict(c) for c in (o.candidates or [])], channel=o.channel,
            sender_id=o.sender_id, conversation_id=o.conversation_id, phone=o.phone,
            assignee=o.assignee, created_at=o.created_at, updated_at=o.updated_at,
            due_at=o.due_at, closed_at=o.closed_at, satisfaction=o.satisfaction,
            idempotency_key=o.idempotency_key, latest_note=latest_note,
            overdue=o.status in ACTIVE_STATUSES and o.due_at < self.clock(),
            events=events, transcript=transcript, kind=o.kind, priority=o.priority,
            details=dict(o.details) if o.details else None)


def _with_children(q: Any) -> Any:
    return q.options(selectinload(WorkOrder.events), selectinload(WorkOrder.transcript))
