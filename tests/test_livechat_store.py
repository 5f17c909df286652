"""在线人工 storage (bot/orders/livechat.py) on a SQLite file and the real PostgreSQL: the queue's
order, one holder per chat (a database constraint, raced from two processes), the outbox, ratings,
and the service hours."""
from __future__ import annotations

import multiprocessing
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.livechat import hours
from bot.orders.livechat import ChatTaken, LiveChatStore, PRIORITY_COMPLAINT, PRIORITY_HAZARD
from bot.orders.models import LiveChatHold
from bot.orders.store import OrderError, OrderStore
from test_orders_store import Clock, db_url, pg_database  # noqa: F401 — fixtures (both backends)


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 12, 7, 2, 0, tzinfo=timezone.utc))


@pytest.fixture
def chats(db_url: str, clock: Clock) -> Iterator[LiveChatStore]:  # noqa: F811
    store = OrderStore.from_url(db_url)
    yield LiveChatStore(store, clock=clock)
    store.dispose()


def test_the_queue_puts_hazards_then_complaints_first_then_the_longest_waiting(chats: LiveChatStore,
                                                                                clock: Clock) -> None:
    a, _ = chats.enqueue(sender_id="web:a", channel="webchat", reason="request_human", priority=0)
    clock.advance(seconds=10)
    b, _ = chats.enqueue(sender_id="web:b", channel="webchat", reason="request_human", priority=PRIORITY_COMPLAINT)
    clock.advance(seconds=10)
    c, _ = chats.enqueue(sender_id="wx:c", channel="wechat", reason="request_human", priority=PRIORITY_HAZARD)
    clock.advance(seconds=10)
    d, _ = chats.enqueue(sender_id="web:d", channel="webchat", reason="not_helpful", priority=0)
    assert [x.sender_id for x in chats.waiting()] == ["wx:c", "web:b", "web:a", "web:d"]
    assert [chats.position(x.id) for x in (c, b, a, d)] == [1, 2, 3, 4]
    # Asking again keeps the place (and the first queue time); a raised priority is kept.
    again, created = chats.enqueue(sender_id="web:a", channel="webchat", reason="request_human",
                                   priority=PRIORITY_HAZARD)
    assert not created and again.id == a.id and again.queued_at == a.queued_at
    assert chats.position(a.id) == 1  # two hazards: web:a queued before wx:c


def test_the_database_refuses_a_second_open_chat_for_a_customer(chats: LiveChatStore, db_url: str) -> None:  # noqa: F811
    from bot.orders.models import LiveChat

    chats.enqueue(sender_id="web:x", channel="webchat", reason="request_human", priority=0)
    with pytest.raises(IntegrityError):
        with Session(chats.store.engine, future=True) as s, s.begin():
            s.add(LiveChat(sender_id="web:x", channel="webchat", state="waiting", priority=0,
                           reason="request_human", queued_at=datetime.now(timezone.utc),
                           waiting_since=datetime.now(timezone.utc)))


def test_accept_transfer_finish_and_the_second_agent_is_told(chats: LiveChatStore, clock: Clock) -> None:
    chat, _ = chats.enqueue(sender_id="web:y", channel="webchat", reason="request_human", priority=0)
    clock.advance(seconds=42)
    held = chats.accept(chat.id, "张三")
    assert (held.state, held.holder, held.accepted_at - held.queued_at) == ("held", "张三", timedelta(seconds=42))
    with pytest.raises(ChatTaken, match="张三"):
        chats.accept(chat.id, "李四")
    assert chats.waiting() == [] and [c.id for c in chats.held("张三")] == [chat.id]
    with pytest.raises(ChatTaken):
        chats.transfer(chat.id, "李四", "王五")  # only the holder may pass it on
    assert chats.transfer(chat.id, "张三", "李四").holder == "李四"
    with pytest.raises(ChatTaken):
        chats.finish(chat.id, state="ended", end_reason="agent", agent="张三")
    ended = chats.finish(chat.id, state="ended", end_reason="agent", agent="李四", from_states=("held",))
    assert (ended.state, ended.agent, ended.holder) == ("ended", "李四", None)
    assert chats.open_chat_for("web:y") is None
    # The customer can queue again after an ended chat.
    assert chats.enqueue(sender_id="web:y", channel="webchat", reason="request_human", priority=0)[1]


