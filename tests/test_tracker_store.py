"""The tracker store: Rasa's SQLTrackerStore (durable conversations) that also feeds open work orders.

Run against SQLite and the real PostgreSQL on 127.0.0.1:5432 (skipped with a reason only when
PostgreSQL is absent and REQUIRE_SERVICES is not set).
"""
from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.orders import OrderService
from bot.orders import tracker_sync
from bot.orders.transcript import from_rasa_events
from conftest import run_async, scratch_pg_database


@pytest.fixture(params=["sqlite", "postgresql"])
def store_kwargs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Dict[str, Any]]:
    if request.param == "sqlite":
        yield {"dialect": "sqlite", "db": str(tmp_path / "tracker.db")}
        return
    with scratch_pg_database("tracker_test") as name:
        yield {"dialect": "postgresql", "host": "127.0.0.1", "port": 5432, "db": name, "username": "postgres"}

def test_conversations_are_durable_and_flow_into_the_open_order(store_kwargs: Dict[str, Any], tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    orders = OrderService.from_url(f"sqlite:///{tmp_path / 'orders.db'}", spool_dir=tmp_path / "spool")
    domain = Domain.empty()
    store = tracker_sync.OrderSyncingTrackerStore(domain=domain, **store_kwargs)
    store._service = orders
    who = f"rest:ts-{uuid.uuid4().hex[:6]}"  # the channel is the id's prefix (identity.py)
    now = time.time()
    tracker = DialogueStateTracker.from_events(who, [
        SessionStarted(timestamp=now),
        UserUttered("转人工", {"name": "request_human"}, timestamp=now + 1, input_channel="rest"),
    ])
    run_async(store.save(tracker))
    # No order yet: saving copies nothing anywhere.
    assert orders.orders_for(channel="rest", sender_id=who) == []

    first = from_rasa_events([e.as_dict() for e in tracker.events])[0]
    opened = orders.open_or_append(channel="rest", sender_id=who, reason="request_human", topic=None,
                                   candidates=[], transcript=[first], idempotency_key=f"{who}|1")
    # The action's reply carries the work-order payload, as every order reply does (bot/replies.py).
    tracker.update(BotUttered("已为您转人工处理。", {"buttons": None, "custom": {"type": "work_order"}},
                              timestamp=now + 2))
    tracker.update(UserUttered("我家停电两天了", {"name": "ask_question"}, timestamp=now + 3, input_channel="rest"))
    tracker.update(BotUttered("好的，已补充。", timestamp=now + 4))
    run_async(store.save(tracker))
    run_async(store.save(tracker))  # saving twice must not duplicate anything

    reloaded = run_async(tracker_sync.OrderSyncingTrackerStore(domain=domain, **store_kwargs).retrieve(who))
    assert [e.text for e in reloaded.events if isinstance(e, (UserUttered, BotUttered))] == [
        "转人工", "已为您转人工处理。", "我家停电两天了", "好的，已补充。"]
    view = orders.get(opened.order_no)
    assert [(m.role, m.text) for m in view.transcript] == [
        ("user", "转人工"), ("bot", "已为您转人工处理。"), ("user", "我家停电两天了"), ("bot", "好的，已补充。")]


def test_an_order_database_failure_never_loses_the_conversation(tmp_path: Path) -> None:
    class Down:
        def sync_transcript(self, **_kwargs: Any) -> int:
            raise RuntimeError("orders database exploded")

    store = tracker_sync.OrderSyncingTrackerStore(domain=Domain.empty(), dialect="sqlite",
                                                  db=str(tmp_path / "tracker.db"))
    store._service = Down()
    tracker = DialogueStateTracker.from_events("down-1", [UserUttered("你好", {"name": "greet"}, timestamp=time.time())])
    run_async(store.save(tracker))  # must not raise
    again = run_async(store.retrieve("down-1"))
    assert [e.text for e in again.events if isinstance(e, UserUttered)] == ["你好"]


def test_a_copy_missed_while_the_database_was_down_is_made_once_it_is_back(tmp_path: Path) -> None:
    """Transcript copies are never spooled; the store copies the conversation again by itself."""
    folder = tmp_path / "later"
    orders = OrderService.from_url(f"sqlite:///{tmp_path / 'orders.db'}", spool_dir=tmp_path / "spool")
    store = tracker_sync.OrderSyncingTrackerStore(domain=Domain.empty(), dialect="sqlite",
                                                  db=str(tmp_path / "tracker.db"))
    store.CATCH_UP_EVERY = 0.05
    who = "rest:catch-up"
    now = time.time()
    tracker = DialogueStateTracker.from_events(who, [
        UserUttered("转人工", {"name": "request_human"}, timestamp=now, input_channel="rest")])
    first = from_rasa_events([e.as_dict() for e in tracker.events])
    opened = orders.open_or_append(channel="rest", sender_id=who, reason="request_human", topic=None,
                                   candidates=[], transcript=first, idempotency_key="catch-up|1")
    down = OrderService.from_url(f"sqlite:///{folder / 'orders.db'}", spool_dir=tmp_path / "spool")
    store._service = down  # the database is unreachable
    tracker.update(UserUttered("我家停电两天了", {"name": "ask_question"}, timestamp=now + 1, input_channel="rest"))

    async def scenario() -> None:
        import asyncio

        await store.save(tracker)
        assert who in store._behind
        store._service = orders  # the database is back; the customer says nothing more
        for _ in range(200):
            if not store._behind:
                break
            await asyncio.sleep(0.05)

    run_async(scenario())
    assert [m.text for m in orders.get(opened.order_no).transcript] == ["转人工", "我家停电两天了"]


class CountingOrders:
    """The real OrderService, counting the SQL statements its database receives."""

    def __init__(self, tmp_path: Path) -> None:
        from sqlalchemy import event

        self.service = OrderService.from_url(f"sqlite:///{tmp_path / 'orders.db'}", spool_dir=tmp_path / "spool")
        self.statements = 0
        for engine in {self.service.store.engine, self.service.store._db.read_engine}:
            event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, *_args: Any) -> None:
        self.statements += 1


