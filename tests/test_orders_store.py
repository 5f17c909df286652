"""Work-order storage on real databases: a SQLite file and the real PostgreSQL (127.0.0.1:5432).

Every test that touches storage runs on both backends. PostgreSQL gets one fresh database per
test session (dropped at the end) and one fresh schema per test inside it.
"""
from __future__ import annotations

import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.orders import (
    Msg,
    OpenResult,
    OrderError,
    OrderNotFound,
    OrderService,
    PhoneError,
    TransitionError,
    describe_for_customer,
)
from bot.console import tables as console_tables
from bot.console.accounts import AccountStore
from bot.console.auth import hash_password
from bot.db import DatabaseUnavailable, alembic_config
from bot.orders.models import OrderEvent, TranscriptMessage, WorkOrder, metadata
from bot.clock import BEIJING
from bot.orders.store import VERSION_TABLE, make_engine, schema_head
from conftest import scratch_pg_database

ROOT = Path(__file__).resolve().parent.parent
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}


# --- fixtures --------------------------------------------------------------------------------
class Clock:
    """A settable clock, so that due times, overdue and daily numbers are deterministic."""

    def __init__(self, at: datetime) -> None:
        self.at = at.astimezone(timezone.utc)

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **kw: float) -> None:
        self.at += timedelta(**kw)


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    with scratch_pg_database("orders_test") as name:
        yield name


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: a SQLite file, or a fresh schema in the session's PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'orders.db'}"
    import psycopg2

    dbname = request.getfixturevalue("pg_database")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    conn = psycopg2.connect(dbname=dbname, **PG)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"CREATE SCHEMA {schema}")
    conn.close()
    return f"postgresql://postgres@127.0.0.1:5432/{dbname}?options=-csearch_path%3D{schema}"


@pytest.fixture
def down_url(db_url: str, tmp_path: Path) -> str:
    """The same kind of database, unreachable: a refused port / a directory that does not exist."""
    if db_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'no-such-dir' / 'orders.db'}"
    return "postgresql://postgres@127.0.0.1:1/orders_down"


@pytest.fixture
def spool_dir(tmp_path: Path) -> Path:
    return tmp_path / "spool"


@pytest.fixture
def make_service(db_url: str, spool_dir: Path) -> Iterator[Callable[..., OrderService]]:
    made: list[OrderService] = []

    def make(url: str | None = None, *, clock: Callable[[], datetime] | None = None) -> OrderService:
        svc = OrderService.from_url(url or db_url, spool_dir=spool_dir, **({"clock": clock} if clock else {}))
        made.append(svc)
        return svc

    yield make
    for svc in made:
        svc.store.dispose()  # PostgreSQL has a connection limit; give them back