def test_the_database_refuses_a_second_holder_even_bypassing_the_store(chats: LiveChatStore) -> None:
    chat, _ = chats.enqueue(sender_id="web:z", channel="webchat", reason="request_human", priority=0)
    chats.accept(chat.id, "张三")
    with pytest.raises(IntegrityError):
        with Session(chats.store.engine, future=True) as s, s.begin():
            s.add(LiveChatHold(chat_id=chat.id, agent="李四", since=datetime.now(timezone.utc)))


def _accept_in_worker(url: str, chat_id: int, agent: str, barrier, queue) -> None:  # type: ignore[no-untyped-def]
    store = OrderStore.from_url(url)
    try:
        chats = LiveChatStore(store)
        barrier.wait(timeout=60)
        try:
            chats.accept(chat_id, agent)
            queue.put((agent, "won"))
        except ChatTaken:
            queue.put((agent, "taken"))
    finally:
        store.dispose()


def test_two_agents_pressing_accept_at_once_from_two_processes_exactly_one_gets_it(
        chats: LiveChatStore, db_url: str) -> None:  # noqa: F811
    ctx = multiprocessing.get_context("fork")
    outcomes = []
    for round_ in range(8):
        chat, _ = chats.enqueue(sender_id=f"web:race{round_}", channel="webchat", reason="request_human", priority=0)
        barrier, queue = ctx.Barrier(2), ctx.Queue()
        procs = [ctx.Process(target=_accept_in_worker, args=(db_url, chat.id, agent, barrier, queue))
                 for agent in ("甲", "乙")]
        for p in procs:
            p.start()
        results = dict(queue.get(timeout=120) for _ in procs)
        for p in procs:
            p.join(timeout=60)
            assert p.exitcode == 0
        assert sorted(results.values()) == ["taken", "won"], results
        winner = next(a for a, r in results.items() if r == "won")
        assert chats.get(chat.id).holder == winner
        outcomes.append(winner)
    assert len(chats.held()) == 8


def test_a_dropped_agents_chat_goes_back_to_the_queue_keeping_its_place(chats: LiveChatStore, clock: Clock) -> None:
    first, _ = chats.enqueue(sender_id="web:first", channel="webchat", reason="request_human", priority=0)
    clock.advance(seconds=5)
    chats.enqueue(sender_id="web:second", channel="webchat", reason="request_human", priority=0)
    chats.set_status("张三", "online")
    chats.accept(first.id, "张三")
    clock.advance(seconds=30)
    chats.heartbeat("张三")
    assert chats.dropped(clock() - timedelta(seconds=45)) == []
    clock.advance(seconds=60)  # the console stopped polling
    assert [c.id for c in chats.dropped(clock() - timedelta(seconds=45))] == [first.id]
    assert chats.on_duty(timedelta(seconds=45)) == []
    back = chats.release(first.id)
    assert back.state == "waiting" and chats.position(first.id) == 1
    # Its wait limit starts again: the chat that kept waiting expires, the re-queued one not yet.
    second = next(c for c in chats.waiting() if c.sender_id == "web:second")
    assert [c.id for c in chats.expired(clock() - timedelta(seconds=60))] == [second.id]
    clock.advance(seconds=61)
    assert [c.id for c in chats.expired(clock() - timedelta(seconds=60))] == [first.id, second.id]


def test_expired_waits_are_claimed_once_and_can_be_put_back(chats: LiveChatStore, clock: Clock) -> None:
    chat, _ = chats.enqueue(sender_id="web:late", channel="webchat", reason="request_human", priority=0)
    clock.advance(seconds=301)
    assert [c.id for c in chats.expired(clock() - timedelta(seconds=300))] == [chat.id]
    claimed = chats.finish(chat.id, state="ordered", end_reason="timeout", from_states=("waiting",))
    assert claimed.state == "ordered"
    assert chats.finish(chat.id, state="ordered", end_reason="timeout", from_states=("waiting",)) is None
    assert chats.requeue(chat.id).state == "waiting"  # Rasa was away: nothing was opened
    chats.finish(chat.id, state="ordered", end_reason="timeout", from_states=("waiting",))
    chats.set_order(chat.id, "GD202612070001")
    assert chats.requeue(chat.id) is None  # an order exists: never back to the queue


