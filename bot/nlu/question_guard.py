"""A question is a question, whatever small-talk intent DIET gives it; a rule is not a schedule.

DIET's reading of a message moves a little with every training run; these checks look at the words
themselves, so that an electricity question reaches the knowledge base whatever the run:
- a question of some length labelled as small talk (below);
- a question about the outage-notice rules, or one with nothing of outages in it, labelled as a
  schedule lookup (the form would ask "哪个村/小区？" of "为什么插插头会冒火花");
- a "phone number" with no phone number in it ("全国各省电价2021": a year is not a number to call);
- a "fault report" that asks whom to call or whose duty it is;
- "out of scope" for a message that names electricity service ("分布式光伏结算周期"): the answer
  engine has the finer rules for what is not ours (bot/kb/scope.py) and declines there.

DIET learned 有帮助 / 谢谢 / 好的 from short messages; a longer question that shares a word with
them ("…噪音问题如何解决?" has 解决, like 解决了谢谢) was read as feedback and thanked instead of
answered. A message of some length that asks something about electricity service goes to
ask_question (the knowledge base); the feedback the customer gave in the same breath
("没帮助，我问的是怎么交电费") is kept in the ranking for the record.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.kb.scope import about_electricity

QUESTION_INTENT = "ask_question"
# intents whose messages are short by nature: a long question under one of them is a misreading
SMALL_TALK = frozenset({"feedback_positive", "feedback_negative", "thank", "praise", "greet", "goodbye",
                        "affirm", "deny"})
MIN_CHARS = 8  # 有帮助，谢谢你们 is feedback; a question is longer than a thank-you
_ASKS = re.compile(r"[?？]|如何|怎么|怎样|咋|吗|多少|哪里|哪儿|哪个|什么|为什么|为啥|能不能|可不可以|是否|要不要|几天|多久")


# "停电通知一般提前几天", "停电由哪个部门通知": the rule, not one place's schedule (outage_notice_form
# would ask "哪个村/小区？"); a date or time keeps the published-notice lookup ("明天停电吗")
NOTICE_INTENT = "ask_outage_notice"
_RULE = re.compile(r"提前|规定|一般|多久|几天|多长时间|哪个机构|哪个部门|什么部门|什么机构|谁(?:来|负责)?通知|怎么通知|通知方式|标准|应该|必须|要不要"
                   r"|责任|负责|归谁|找谁|为什么|为何|为啥|原因")
# what a schedule lookup is about: without any of these it is not one
_OUTAGE = re.compile(r"停电|断电|停送电|来电|送电|复电|供电|检修|施工|计划|通知|公告|限电|拉闸|没电|有电")
PHONE_INTENT = "provide_phone"
_PHONE_DIGITS = re.compile(r"\d{7,}")  # a phone number, with or without an area code; a year is 4 digits
OUT_OF_SCOPE_INTENT = "out_of_scope"
# "停电了可以打物业吗", "小区停电物业为什么还有电": whom to call and whose duty it is are questions; the
# answer engine still recognises a real report among them (bot/kb/urgency.py) and starts the form
REPORT_INTENT = "report_fault"
# … unless it is about the customer's own home or building: "我家停电了该找谁" is a report (the form)
_MINE = re.compile(r"我家|我们家|家里|俺家|咱家|我这|我们这|我们(?:楼|小区|村|单元|那)|本人")
_WHOSE = re.compile(r"找谁|打谁|该找|找物业|打物业|物业.{0,8}(?:责任|负责|为何|为什么|为啥|管不管|吗)|归谁|谁负责|谁管|责任")
_WHEN = re.compile(r"今天|今晚|明天|明早|明晚|后天|下周|这周|本周|周[一二三四五六日天]|星期|礼拜|几号|\d{1,2}[号日]|几点|什么时候|啥时候|何时|现在|最近")


def asks_the_rule(text: str) -> bool:
    """True for a question about the outage-notice rules rather than a place's schedule."""
    compact = re.sub(r"\s+", "", text or "")
    return bool(_RULE.search(compact)) and not _WHEN.search(compact)


def not_a_schedule(text: str) -> bool:
    """True for a message labelled as a schedule lookup that is a rule question or names no outage."""
    compact = re.sub(r"\s+", "", text or "")
    return asks_the_rule(compact) or not _OUTAGE.search(compact)


def no_phone_number(text: str) -> bool:
    """True for an electricity message with no digits that could be a phone number in it."""
    compact = re.sub(r"[\s\-－—()（）+]", "", text or "")
    return not _PHONE_DIGITS.search(compact) and about_electricity(compact)


def is_question(text: str) -> bool:
    """True for a message of some length that asks something about electricity service."""
    compact = re.sub(r"\s+", "", text or "")
    return len(compact) >= MIN_CHARS and bool(_ASKS.search(compact)) and about_electricity(compact)


def misread(intent: str, text: str) -> bool:
    """True when the words of ``text`` say DIET's ``intent`` for it is a misreading of a question."""
    if intent in SMALL_TALK:
        return is_question(text)
    if intent == NOTICE_INTENT:
        return not_a_schedule(text)
    if intent == PHONE_INTENT:
        return no_phone_number(text)
    if intent == REPORT_INTENT:
        compact = re.sub(r"\s+", "", text or "")
        return bool(_WHOSE.search(compact)) and not _MINE.search(compact)
    if intent == OUT_OF_SCOPE_INTENT:
        return about_electricity(re.sub(r"\s+", "", text or ""))
    return False


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class QuestionIntentGuard(GraphComponent):
    """Sends to ask_question what DIET took for small talk, a schedule lookup, a phone number or
    out of scope when the words say it is an electricity question (see the module's docstring)."""

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "QuestionIntentGuard":
        return cls()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            intent = message.get(INTENT) or {}
            name, text = intent.get(INTENT_NAME_KEY), message.get(TEXT) or ""
            if not misread(name, text):
                continue
            chosen = {INTENT_NAME_KEY: QUESTION_INTENT, PREDICTED_CONFIDENCE_KEY: intent.get(PREDICTED_CONFIDENCE_KEY, 1.0)}
            ranking = [r for r in message.get("intent_ranking") or [] if r.get(INTENT_NAME_KEY) != QUESTION_INTENT]
            message.set(INTENT, chosen, add_to_output=True)
            message.set("intent_ranking", [chosen, *ranking], add_to_output=True)
        return messages