def _order_reply(text: str, at: float) -> BotUttered:
    return BotUttered(text, {"custom": {"type": "work_order", "order_no": "x"}}, timestamp=at)


def test_turns_without_an_open_order_do_not_touch_the_orders_database(tmp_path: Path) -> None:
    orders = CountingOrders(tmp_path)
    store = tracker_sync.OrderSyncingTrackerStore(domain=Domain.empty(), dialect="sqlite",
                                                  db=str(tmp_path / "tracker.db"))
    store._service = orders.service
    who = "rest:no-order"
    now = time.time()
    tracker = DialogueStateTracker.from_events(who, [
        SessionStarted(timestamp=now), UserUttered("你好", {"name": "greet"}, timestamp=now + 1)])
    run_async(store.save(tracker))
    looked = orders.statements
    assert looked > 0  # a session seen for the first time is looked up once
    for i in range(2, 8):
        tracker.update(UserUttered(f"阶梯电价{i}", {"name": "ask_question"}, timestamp=now + i))
        tracker.update(BotUttered(f"答复{i}", timestamp=now + i + 0.5))
        run_async(store.save(tracker))
    assert orders.statements == looked

    # The action opens an order and says so: the very turn that shows it is copied.
    transcript = from_rasa_events([e.as_dict() for e in tracker.events])
    opened = orders.service.open_or_append(channel="rest", sender_id=who, reason="request_human", topic=None,
                                           candidates=[], transcript=transcript[:1], idempotency_key=f"{who}|1")
    tracker.update(_order_reply("工单号：x", now + 9))
    run_async(store.save(tracker))
    view = orders.service.get(opened.order_no)
    assert [m.text for m in view.transcript][-2:] == ["答复7", "工单号：x"]
    assert len(view.transcript) == len(from_rasa_events([e.as_dict() for e in tracker.events]))


