"""JiebaTokenizer that never emits whitespace tokens.

Rasa 3.6.21's JiebaTokenizer passes jieba's whitespace tokens through on mixed
Chinese/English text ("我的 app 登不上"); empty tokens break the featurizers and
DIET at training or inference time, so we drop them here.
"""
from __future__ import annotations

from typing import List, Text

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.tokenizers.jieba_tokenizer import JiebaTokenizer
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.shared.nlu.training_data.message import Message


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=True
)
class CleanJiebaTokenizer(JiebaTokenizer):
    """Jieba segmentation with the project dictionary, minus whitespace tokens."""

    def tokenize(self, message: Message, attribute: Text) -> List[Token]:
        tokens = [t for t in super().tokenize(message, attribute) if t.text.strip()]
        if not tokens and (message.get(attribute) or "").strip() == "":
            # A message of only whitespace still needs one token for the featurizers.
            return [Token("_", 0)]
        return tokens
