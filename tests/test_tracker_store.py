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
    tracker.update(BotUttered("已为您转人工处理。", {"buttons": None}, timestamp=now + 2))
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