def test_outbox_cursor_tracker_sync_and_wechat_delivery_marks(chats: LiveChatStore) -> None:
    chat, _ = chats.enqueue(sender_id="wx:o1", channel="wechat", reason="request_human", priority=0)
    chats.enqueue(sender_id="web:other", channel="webchat", reason="request_human", priority=0)
    m1 = chats.add_message(chat.id, sender_id="wx:o1", direction="out", author="张三", text="您好")
    chats.add_message(chat.id, sender_id="wx:o1", direction="in", author="customer", text="家里没电",
                      tracker_synced=True)
    m3 = chats.add_message(chat.id, sender_id="wx:o1", direction="out", author="张三", text="好的" * 2000,
                           payload={"buttons": [{"title": "满意", "payload": "/x"}]}, source="条例第十条")
    assert [m.id for m in chats.outbox("wx:o1")] == [m1.id, m3.id]
    assert [m.id for m in chats.outbox("wx:o1", after=m1.id)] == [m3.id]
    assert chats.outbox("web:other") == []
    assert len(chats.outbox("wx:o1")[-1].text) == 2000  # capped, not refused
    assert [m.id for m in chats.unsynced()] == [m1.id, m3.id]
    chats.mark_synced(m1.id)
    assert [m.id for m in chats.unsynced()] == [m3.id]
    assert [m.id for m in chats.undelivered("wx:")] == [m1.id, m3.id]
    chats.mark_delivered(m1.id)
    chats.mark_delivered(m3.id, "已达微信客服消息条数上限")
    left = chats.undelivered("wx:")
    assert [(m.id, m.delivery_error) for m in left] == [(m3.id, "已达微信客服消息条数上限")]
    assert chats.last_message_id("wx:o1") == m3.id


def test_a_rating_goes_to_the_chat_an_agent_ended_once(chats: LiveChatStore, clock: Clock) -> None:
    chat, _ = chats.enqueue(sender_id="web:r", channel="webchat", reason="request_human", priority=0)
    assert chats.rate("web:r", "满意") is None  # nothing ended yet
    chats.accept(chat.id, "张三")
    chats.finish(chat.id, state="ended", end_reason="agent", agent="张三")
    assert chats.rate("web:r", "基本满意").rating == "基本满意"
    assert chats.rate("web:r", "不满意") is None  # rated already
    with pytest.raises(OrderError):
        chats.rate("web:r", "五星")
    assert [c.rating for c in chats.finished_between(clock() - timedelta(hours=1), clock() + timedelta(hours=1))] \
        == ["基本满意"]


def test_median_wait_needs_three_chats_before_it_promises_anything(chats: LiveChatStore, clock: Clock) -> None:
    since = clock() - timedelta(days=1)
    waits = []
    for i, seconds in enumerate((30, 90, 600)):
        chat, _ = chats.enqueue(sender_id=f"web:m{i}", channel="webchat", reason="request_human", priority=0)
        clock.advance(seconds=seconds)
        chats.accept(chat.id, "张三")
        waits.append(seconds)
        assert chats.median_wait(since) == (None if i < 2 else 90.0)


@pytest.mark.parametrize("spec,at,expected", [
    ("08:00-20:00", "2026-12-07 07:59", False),
    ("08:00-20:00", "2026-12-07 08:00", True),
    ("08:00-20:00", "2026-12-07 19:59", True),
    ("08:00-20:00", "2026-12-07 20:00", False),
    ("00:00-24:00", "2026-12-07 23:59", True),
    ("", "2026-12-07 12:00", False),
    ("8点到20点", "2026-12-07 12:00", False),
])
def test_service_hours_are_read_in_beijing_time(spec: str, at: str, expected: bool) -> None:
    from bot.clock import BEIJING

    moment = datetime.strptime(at, "%Y-%m-%d %H:%M").replace(tzinfo=BEIJING).astimezone(timezone.utc)
    assert hours.open_at(spec, moment) is expected


def test_malformed_hours_are_refused_with_the_expected_format() -> None:
    with pytest.raises(ValueError, match="08:00-20:00"):
        hours.parse("8点到20点")
    with pytest.raises(ValueError):
        hours.parse("20:00-08:00")