def _at(text_: str) -> datetime:
    """'2026-11-22 14:05:03' in Beijing time."""
    return datetime.strptime(text_, "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING)


def _conversation(tag: str = "", start: str = "2026-11-22 14:05:03") -> list[Msg]:
    t0 = _at(start)
    return [
        Msg("user", f"峰谷电价怎么算{tag}", t0),
        Msg("bot", "居民峰谷电价按时段计价……", t0 + timedelta(seconds=1)),
        Msg("bot", "这个回答有帮助吗？", t0 + timedelta(seconds=1, milliseconds=5), buttons=("有帮助", "没帮助")),
        Msg("user", "/feedback_negative", t0 + timedelta(seconds=6), chosen_button="没帮助"),
    ]


def _open(svc: OrderService, sender: str = "u1", key: str | None = None, **kw) -> OpenResult:  # type: ignore[no-untyped-def]
    args = {"channel": "rest", "sender_id": sender, "reason": "not_helpful", "topic": "tariff",
            "candidates": [{"entry_id": "tariff-001", "question": "峰谷电价怎么算？", "confidence": 0.41}],
            "transcript": _conversation(), "idempotency_key": key or f"{sender}-{uuid.uuid4().hex}"}
    args.update(kw)
    return svc.open_or_append(**args)


# --- schema ----------------------------------------------------------------------------------
def test_alembic_upgrade_head_creates_the_schema_on_an_empty_database(db_url: str) -> None:
    out = subprocess.run([str(ROOT / ".venv/bin/alembic"), "-x", f"url={db_url}", "upgrade", "head"],
                         cwd=ROOT, capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    engine = make_engine(db_url)
    try:
        insp = inspect(engine)
        assert {"work_orders", "order_events", "transcript_messages", "order_counters",
                "console_users", "console_sessions", VERSION_TABLE} <= set(insp.get_table_names())
        indexes = {i["name"]: i for i in insp.get_indexes("work_orders")}
        assert indexes["uq_work_orders_open_sender_kind"]["unique"]
        with engine.connect() as conn:
            assert conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar() == schema_head()
            # The hand-written migrations and the models describe the same schema.
            assert _schema_drift(conn) == []
    finally:
        engine.dispose()


def _schema_drift(conn) -> list:  # type: ignore[no-untyped-def]
    """What autogenerate would change: the one tree migrates the orders' and the console's tables."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE, "compare_type": True})
    return compare_metadata(ctx, [metadata, console_tables.metadata])


def test_the_console_accounts_migrate_an_empty_database_to_the_one_head(db_url: str) -> None:
    accounts = AccountStore.from_url(db_url)
    try:
        accounts.add_user("张三", "staff", "correct horse battery")
        with accounts.engine.connect() as conn:
            assert conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar() == schema_head()
            assert {"work_orders", "console_users"} <= set(inspect(conn).get_table_names())
            assert _schema_drift(conn) == []
    finally:
        accounts.dispose()


def test_an_install_whose_console_tables_came_from_create_all_migrates_and_keeps_its_accounts(db_url: str) -> None:
    # Before 0005 the console made its tables with create_all beside the migrated ones.
    from alembic import command

    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0004")
        console_tables.metadata.create_all(engine)
        now = datetime(2026, 12, 1, tzinfo=timezone.utc)
        with Session(engine, future=True) as s, s.begin():
            s.add(console_tables.ConsoleUser(username="张三", role="admin", active=True,
                                             password_hash=hash_password("correct horse battery"),
                                             created_at=now, password_changed_at=now))
    finally:
        engine.dispose()
    accounts = AccountStore.from_url(db_url)
    try:
        assert accounts.authenticate("张三", "correct horse battery").role == "admin"
        with accounts.engine.connect() as conn:
            assert conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar() == schema_head()
            assert _schema_drift(conn) == []
    finally:
        accounts.dispose()


def test_an_unreachable_database_is_database_unavailable_for_the_console_too(down_url: str) -> None:
    accounts = AccountStore.from_url(down_url)
    try:
        with pytest.raises(DatabaseUnavailable):
            accounts.list_users()
    finally:
        accounts.dispose()


def test_the_service_migrates_an_empty_database_by_itself(make_service: Callable[..., OrderService]) -> None:
    svc = make_service()
    assert _open(svc).status == "stored"
    with svc.store.engine.connect() as conn:
        assert conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar() == schema_head()


# --- numbering -------------------------------------------------------------------------------
def test_order_numbers_are_gd_beijing_date_and_a_daily_sequence(make_service: Callable[..., OrderService]) -> None:
    clock = Clock(_at("2026-11-22 23:50:00"))
    svc = make_service(clock=clock)
    first, second = _open(svc, "a").order_no, _open(svc, "b").order_no
    assert (first, second) == ("GD202611220001", "GD202611220002")
    # 00:10 in Beijing is still the 22nd in UTC: the number follows the Beijing day.
    clock.advance(minutes=20)
    assert clock().date().isoformat() == "2026-11-22"
    assert _open(svc, "c").order_no == "GD202611230001"
    assert re.fullmatch(r"GD\d{8}\d{4}", _open(svc, "d").order_no)


# --- concurrency -----------------------------------------------------------------------------
_WORKER: OrderService | None = None


def _init_worker(url: str, spool: str) -> None:
    global _WORKER
    _WORKER = OrderService.from_url(url, spool_dir=Path(spool))


def _open_in_worker(i: int) -> tuple[str, str | None, int]:
    assert _WORKER is not None
    r = _WORKER.open_or_append(
        channel="wechat", sender_id=f"parallel-{i}", reason="engine_fail", topic="tariff", candidates=[],
        transcript=[Msg("user", f"问题 {i}", datetime.now(timezone.utc))], idempotency_key=f"parallel-{i}")
    return r.status, r.order_no, os.getpid()


def test_fifty_orders_opened_in_parallel_from_several_processes_get_fifty_unique_numbers(
        db_url: str, spool_dir: Path, make_service: Callable[..., OrderService]) -> None:
    # The database is empty: the workers also race on the first migration.
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(6, initializer=_init_worker, initargs=(db_url, str(spool_dir))) as pool:
        results = pool.map(_open_in_worker, range(50), chunksize=1)
    assert [s for s, _, _ in results] == ["stored"] * 50  # nothing spooled, nothing appended
    numbers = [n for _, n, _ in results]
    assert len(set(numbers)) == 50
    assert len({pid for _, _, pid in results}) > 1
    # One day's counter, no gaps: 0001 … 0050.
    assert sorted(int(n[-4:]) for n in numbers) == list(range(1, 51))
    assert len({n[:10] for n in numbers}) == 1
    stored = make_service().list()
    assert sorted(v.order_no for v in stored) == sorted(numbers)
    assert all(len(v.transcript) == 1 and len(v.events) == 1 for v in stored)


def _race(url: str, spool: str, barrier, queue, rounds: int, same_key: bool, who: str) -> None:  # type: ignore[no-untyped-def]
    svc = OrderService.from_url(url, spool_dir=Path(spool))
    try:
        for i in range(rounds):
            barrier.wait(timeout=60)
            key = f"race-{i}" if same_key else f"race-{i}-{who}"
            text_ = f"第 {i} 轮" if same_key else f"第 {i} 轮 {who}"
            r = svc.open_or_append(channel="wechat", sender_id=f"racer-{i}", reason="request_human", topic=None,
                                   candidates=[], idempotency_key=key,
                                   transcript=[Msg("user", text_, _at("2026-11-22 10:00:00") + timedelta(seconds=i))])
            queue.put((i, who, r.status, r.order_no, r.created))
    finally:
        svc.store.dispose()


def _run_race(db_url: str, spool_dir: Path, svc: OrderService, same_key: bool, rounds: int = 12) -> list[tuple]:
    _open(svc, "warm-up")  # migrate first: this test is about the orders, not the schema
    ctx = multiprocessing.get_context("fork")
    barrier, queue = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_race, args=(db_url, str(spool_dir), barrier, queue, rounds, same_key, who))
             for who in ("A", "B")]
    for p in procs:
        p.start()
    results = [queue.get(timeout=120) for _ in range(2 * rounds)]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    return results


def test_the_same_idempotency_key_from_two_processes_at_once_gives_one_order(
        db_url: str, spool_dir: Path, make_service: Callable[..., OrderService]) -> None:
    svc = make_service()
    results = _run_race(db_url, spool_dir, svc, same_key=True)
    for i in range(12):
        pair = [r for r in results if r[0] == i]
        assert {r[2] for r in pair} == {"stored"}
        assert len({r[3] for r in pair}) == 1, pair           # both callers got the same number
        assert sorted(r[4] for r in pair) == [False, True]  # and exactly one of them created it
        [view] = svc.orders_for(channel="wechat", sender_id=f"racer-{i}")
        assert len(view.events) == 1 and len(view.transcript) == 1


def test_two_triggers_for_one_customer_from_two_processes_at_once_give_one_order(
        db_url: str, spool_dir: Path, make_service: Callable[..., OrderService]) -> None:
    svc = make_service()
    results = _run_race(db_url, spool_dir, svc, same_key=False)
    for i in range(12):
        pair = [r for r in results if r[0] == i]
        assert sorted(r[2] for r in pair) == ["appended", "stored"]
        assert len({r[3] for r in pair}) == 1
        [view] = svc.orders_for(channel="wechat", sender_id=f"racer-{i}")
        assert [e.note.split("：")[0] for e in view.events] == ["对话触发", "再次触发"]
        assert sorted(m.text for m in view.transcript) == [f"第 {i} 轮 A", f"第 {i} 轮 B"]


# --- opening and appending -------------------------------------------------------------------
def test_the_same_idempotency_key_twice_returns_the_same_order_and_writes_nothing(
        make_service: Callable[..., OrderService]) -> None:
    svc = make_service()
    first = _open(svc, "u1", key="k-1")
    again = _open(svc, "u1", key="k-1", transcript=_conversation() + [Msg("user", "还在吗", _at("2026-11-22 14:06:00"))])
    assert first.created and first.status == "stored"
    assert (again.status, again.order_no, again.due_at, again.created, again.replayed) == (
        "stored", first.order_no, first.due_at, False, True)
    [view] = svc.list()
    assert len(view.events) == 1 and len(view.transcript) == 4
    with pytest.raises(ValueError, match="another sender"):  # never leak u1's number to u2
        _open(svc, "u2", key="k-1")


def test_a_second_trigger_for_an_open_conversation_appends_instead_of_opening(
        make_service: Callable[..., OrderService]) -> None:
    svc = make_service()
    first = _open(svc, "u1")
    more = _conversation() + [Msg("user", "我要人工", _at("2026-11-22 14:07:00"))]
    second = _open(svc, "u1", reason="request_human", transcript=more)
    assert (second.status, second.order_no, second.created) == ("appended", first.order_no, False)
    assert second.due_at == first.due_at
    [view] = svc.list()
    assert [e.note for e in view.events][-1] == "再次触发：request_human"
    assert [m.text for m in view.transcript][-1] == "我要人工" and len(view.transcript) == 5
    # A different customer, or the same id on another channel, gets an order of their own.
    assert _open(svc, "u2").created
    assert _open(svc, "u1", channel="wechat").created


def test_the_database_refuses_a_second_open_order_for_a_sender_even_bypassing_the_service(
        db_url: str, make_service: Callable[..., OrderService]) -> None:
    _open(make_service(), "dup")
    now = datetime.now(timezone.utc)
    row = dict(order_no="GD209901010001", status="待处理", reason="error", candidates=[], channel="rest",
               sender_id="dup", created_at=now, updated_at=now, due_at=now, idempotency_key="direct-1")
    engine = make_engine(db_url)
    try:
        with pytest.raises(IntegrityError) as err:
            with Session(engine) as s, s.begin():
                s.add(WorkOrder(**row))
        assert "uq_work_orders_open_sender_kind" in str(err.value) or "work_orders.sender_id" in str(err.value)
        # Closed orders do not count: history for the same sender is allowed.
        with Session(engine) as s, s.begin():
            s.add(WorkOrder(**{**row, "status": "已关闭"}))
        with Session(engine) as s:
            assert s.execute(select(WorkOrder).where(WorkOrder.sender_id == "dup")).scalars().all().__len__() == 2
    finally:
        engine.dispose()


def test_sync_transcript_adds_only_messages_not_stored_yet(make_service: Callable[..., OrderService]) -> None:
    svc = make_service()
    convo = _conversation()
    _open(svc, "u1", transcript=convo[:2])
    later = convo + [Msg("user", "0371-12345678", _at("2026-11-22 14:08:00"))]
    assert svc.sync_transcript(channel="rest", sender_id="u1", transcript=later) == 3
    assert svc.sync_transcript(channel="rest", sender_id="u1", transcript=later) == 0
    assert svc.sync_transcript(channel="rest", sender_id="nobody", transcript=later) == 0
    [view] = svc.list()
    assert [m.text for m in view.transcript] == [m.text for m in later]
    assert view.transcript[2].buttons == ("有帮助", "没帮助")
    assert view.transcript[3].chosen_button == "没帮助"
    engine = svc.store.engine
    with Session(engine) as s:
        seqs = s.execute(select(TranscriptMessage.seq).order_by(TranscriptMessage.seq)).scalars().all()
    assert seqs == [1, 2, 3, 4, 5]


# --- database down ---------------------------------------------------------------------------
def test_db_down_spools_without_a_number_and_flush_stores_it_with_its_full_transcript(
        down_url: str, spool_dir: Path, make_service: Callable[..., OrderService]) -> None:
    clock = Clock(_at("2026-11-20 17:30:00"))  # a Friday
    down = make_service(down_url, clock=clock)
    result = _open(down, "u1", key="down-1", reason="engine_fail", topic="business")
    assert result == OpenResult(status="spooled", order_no=None, due_at=None, created=False)
    later = _conversation() + [Msg("user", "多久能回复？", _at("2026-11-20 17:31:00"))]
    # a transcript sync is never spooled: the tracker store keeps the conversation, and the next
    # sync after the outage appends what is missing
    assert down.sync_transcript(channel="rest", sender_id="u1", transcript=later) == 0
    assert down.set_phone(channel="rest", sender_id="u1", phone_text="0371 1234 5678") == "0371-12345678"
    spooled = sorted(spool_dir.glob("*.json"))
    assert len(spooled) == 2
    assert not list(spool_dir.glob(".*.tmp"))  # no temporary files left behind

    clock.advance(hours=3)  # the database comes back
    up = make_service(clock=clock)
    crash_copy = spool_dir.parent / "copy.json"
    shutil.copy(spooled[0], crash_copy)
    assert up.flush_spool(wait=10) == 2  # its own background flusher may be mid-attempt
    assert list(spool_dir.glob("*.json")) == []
    assert up.sync_transcript(channel="rest", sender_id="u1", transcript=later) == 1
    [view] = up.orders_for(channel="rest", sender_id="u1")
    assert view.order_no.startswith("GD20261120")
    assert view.created_at == _at("2026-11-20 17:30:00")          # when the customer asked
    assert view.due_at == _at("2026-11-23 17:30:00")              # Friday + 1 working day
    assert [m.text for m in view.transcript] == [m.text for m in _conversation()] + ["多久能回复？"]
    assert view.transcript[3].chosen_button == "没帮助"
    assert view.phone == "0371-12345678"

    # A crash between commit and delete leaves the file behind: replaying it changes nothing,
    # and any ordinary call replays it.
    shutil.copy(crash_copy, spool_dir / crash_copy.name)
    [again] = up.orders_for(channel="rest", sender_id="u1")
    assert list(spool_dir.glob("*.json")) == []
    assert (again.order_no, len(again.events), len(again.transcript)) == (
        view.order_no, len(view.events), len(view.transcript))


def _flush_in_worker(url: str, spool: str) -> int:
    svc = OrderService.from_url(url, spool_dir=Path(spool))
    try:
        return svc.flush_spool()
    finally:
        svc.store.dispose()


def test_two_processes_flushing_the_same_spool_store_each_request_once(
        down_url: str, db_url: str, spool_dir: Path, make_service: Callable[..., OrderService]) -> None:
    down = make_service(down_url)
    for i in range(8):
        _open(down, f"u{i}", key=f"spooled-{i}")
    _open(down, "u0", key="spooled-again", reason="request_human")  # a second trigger, same customer
    make_service().list()  # migrate; this call also flushes, so spool the batch again below
    for v in make_service().list():
        assert v.sender_id.startswith("u")
    # Re-spool the same requests (as if the flush above had crashed before deleting them) and
    # let two processes race to replay them.
    for i in range(8):
        _open(down, f"u{i}", key=f"spooled-{i}")
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(2) as pool:
        pool.starmap(_flush_in_worker, [(db_url, str(spool_dir))] * 2)
    assert list(spool_dir.glob("*.json")) == []
    assert not (spool_dir / "failed").exists()
    views = make_service().list()
    assert sorted(v.sender_id for v in views) == [f"u{i}" for i in range(8)]
    [u0] = [v for v in views if v.sender_id == "u0"]
    assert [e.note.split("：")[0] for e in u0.events] == ["对话触发", "再次触发"]
    assert all(len(v.transcript) == 4 for v in views)


def test_flush_leaves_the_spool_alone_while_the_database_is_still_down(
        down_url: str, spool_dir: Path, make_service: Callable[..., OrderService]) -> None:
    down = make_service(down_url)
    _open(down, "u1")
    _open(down, "u2")
    assert down.flush_spool() == 0
    assert len(list(spool_dir.glob("*.json"))) == 2


def test_a_spool_file_that_cannot_be_replayed_is_parked_not_lost(
        spool_dir: Path, make_service: Callable[..., OrderService]) -> None:
    spool_dir.mkdir(parents=True)
    (spool_dir / "00000000000000000001-1-bad.json").write_text("{not json", encoding="utf-8")
    svc = make_service()
    assert svc.flush_spool() == 0
    assert list(spool_dir.glob("*.json")) == []
    assert (spool_dir / "failed" / "00000000000000000001-1-bad.json").exists()
    assert _open(svc, "u1").status == "stored"  # the service keeps working


# --- customers -------------------------------------------------------------------------------
def test_one_sender_cannot_read_another_senders_order(make_service: Callable[..., OrderService]) -> None:
    svc = make_service()
    mine, theirs = _open(svc, "alice").order_no, _open(svc, "bob").order_no
    assert svc.get_for(channel="rest", sender_id="alice", order_no=mine).order_no == mine
    assert svc.get_for(channel="rest", sender_id="alice", order_no=theirs.lower()) is None
    assert svc.get_for(channel="wechat", sender_id="alice", order_no=mine) is None
    assert svc.get_for(channel="rest", sender_id="alice", order_no="不是工单号") is None
    assert [v.order_no for v in svc.orders_for(channel="rest", sender_id="alice")] == [mine]
    assert svc.get(theirs).sender_id == "bob"  # staff see everything


def test_phone_numbers_are_checked_normalised_and_stored_on_the_open_order(
        make_service: Callable[..., OrderService]) -> None:
    svc = make_service()
    with pytest.raises(OrderNotFound):
        svc.set_phone(channel="rest", sender_id="u1", phone_text="13812345678")
    no = _open(svc, "u1").order_no
    with pytest.raises(PhoneError, match="手机号"):
        svc.set_phone(channel="rest", sender_id="u1", phone_text="12345")
    assert svc.set_phone(channel="rest", sender_id="u1", phone_text="+86 138-1234-5678") == "13812345678"
    view = svc.get(no)
    assert view.phone == "13812345678"
    assert view.events[-1].note == "客户留下联系电话：13812345678"


# --- staff -----------------------------------------------------------------------------------
def test_status_moves_only_along_the_workflow_and_every_move_is_recorded(
        make_service: Callable[..., OrderService]) -> None:
    svc = make_service()
    no = _open(svc, "u1").order_no
    with pytest.raises(TransitionError, match="不能改为「已办结」"):
        svc.resolve(no, "张三", "已答复")
    assert svc.assign(no, "张三", "李班长").status == "处理中"
    with pytest.raises(TransitionError):
        svc.close(no, "李班长")
    with pytest.raises(OrderError, match="处理说明"):
        svc.resolve(no, "张三", "  ")
    resolved = svc.resolve(no, "张三", "已电话告知峰谷时段及价格")
    assert resolved.status == "已办结" and resolved.latest_note == "已电话告知峰谷时段及价格"
    with pytest.raises(OrderError, match="满意度"):
        svc.callback(no, "李班长", "很好")
    called = svc.callback(no, "李班长", "满意", "客户表示清楚了")
    assert (called.status, called.satisfaction) == ("已回访", "满意")
    closed = svc.close(no, "李班长")
    assert closed.status == "已关闭" and closed.closed_at is not None
    with pytest.raises(TransitionError, match="工单已结束"):
        svc.close(no, "李班长")
    with pytest.raises(OrderNotFound):
        svc.assign("GD209901019999", "张三", "李班长")
    assert [(e.actor, e.from_status, e.to_status) for e in closed.events] == [
        ("系统", None, "待处理"), ("李班长", "待处理", "处理中"), ("张三", "处理中", "已办结"),
        ("李班长", "已办结", "已回访"), ("李班长", "已回访", "已关闭")]
    text_ = describe_for_customer(closed)
    assert no in text_ and "已关闭" in text_ and "客户表示清楚了" in text_
    # Closed: the customer's next failure opens a new order.
    nxt = _open(svc, "u1")
    assert nxt.created and nxt.order_no != no


def test_a_resolved_order_can_be_closed_without_a_callback(make_service: Callable[..., OrderService]) -> None:
    svc = make_service()
    no = _open(svc, "u1").order_no
    svc.assign(no, "张三", "张三")
    svc.resolve(no, "张三", "已处理")
    assert svc.close(no, "张三", "客户电话无人接听").status == "已关闭"


def test_overdue_lists_unanswered_orders_past_their_due_time(make_service: Callable[..., OrderService]) -> None:
    clock = Clock(_at("2026-11-23 10:00:00"))  # Monday
    svc = make_service(clock=clock)
    outage = _open(svc, "a", reason="engine_fail", topic="outage")  # 4 hours
    consult = _open(svc, "b", reason="not_helpful", topic="tariff")  # 1 working day
    assert outage.due_at == _at("2026-11-23 14:00:00")
    assert consult.due_at == _at("2026-11-24 10:00:00")
    assert svc.list(overdue=True) == []
    clock.advance(hours=5)
    [late] = svc.list(overdue=True)
    assert late.order_no == outage.order_no and late.overdue
    assert "预计答复时间：2026-11-23 14:00" in describe_for_customer(late)
    svc.assign(outage.order_no, "张三", "张三")
    assert [v.order_no for v in svc.list(overdue=True)] == [outage.order_no]  # 处理中 still counts
    svc.resolve(outage.order_no, "张三", "已派抢修")
    assert svc.list(overdue=True) == []
    assert {v.order_no for v in svc.list(overdue=False)} == {outage.order_no, consult.order_no}
    assert [v.order_no for v in svc.list(status="已办结")] == [outage.order_no]
    assert [v.order_no for v in svc.list(topic="tariff", reason="not_helpful")] == [consult.order_no]
    from datetime import date

    assert len(svc.list(since=date(2026, 11, 23), until=date(2026, 11, 23))) == 2
    assert svc.list(since=date(2026, 11, 24)) == []


def test_rows_are_written_in_utc_and_read_back_aware(db_url: str, make_service: Callable[..., OrderService]) -> None:
    svc = make_service(clock=Clock(_at("2026-11-23 10:00:00")))
    _open(svc, "u1")
    with Session(svc.store.engine) as s:
        order = s.execute(select(WorkOrder)).scalar_one()
        event = s.execute(select(OrderEvent)).scalar_one()
    assert order.created_at == datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)
    assert order.created_at.tzinfo is not None and event.at.tzinfo is not None
