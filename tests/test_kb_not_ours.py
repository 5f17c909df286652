"""What is not ours is declined without a work order, and reports read as reports (issue 12 §5, §6):
another office's matter that shares a word with ours (过户 of a house, 发票 of a shop, the voltage
of a gadget, a building permit), a "complaint" about nothing of ours, and reports that hedge or
tell their story in the first person. Our own wordings, never rows of ../shared/realq."""
from __future__ import annotations

import pytest

from conftest import run_async
from rasa_sdk.executor import CollectingDispatcher

import actions.service_forms as service_forms
from bot import replies
from bot.kb.engine import Engine
from bot.kb.loader import load_knowledge
from bot.kb.scope import about_our_service, out_of_scope
from bot.kb.urgency import incident
from test_actions_handoff import orders, tracker  # noqa: F401 (orders: fixture)


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(load_knowledge())


@pytest.mark.parametrize("text, kind", [
    ("我家房子卖给别人了 房产过户怎么办", "property transfer"),
    ("二手车过户流程", "property transfer"),
    ("做个体户的 怎么给客户开增值税发票", "tax invoices"),
    ("摄像头的电源适配器是几伏的", "device specs"),
    ("农村宅基地盖房要走什么审批手续", "building permits"),
])
def test_another_offices_matter_is_declined_with_where_to_go(engine: Engine, text: str, kind: str) -> None:
    assert out_of_scope(text) == kind
    ans = engine.ask(text)
    assert ans.kind == "out_of_domain" and ans.detail == kind
    note = replies.out_of_domain(ans)[0]["text"]
    assert note == replies.SCOPE_NOTES[kind]  # where to go, and how to ask us if it was ours after all


@pytest.mark.parametrize("text, entry_prefix", [
    ("电表过户要带什么", "business."),                 # the electricity account's 过户
    ("二手房的前房主欠了电费，过户以后谁交", "business."),
    ("公司电费的增值税发票怎么开", "tariff."),         # the electricity bill's invoice
    ("家里插座电压只有180伏正常吗", "outage."),        # the supply's voltage
])
def test_the_same_words_about_electricity_stay_ours(engine: Engine, text: str, entry_prefix: str) -> None:
    assert out_of_scope(text) is None
    ans = engine.ask(text)
    assert ans.kind != "out_of_domain", (text, ans.reason)


def test_a_fair_match_made_only_of_a_compound_that_means_something_else_is_declined(engine: Engine) -> None:
    # 电源键 shares characters with 双电源 entries; nothing in it is about electricity supply
    ans = engine.ask("手机电源键失灵了")
    assert ans.kind == "out_of_domain"


def test_a_complaint_or_suggestion_about_nothing_of_ours_opens_no_order(orders) -> None:
    assert not about_our_service("帮我订个明天早上七点的闹钟")
    assert about_our_service("你们营业厅的人态度太差了") and about_our_service("电费扣错了我要投诉")
    for i, (action, intent) in enumerate(((service_forms.ActionOpenComplaint(), "complain"),
                                          (service_forms.ActionRecordFeedback(), "suggest"))):
        sender = f"rest:chatter-{i}"
        dispatcher = CollectingDispatcher()
        run_async(action.run(dispatcher, tracker(sender, [("帮我订个明天早上七点的闹钟", intent)]), {}))
        assert [m.get("response") for m in dispatcher.messages] == [replies.OUT_OF_SCOPE_RESPONSE]
        assert orders.orders_for(channel="rest", sender_id=sender) == []
    # … and a real complaint still gets its order
    dispatcher = CollectingDispatcher()
    run_async(service_forms.ActionOpenComplaint().run(
        dispatcher, tracker("rest:complaint-1", [("你们供电所的人态度太差了，办个过户推三阻四", "complain")]), {}))
    assert len(orders.orders_for(channel="rest", sender_id="rest:complaint-1")) == 1
    # … and a detail added right after a complaint ("昨天下午三点") belongs to it, not to chatter
    dispatcher = CollectingDispatcher()
    run_async(service_forms.ActionOpenComplaint().run(
        dispatcher, tracker("rest:complaint-1", [("你们供电所的人态度太差了，办个过户推三阻四", "complain"),
                                                 ("昨天下午三点在城东那个点", "complain")],
                            slots={"last_outcome": "handed_off"}), {}))
    assert replies.OUT_OF_SCOPE_RESPONSE not in [m.get("response") for m in dispatcher.messages]
    assert len(orders.orders_for(channel="rest", sender_id="rest:complaint-1")) == 1  # appended, not a second


