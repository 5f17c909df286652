"""Customer turns read back from Rasa's SQL tracker store, each with what the bot made of it.

The tracker store's ``events`` table (SQLite or PostgreSQL) holds every user and bot event as
JSON. A *turn* is one customer message and the bot events up to the next customer message. Its
outcome is what the customer got: an answer, a choice of questions, a failure, a polite decline,
a hand-off to a person (a work order number), or feedback on an earlier answer.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Sequence

import sqlalchemy as sa

from bot.clock import day_range_utc
from bot.orders.numbering import find_order_no

ANSWERED, CLARIFIED, FAILED, DECLINED, HANDED_OFF = "answered", "clarified", "failed", "declined", "handed_off"
HELPFUL, NOT_HELPFUL, OTHER = "helpful", "not_helpful", "other"
OUTCOMES = (ANSWERED, CLARIFIED, FAILED, DECLINED, HANDED_OFF, HELPFUL, NOT_HELPFUL, OTHER)
OUTCOME_LABELS = {ANSWERED: "已答复", CLARIFIED: "请客户选择", FAILED: "未答上", DECLINED: "婉拒（非用电）",
                  HANDED_OFF: "转人工/工单", HELPFUL: "有帮助", NOT_HELPFUL: "没帮助", OTHER: "其他"}

# The engine's kinds (bot.kb) as the customer experienced them.
_KIND_OUTCOME = {
    "answer": ANSWERED, "answer_with_related": ANSWERED, "emergency": ANSWERED, "personal_data": ANSWERED,
    "clarify": CLARIFIED, "out_of_domain": DECLINED, "no_match": FAILED, "incident_report": HANDED_OFF,
}
_LEGACY_OUTCOME = {"answer": ANSWERED, "clarify": CLARIFIED, "fail": FAILED}
_EVENTS = sa.table("events", sa.column("id"), sa.column("sender_id"), sa.column("type_name"),
                   sa.column("timestamp"), sa.column("intent_name"), sa.column("action_name"), sa.column("data"))


@dataclass
class Turn:
    """One customer message and what came of it."""

    sender_id: str
    at: datetime
    text: str
    channel: str
    intent: str | None
    intent_confidence: float | None
    bot_texts: list[str] = field(default_factory=list)
    kb: dict[str, Any] | None = None      # the engine's decision (replies.meta), when the engine was asked
    order_no: str | None = None           # a work order number told in this turn
    clicked: bool = False                 # the message was a button the bot had offered

    @property
    def outcome(self) -> str:
        if self.intent == "feedback_negative":
            return NOT_HELPFUL
        if self.intent == "feedback_positive":
            return HELPFUL
        if self.order_no or self.intent == "request_human":
            return HANDED_OFF
        if self.kb is not None:
            kind = self.kb.get("kind")
            if kind in _KIND_OUTCOME:
                return _KIND_OUTCOME[kind]
            return _LEGACY_OUTCOME.get(str(self.kb.get("outcome")), OTHER)
        if self.intent == "out_of_scope":
            return DECLINED
        return OTHER

    @property
    def entry_id(self) -> str | None:
        return (self.kb or {}).get("entry_id")

    @property
    def topic(self) -> str | None:
        kb = self.kb or {}
        return kb.get("topic") or kb.get("topic_guess")

    @property
    def is_question(self) -> bool:
        """A message the answer engine judged (not a greeting, a feedback click or a phone number)."""
        return self.kb is not None


def _json(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _custom(data: dict[str, Any]) -> dict[str, Any] | None:
    custom = (data.get("data") or {}).get("custom")
    return custom if isinstance(custom, dict) else None


def read_turns(tracker_url: str, first: date, last: date, *, engine: sa.engine.Engine | None = None) -> list[Turn]:
    """Every customer turn of conversations between the Beijing days ``first`` and ``last``."""
    start, end = day_range_utc(first, last)
    if engine is None and tracker_url.startswith("sqlite:///") and not Path(tracker_url[10:]).exists():
        return []  # no conversation yet (and do not create an empty database file)
    own = engine is None
    engine = engine or sa.create_engine(tracker_url)
    try:
        insp = sa.inspect(engine)
        if not insp.has_table("events"):
            return []
        q = (sa.select(_EVENTS.c.sender_id, _EVENTS.c.type_name, _EVENTS.c.timestamp,
                       _EVENTS.c.intent_name, _EVENTS.c.data)
             .where(_EVENTS.c.timestamp >= start.timestamp(), _EVENTS.c.timestamp < end.timestamp(),
                    _EVENTS.c.type_name.in_(("user", "bot")))
             .order_by(_EVENTS.c.sender_id, _EVENTS.c.id))
        with engine.connect() as conn:
            return list(_turns(conn.execute(q)))
    finally:
        if own:
            engine.dispose()


def _turns(rows: Any) -> Iterator[Turn]:
    turn: Turn | None = None
    offered: set[str] = set()
    for sender_id, type_name, ts, intent_name, raw in rows:
        data = _json(raw)
        if turn is not None and turn.sender_id != sender_id:
            yield turn
            turn, offered = None, set()
        if type_name == "user":
            if turn is not None:
                yield turn
            text = str(data.get("text") or "")
            intent = (data.get("parse_data") or {}).get("intent") or {}
            turn = Turn(sender_id=sender_id, at=datetime.fromtimestamp(float(ts or 0), timezone.utc), text=text,
                        channel=str(data.get("input_channel") or "unknown"), intent=intent_name or intent.get("name"),
                        intent_confidence=intent.get("confidence"), clicked=text in offered)
            offered = set()
        elif type_name == "bot" and turn is not None:
            text = str(data.get("text") or "")
            if text:
                turn.bot_texts.append(text)
                order_no = find_order_no(text)
                if order_no and turn.order_no is None:
                    turn.order_no = order_no
            custom = _custom(data)
            if custom and custom.get("type") == "kb_answer" and turn.kb is None:
                turn.kb = custom
            for b in (data.get("data") or {}).get("buttons") or []:
                if isinstance(b, dict):
                    offered.update(str(b.get(k) or "") for k in ("title", "payload"))
    if turn is not None:
        yield turn


def read_events(tracker_url: str, sender_id: str, *, engine: sa.engine.Engine | None = None) -> list[dict[str, Any]]:
    """One conversation's events, oldest first, as Rasa's event dicts (for the review page and stories)."""
    own = engine is None
    engine = engine or sa.create_engine(tracker_url)
    try:
        if not sa.inspect(engine).has_table("events"):
            return []
        q = (sa.select(_EVENTS.c.data).where(_EVENTS.c.sender_id == sender_id).order_by(_EVENTS.c.id))
        with engine.connect() as conn:
            return [_json(raw) for (raw,) in conn.execute(q)]
    finally:
        if own:
            engine.dispose()


@dataclass(frozen=True)
class ConversationRow:
    sender_id: str
    channel: str
    started: datetime
    turns: int
    first_text: str
    outcomes: tuple[str, ...]


def conversation_rows(turns: Sequence[Turn]) -> list[ConversationRow]:
    """One row a conversation, newest first."""
    by: dict[str, list[Turn]] = {}
    for t in turns:
        by.setdefault(t.sender_id, []).append(t)
    rows = [ConversationRow(sid, ts[0].channel, ts[0].at, len(ts),
                            next((t.text for t in ts if not t.text.startswith("/")), ts[0].text),
                            tuple(dict.fromkeys(t.outcome for t in ts)))
            for sid, ts in by.items()]
    return sorted(rows, key=lambda r: r.started, reverse=True)


# The review list pages in SQL: the tracker store's own index is on sender_id only, so a range of
# days needs one on (type_name, timestamp). Created once, if missing; Rasa never drops it.
_INDEX = sa.text("CREATE INDEX IF NOT EXISTS ix_events_type_name_timestamp ON events (type_name, timestamp)")


def ensure_review_index(engine: sa.engine.Engine) -> None:
    if sa.inspect(engine).has_table("events"):
        with engine.begin() as conn:
            conn.execute(_INDEX)


def page_conversations(engine: sa.engine.Engine, first: date, last: date, *, sender_prefix: str = "",
                       offset: int = 0, limit: int = 50) -> tuple[int, list[ConversationRow]]:
    """(conversations in the range, one page of them newest first), without reading the others."""
    if not sa.inspect(engine).has_table("events"):
        return 0, []
    start, end = day_range_utc(first, last)
    where = [_EVENTS.c.type_name == "user", _EVENTS.c.timestamp >= start.timestamp(),
             _EVENTS.c.timestamp < end.timestamp()]
    if sender_prefix:
        where.append(_EVENTS.c.sender_id.like(sender_prefix.replace("%", r"\%").replace("_", r"\_") + "%",
                                              escape="\\"))
    started = sa.func.min(_EVENTS.c.timestamp).label("started")
    page_q = (sa.select(_EVENTS.c.sender_id, started).where(*where).group_by(_EVENTS.c.sender_id)
              .order_by(started.desc(), _EVENTS.c.sender_id).limit(limit).offset(offset))
    count_q = sa.select(sa.func.count(sa.distinct(_EVENTS.c.sender_id))).where(*where)
    with engine.connect() as conn:
        total = int(conn.execute(count_q).scalar() or 0)
        senders = [r[0] for r in conn.execute(page_q)]
        if not senders:
            return total, []
        q = (sa.select(_EVENTS.c.sender_id, _EVENTS.c.type_name, _EVENTS.c.timestamp, _EVENTS.c.intent_name,
                       _EVENTS.c.data)
             .where(_EVENTS.c.sender_id.in_(senders), _EVENTS.c.type_name.in_(("user", "bot")),
                    _EVENTS.c.timestamp >= start.timestamp(), _EVENTS.c.timestamp < end.timestamp())
             .order_by(_EVENTS.c.sender_id, _EVENTS.c.id))
        turns = list(_turns(conn.execute(q)))
    order = {s: i for i, s in enumerate(senders)}
    return total, sorted(conversation_rows(turns), key=lambda r: order[r.sender_id])
