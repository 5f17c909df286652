"""分类统计 and the grouping of unanswered questions, on a small history whose figures are known.

The history is written with Rasa's own SQLTrackerStore (the store the assistant uses) and the
orders with OrderService, so the report reads what production writes.
"""
from __future__ import annotations

import csv
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import run_async
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.clock import BEIJING
from bot.orders import Msg, OrderService
from bot.review import report as report_mod
from bot.review.cli import day_arg
from bot.review.conversations import (
    ANSWERED, CLARIFIED, DECLINED, FAILED, HANDED_OFF, NOT_HELPFUL, read_turns,
)
from bot.review.misses import NEW_WORDING, OUT_OF_SCOPE, Miss, group_misses, misses_from_turns


def bj(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=BEIJING)


def kb(kind: str, entry: str | None, topic: str | None, confidence: float = 0.9) -> dict[str, Any]:
    return {"type": "kb_answer", "kind": kind, "entry_id": entry, "topic": topic, "topic_guess": topic,
            "confidence": confidence, "candidates": []}


def user(text: str, at: datetime, intent: str = "ask_question", channel: str = "rest") -> UserUttered:
    return UserUttered(text, intent={"name": intent, "confidence": 0.97}, timestamp=at.timestamp(),
                       input_channel=channel)


def bot(text: str, at: datetime, custom: dict | None = None, buttons: list | None = None) -> BotUttered:
    data: dict[str, Any] = {}
    if custom is not None:
        data["custom"] = custom
    if buttons:
        data["buttons"] = buttons
    return BotUttered(text, data=data, timestamp=at.timestamp() + 0.5)


# Five conversations over two Beijing days. 2026-12-02 00:30 Beijing is still 12-01 in UTC.
D1, D2 = "2026-12-01", "2026-12-02"
HISTORY = {
    "rest:a": [  # answered, then 没帮助
        user("阶梯电价怎么算", bj(f"{D1} 10:00")),
        bot("阶梯电价按年用电量分三档……", bj(f"{D1} 10:00"), kb("answer", "tariff.tiers", "tariff")),
        bot("这个回答对您有帮助吗？", bj(f"{D1} 10:00"), buttons=[{"title": "没帮助", "payload": "/feedback_negative"}]),
        user("/feedback_negative", bj(f"{D1} 10:01"), intent="feedback_negative"),
        bot("抱歉没帮上……已为您登记工单 GD202612010001", bj(f"{D1} 10:01")),
    ],
    "rest:b": [  # answered, then 有帮助
        user("阶梯电价是什么", bj(f"{D1} 11:00")),
        bot("阶梯电价按年用电量分三档……", bj(f"{D1} 11:00"), kb("answer_with_related", "tariff.tiers", "tariff")),
        user("/feedback_positive", bj(f"{D1} 11:01"), intent="feedback_positive"),
    ],
    "wx:c": [  # a choice not clicked; then a failure that opened an order
        user("电费", bj(f"{D2} 00:30"), channel="wechat"),
        bot("您是想问：", bj(f"{D2} 00:30"), kb("clarify", None, "tariff", 0.4),
            buttons=[{"title": "怎么交电费？", "payload": "怎么交电费？"}]),
        user("我家电表箱的锁坏了谁来修", bj(f"{D2} 00:31"), channel="wechat"),
        bot("抱歉，这个问题我暂时答不上来。", bj(f"{D2} 00:31"), kb("no_match", None, "safety", 0.1)),
        bot("已为您登记工单 GD202612020001，答复时限……", bj(f"{D2} 00:31")),
    ],
    "rest:d": [  # a choice, clicked: the click is answered and is not a miss
        user("交费", bj(f"{D2} 09:00")),
        bot("您是想问：", bj(f"{D2} 09:00"), kb("clarify", None, "tariff", 0.4),
            buttons=[{"title": "怎么交电费？", "payload": "怎么交电费？"}]),
        user("怎么交电费？", bj(f"{D2} 09:01")),
        bot("可以通过网上国网……", bj(f"{D2} 09:01"), kb("answer", "tariff.pay_channels", "tariff")),
    ],
    "rest:e": [  # not about electricity: declined; outside the range the day after
        user("蓝上衣配什么裤子", bj(f"{D2} 12:00")),
        bot("抱歉，这不在我的服务范围……", bj(f"{D2} 12:00"), kb("out_of_domain", None, None, 0.0)),
        user("阶梯电价怎么算", bj("2026-12-03 08:00")),
        bot("阶梯电价……", bj("2026-12-03 08:00"), kb("answer", "tariff.tiers", "tariff")),
    ],
}


