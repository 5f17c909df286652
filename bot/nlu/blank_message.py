"""Route messages the Chinese NLU cannot read to the fallback.

DIET still picks some intent for text it has no features for: we saw "" and "qwzx plmn"
classified as thank. A blank turn should get "please type your question"; a message with no
Chinese, no digit and no English word seen in training (gibberish, an English sentence we were
never taught) goes to the knowledge base and, if that fails too, gets a polite "please say it
another way". Both go through nlu_fallback and action_answer_question.
"""
from __future__ import annotations

import json
import re
from typing import Any, Dict, List, Optional, Set, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.blank import has_no_chinese, is_blank

FALLBACK = "nlu_fallback"
_WORD = re.compile(r"[a-z]+")


def ascii_words(text: str) -> Set[str]:
    return set(_WORD.findall(text.lower()))


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class BlankMessageClassifier(GraphComponent):
    """Overrides the intent of blank or unreadable messages with nlu_fallback."""

    def __init__(self, model_storage: ModelStorage, resource: Resource,
                 known: Optional[Set[str]] = None) -> None:
        self._storage = model_storage
        self._resource = resource
        self.known: Set[str] = known or set()

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "BlankMessageClassifier":
        return cls(model_storage, resource)

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "BlankMessageClassifier":
        try:
            with model_storage.read_from(resource) as directory:
                known = set(json.loads((directory / "ascii_words.json").read_text(encoding="utf-8")))
        except (ValueError, FileNotFoundError):
            known = set()
        return cls(model_storage, resource, known)

    def train(self, training_data: TrainingData) -> Resource:
        """Remember the English words of the training examples (hi, thanks, ok …)."""
        for example in training_data.intent_examples:
            self.known |= ascii_words(example.get(TEXT) or "")
        with self._storage.write_to(self._resource) as directory:
            (directory / "ascii_words.json").write_text(json.dumps(sorted(self.known)), encoding="utf-8")
        return self._resource

    def unreadable(self, text: str) -> bool:
        return is_blank(text) or (has_no_chinese(text) and not (ascii_words(text) & self.known))

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            if self.unreadable(message.get(TEXT) or ""):
                intent = {INTENT_NAME_KEY: FALLBACK, PREDICTED_CONFIDENCE_KEY: 1.0}
                message.set(INTENT, intent, add_to_output=True)
                message.set("intent_ranking", [intent], add_to_output=True)
        return messages
