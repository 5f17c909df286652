"""What the answer action does with each kind of decision (bot/next_step.py), in-process against a
real SQLite order database: emergencies get the safety steps at once, reports about a place get an
order (or the 故障报修 form when the domain has it), what is not ours gets no order, and a follow-up
is read with the entry answered before."""
from __future__ import annotations

from typing import Any, Dict, List

from conftest import run_async
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.events import FollowupAction

import actions.actions as actions
from test_actions_handoff import order_of, orders, run, tracker  # noqa: F401 (orders: fixture)


def run_events(action: Any, t, domain: Dict[str, Any]) -> tuple[List[Dict[str, Any]], list]:
    dispatcher = CollectingDispatcher()
    events = run_async(action.run(dispatcher, t, domain))
    return dispatcher.messages, events


def test_an_emergency_gets_the_safety_steps_at_once_never_a_list(orders) -> None:
    for text in ("插座冒烟了还有股焦糊味", "有人触电了 快", "家门口电线断了掉在地上"):
        messages = run(actions.ActionAnswerQuestion(), tracker(f"rest:em-{len(text)}", [(text, "ask_question")]))
        first = messages[0]
        assert first["text"].startswith("【") and "95598" in first["text"], text
        assert first["custom"]["kind"] == "emergency" and first["custom"]["outcome"] == "answer"
        assert not any(m.get("text") == actions.replies.CLARIFY_PROMPT for m in messages)


def test_a_report_about_a_place_opens_an_order_without_buttons(orders) -> None:
    text = "我们小区从昨天晚上停电到现在快二十个小时了，打电话一直没人来修！"
    messages = run(actions.ActionAnswerQuestion(), tracker("rest:inc-1", [(text, "ask_question")]))
    assert messages[0]["custom"]["kind"] == "incident_report"
    order = order_of(messages)
    assert order.get("order_no"), messages
    view = orders.get(order["order_no"])
    assert view is not None and view.reason in ("fault_report", "engine_fail")
    assert not any(m.get("buttons") and m.get("text") == actions.replies.CLARIFY_PROMPT for m in messages)


def test_a_report_goes_to_the_fault_form_when_the_domain_has_it(orders) -> None:
    text = "村口那根电线杆歪得厉害，随时会倒，已经好几天了没人管！"
    domain = {"actions": ["action_answer_question"], "forms": {"fault_report_form": {}}}
    messages, events = run_events(actions.ActionAnswerQuestion(), tracker("rest:inc-2", [(text, "ask_question")]), domain)
    assert FollowupAction("fault_report_form") in events
    assert order_of(messages) == {}  # the form takes the address and phone, then opens the order


def test_a_message_that_is_not_about_electricity_gets_no_order(orders) -> None:
    for i, text in enumerate(("帮我推荐几本好看的悬疑小说", "信用卡逾期了会怎么样", "周末带孩子去哪个公园玩")):
        messages = run(actions.ActionAnswerQuestion(), tracker(f"rest:ood-{i}", [(text, "ask_question")]))
        assert order_of(messages) == {}, text
        assert any(m.get("response") == "utter_out_of_scope" for m in messages), text
        assert orders.orders_for(channel="rest", sender_id=f"rest:ood-{i}") == []


def test_a_follow_up_is_answered_with_the_subject_of_the_previous_answer(orders) -> None:
    slots = {"last_entry_id": "business.transfer_residential", "last_outcome": "answer"}
    messages = run(actions.ActionAnswerQuestion(), tracker("rest:fu-1", [("去哪里办", "ask_question")], slots))
    payload = messages[0]["custom"]
    assert payload["outcome"] == "answer" and payload["entry_id"].startswith("business."), messages
    assert "营业厅" in messages[0]["text"] and order_of(messages) == {}


def test_a_broad_question_is_answered_with_related_questions_as_buttons(orders) -> None:
    messages = run(actions.ActionAnswerQuestion(), tracker("rest:broad-1", [("电费收费标准", "ask_question")]))
    assert messages[0]["custom"]["kind"] in ("answer", "answer_with_related")
    assert messages[0]["custom"]["entry_id"] == "tariff.overview_prices"
    related = next(m for m in messages if m.get("text") == actions.replies.RELATED_PROMPT)
    assert len(related["buttons"]) >= 2


def test_an_outage_date_question_goes_to_the_published_notices_not_the_account_reply(orders) -> None:
    text = "我们村明天停不停电"
    domain = {"actions": ["action_answer_question"], "forms": {"outage_notice_form": {}}}
    answer = actions.ENGINE.ask(text)
    assert answer.kind == "personal_data" and answer.detail == "outage_schedule"  # the engine's own reading
    messages, events = run_events(actions.ActionAnswerQuestion(), tracker("rest:notice-1", [(text, "ask_question")]),
                                  domain)
    assert FollowupAction("outage_notice_form") in events
    assert not any("查不到" in (m.get("text") or "") for m in messages)  # no "we cannot see accounts"
    assert order_of(messages) == {}
    # without the 停电公告 conversation in the domain, the honest account reply stays
    messages, events = run_events(actions.ActionAnswerQuestion(), tracker("rest:notice-2", [(text, "ask_question")]),
                                  {"actions": ["action_answer_question"]})
    assert FollowupAction("outage_notice_form") not in events and messages