@pytest.fixture
def tracker_url(tmp_path: Path) -> str:
    path = tmp_path / "tracker.db"
    store = SQLTrackerStore(dialect="sqlite", db=str(path))

    async def save_all() -> None:
        for sender, events in HISTORY.items():
            await store.save(DialogueStateTracker.from_events(sender, events))

    run_async(save_all())
    store.engine.dispose()
    return f"sqlite:///{path}"


def test_turns_and_their_outcomes_are_read_back_from_the_tracker_store(tracker_url: str) -> None:
    turns = read_turns(tracker_url, date(2026, 12, 1), date(2026, 12, 2))
    got = {(t.sender_id, t.text): t.outcome for t in turns}
    assert got == {
        ("rest:a", "阶梯电价怎么算"): ANSWERED, ("rest:a", "/feedback_negative"): NOT_HELPFUL,
        ("rest:b", "阶梯电价是什么"): ANSWERED, ("rest:b", "/feedback_positive"): "helpful",
        ("wx:c", "电费"): CLARIFIED, ("wx:c", "我家电表箱的锁坏了谁来修"): HANDED_OFF,
        ("rest:d", "交费"): CLARIFIED, ("rest:d", "怎么交电费？"): ANSWERED,
        ("rest:e", "蓝上衣配什么裤子"): DECLINED,
    }  # 2026-12-03 is outside the range
    clicked = {t.text for t in turns if t.clicked}
    assert clicked == {"怎么交电费？", "/feedback_negative"}  # buttons the bot had offered
    assert {t.channel for t in turns if t.sender_id == "wx:c"} == {"wechat"}
    # the Beijing day bounds the range: 12-02 00:30 Beijing (12-01 UTC) is in a 12-02-only read
    only_d2 = read_turns(tracker_url, date(2026, 12, 2), date(2026, 12, 2))
    assert {t.sender_id for t in only_d2} == {"wx:c", "rest:d", "rest:e"}


def test_misses_are_failures_unclicked_choices_and_unhelpful_answers(tracker_url: str) -> None:
    turns = read_turns(tracker_url, date(2026, 12, 1), date(2026, 12, 2))
    misses = {(m.text, m.why, m.entry_id) for m in misses_from_turns(turns)}
    # the failed question opened an order: it is a handoff, not counted as a plain failure
    assert misses == {("阶梯电价怎么算", NOT_HELPFUL, "tariff.tiers"), ("电费", CLARIFIED, None)}


@pytest.fixture
def orders(tmp_path: Path) -> tuple[str, list[str]]:
    url = f"sqlite:///{tmp_path / 'orders.db'}"
    clock_at = [bj(f"{D1} 10:01")]
    svc = OrderService.from_url(url, spool_dir=tmp_path / "spool", clock=lambda: clock_at[0])
    a = svc.open_or_append(channel="rest", sender_id="rest:a", reason="not_helpful", topic="tariff", candidates=[],
                           transcript=[Msg("user", "阶梯电价怎么算", bj(f"{D1} 10:00"))], idempotency_key="a")
    clock_at[0] = bj(f"{D2} 00:31")
    c = svc.open_or_append(channel="wechat", sender_id="wx:c", reason="engine_fail", topic="safety", candidates=[],
                           transcript=[Msg("user", "我家电表箱的锁坏了谁来修", bj(f"{D2} 00:31"))], idempotency_key="c")
    clock_at[0] = bj(f"{D1} 12:01")  # a's first action 2 h after it was opened
    svc.assign(a.order_no, "柜台小王", "柜台小王", "")
    clock_at[0] = bj(f"{D1} 14:01")
    svc.resolve(a.order_no, "柜台小王", "已电话解释阶梯电价")
    svc.callback(a.order_no, "柜台小王", "满意", "客户满意")
    svc.close(a.order_no, "柜台小王", "")
    svc.store.dispose()
    return url, [a.order_no, c.order_no]


