"""Orders know their kind: repair, complaint and feedback orders beside consultations (issue 13)."""
from __future__ import annotations

import subprocess
import os
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.clock import BEIJING
from bot.orders import OrderService
from bot.orders.store import make_engine
from bot.orders.transcript import Msg
from bot.orders.vocabulary import KIND_LABELS, KINDS, REASON_LABELS, REASONS
from test_orders_store import Clock, _at, _conversation, _open, db_url, make_service, pg_database, spool_dir  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent


def test_every_kind_and_reason_has_a_label_and_kinds_need_no_check_constraint() -> None:
    assert set(KIND_LABELS) == set(KINDS) and set(REASON_LABELS) == set(REASONS)
    from bot.orders.models import WorkOrder

    checks = " ".join(str(c.sqltext) for c in WorkOrder.__table__.constraints if hasattr(c, "sqltext"))
    assert "status" in checks and "kind" not in checks and "reason" not in checks and "priority" not in checks


def test_a_repair_is_its_own_order_beside_an_open_consultation(make_service: Callable[..., OrderService]) -> None:
    clock = Clock(_at("2026-11-22 23:30:00"))  # a Sunday night: repairs do not wait for Monday
    svc = make_service(clock=clock)
    consult = _open(svc, "c1")
    repair = _open(svc, "c1", reason="fault_report", topic="outage", priority="urgent",
                   area="城区", details={"address": "幸福路12号", "hazard": True})
    assert repair.created and repair.kind == "repair" and repair.order_no != consult.order_no
    assert repair.due_at == _at("2026-11-23 00:15:00")  # 城区: 45 minutes, clock time
    view = svc.get(repair.order_no)
    assert (view.kind, view.priority) == ("repair", "urgent")
    assert view.details == {"address": "幸福路12号", "hazard": True, "area": "城区"}
    # A second report in the same conversation adds to the open repair, not to the consultation.
    again = _open(svc, "c1", reason="fault_report", topic="outage", area="城区")
    assert (again.status, again.order_no) == ("appended", repair.order_no)
    # Later messages of the conversation reach every open order of the customer.
    later = _conversation() + [Msg("user", "师傅到哪了", _at("2026-11-22 23:50:00"))]
    svc.sync_transcript(channel="rest", sender_id="c1", transcript=later)
    for no in (consult.order_no, repair.order_no):
        assert svc.get(no).transcript[-1].text == "师傅到哪了"
    # The queue: filter by kind and priority; urgent repairs stand first.
    assert [v.order_no for v in svc.list(kind="repair")] == [repair.order_no]
    assert [v.order_no for v in svc.list(priority="urgent")] == [repair.order_no]
    assert [v.order_no for v in svc.list(urgent_first=True)][0] == repair.order_no


def test_an_appended_urgent_report_raises_the_priority(make_service: Callable[..., OrderService]) -> None:
    svc = make_service()
    first = _open(svc, "c2", reason="fault_report", area="农村")
    assert svc.get(first.order_no).priority == "normal"
    _open(svc, "c2", reason="fault_report", priority="urgent", details={"hazard": True})
    view = svc.get(first.order_no)
    assert view.priority == "urgent" and view.details["hazard"] is True and view.details["area"] == "农村"


def test_a_repair_opened_before_its_address_is_retimed_from_the_report_when_the_address_arrives(
        make_service: Callable[..., OrderService]) -> None:
    clock = Clock(_at("2026-11-22 23:30:00"))
    svc = make_service(clock=clock)
    first = _open(svc, "c4", reason="fault_report", topic="outage", details={"hazard": True}, priority="urgent")
    assert first.due_at == _at("2026-11-23 01:00:00")  # no address yet: the default (农村) 90 minutes
    clock.advance(minutes=5)
    added = _open(svc, "c4", reason="fault_report", topic="outage", area="城区",
                  details={"address": "幸福路12号"}, note="客户补充地址：幸福路12号")
    # 城区: 45 minutes counted from the report, not from the message that brought the address
    assert (added.status, added.order_no, added.due_at) == ("appended", first.order_no, _at("2026-11-23 00:15:00"))
    view = svc.get(first.order_no)
    assert view.due_at == _at("2026-11-23 00:15:00") and view.details["area"] == "城区"
    assert any(e.note.startswith("客户补充地址：幸福路12号") and "城区" in e.note for e in view.events)
    # the same area again changes nothing
    clock.advance(minutes=5)
    _open(svc, "c4", reason="fault_report", topic="outage", area="城区", details={"address": "幸福路12号"})
    assert svc.get(first.order_no).due_at == _at("2026-11-23 00:15:00")


def test_complaints_get_a_contact_deadline_and_feedback_its_own_kind(
        make_service: Callable[..., OrderService]) -> None:
    clock = Clock(_at("2026-12-02 10:00:00"))  # a Wednesday
    svc = make_service(clock=clock)
    complaint = _open(svc, "c3", reason="complaint")
    assert complaint.kind == "complaint" and complaint.contact_due_at == _at("2026-12-03 10:00:00")
    assert complaint.due_at == _at("2026-12-11 10:00:00")
    praise = _open(svc, "c3", reason="praise")
    assert praise.kind == "feedback" and praise.order_no != complaint.order_no


def test_unknown_kinds_reasons_and_priorities_are_refused_by_the_service(
        make_service: Callable[..., OrderService]) -> None:
    svc = make_service()
    for bad in ({"kind": "gossip"}, {"reason": "bored"}, {"priority": "asap"}):
        with pytest.raises(ValueError):
            _open(svc, "c4", **bad)
    assert svc.list() == []


def test_migration_0002_keeps_existing_orders_with_their_events_and_transcripts(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def alembic(*args: str) -> None:
        out = subprocess.run([str(ROOT / ".venv/bin/alembic"), "-x", f"url={url}", *args], cwd=ROOT,
                             capture_output=True, text=True, timeout=60, env=env)
        assert out.returncode == 0, out.stderr

    alembic("upgrade", "0001")
    now = datetime.now(timezone.utc).replace(tzinfo=None).isoformat(sep=" ")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO work_orders (id, order_no, status, reason, candidates, channel, sender_id, created_at,"
            " updated_at, due_at, idempotency_key) VALUES (1, 'GD202611220001', '待处理', 'engine_fail', '[]',"
            " 'rest', 'old', :t, :t, :t, 'k1')"), {"t": now})
        conn.execute(text("INSERT INTO order_events (order_id, at, actor, to_status, note)"
                          " VALUES (1, :t, '系统', '待处理', '对话触发')"), {"t": now})
        conn.execute(text("INSERT INTO transcript_messages (order_id, seq, role, text, at, event_key)"
                          " VALUES (1, 1, 'user', '峰谷电价怎么算', :t, 'e1')"), {"t": now})
    engine.dispose()
    alembic("upgrade", "head")
    svc = OrderService.from_url(url, spool_dir=tmp_path / "spool")
    try:
        view = svc.get("GD202611220001")
        assert (view.kind, view.priority) == ("consult", "normal")
        assert len(view.events) == 1 and [m.text for m in view.transcript] == ["峰谷电价怎么算"]
        # New reasons are accepted now that the CHECK is gone.
        assert _open(svc, "old", reason="complaint").created
    finally:
        svc.store.dispose()
