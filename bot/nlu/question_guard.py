"""A question is a question, whatever small-talk intent DIET gives it.

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


def is_question(text: str) -> bool:
    """True for a message of some length that asks something about electricity service."""
    compact = re.sub(r"\s+", "", text or "")
    return len(compact) >= MIN_CHARS and bool(_ASKS.search(compact)) and about_electricity(compact)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class QuestionIntentGuard(GraphComponent):
    """Sends questions that DIET took for small talk to ask_question."""

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "QuestionIntentGuard":
        return cls()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            intent = message.get(INTENT) or {}
            if intent.get(INTENT_NAME_KEY) not in SMALL_TALK or not is_question(message.get(TEXT) or ""):
                continue
            chosen = {INTENT_NAME_KEY: QUESTION_INTENT, PREDICTED_CONFIDENCE_KEY: intent.get(PREDICTED_CONFIDENCE_KEY, 1.0)}
            ranking = [r for r in message.get("intent_ranking") or [] if r.get(INTENT_NAME_KEY) != QUESTION_INTENT]
            message.set(INTENT, chosen, add_to_output=True)
            message.set("intent_ranking", [chosen, *ranking], add_to_output=True)
        return messages
