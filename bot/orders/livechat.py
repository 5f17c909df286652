"""在线人工: the live-chat queue, who holds which chat, agents' status and the messages of a chat.

The only module that queries the live_* tables (migration 0004). Integrity lives in the database,
because the console and several action-server processes write at once:

- one open (waiting/held) chat per customer is a partial unique index;
- one holder per chat is the primary key of live_chat_holds: two agents pressing 接入 at the same
  moment both try to insert, the database lets one in, the other's transaction re-runs, finds the
  winner's row and is told 已被接入.

Transactions go through OrderStore._tx (breaker, retries on lost races, StoreUnavailable).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Optional, Sequence

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from bot.clock import utcnow
from bot.orders.models import (
    AGENT_STATUSES,
    LIVE_OPEN_STATES,
    LiveAgent,
    LiveChat,
    LiveChatHold,
    LiveMessage,
)
from bot.orders.store import OrderError, OrderNotFound, OrderStore

MAX_TEXT_CHARS = 2000      # one agent or customer message kept in full up to this length
RATINGS = ("满意", "基本满意", "不满意")
PRIORITY_HAZARD, PRIORITY_COMPLAINT, PRIORITY_NORMAL = 2, 1, 0


class ChatTaken(OrderError):
    """Another agent holds this chat (or it is no longer waiting)."""


class ChatNotFound(OrderNotFound):
    pass


@dataclass(frozen=True)
class ChatView:
    id: int
    sender_id: str
    channel: str
    state: str
    priority: int
    reason: str
    queued_at: datetime
    accepted_at: Optional[datetime]
    ended_at: Optional[datetime]
    agent: Optional[str]
    holder: Optional[str]       # who holds it now (None unless state is held)
    end_reason: Optional[str]
    order_no: Optional[str]
    rating: Optional[str]


@dataclass(frozen=True)
class MessageView:
    id: int
    chat_id: int
    sender_id: str
    direction: str
    author: str
    text: str
    payload: Optional[dict]
    source: Optional[str]
    created_at: datetime
    delivered_at: Optional[datetime]
    delivery_error: Optional[str]
    tracker_synced: bool


@dataclass(frozen=True)
class AgentView:
    username: str
    status: str
    changed_at: datetime
    seen_at: datetime


def _chat(c: LiveChat, holder: Optional[str]) -> ChatView:
    return ChatView(c.id, c.sender_id, c.channel, c.state, c.priority, c.reason, c.queued_at,
                    c.accepted_at, c.ended_at, c.agent, holder if c.state == "held" else None,
                    c.end_reason, c.order_no, c.rating)


def _message(m: LiveMessage) -> MessageView:
    return MessageView(m.id, m.chat_id, m.sender_id, m.direction, m.author, m.text, m.payload, m.source,
                       m.created_at, m.delivered_at, m.delivery_error, bool(m.tracker_synced))


def _queue_order() -> tuple:
    # The most urgent first (a hazard, then a complaint), then the longest waiting.
    return (LiveChat.priority.desc(), LiveChat.queued_at, LiveChat.id)


class LiveChatStore:
    def __init__(self, store: OrderStore, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.clock = clock

    def _tx(self, work: Callable[[Session], Any], *, read_only: bool = False) -> Any:
        return self.store._tx(work, read_only=read_only)  # noqa: SLF001 — same package, same database

    # -- agents --------------------------------------------------------------------------------
    def set_status(self, username: str, status: str) -> AgentView:
        if status not in AGENT_STATUSES:
            raise OrderError(f"未知的状态：{status}")
        now = self.clock()

        def work(s: Session) -> AgentView:
            a = s.get(LiveAgent, username)
            if a is None:
                a = LiveAgent(username=username, status=status, changed_at=now, seen_at=now)
                s.add(a)
            elif a.status != status:
                a.status, a.changed_at = status, now
            a.seen_at = now
            s.flush()
            return AgentView(a.username, a.status, a.changed_at, a.seen_at)
        return self._tx(work)

    def heartbeat(self, username: str) -> Optional[AgentView]:
        """The agent's console is open (it polls): keep them counted as present."""
        now = self.clock()

        def work(s: Session) -> Optional[AgentView]:
            a = s.get(LiveAgent, username)
            if a is None:
                return None
            a.seen_at = now
            return AgentView(a.username, a.status, a.changed_at, a.seen_at)
        return self._tx(work)

    def agents(self) -> list[AgentView]:
        def work(s: Session) -> list[AgentView]:
            rows = s.scalars(select(LiveAgent).order_by(LiveAgent.username)).all()
            return [AgentView(a.username, a.status, a.changed_at, a.seen_at) for a in rows]
        return self._tx(work, read_only=True)

    def on_duty(self, present_within: timedelta) -> list[str]:
        """Agents marked 在线 whose console polled within ``present_within``."""
        since = self.clock() - present_within

        def work(s: Session) -> list[str]:
            return list(s.scalars(select(LiveAgent.username).where(
                LiveAgent.status == "online", LiveAgent.seen_at >= since).order_by(LiveAgent.username)))
        return self._tx(work, read_only=True)

    # -- the queue -----------------------------------------------------------------------------
    def enqueue(self, *, sender_id: str, channel: str, reason: str, priority: int) -> tuple[ChatView, bool]:
        """Queue the customer; (their open chat, True if it was created now). A customer already
        waiting or held keeps their place (a raised priority is kept)."""
        now = self.clock()

        def work(s: Session) -> tuple[ChatView, bool]:
            c = self._open(s, sender_id)
            if c is not None:
                if priority > c.priority:
                    c.priority = priority
                return _chat(c, self._holder(s, c.id)), False
            c = LiveChat(sender_id=sender_id, channel=channel, state="waiting", priority=priority,
                         reason=reason[:32], queued_at=now, waiting_since=now)
            s.add(c)
            s.flush()
            return _chat(c, None), True
        return self._tx(work)

    @staticmethod
    def _open(s: Session, sender_id: str) -> Optional[LiveChat]:
        return s.scalars(select(LiveChat).where(LiveChat.sender_id == sender_id,
                                                LiveChat.state.in_(LIVE_OPEN_STATES))).first()

    @staticmethod
    def _holder(s: Session, chat_id: int) -> Optional[str]:
        return s.scalar(select(LiveChatHold.agent).where(LiveChatHold.chat_id == chat_id))

    def open_chat_for(self, sender_id: str) -> Optional[ChatView]:
        def work(s: Session) -> Optional[ChatView]:
            c = self._open(s, sender_id)
            return _chat(c, self._holder(s, c.id)) if c else None
        return self._tx(work, read_only=True)

    def get(self, chat_id: int) -> ChatView:
        def work(s: Session) -> ChatView:
            c = s.get(LiveChat, chat_id)
            if c is None:
                raise ChatNotFound(f"没有这个会话：{chat_id}")
            return _chat(c, self._holder(s, c.id))
        return self._tx(work, read_only=True)

    def waiting(self) -> list[ChatView]:
        def work(s: Session) -> list[ChatView]:
            rows = s.scalars(select(LiveChat).where(LiveChat.state == "waiting").order_by(*_queue_order())).all()
            return [_chat(c, None) for c in rows]
        return self._tx(work, read_only=True)

    def position(self, chat_id: int) -> int:
        """1 for the next chat to be taken; 0 if it is not waiting."""
        waiting = self.waiting()
        return next((i for i, c in enumerate(waiting, 1) if c.id == chat_id), 0)

    def held(self, agent: Optional[str] = None) -> list[ChatView]:
        def work(s: Session) -> list[ChatView]:
            q = select(LiveChat, LiveChatHold.agent).join(LiveChatHold, LiveChatHold.chat_id == LiveChat.id)
            if agent is not None:
                q = q.where(LiveChatHold.agent == agent)
            return [_chat(c, holder) for c, holder in s.execute(q.order_by(LiveChat.accepted_at, LiveChat.id))]
        return self._tx(work, read_only=True)

    def accept(self, chat_id: int, agent: str) -> ChatView:
        """Take a waiting chat. ChatTaken if another agent has it or it is no longer waiting."""
        now = self.clock()

        def work(s: Session) -> ChatView:
            holder = self._holder(s, chat_id)
            if holder is not None:
                raise ChatTaken(f"这个会话已被 {holder} 接入。")
            c = s.get(LiveChat, chat_id)
            if c is None:
                raise ChatNotFound(f"没有这个会话：{chat_id}")
            if c.state != "waiting":
                raise ChatTaken("这个会话已不在排队中。")
            # The insert is the lock: a concurrent accept fails here on the primary key, its
            # transaction re-runs (store._tx) and finds this holder above.
            s.add(LiveChatHold(chat_id=chat_id, agent=agent, since=now))
            s.flush()
            c.state, c.agent = "held", agent
            if c.accepted_at is None:
                c.accepted_at = now
            return _chat(c, agent)
        return self._tx(work)

    def transfer(self, chat_id: int, from_agent: str, to_agent: str) -> ChatView:
        def work(s: Session) -> ChatView:
            hold = s.get(LiveChatHold, chat_id)
            if hold is None or hold.agent != from_agent:
                raise ChatTaken("您没有接入这个会话，不能转交。")
            hold.agent, hold.since = to_agent, self.clock()
            c = s.get(LiveChat, chat_id)
            c.agent = to_agent
            return _chat(c, to_agent)
        return self._tx(work)

    def release(self, chat_id: int) -> Optional[ChatView]:
        """Back to the queue (the agent dropped): keeps its place by its first queue time."""
        def work(s: Session) -> Optional[ChatView]:
            c = s.get(LiveChat, chat_id)
            if c is None or c.state != "held":
                return None
            s.execute(delete(LiveChatHold).where(LiveChatHold.chat_id == chat_id))
            c.state, c.waiting_since = "waiting", self.clock()
            return _chat(c, None)
        return self._tx(work)

    def finish(self, chat_id: int, *, state: str, end_reason: str, agent: Optional[str] = None,
               from_states: Sequence[str] = LIVE_OPEN_STATES, order_no: Optional[str] = None) -> Optional[ChatView]:
        """Close an open chat (ended by the agent, turned into an order, left by the customer).
        With ``agent``, only that agent's hold may end it. None if it was not in ``from_states``."""
        now = self.clock()

        def work(s: Session) -> Optional[ChatView]:
            c = s.get(LiveChat, chat_id)
            if c is None or c.state not in from_states:
                return None
            holder = self._holder(s, chat_id)
            if agent is not None and holder != agent:
                raise ChatTaken("您没有接入这个会话。")
            s.execute(delete(LiveChatHold).where(LiveChatHold.chat_id == chat_id))
            c.state, c.end_reason, c.ended_at = state, end_reason, now
            if order_no:
                c.order_no = order_no
            return _chat(c, None)
        return self._tx(work)

    def requeue(self, chat_id: int) -> Optional[ChatView]:
        """Undo a claim to open the work order (Rasa could not be reached): waiting again."""
        def work(s: Session) -> Optional[ChatView]:
            c = s.get(LiveChat, chat_id)
            if c is None or c.state != "ordered" or c.order_no:
                return None
            c.state, c.end_reason, c.ended_at, c.waiting_since = "waiting", None, None, self.clock()
            return _chat(c, None)
        return self._tx(work)

    def set_order(self, chat_id: int, order_no: str) -> None:
        def work(s: Session) -> None:
            s.execute(update(LiveChat).where(LiveChat.id == chat_id).values(order_no=order_no))
        self._tx(work)

    def expired(self, older_than: datetime) -> list[ChatView]:
        """Chats waiting since before ``older_than`` (a re-queued chat's wait starts again)."""
        def work(s: Session) -> list[ChatView]:
            rows = s.scalars(select(LiveChat).where(LiveChat.state == "waiting",
                                                    LiveChat.waiting_since < older_than).order_by(LiveChat.id)).all()
            return [_chat(c, None) for c in rows]
        return self._tx(work, read_only=True)

    def dropped(self, seen_before: datetime) -> list[ChatView]:
        """Held chats whose agent's console has not polled since ``seen_before``."""
        def work(s: Session) -> list[ChatView]:
            q = (select(LiveChat, LiveChatHold.agent)
                 .join(LiveChatHold, LiveChatHold.chat_id == LiveChat.id)
                 .outerjoin(LiveAgent, LiveAgent.username == LiveChatHold.agent)
                 .where((LiveAgent.seen_at.is_(None)) | (LiveAgent.seen_at < seen_before)))
            return [_chat(c, holder) for c, holder in s.execute(q)]
        return self._tx(work, read_only=True)

    def rate(self, sender_id: str, rating: str, within: timedelta = timedelta(days=1)) -> Optional[ChatView]:
        """The customer's rating of their latest chat an agent ended (not rated yet, ended within a day)."""
        if rating not in RATINGS:
            raise OrderError(f"未知的评价：{rating}")
        now = self.clock()

        def work(s: Session) -> Optional[ChatView]:
            c = s.scalars(select(LiveChat).where(
                LiveChat.sender_id == sender_id, LiveChat.state == "ended", LiveChat.end_reason == "agent",
                LiveChat.rating.is_(None), LiveChat.ended_at >= now - within,
            ).order_by(LiveChat.ended_at.desc())).first()
            if c is None:
                return None
            c.rating, c.rated_at = rating, now
            return _chat(c, None)
        return self._tx(work)

    # -- messages ------------------------------------------------------------------------------
    def add_message(self, chat_id: int, *, sender_id: str, direction: str, author: str, text: str,
                    payload: Optional[dict] = None, source: Optional[str] = None,
                    tracker_synced: bool = False) -> MessageView:
        now = self.clock()

        def work(s: Session) -> MessageView:
            m = LiveMessage(chat_id=chat_id, sender_id=sender_id, direction=direction, author=author[:64],
                            text=(text or "")[:MAX_TEXT_CHARS], payload=payload,
                            source=(source or None) and source[:255], created_at=now,
                            tracker_synced=1 if tracker_synced else 0)
            s.add(m)
            s.flush()
            return _message(m)
        return self._tx(work)

    def messages(self, chat_id: int, after: int = 0) -> list[MessageView]:
        def work(s: Session) -> list[MessageView]:
            rows = s.scalars(select(LiveMessage).where(LiveMessage.chat_id == chat_id, LiveMessage.id > after)
                             .order_by(LiveMessage.id)).all()
            return [_message(m) for m in rows]
        return self._tx(work, read_only=True)

    def outbox(self, sender_id: str, after: int = 0, limit: int = 50) -> list[MessageView]:
        """Messages to this customer after id ``after`` (what the web chat polls)."""
        def work(s: Session) -> list[MessageView]:
            rows = s.scalars(select(LiveMessage).where(
                LiveMessage.sender_id == sender_id, LiveMessage.direction == "out", LiveMessage.id > after,
            ).order_by(LiveMessage.id).limit(limit)).all()
            return [_message(m) for m in rows]
        return self._tx(work, read_only=True)

    def last_message_id(self, sender_id: str) -> int:
        def work(s: Session) -> int:
            return int(s.scalar(select(func.max(LiveMessage.id)).where(LiveMessage.sender_id == sender_id)) or 0)
        return self._tx(work, read_only=True)

    def unsynced(self, limit: int = 100) -> list[MessageView]:
        """Out messages not yet written to the Rasa tracker (Rasa was down when they were sent)."""
        def work(s: Session) -> list[MessageView]:
            rows = s.scalars(select(LiveMessage).where(LiveMessage.tracker_synced == 0)
                             .order_by(LiveMessage.id).limit(limit)).all()
            return [_message(m) for m in rows]
        return self._tx(work, read_only=True)

    def mark_synced(self, message_id: int, synced: bool = True) -> None:
        def work(s: Session) -> None:
            s.execute(update(LiveMessage).where(LiveMessage.id == message_id)
                      .values(tracker_synced=1 if synced else 0))
        self._tx(work)

    def undelivered(self, prefix: str, limit: int = 100) -> list[MessageView]:
        """Out messages to customers whose id starts with ``prefix`` that have not gone out yet."""
        def work(s: Session) -> list[MessageView]:
            rows = s.scalars(select(LiveMessage).where(
                LiveMessage.direction == "out", LiveMessage.delivered_at.is_(None),
                LiveMessage.sender_id.startswith(prefix, autoescape=True),
            ).order_by(LiveMessage.id).limit(limit)).all()
            return [_message(m) for m in rows]
        return self._tx(work, read_only=True)

    def mark_delivered(self, message_id: int, error: Optional[str] = None) -> None:
        """Delivered (error None), or not deliverable for now (error says why; retried later)."""
        values: dict[str, Any] = {"delivery_error": (error or None) and error[:255]}
        if error is None:
            values["delivered_at"] = self.clock()

        def work(s: Session) -> None:
            s.execute(update(LiveMessage).where(LiveMessage.id == message_id).values(**values))
        self._tx(work)

    # -- figures -------------------------------------------------------------------------------
    def median_wait(self, since: datetime) -> Optional[float]:
        """Median seconds from queueing to an agent's accept, over chats accepted since ``since``
        (None with fewer than 3: too few to promise anything)."""
        def work(s: Session) -> list[tuple[datetime, datetime]]:
            return list(s.execute(select(LiveChat.queued_at, LiveChat.accepted_at).where(
                LiveChat.accepted_at.is_not(None), LiveChat.accepted_at >= since)))
        waits = sorted((a - q).total_seconds() for q, a in self._tx(work, read_only=True))
        if len(waits) < 3:
            return None
        return waits[len(waits) // 2]

    def finished_between(self, first: datetime, last: datetime) -> list[ChatView]:
        """Chats closed in [first, last) (for the 分类统计 report)."""
        def work(s: Session) -> list[ChatView]:
            rows = s.scalars(select(LiveChat).where(LiveChat.ended_at >= first, LiveChat.ended_at < last)
                             .order_by(LiveChat.ended_at)).all()
            return [_chat(c, None) for c in rows]
        return self._tx(work, read_only=True)
