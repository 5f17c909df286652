"""``python -m bot orders …`` as staff use it: list, show, assign, resolve, callback, close, flush."""
from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.orders import Msg, OrderService
from bot.orders.cli import add_orders
from bot.clock import BEIJING


def bj(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING)


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    # The CLI builds its service from bot.settings: point var/ (the spool) at tmp_path.
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path / "var"))
    return f"sqlite:///{tmp_path / 'orders.db'}"


@pytest.fixture
def cli(db: str, capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    parser = argparse.ArgumentParser(prog="python -m bot")
    add_orders(parser.add_subparsers(dest="command"))

    def run(*argv: str) -> tuple[int, str, str]:
        args = parser.parse_args(["orders", "--db", db, *argv])
        code = args.func(args)
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def orders(db: str, tmp_path: Path) -> list[str]:
    """Two orders opened 6 hours ago (the 4-hour one is overdue, the 1-working-day one is not)."""
    created = datetime.now(timezone.utc) - timedelta(hours=6)
    svc = OrderService.from_url(db, spool_dir=tmp_path / "var" / "spool", clock=lambda: created)
    t0 = bj("2026-11-22 14:05:03")
    convo = [
        Msg("user", "峰谷电价怎么算", t0),
        Msg("bot", "居民峰谷电价按时段计价……", t0 + timedelta(seconds=1)),
        Msg("bot", "这个回答有帮助吗？", t0 + timedelta(seconds=1), buttons=("有帮助", "没帮助")),
        Msg("user", "/feedback_negative", t0 + timedelta(seconds=6), chosen_button="没帮助"),
    ]
    a = svc.open_or_append(channel="rest", sender_id="u1", reason="not_helpful", topic="tariff",
                           candidates=[{"entry_id": "tariff-003", "question": "峰谷电价怎么算？", "confidence": 0.41}],
                           transcript=convo, idempotency_key="cli-1")
    b = svc.open_or_append(channel="wechat", sender_id="o8x2", reason="engine_fail", topic="outage",
                           candidates=[], transcript=convo[:1], idempotency_key="cli-2")
    svc.store.dispose()
    return [a.order_no, b.order_no]


def test_list_prints_a_table_and_filters(cli, orders: list[str]) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli("list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["工单号", "状态", "原因", "主题", "渠道/客户", "创建", "答复时限", "处理人"]
    assert orders[0] in lines[1] and "客户反馈答复没帮助" in lines[1] and "电价电费" in lines[1]
    assert orders[1] in lines[2] and "超时" in lines[2] and "wechat/o8x2" in lines[2]
    assert lines[-1] == "共 2 张工单，其中超时 1 张"
    code, out, _ = cli("list", "--overdue")
    assert orders[1] in out and orders[0] not in out
    code, out, _ = cli("list", "--topic", "tariff", "--reason", "not_helpful", "--status", "待处理")
    assert orders[0] in out and orders[1] not in out
    code, out, _ = cli("list", "--status", "已关闭")
    assert out.splitlines()[1:] == ["共 0 张工单"]


def test_show_prints_fields_history_and_a_readable_transcript(cli, orders: list[str]) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli("show", orders[0].lower())
    assert code == 0
    for expected in (f"工单号    {orders[0]}", "状态      待处理", "原因      客户反馈答复没帮助（not_helpful）",
                     "主题      电价电费", "客户      u1", "0.41  tariff-003  峰谷电价怎么算？",
                     "系统  新建 → 待处理  对话触发：客户反馈答复没帮助（not_helpful）",
                     "对话记录（4 条）：",
                     "  [11-22 14:05:03] 客户：峰谷电价怎么算",
                     "  [11-22 14:05:04] 助手：这个回答有帮助吗？ [按钮: 有帮助 | 没帮助]",
                     "  [11-22 14:05:09] 客户点击：没帮助"):
        assert expected in out, expected


def test_staff_take_an_order_from_assignment_to_closing(cli, orders: list[str]) -> None:  # type: ignore[no-untyped-def]
    no = orders[0]
    assert cli("assign", no, "--to", "张三", "--by", "李班长")[:2] == (0, f"已指派：{no} → 张三（状态：处理中）\n")
    assert cli("resolve", no, "--note", "已电话告知峰谷时段", "--by", "张三")[:2] == (0, f"已办结：{no}（状态：已办结）\n")
    code, out, _ = cli("callback", no, "--satisfaction", "基本满意", "--note", "回访", "--by", "李班长")
    assert (code, out) == (0, f"已回访：{no}（满意度：基本满意，状态：已回访）\n")
    assert cli("close", no, "--by", "李班长")[:2] == (0, f"已关闭：{no}（状态：已关闭）\n")
    _, out, _ = cli("show", no)
    assert "李班长  处理中 → 已办结" not in out and "张三  处理中 → 已办结  已电话告知峰谷时段" in out
    assert "李班长  已回访 → 已关闭" in out and "满意度    基本满意" in out


def test_a_forbidden_step_or_a_bad_number_is_refused_in_chinese_with_exit_1(cli, orders: list[str]) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli("resolve", orders[0], "--note", "x", "--by", "张三")
    assert (code, out) == (1, "")
    assert err.strip() == f"错误：工单 {orders[0]} 当前状态为「待处理」，不能改为「已办结」；允许的下一步：「处理中」。"
    code, _, err = cli("close", orders[0], "--by", "张三")
    assert code == 1 and "不能改为「已关闭」" in err
    code, _, err = cli("show", "GD123")
    assert code == 1 and "工单号格式不正确" in err
    code, _, err = cli("show", "GD209901010001")
    assert code == 1 and "没有找到工单 GD209901010001" in err
    code, _, err = cli("assign", "GD209901010001", "--to", "张三", "--by", "李班长")
    assert code == 1 and "没有找到工单" in err


def test_flush_replays_what_was_spooled_while_the_database_was_down(
        cli, db: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    down = OrderService.from_url(f"sqlite:///{tmp_path / 'gone' / 'orders.db'}", spool_dir=tmp_path / "var" / "spool")
    assert down.open_or_append(channel="rest", sender_id="u9", reason="request_human", topic=None,
                               candidates=[], transcript=[], idempotency_key="spooled-1").status == "spooled"
    code, out, _ = cli("flush")
    assert (code, out) == (0, "已补录 1 条暂存的工单请求。\n")
    _, out, _ = cli("list")
    assert "rest/u9" in out
