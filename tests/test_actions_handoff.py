"""The actions' hand-off rules, run in-process against a real SQLite order database.

The end-to-end tests (test_e2e_orders.py) drive every trigger through the real servers; the one
trigger they cannot provoke from outside — the answer engine itself raising — is tested here.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Dict, List

import pytest

from conftest import run_async
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

import actions.actions as actions
from bot import handoff
from bot.orders import OrderService


@pytest.fixture()
def orders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> OrderService:
    service = OrderService.from_url(f"sqlite:///{tmp_path / 'orders.db'}", spool_dir=tmp_path / "spool")
    monkeypatch.setattr(handoff, "_service", service)
    return service


def tracker(sender: str, turns: List[tuple], slots: Dict[str, Any] | None = None) -> Tracker:
    """A tracker after the given (user text, intent) turns."""
    events: List[Dict[str, Any]] = [{"event": "session_started", "timestamp": time.time()}]
    latest: Dict[str, Any] = {}
    for i, (text, intent) in enumerate(turns):
        latest = {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": []}
        events.append({"event": "user", "timestamp": time.time() + i, "text": text, "parse_data": latest,
                       "input_channel": "rest", "message_id": f"m{i}"})
    return Tracker(sender, slots or {}, latest, events, False, None, {}, "action_listen")


def run(action: Any, t: Tracker) -> List[Dict[str, Any]]:
    dispatcher = CollectingDispatcher()
    run_async(action.run(dispatcher, t, {}))
    return dispatcher.messages


def order_of(messages: List[Dict[str, Any]]) -> Dict[str, Any]:
    return next((m["custom"] for m in messages if (m.get("custom") or {}).get("type") == "work_order"), {})


class BrokenEngine:
    def ask(self, text: str) -> Any:
        raise RuntimeError("index corrupted")

    def get(self, entry_id: str) -> None:
        return None


def test_an_engine_error_while_answering_opens_an_error_order(orders: OrderService,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(actions, "ENGINE", BrokenEngine())
    messages = run(actions.ActionAnswerQuestion(), tracker("rest:err-1", [("电费怎么交", "ask_question")]))
    ticket = order_of(messages)
    assert ticket["status"] == "stored"
    view = orders.get(ticket["order_no"])
    assert view.reason == "error"
    assert [m.text for m in view.transcript] == ["电费怎么交"]


def test_a_second_unreadable_message_opens_an_order_but_not_the_first(orders: OrderService) -> None:
    first = tracker("rest:fb-1", [("qwzx plmn", "nlu_fallback")])
    messages = run(actions.ActionAnswerQuestion(), first)
    assert order_of(messages) == {} and orders.orders_for(channel="rest", sender_id="rest:fb-1") == []
    events = first.events + [{"event": "slot", "name": "last_outcome", "value": "not_understood"}]
    second = Tracker("rest:fb-1", {}, {"text": "zzkv", "intent": {"name": "nlu_fallback"}},
                     events + [{"event": "user", "timestamp": time.time() + 5, "text": "zzkv",
                                "parse_data": {"intent": {"name": "nlu_fallback"}}, "message_id": "m9"}],
                     False, None, {}, "action_listen")
    assert orders.get(order_of(run(actions.ActionAnswerQuestion(), second))["order_no"]).reason == "nlu_fallback"


def test_fallbacks_separated_by_another_turn_do_not_count_as_running() -> None:
    events = [
        {"event": "user", "text": "qwzx", "parse_data": {"intent": {"name": "nlu_fallback"}}},
        {"event": "slot", "name": "last_outcome", "value": "not_understood"},
        {"event": "user", "text": "你好", "parse_data": {"intent": {"name": "greet"}}},
        {"event": "user", "text": "zzkv", "parse_data": {"intent": {"name": "nlu_fallback"}}},
    ]
    assert not handoff.unresolved_fallback_before(events)
    assert handoff.unresolved_fallback_before(events[:2] + events[3:])


def test_disowning_with_no_answer_before_opens_nothing(orders: OrderService) -> None:
    messages = run(actions.ActionFeedbackNegative(), tracker("rest:neg-1", [("不对", "feedback_negative")]))
    assert order_of(messages) == {}
    assert orders.orders_for(channel="rest", sender_id="rest:neg-1") == []


def test_a_question_about_another_utility_gets_no_order(orders: OrderService) -> None:
    messages = run(actions.ActionAnswerQuestion(), tracker("rest:gas-1", [("燃气费怎么交", "ask_question")]))
    assert order_of(messages) == {}
    assert any(m.get("response") == "utter_out_of_scope" for m in messages)
    assert orders.orders_for(channel="rest", sender_id="rest:gas-1") == []


def test_a_question_about_the_customers_own_account_says_so_without_an_order(orders: OrderService) -> None:
    messages = run(actions.ActionAnswerQuestion(), tracker("rest:own-1", [("我家户号是多少", "ask_question")]))
    assert order_of(messages) == {} and orders.orders_for(channel="rest", sender_id="rest:own-1") == []
    reply = messages[0]
    assert "查不到" in reply["text"] and "95598" in reply["text"]
    payloads = [b["payload"] for b in reply["buttons"]]
    assert payloads[-1] == "/request_human"  # a person is one tap away
    assert reply["custom"]["outcome"] == "fail" and reply["custom"]["candidates"][0]["entry_id"] == "business.account_number_where"


def test_an_appliance_repair_question_gets_a_pointer_and_the_scope_reply_without_an_order(orders: OrderService) -> None:
    messages = run(actions.ActionAnswerQuestion(), tracker("rest:scope-1", [("冰箱不制冷了 找谁修", "ask_question")]))
    assert order_of(messages) == {} and orders.orders_for(channel="rest", sender_id="rest:scope-1") == []
    assert "售后" in messages[0]["text"]
    assert messages[1]["response"] == "utter_out_of_scope"
    assert messages[1]["custom"]["outcome"] == "fail"


def test_a_question_in_english_is_told_in_english_that_the_assistant_answers_in_chinese(orders: OrderService) -> None:
    messages = run(actions.ActionAnswerQuestion(), tracker("rest:en-1", [("How do I pay my electricity bill online?", "nlu_fallback")]))
    assert "only answer questions written in Chinese" in messages[0]["text"] and "转人工" in messages[0]["text"]
    assert order_of(messages) == {}  # the first miss still asks again before involving a person
    assert messages[1]["text"] == actions.replies.NOT_UNDERSTOOD_TEXT
    chinese = run(actions.ActionAnswerQuestion(), tracker("rest:zh-1", [("qwzx 我家猫会后空翻吗", "nlu_fallback")]))
    assert not any("written in Chinese" in (m.get("text") or "") for m in chinese)


def test_my_orders_lists_the_five_newest_under_a_count_of_all(orders: OrderService) -> None:
    # One customer, six orders: each one closed before the next is opened (one open at a time).
    for i in range(6):
        opened = orders.open_or_append(channel="rest", sender_id="rest:me", reason="request_human",
                                       topic=None, candidates=[], transcript=[], idempotency_key=f"me{i}")
        if i < 5:
            orders.assign(opened.order_no, "张三", "张三")
            orders.resolve(opened.order_no, "张三", "已电话答复")
            orders.close(opened.order_no, "张三")
    text = handoff.query_orders(channel="rest", sender_id="rest:me", text="我的工单", entity=None)[0]["text"]
    head, *body = text.split("\n")
    assert head == "您共有 6 张工单，以下是最近 5 张："
    assert sum(line.startswith("工单号：") for line in body) == 5
    assert body[2].startswith("预计答复时间：") and "受理时间：" in text  # the open one first, then closed ones
    assert "最新进展：已电话答复" in text