def test_an_order_left_open_in_an_earlier_session_still_receives_the_new_session(tmp_path: Path) -> None:
    orders = CountingOrders(tmp_path).service
    store = tracker_sync.OrderSyncingTrackerStore(domain=Domain.empty(), dialect="sqlite",
                                                  db=str(tmp_path / "tracker.db"))
    store._service = orders
    who = "rest:next-day"
    now = time.time()
    old = DialogueStateTracker.from_events(who, [
        SessionStarted(timestamp=now), UserUttered("你好", {"name": "greet"}, timestamp=now + 1)])
    run_async(store.save(old))  # no order: this session is remembered as order-free
    opened = orders.open_or_append(channel="rest", sender_id=who, reason="request_human", topic=None,
                                   candidates=[], transcript=from_rasa_events([e.as_dict() for e in old.events]),
                                   idempotency_key=f"{who}|1")
    # The next session (what Rasa loads: its events only) has no order reply in it.
    new = DialogueStateTracker.from_events(who, [
        SessionStarted(timestamp=now + 100), UserUttered("工单怎么样了", {"name": "ask_question"}, timestamp=now + 101)])
    run_async(store.save(new))
    assert [m.text for m in orders.get(opened.order_no).transcript] == ["你好", "工单怎么样了"]


def test_a_remembered_order_free_session_is_looked_up_again_after_a_while() -> None:
    """Bounds the one case no reply shows: an order stored by an action whose reply was lost."""
    now = [0.0]
    memo = tracker_sync.NoOrderMemo(ttl=60, clock=lambda: now[0])
    tracker = DialogueStateTracker.from_events("rest:lost-reply", [SessionStarted(timestamp=1.0)])
    assert not memo.skip(tracker)
    memo.remember(tracker)
    assert memo.skip(tracker)
    now[0] = 61.0
    assert not memo.skip(tracker)


def test_a_conversation_that_showed_an_order_is_looked_up_every_turn() -> None:
    """A spooled order (no number yet) may be stored later, outside any turn."""
    memo = tracker_sync.NoOrderMemo()
    tracker = DialogueStateTracker.from_events("rest:spooled", [SessionStarted(timestamp=1.0), _order_reply("已记录", 2.0)])
    memo.remember(tracker)
    assert not memo.skip(tracker)


def test_the_embedded_tracker_store_keeps_its_sqlite_connections_in_wal_mode(tmp_path: Path) -> None:
    store = tracker_sync.OrderSyncingTrackerStore(domain=Domain.empty(), dialect="sqlite",
                                                  db=str(tmp_path / "tracker.db"))
    connects = []
    from sqlalchemy import event

    event.listen(store.engine, "connect", lambda *_a: connects.append(1))
    tracker = DialogueStateTracker.from_events("rest:wal", [UserUttered("你好", {"name": "greet"}, timestamp=time.time())])
    for _ in range(5):
        run_async(store.save(tracker))
        assert run_async(store.retrieve("rest:wal")) is not None
    assert len(connects) <= 1  # Rasa's own engine opened one per query
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL


def test_action_server_replies_are_validated_without_rebuilding_the_validator(monkeypatch: pytest.MonkeyPatch) -> None:
    import jsonschema
    from rasa.core.actions.action import RemoteAction

    from bot import rasa_speedups

    rasa_speedups.install()
    monkeypatch.setattr(jsonschema, "validate", lambda *_a, **_k: pytest.fail("validator rebuilt per call"))
    action = RemoteAction("action_x", None)
    assert action._validate_action_result({"events": [{"event": "slot", "name": "a", "value": 1}], "responses": []})
    with pytest.raises(jsonschema.ValidationError, match="Failed to validate Action server response"):
        action._validate_action_result({"events": [{"event": "no_such_event"}], "responses": []})
    with pytest.raises(jsonschema.ValidationError):
        action._validate_action_result({"events": "not a list"})