def test_report_figures_match_the_known_history(tracker_url: str, orders: tuple[str, list[str]], kb_engine,
                                                tmp_path: Path) -> None:
    url, (a, c) = orders
    first, last = date(2026, 12, 1), date(2026, 12, 2)
    turns = read_turns(tracker_url, first, last)
    svc = OrderService.from_url(url, spool_dir=tmp_path / "spool")
    found = svc.list(since=first, until=last)
    groups = group_misses(kb_engine, misses_from_turns(turns))
    r = report_mod.build(turns, found, first, last, groups)
    svc.store.dispose()
    assert r.contacts == {(D1, "rest"): 2, (D2, "wechat"): 1, (D2, "rest"): 2}
    assert r.messages == {(D1, "rest"): 4, (D2, "wechat"): 2, (D2, "rest"): 3}
    assert r.outcomes == {("tariff", ANSWERED): 3, ("tariff", CLARIFIED): 2, ("safety", HANDED_OFF): 1,
                          ("none", DECLINED): 1}
    assert r.top_entries == [("tariff.tiers", 2), ("tariff.pay_channels", 1)]
    assert r.feedback == {"tariff.tiers": (1, 1)}
    assert r.worst_entries == [("tariff.tiers", 1, 1)]
    assert r.orders_total == 2 and {o.order_no for o in found} == {a, c}
    assert r.orders_by["topic"] == {"tariff": 1, "safety": 1}
    assert r.orders_by["reason"] == {"not_helpful": 1, "engine_fail": 1}
    assert sum(r.orders_by["status"].values()) == 2 and r.orders_by["status"]["已关闭"] == 1
    assert r.median_first_action_h == pytest.approx(2.0)
    assert r.median_close_h == pytest.approx(4.0)  # opened 10:01, closed 14:01
    assert r.satisfaction == {"满意": 1}
    assert sum(g.size for g in r.groups) == 2

    page = report_mod.write(r, tmp_path / "report")
    html = page.read_text(encoding="utf-8")
    assert "分类统计 2026-12-01 至 2026-12-02" in html and "tariff.tiers" in html
    for png in ("outcomes.png", "contacts.png", "misses.png"):
        assert (tmp_path / "report" / png).read_bytes()[:4] == b"\x89PNG"
    with (tmp_path / "report" / "report.csv").open(encoding="utf-8-sig") as f:
        rows = {(x["table"], x["key"], x["sub_key"]): float(x["value"]) for x in csv.DictReader(f)}
    assert rows[("contacts", D2, "rest")] == 2
    assert rows[("outcomes", "tariff", ANSWERED)] == 3
    assert rows[("orders", "overdue", "")] == r.overdue


GROUPS = {  # made-up misses (not from any evaluation set), four known groups
    "invoice": ["电费发票怎么开", "交了电费怎么开增值税发票", "电费的发票在哪里打印", "开电费发票要什么资料"],
    "charger": ["小区里想装个充电桩要找谁", "私人充电桩安装需要什么手续", "自己家车位装充电桩怎么申请", "充电桩报装流程是什么"],
    "meter_lock": ["我家电表箱的锁坏了谁来修", "电表箱门锁坏了找谁修", "表箱锁坏了怎么办"],
    "weather": ["今天天气怎么样", "今天气温多少度"],
}


def test_grouping_recovers_known_groups_and_suggests_actions(kb_engine) -> None:
    misses = [Miss(t, FAILED, f"s{i}-{j}") for i, g in enumerate(GROUPS.values()) for j, t in enumerate(g)]
    groups = group_misses(kb_engine, misses)
    got = sorted(sorted(m.text for m in g.members) for g in groups)
    assert got == sorted(sorted(g) for g in GROUPS.values())
    by_text = {g.members[0].text: g for g in groups}
    invoice = next(g for g in groups if "电费发票怎么开" in {m.text for m in g.members})
    assert invoice.action == NEW_WORDING and invoice.action_entry and "invoice" in invoice.action_entry
    weather = next(g for g in groups if "今天天气怎么样" in {m.text for m in g.members})
    assert weather.action == OUT_OF_SCOPE
    assert groups[0].size == 4 and by_text


def test_day_arguments() -> None:
    assert day_arg("2026-12-01") == date(2026, 12, 1)
    assert (day_arg("today") - day_arg("7d")) == timedelta(days=6)
    with pytest.raises(Exception):
        day_arg("last week")