def test_the_report_counts_live_chats_by_outcome_agent_wait_and_rating(chats: LiveChatStore, clock: Clock,
                                                                        tmp_path: Path) -> None:
    from datetime import date

    from bot.review import report

    a, _ = chats.enqueue(sender_id="web:ra", channel="webchat", reason="request_human", priority=0)
    clock.advance(seconds=40)
    chats.accept(a.id, "张三")
    clock.advance(seconds=300)
    chats.finish(a.id, state="ended", end_reason="agent", agent="张三")
    chats.rate("web:ra", "满意")
    b, _ = chats.enqueue(sender_id="web:rb", channel="webchat", reason="request_human", priority=0)
    clock.advance(seconds=300)
    chats.finish(b.id, state="ordered", end_reason="timeout", from_states=("waiting",))
    live = chats.finished_between(clock() - timedelta(hours=2), clock() + timedelta(hours=1))
    built = report.build([], [], date(2026, 12, 7), date(2026, 12, 7), live_chats=live)
    rows = {(t, k): v for t, k, _s, v in built.rows()}
    assert rows[("live_chats", "agent")] == 1 and rows[("live_chats", "timeout")] == 1
    assert rows[("live_chats_by_agent", "张三")] == 1 and rows[("live_ratings", "满意")] == 1
    assert rows[("live_chats", "median_wait_seconds")] == 40.0
    assert rows[("live_chats", "median_handle_seconds")] == 300.0
    page = report.write(built, tmp_path / "report", {})
    text = page.read_text(encoding="utf-8")
    assert "在线人工" in text and "排队超时转工单" in text


def test_a_held_message_rasa_failed_on_reaches_the_tracker_through_the_sweep(chats: LiveChatStore,
                                                                            tmp_path: Path) -> None:
    from conftest import run_async

    from bot.livechat.desk import LiveDesk
    from bot.livechat.queue import HeldCheck
    from bot.livechat.rasa_api import RasaApi
    from bot.settings import Settings

    class RecordingRasa(RasaApi):
        """Rasa's API as the desk sees it, answering every append (the e2e tests use the real one)."""

        def __init__(self) -> None:
            super().__init__("http://127.0.0.1:9", "t")
            self.appended: list = []

        async def append(self, sender_id: str, events: list) -> None:
            self.appended.append((sender_id, events))

    chat, _ = chats.enqueue(sender_id="web:f", channel="webchat", reason="request_human", priority=0)
    chats.accept(chat.id, "张三")
    check = HeldCheck(Settings(var_dir=tmp_path), chats=chats)
    held = check.held("web:f")
    kept = check.record(held, "我家还是没电")
    assert kept is not None and chats.unsynced() == []  # Rasa logs it itself, normally
    check.missed_by_rasa(kept)                             # … but this time Rasa failed
    assert [m.id for m in chats.unsynced()] == [kept.id]
    rasa = RecordingRasa()
    desk = LiveDesk(chats, rasa, Settings(var_dir=tmp_path, livechat_agent_gone_seconds=3600))
    run_async(desk.sweep())
    (sender, events), = rasa.appended
    assert sender == "web:f" and events[0]["event"] == "user" and events[0]["text"] == "我家还是没电"
    assert events[0]["metadata"]["livechat"]["chat"] == chat.id
    assert chats.unsynced() == []


def test_the_sweep_leaves_a_wechat_message_whose_first_send_is_on_its_way(chats: LiveChatStore, clock: Clock,
                                                                         tmp_path: Path) -> None:
    """LiveDesk.send stores the message, then sends it; a sweep in between must not send it too
    (a console's sweep sent the agent's message twice). A message whose first send never finished
    (the process died) is retried once the grace has passed."""
    from conftest import run_async

    from bot.livechat.desk import FIRST_SEND_GRACE, LiveDesk
    from bot.livechat.rasa_api import RasaApi
    from bot.settings import Settings

    class QuietRasa(RasaApi):
        def __init__(self) -> None:
            super().__init__("http://127.0.0.1:9", "t")

        async def append(self, sender_id: str, events: list) -> None:
            return None

    sent: list = []

    async def wechat_send(openid: str, text: str) -> None:
        sent.append((openid, text))

    chat, _ = chats.enqueue(sender_id="wx:oGrace", channel="wechat", reason="request_human", priority=0)
    chats.accept(chat.id, "张三")
    chats.add_message(chat.id, sender_id="wx:oGrace", direction="in", author="customer", text="在吗")
    out = chats.add_message(chat.id, sender_id="wx:oGrace", direction="out", author="张三", text="您好，请讲")
    desk = LiveDesk(chats, QuietRasa(), Settings(var_dir=tmp_path, livechat_agent_gone_seconds=3600),
                    wechat_send=wechat_send, clock=clock)
    run_async(desk.sweep())
    assert sent == []  # the first send is LiveDesk.send's, still on its way
    clock.advance(seconds=FIRST_SEND_GRACE.total_seconds() + 1)
    run_async(desk.sweep())
    assert sent == [("oGrace", "您好，请讲")]
    assert next(m for m in chats.messages(chat.id) if m.id == out.id).delivered_at is not None