@pytest.mark.parametrize("text, kind", [
    ("不知道是不是变压器坏了，我们村停电已经十几个小时了", "fault"),   # a doubt is not a question to us
    ("本人住的村子这个月发生好几次晚上停电", "fault"),                  # the story in the first person
    ("供电所不作为，导致我们整栋楼的充电桩一直装不上", "complaint"),
])
def test_reports_that_hedge_or_tell_a_story_are_reports(text: str, kind: str) -> None:
    found = incident(text)
    assert found is not None and found.kind == kind


@pytest.mark.parametrize("text", ["不知道是不是电表坏了 电费怎么这么高 怎么办", "什么原因导致停电", "停电造成的损失谁赔"])
def test_questions_with_those_words_stay_questions(text: str) -> None:
    assert incident(text) is None


def test_a_follow_up_whose_choices_are_all_within_the_subject_is_answered(engine: Engine) -> None:
    ans = engine.ask("剩下的钱怎么退", context="business.close_account")
    assert ans.kind == "answer_with_related"
    assert ans.entry is not None and ans.entry.id in ("business.close_account", "business.close_account_refund")


def test_a_dominant_entry_below_the_answer_threshold_is_answered_with_related_questions(engine: Engine) -> None:
    # the first entry is likely, the others far less: no "您是想问" list (BROAD_DOMINANT)
    for text, entry_id in (("工厂要停产几个月 电能先停掉吗", "business.suspension"),
                           ("出门一周家里没人 电表还在走", "tariff.bill_idle_usage")):
        ans = engine.ask(text)
        assert ans.kind == "answer_with_related" and ans.entry.id == entry_id, (text, ans.reason)
        assert ans.confidence < engine.answer_threshold  # not confident on its own: the rule decided


def test_the_gate_does_not_overrule_a_question_that_names_electricity(engine: Engine) -> None:
    # "…罚款多少" looks like the traffic fines of negatives.yml to the gate's n-grams alone
    ans = engine.ask("偷电罚款多少")
    assert ans.kind in ("answer", "answer_with_related") and ans.entry.id == "safety.theft_penalty"


def test_how_far_a_prepaid_meter_may_go_below_zero_is_a_rule_not_the_customers_balance(engine: Engine) -> None:
    assert engine.ask("智能表可以欠费多少才停电").kind != "personal_data"
    assert engine.ask("帮我查下我家还欠多少电费").kind == "personal_data"


@pytest.mark.parametrize("text, asks", [
    ("内蒙古电费一度多少钱", True),
    ("咱们这儿电价几毛", True),
    ("一度电现在什么价", True),
    ("居民电费单价是多少", True),
    ("储能电池多少钱一度", False),      # a battery's price, not the grid's
    ("电磁炉开一小时用多少度电", False),  # an amount of energy, not a price
    ("水费多少钱一吨", False),
    ("这个月电费怎么这么多", False),      # a bill, not a price
])
def test_a_question_about_the_price_per_kwh_is_recognised(text: str, asks: bool) -> None:
    from bot.kb.scope import asks_electricity_price

    assert asks_electricity_price(text) is asks


@pytest.mark.parametrize("text", ["内蒙古电费一度多少钱", "请问一下你们这电价是多少", "一度电费大概几毛钱"])
def test_the_price_per_kwh_is_answered_not_taken_for_another_services_price(engine: Engine, text: str) -> None:
    # The answerability gate learned "…多少钱一度/一吨" mostly from other services (negatives.yml);
    # asked about grid electricity, the customer gets the price look-up, not a work order.
    ans = engine.ask(text)
    assert ans.outcome == "answer" and ans.entry.id in ("tariff.price_lookup", "tariff.overview_prices"), (ans.outcome, ans.reason)