def test_report_and_misses_commands(tracker_url: str, orders: tuple[str, list[str]], tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli import main

    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path / "var"))
    url, _nos = orders
    span = ["--since", D1, "--until", D2, "--tracker", tracker_url]
    assert main(["report", *span, "--orders", url, "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "会话 5，问题 7，工单 2" in out
    assert (tmp_path / "out" / "report.html").exists() and (tmp_path / "out" / "report.csv").exists()
    assert main(["misses", *span, "--chart", str(tmp_path / "misses.png")]) == 0
    out = capsys.readouterr().out
    assert "未答上的问题 2 条" in out and "阶梯电价怎么算" in out
    assert (tmp_path / "misses.png").read_bytes()[:4] == b"\x89PNG"


def test_conversations_page_in_sql_newest_first_with_a_channel_prefix(tracker_url: str) -> None:
    import sqlalchemy as sa

    from bot.review.conversations import ensure_review_index, page_conversations

    engine = sa.create_engine(tracker_url)
    ensure_review_index(engine)
    ensure_review_index(engine)  # idempotent
    assert "ix_events_type_name_timestamp" in {i["name"] for i in sa.inspect(engine).get_indexes("events")}
    total, rows = page_conversations(engine, date(2026, 12, 1), date(2026, 12, 2), limit=2)
    assert total == 5 and [r.sender_id for r in rows] == ["rest:e", "rest:d"]
    total, rows = page_conversations(engine, date(2026, 12, 1), date(2026, 12, 2), offset=2, limit=2)
    assert [r.sender_id for r in rows] == ["wx:c", "rest:b"]
    assert rows[0].outcomes == (CLARIFIED, HANDED_OFF) and rows[0].channel == "wechat"
    total, rows = page_conversations(engine, date(2026, 12, 1), date(2026, 12, 2), sender_prefix="wx:")
    assert total == 1 and [r.sender_id for r in rows] == ["wx:c"]
    # the 12-03 turn of rest:e is outside the range and not counted in its turns
    total, rows = page_conversations(engine, date(2026, 12, 2), date(2026, 12, 2))
    assert {r.sender_id: r.turns for r in rows} == {"rest:e": 1, "rest:d": 2, "wx:c": 2}
    engine.dispose()


def test_the_review_index_lists_and_filters_conversations_and_syncs_incrementally(tracker_url: str) -> None:
    import sqlalchemy as sa

    from bot.review import index

    engine = sa.create_engine(tracker_url)
    assert index.sync(engine) == 5
    assert index.sync(engine) == 0  # nothing new
    d1, d2 = date(2026, 12, 1), date(2026, 12, 2)
    p = index.page(engine, d1, d2, limit=2)
    assert p.total == 5 and [r.sender_id for r in p.rows] == ["rest:e", "rest:d"]
    assert [r.sender_id for r in index.page(engine, d1, d2, offset=2, limit=2).rows] == ["wx:c", "rest:b"]
    assert [r.sender_id for r in index.page(engine, d1, d2, channel="wechat").rows] == ["wx:c"]
    assert {r.sender_id for r in index.page(engine, d1, d2, outcome=NOT_HELPFUL).rows} == {"rest:a"}
    assert {r.sender_id for r in index.page(engine, d1, d2, outcome=DECLINED).rows} == {"rest:e"}
    assert {r.sender_id for r in index.page(engine, d1, d2, entry="tariff.tiers").rows} == {"rest:a", "rest:b", "rest:e"}
    assert index.page(engine, d1, d2, entry="tariff.t%").total == 0  # LIKE wildcards are literal
    # a new turn for one conversation: only that one is recomputed
    store = SQLTrackerStore(dialect="sqlite", db=tracker_url[len("sqlite:///"):])

    async def more() -> None:
        tracker = await store.retrieve("rest:b")
        tracker.update(user("没帮助", bj(f"{D1} 11:05"), intent="feedback_negative"))
        await store.save(tracker)

    run_async(more())
    store.engine.dispose()
    assert index.sync(engine) == 1
    assert {r.sender_id for r in index.page(engine, d1, d2, outcome=NOT_HELPFUL).rows} == {"rest:a", "rest:b"}
    assert next(r for r in index.page(engine, d1, d2).rows if r.sender_id == "rest:b").turns == 3
    engine.dispose()
