"""Work orders under faults, on SQLite and PostgreSQL: NUL characters, long ids and names, the
circuit breaker, the background flusher, stray .tmp files, a refused disk, the order of phones."""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable

import pytest
from sqlalchemy import event

from bot.orders import OrderService
from bot.orders.service import OrderError, fit_key
from bot.orders.store import StoreUnavailable
from bot.orders.transcript import Msg
from test_orders_store import (  # noqa: F401 — fixtures
    _at, _conversation, _open, db_url, down_url, make_service, pg_database, spool_dir,
)


def _wait(condition: Callable[[], bool], timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


# --- what PostgreSQL refuses and SQLite keeps ----------------------------------------------------
def test_a_nul_character_in_a_message_is_stored_without_it(make_service: Callable[..., OrderService]) -> None:
    svc = make_service()
    convo = _conversation() + [Msg("user", "电费\x00怎么\x00交", _at("2026-11-22 14:06:00"))]
    result = _open(svc, "nul", transcript=convo)
    assert result.status == "stored"
    later = convo + [Msg("user", "还\x00在吗", _at("2026-11-22 14:07:00"), chosen_button="是\x00")]
    assert svc.sync_transcript(channel="rest", sender_id="nul", transcript=later) == 1
    view = svc.get(result.order_no)
    assert [m.text for m in view.transcript][-2:] == ["电费怎么交", "还在吗"]
    assert svc.sync_transcript(channel="rest", sender_id="nul", transcript=later) == 0  # same keys


def test_a_long_sender_id_is_stored_and_its_key_replays(make_service: Callable[..., OrderService]) -> None:
    svc = make_service()
    sender = "rest:" + "x" * 240
    key = f"{sender}|m1|request_human"
    first = _open(svc, sender, key=key)
    again = _open(svc, sender, key=key)
    assert first.status == "stored" and again.replayed and again.order_no == first.order_no
    assert not list(svc.spool.pending())
    assert len(fit_key(key)) <= 200 and fit_key(key) != fit_key(key + "x")


def test_a_sender_id_longer_than_the_column_is_refused_not_promised(
        make_service: Callable[..., OrderService]) -> None:
    svc = make_service()
    with pytest.raises(ValueError):
        _open(svc, "rest:" + "x" * 300)
    assert not list(svc.spool.pending())


def test_a_long_assignee_is_a_clear_error_not_a_500(make_service: Callable[..., OrderService]) -> None:
    svc = make_service()
    no = _open(svc, "assign").order_no
    with pytest.raises(OrderError, match="64"):
        svc.assign(no, "张" * 65, "李四")
    with pytest.raises(OrderError, match="64"):
        svc.add_note(no, "李" * 65, "已联系")
    assert svc.assign(no, "张" * 64, "李四").assignee == "张" * 64


# --- a dead database -----------------------------------------------------------------------------
def test_after_one_failure_the_breaker_spares_every_later_call_the_connect(
        down_url: str, make_service: Callable[..., OrderService]) -> None:
    svc = make_service(down_url)
    svc.store.breaker.cooldown = 3600
    svc.flush_interval = 3600
    attempts = []
    event.listen(svc.store.engine, "do_connect", lambda *a: attempts.append(1))
    assert _open(svc, "b1").status == "spooled"
    tried = len(attempts)
    assert tried >= 1 or down_url.startswith("sqlite")
    for i in range(5):
        assert _open(svc, f"b{i + 2}").status == "spooled"
        assert svc.sync_transcript(channel="rest", sender_id="b1", transcript=_conversation()) == 0
    assert len(attempts) == tried  # no new connection attempt while the breaker is open
    assert len(list(svc.spool.pending())) == 6  # the opens only: transcript syncs are never spooled


def test_the_background_flusher_replays_in_order_once_the_database_is_back(tmp_path: Path) -> None:
    folder = tmp_path / "later"
    svc = OrderService.from_url(f"sqlite:///{folder / 'orders.db'}", spool_dir=tmp_path / "spool")
    svc.store.breaker.cooldown = 0.05
    svc.flush_interval = 0.05
    for i in range(3):
        assert _open(svc, "bg", key=f"bg-{i}").status == "spooled"
    svc.set_phone(channel="rest", sender_id="bg", phone_text="13800000001")
    svc.set_phone(channel="rest", sender_id="bg", phone_text="13800000002")
    folder.mkdir()  # the database is back; no call is made: the flusher does it alone
    assert _wait(lambda: not svc.spool.has_pending()), "spool not replayed"
    [view] = svc.orders_for(channel="rest", sender_id="bg")
    assert view.phone == "13800000002"  # the newer phone last
    svc.store.dispose()


def test_a_phone_given_while_another_process_flushes_queues_behind_the_backlog(
        down_url: str, make_service: Callable[..., OrderService]) -> None:
    down = make_service(down_url)
    down.flush_interval = 3600
    up = make_service()
    up.flush_interval = 3600
    no = _open(up, "ph").order_no
    down.set_phone(channel="rest", sender_id="ph", phone_text="13800000001")  # spooled
    # another process is replaying right now (down's own background flusher may hold the lock for
    # the moment of its first attempt: wait for it)
    held = up.spool.flush_lock(wait=10)
    assert held is not None
    up.set_phone(channel="rest", sender_id="ph", phone_text="13800000002")
    assert up.get(no).phone is None  # not applied ahead of the older one
    held.close()
    assert up.flush_spool(wait=10) == 2
    assert up.get(no).phone == "13800000002"


def test_a_copy_made_while_the_conversations_order_still_waits_in_the_spool_is_retried_not_dropped(
        down_url: str, make_service: Callable[..., OrderService]) -> None:
    """The soak on SQLite lost customers' last lines: the tracker store's catch-up copy ran after
    the outage but before the spool was replayed, found "no open order", and never copied again."""
    down = make_service(down_url)
    down.flush_interval = 3600
    up = make_service()
    up.flush_interval = 3600
    assert _open(down, "sp").status == "spooled"  # 转人工 during the outage
    later = _conversation() + [Msg("user", "我的电话是13800000001", _at("2026-11-22 14:06:00"))]
    held = up.spool.flush_lock(wait=10)  # the action server's flusher is replaying right now
    assert held is not None
    with pytest.raises(StoreUnavailable):
        up.sync_transcript(channel="rest", sender_id="sp", transcript=later, strict=True)
    assert up.sync_transcript(channel="rest", sender_id="other", transcript=later, strict=True) == 0
    held.close()
    assert up.flush_spool(wait=10) == 1
    assert up.sync_transcript(channel="rest", sender_id="sp", transcript=later, strict=True) == 1
    [view] = up.orders_for(channel="rest", sender_id="sp")
    assert view.transcript[-1].text == "我的电话是13800000001"


def test_stray_tmp_files_from_a_crash_are_removed_when_stale(make_service: Callable[..., OrderService],
                                                             spool_dir: Path) -> None:
    svc = make_service()
    spool_dir.mkdir(parents=True, exist_ok=True)
    stale, fresh = spool_dir / ".old.json.tmp", spool_dir / ".new.json.tmp"
    stale.write_text("{")
    fresh.write_text("{")
    an_hour_ago = time.time() - 3600
    os.utime(stale, (an_hour_ago, an_hour_ago))
    svc.flush_spool()
    assert not stale.exists() and fresh.exists()


def test_a_refused_disk_keeps_the_request_until_the_database_takes_it(
        down_url: str, db_url: str, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the spool folder should be")
    svc = OrderService.from_url(down_url, spool_dir=blocker / "spool")
    svc.flush_interval = 3600
    assert _open(svc, "disk", key="disk-1").status == "spooled"
    assert svc.spool.has_pending() and not list(svc.spool.pending())
    # the same process, the database back (the store's URL swapped to the live one)
    live = OrderService.from_url(db_url, spool_dir=blocker / "spool")
    svc.store = live.store
    svc.store.breaker.succeeded()
    svc.flush_spool()  # or the background flusher, whichever comes first
    assert _wait(lambda: not svc.spool.has_pending())
    assert len(svc.orders_for(channel="rest", sender_id="disk")) == 1
    live.store.dispose()


# --- a cap on orders per sender per day -----------------------------------------------------------
def test_past_the_daily_cap_a_trigger_is_added_to_the_latest_order_not_a_new_one(
        make_service: Callable[..., OrderService]) -> None:
    svc = make_service()
    svc.store.max_orders_per_day = 2
    first = _open(svc, "flood", kind="consult")
    second = _open(svc, "flood", kind="complaint")
    third = _open(svc, "flood", kind="repair")
    fourth = _open(svc, "flood", kind="feedback")
    assert first.created and second.created
    assert (third.created, third.order_no, fourth.order_no) == (False, second.order_no, second.order_no)
    assert len(svc.orders_for(channel="rest", sender_id="flood")) == 2
    assert "上限" in svc.get(second.order_no).events[-1].note
    assert _open(svc, "other", kind="repair").created  # others are not affected


def test_two_thousand_senders_asking_for_a_person_fill_the_queue_only_as_the_rate_limit_lets_them() -> None:
    """The flood test's small slice: new web chat ids per address are capped before any order."""
    from conftest import run_async  # not asyncio.run: after a browser test Playwright's loop is running

    from bot.channels.limits import RateLimiter
    from bot.channels.common.store import MemoryStore

    limiter = RateLimiter(MemoryStore(), per_sender=20, per_ip=120, new_ids_per_ip_hour=30)

    async def flood() -> int:
        return sum([await limiter.allow_new_id("203.0.113.7") for _ in range(2000)])

    assert run_async(flood()) == 30


def test_a_client_rotating_through_its_ipv6_64_is_one_address_to_the_limits() -> None:
    from conftest import run_async

    from bot.channels.limits import RateLimiter, address_key
    from bot.channels.common.store import MemoryStore

    limiter = RateLimiter(MemoryStore(), per_sender=20, per_ip=120, new_ids_per_ip_hour=30)

    async def flood() -> int:
        # every request from another address of the same /64 (the interface id is the client's choice)
        return sum([await limiter.allow_new_id(f"2001:db8:1:2:{i:x}::{i % 7:x}") for i in range(2000)])

    assert run_async(flood()) == 30
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")  # the next /64 is someone else
    assert address_key("::ffff:203.0.113.7") == address_key("203.0.113.7") == "203.0.113.7"
    assert address_key("unix-socket") == "unix-socket"


def test_a_phone_whose_request_never_arrived_becomes_a_callback_order_not_a_parked_file(tmp_path: Path) -> None:
    """The action server died before storing a 转人工 (the customer was asked to send again), then
    the customer sent a phone during an outage and was told it is kept: replayed with no order to
    put it on, it opens a callback order instead of being parked in spool/failed/."""
    folder = tmp_path / "later"
    svc = OrderService.from_url(f"sqlite:///{folder / 'orders.db'}", spool_dir=tmp_path / "spool")
    svc.store.breaker.cooldown = 0.05
    svc.flush_interval = 0.05
    assert svc.set_phone(channel="rest", sender_id="lost", phone_text="138 0000 0003") == "13800000003"
    folder.mkdir()  # the database is back: the background flusher replays the phone
    assert _wait(lambda: not svc.spool.has_pending()), "spool not replayed"
    [view] = svc.orders_for(channel="rest", sender_id="lost")
    assert view.phone == "13800000003" and view.reason == "request_human"
    assert [m.text for m in view.transcript] == ["13800000003"]
    assert not list((tmp_path / "spool").glob("failed/*"))
    assert len(svc.orders_for(channel="rest", sender_id="lost")) == 1
    svc.store.dispose()