def test_a_loaded_tracker_is_saved_without_counting_and_each_event_is_stored_once(store_kwargs: Dict[str, Any]) -> None:
    """Rasa counts the stored events with a query before every save; a tracker this store loaded
    or saved knows the count. Across a new session in the same tracker every event is stored once."""
    from sqlalchemy import event

    store = tracker_sync.OrderSyncingTrackerStore(domain=Domain.empty(), **store_kwargs)
    store.no_order.skip = lambda _tracker: True  # this test is about the conversation, not orders
    who = f"rest:count-{uuid.uuid4().hex[:6]}"
    now = time.time()
    run_async(store.save(DialogueStateTracker.from_events(who, [
        SessionStarted(timestamp=now), UserUttered("你好", {"name": "greet"}, timestamp=now + 1)])))
    statements: list = []
    event.listen(store.engine, "before_cursor_execute",
                 lambda _c, _cur, sql, *_a: statements.append(sql.lower()))
    tracker = run_async(store.retrieve(who))
    statements.clear()
    tracker.update(BotUttered("您好", timestamp=now + 2))
    run_async(store.save(tracker))
    tracker.update(UserUttered("阶梯电价", {"name": "ask_question"}, timestamp=now + 3))
    tracker.update(SessionStarted(timestamp=now + 4))  # a new session inside the same tracker object
    tracker.update(UserUttered("再问一个", {"name": "ask_question"}, timestamp=now + 5))
    run_async(store.save(tracker))
    run_async(store.save(tracker))  # nothing new: nothing written
    assert not [s for s in statements if "count(" in s]
    full = run_async(store.retrieve_full_tracker(who))
    texts = [getattr(e, "text", None) for e in full.events if isinstance(e, (UserUttered, BotUttered))]
    assert texts == ["你好", "您好", "阶梯电价", "再问一个"]


def _said(tracker: DialogueStateTracker) -> list:
    return [e.text for e in tracker.events if isinstance(e, (UserUttered, BotUttered))]


def test_the_next_turn_takes_back_the_tracker_this_process_saved_unless_the_table_changed(
        store_kwargs: Dict[str, Any]) -> None:
    from sqlalchemy import event

    domain = Domain.empty()
    store = tracker_sync.OrderSyncingTrackerStore(domain=domain, **store_kwargs)
    store.no_order.skip = lambda _tracker: True  # this test is about the conversation, not orders
    who = f"rest:kept-{uuid.uuid4().hex[:6]}"
    now = time.time()
    tracker = DialogueStateTracker.from_events(who, [
        SessionStarted(timestamp=now), UserUttered("你好", {"name": "greet"}, timestamp=now + 1),
        BotUttered("您好", timestamp=now + 2)])
    run_async(store.save(tracker))
    statements: list = []
    event.listen(store.engine, "before_cursor_execute", lambda _c, _cur, sql, *_a: statements.append(sql.lower()))

    again = run_async(store.retrieve(who))
    assert again is tracker                               # no events read, nothing replayed
    assert len(statements) == 1 and "max(" in statements[0], statements
    fresh = run_async(tracker_sync.OrderSyncingTrackerStore(domain=domain, **store_kwargs).retrieve(who))
    assert [e.as_dict() for e in fresh.events] == [e.as_dict() for e in again.events]

    # Taken means taken: a second load (no save in between) reads the database.
    assert run_async(store.retrieve(who)) is not tracker

    # Another process adds a turn: this process's copy is stale and is not used.
    run_async(store.save(again))
    other = tracker_sync.OrderSyncingTrackerStore(domain=domain, **store_kwargs)
    other.no_order.skip = lambda _tracker: True
    theirs = run_async(other.retrieve(who))
    theirs.update(UserUttered("阶梯电价", {"name": "ask_question"}, timestamp=now + 3))
    run_async(other.save(theirs))
    mine = run_async(store.retrieve(who))
    assert mine is not again and _said(mine) == ["你好", "您好", "阶梯电价"]

    # A new session started inside the object: Rasa's load gives that session only, so that is read.
    mine.update(SessionStarted(timestamp=now + 4))
    mine.update(UserUttered("再问一个", {"name": "ask_question"}, timestamp=now + 5))
    run_async(store.save(mine))
    loaded = run_async(store.retrieve(who))
    assert loaded is not mine and _said(loaded) == ["再问一个"]

    # A new model brings a new domain: a tracker built for the old one is not handed out.
    run_async(store.save(loaded))
    store.domain = Domain.empty()
    assert run_async(store.retrieve(who)) is not loaded
