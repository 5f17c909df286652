"""OrderService.add_note (added for the console): a note is recorded with its author, the status
stays, the customer sees it as 最新进展, and a closed order takes no more notes."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from bot.orders.service import OrderError, OrderService, TransitionError
from bot.orders.transcript import Msg


@pytest.fixture()
def service(tmp_path: Path) -> OrderService:
    svc = OrderService.from_url(f"sqlite:///{tmp_path / 'orders.db'}", spool_dir=tmp_path / "spool")
    yield svc
    svc.store.dispose()


def _open(svc: OrderService) -> str:
    now = datetime.now(timezone.utc)
    return svc.open_or_append(channel="webchat", sender_id="web-n", reason="request_human", topic=None,
                              candidates=[], transcript=[Msg("user", "转人工", now)],
                              idempotency_key="note-test").order_no


def test_a_note_is_recorded_with_its_author_and_keeps_the_status(service: OrderService) -> None:
    no = _open(service)
    view = service.add_note(no, "张三", "  已致电客户，等待现场核实。 ")
    assert view.status == "待处理"
    last = view.events[-1]
    assert (last.actor, last.from_status, last.to_status, last.note) == ("张三", "待处理", "待处理", "已致电客户，等待现场核实。")
    assert view.latest_note == "已致电客户，等待现场核实。"


def test_an_empty_note_or_a_closed_order_is_refused(service: OrderService) -> None:
    no = _open(service)
    with pytest.raises(OrderError, match="备注"):
        service.add_note(no, "张三", "   ")
    service.assign(no, "张三", "张三")
    service.resolve(no, "张三", "已答复")
    service.close(no, "张三")
    with pytest.raises(TransitionError, match="已关闭"):
        service.add_note(no, "张三", "再补一句")
