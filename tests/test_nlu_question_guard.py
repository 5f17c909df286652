"""A longer question about electricity that DIET reads as small talk goes to ask_question
(bot/nlu/question_guard.py); real feedback and thanks keep their intent."""
from __future__ import annotations

import pytest
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.question_guard import QuestionIntentGuard


def classify(text: str, intent: str) -> str:
    message = Message(data={TEXT: text})
    message.set(INTENT, {"name": intent, "confidence": 0.6})
    message.set("intent_ranking", [{"name": intent, "confidence": 0.6}, {"name": "ask_question", "confidence": 0.2}])
    QuestionIntentGuard().process([message])
    assert message.get("intent_ranking")[0]["name"] == message.get(INTENT)["name"]
    return message.get(INTENT)["name"]


@pytest.mark.parametrize("text, intent", [
    ("楼下配电箱的噪声问题怎么解决？", "feedback_positive"),
    ("没帮助，我问的是电费怎么交", "feedback_negative"),
    ("谢谢，那峰谷电要去哪里申请呢", "thank"),
])
def test_a_question_read_as_small_talk_goes_to_the_knowledge_base(text: str, intent: str) -> None:
    assert classify(text, intent) == "ask_question"


@pytest.mark.parametrize("text, intent", [
    ("有帮助，谢谢", "feedback_positive"),
    ("没用", "feedback_negative"),
    ("谢谢你们的师傅来得很快", "praise"),          # no question in it
    ("今天天气怎么样啊朋友们", "greet"),            # a question, but not about electricity
    ("电费怎么交？", "complain"),                    # not a small-talk intent: left to the NLU
])
def test_feedback_thanks_and_other_intents_keep_their_intent(text: str, intent: str) -> None:
    assert classify(text, intent) == intent


@pytest.mark.parametrize("text", ["停电通知一般要提前几天发", "计划停电是哪个部门负责通知的"])
def test_a_question_about_the_notice_rules_goes_to_the_knowledge_base(text: str) -> None:
    assert classify(text, "ask_outage_notice") == "ask_question"


@pytest.mark.parametrize("text", ["我们村明天停电吗", "下周三城东要停电多久"])
def test_a_schedule_question_stays_with_the_published_notices(text: str) -> None:
    assert classify(text, "ask_outage_notice") == "ask_outage_notice"


@pytest.mark.parametrize("text", ["为什么插座会冒火花", "小区停电了物业有没有责任", "停电了该找谁"])
def test_a_why_or_whose_duty_question_or_one_without_outages_is_not_a_schedule_lookup(text: str) -> None:
    assert classify(text, "ask_outage_notice") == "ask_question"


@pytest.mark.parametrize("text", ["各省居民电价2022", "2019年电费标准"])
def test_a_year_is_not_a_phone_number(text: str) -> None:
    assert classify(text, "provide_phone") == "ask_question"


@pytest.mark.parametrize("text", ["13812345678", "我的电话 010-6512 3456", "号码是0571 8888 1234 电费的事"])
def test_a_real_phone_number_stays_a_phone_number(text: str) -> None:
    assert classify(text, "provide_phone") == "provide_phone"


def test_out_of_scope_for_an_electricity_question_goes_to_the_knowledge_base() -> None:
    assert classify("光伏发电多久结算一次", "out_of_scope") == "ask_question"
    assert classify("帮我订一张去上海的机票", "out_of_scope") == "out_of_scope"
    assert classify("手机充电器坏了去哪修", "out_of_scope") == "out_of_scope"


@pytest.mark.parametrize("text", ["停电了能不能直接打物业", "小区停电了物业那边为什么还有电", "楼道灯不亮归谁管"])
def test_whom_to_call_or_whose_duty_is_a_question_not_a_report(text: str) -> None:
    assert classify(text, "report_fault") == "ask_question"


@pytest.mark.parametrize("text", ["我家停电了", "我们楼整栋没电了快来修", "电线杆被车撞歪了", "我家停电了该找谁"])
def test_a_report_stays_a_report(text: str) -> None:
    assert classify(text, "report_fault") == "report_fault"
