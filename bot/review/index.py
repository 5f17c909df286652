"""A summary of each conversation beside Rasa's ``events`` table, so the review list is one indexed
query however many conversations the tracker store holds.

``review_conversations`` has one row per conversation (sender): when it started and last spoke,
its channel, how many customer messages, the first one, and the outcomes and entries of all its
turns. ``sync`` brings it up to date incrementally: it remembers the last event id it read and
recomputes only the conversations that have newer events. Any number of console processes may
sync at once: a conversation's row is replaced inside one transaction, and recomputing is
idempotent.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Iterator, Sequence

import sqlalchemy as sa

from bot.channels.identity import channel_of
from bot.clock import day_range_utc
from bot.review.conversations import _EVENTS, ConversationRow, Turn, _turns

metadata = sa.MetaData()
conversations = sa.Table(
    "review_conversations", metadata,
    sa.Column("sender_id", sa.String(255), primary_key=True),
    sa.Column("started", sa.Float, nullable=False),
    sa.Column("last_at", sa.Float, nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("turns", sa.Integer, nullable=False),
    sa.Column("first_text", sa.String(200), nullable=False),
    sa.Column("outcomes", sa.String(255), nullable=False),  # ",answered,clarified," — LIKE-searchable
    sa.Column("entries", sa.Text, nullable=False),          # ",tariff.tiers,tariff.pay_channels,"
    sa.Column("topics", sa.String(255), nullable=False),    # ",tariff,outage,"
    sa.Index("ix_review_conversations_started", "started"),
    sa.Index("ix_review_conversations_channel_started", "channel", "started"),
)
# Trainers' tags on a customer message (the fixed ones and their own words), kept beside the summary.
tags = sa.Table(
    "review_tags", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("sender_id", sa.String(255), nullable=False, index=True),
    sa.Column("turn_at", sa.Float, nullable=False),       # the tagged message's timestamp
    sa.Column("text", sa.String(200), nullable=False),
    sa.Column("tag", sa.String(32), nullable=False, index=True),
    sa.Column("by", sa.String(64), nullable=False),
    sa.Column("at", sa.Float, nullable=False),
    sa.UniqueConstraint("sender_id", "turn_at", "tag", name="uq_review_tags_turn_tag"),
)
FIXED_TAGS = ("知识缺失", "答错", "意图错", "应转人工")
MAX_TAG_CHARS = 32
state = sa.Table(
    "review_index_state", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("last_event_id", sa.Integer, nullable=False),
)
CHUNK = 500  # conversations recomputed per query and transaction
_lock = threading.Lock()


def _summaries(turns: Sequence[Turn]) -> Iterator[dict]:
    by: dict[str, list[Turn]] = {}
    for t in turns:
        by.setdefault(t.sender_id, []).append(t)
    for sid, ts in by.items():
        first = next((t.text for t in ts if not t.text.startswith("/")), ts[0].text)
        outcomes = list(dict.fromkeys(t.outcome for t in ts))
        entries = list(dict.fromkeys(t.entry_id for t in ts if t.entry_id))
        topics = list(dict.fromkeys(t.topic for t in ts if t.topic))
        yield {"sender_id": sid, "started": ts[0].at.timestamp(), "last_at": ts[-1].at.timestamp(),
               "channel": channel_of(sid), "turns": len(ts), "first_text": first[:200],
               "outcomes": "," + ",".join(outcomes) + ",", "entries": "," + ",".join(entries) + ",",
               "topics": "," + ",".join(topics) + ","}


def sync(engine: sa.engine.Engine, *, wait: bool = True) -> int:
    """Recompute the conversations with events newer than the last sync; returns how many (-1: another
    sync of this process is running and ``wait`` is False — the list shows what is indexed so far)."""
    if not sa.inspect(engine).has_table("events"):
        return 0
    if not _lock.acquire(blocking=wait):
        return -1
    try:
        return _sync(engine)
    finally:
        _lock.release()


def _prepare(engine: sa.engine.Engine) -> None:
    try:
        metadata.create_all(engine)
        with engine.begin() as conn:
            if conn.execute(sa.select(state.c.id).where(state.c.id == 1)).first() is None:
                conn.execute(state.insert().values(id=1, last_event_id=0))
    except (sa.exc.IntegrityError, sa.exc.ProgrammingError, sa.exc.OperationalError):
        # another process created the tables or the row at the same moment: theirs will do
        if not sa.inspect(engine).has_table(state.name):
            raise


def backlog(engine: sa.engine.Engine) -> tuple[int, int]:
    """(last event id indexed, newest event id): how far the summary lags behind the tracker store."""
    if not sa.inspect(engine).has_table("events"):
        return 0, 0
    _prepare(engine)
    with engine.connect() as conn:
        last = conn.execute(sa.select(state.c.last_event_id).where(state.c.id == 1)).scalar() or 0
        top = conn.execute(sa.select(sa.func.max(_EVENTS.c.id))).scalar() or 0
    return int(last), int(top)


_background: list[threading.Thread] = []


def sync_in_background(engine: sa.engine.Engine) -> bool:
    """Start a sync in a daemon thread unless one is running; True while one runs."""
    if _background and _background[0].is_alive():
        return True
    _background[:] = [threading.Thread(target=sync, args=(engine,), kwargs={"wait": False},
                                       name="review-index", daemon=True)]
    _background[0].start()
    return True


def _sync(engine: sa.engine.Engine) -> int:
    last, top = backlog(engine)
    if top <= last:
        return 0
    with engine.connect() as conn:
        senders = [r[0] for r in conn.execute(
            sa.select(_EVENTS.c.sender_id).distinct()
            .where(_EVENTS.c.id > last, _EVENTS.c.id <= top, _EVENTS.c.type_name.in_(("user", "bot"))))]
    for i in range(0, len(senders), CHUNK):
        chunk = senders[i:i + CHUNK]
        q = (sa.select(_EVENTS.c.sender_id, _EVENTS.c.type_name, _EVENTS.c.timestamp, _EVENTS.c.intent_name,
                       _EVENTS.c.data)
             .where(_EVENTS.c.sender_id.in_(chunk), _EVENTS.c.type_name.in_(("user", "bot")),
                    _EVENTS.c.id <= top)
             .order_by(_EVENTS.c.sender_id, _EVENTS.c.id))
        with engine.begin() as conn:
            rows = list(_summaries(list(_turns(conn.execute(q)))))
            conn.execute(conversations.delete().where(conversations.c.sender_id.in_(chunk)))
            if rows:
                conn.execute(conversations.insert(), rows)
    with engine.begin() as conn:
        conn.execute(state.update().where(state.c.id == 1, state.c.last_event_id < top).values(last_event_id=top))
    return len(senders)


@dataclass(frozen=True)
class Page:
    total: int
    rows: list[ConversationRow]


def _like(value: str) -> str:
    return "%," + value.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_") + ",%"


def page(engine: sa.engine.Engine, first: date, last: date, *, channel: str = "", outcome: str = "",
         entry: str = "", topic: str = "", tag: str = "", offset: int = 0, limit: int = 50) -> Page:
    """Conversations that started in the Beijing days [first, last], newest first."""
    start, end = day_range_utc(first, last)
    c = conversations.c
    where = [c.started >= start.timestamp(), c.started < end.timestamp()]
    if channel:
        where.append(c.channel == channel)
    if outcome:
        where.append(c.outcomes.like(_like(outcome), escape="\\"))
    if entry:
        where.append(c.entries.like(_like(entry), escape="\\"))
    if topic:
        where.append(c.topics.like(_like(topic), escape="\\"))
    if tag:
        where.append(c.sender_id.in_(sa.select(tags.c.sender_id).where(tags.c.tag == tag)))
    with engine.connect() as conn:
        total = int(conn.execute(sa.select(sa.func.count()).select_from(conversations).where(*where)).scalar() or 0)
        found = conn.execute(sa.select(conversations).where(*where).order_by(c.started.desc(), c.sender_id)
                             .limit(limit).offset(offset)).mappings().all()
    return Page(total, [ConversationRow(r["sender_id"], r["channel"],
                                        datetime.fromtimestamp(r["started"], timezone.utc), r["turns"],
                                        r["first_text"], tuple(o for o in r["outcomes"].split(",") if o))
                        for r in found])


def add_tag(engine: sa.engine.Engine, sender_id: str, turn_at: float, text: str, tag: str, by: str) -> bool:
    """Tag one customer message; False when it already has that tag."""
    tag = " ".join((tag or "").split())
    if not tag or len(tag) > MAX_TAG_CHARS:
        raise ValueError(f"标签应为 1–{MAX_TAG_CHARS} 个字。")
    _prepare(engine)
    try:
        with engine.begin() as conn:
            conn.execute(tags.insert().values(sender_id=sender_id, turn_at=turn_at, text=text[:200], tag=tag,
                                              by=by[:64], at=datetime.now(timezone.utc).timestamp()))
    except sa.exc.IntegrityError:
        return False
    return True


def tags_of(engine: sa.engine.Engine, sender_id: str) -> dict[float, list[str]]:
    """{message timestamp: [tags]} for one conversation."""
    if not sa.inspect(engine).has_table(tags.name):
        return {}
    out: dict[float, list[str]] = {}
    with engine.connect() as conn:
        for turn_at, tag in conn.execute(sa.select(tags.c.turn_at, tags.c.tag).where(tags.c.sender_id == sender_id)
                                         .order_by(tags.c.id)):
            out.setdefault(round(float(turn_at), 3), []).append(tag)
    return out


def tag_counts(engine: sa.engine.Engine) -> list[tuple[str, int]]:
    if not sa.inspect(engine).has_table(tags.name):
        return []
    with engine.connect() as conn:
        rows = conn.execute(sa.select(tags.c.tag, sa.func.count()).group_by(tags.c.tag)
                            .order_by(sa.func.count().desc(), tags.c.tag)).all()
    return [(t, int(n)) for t, n in rows]
