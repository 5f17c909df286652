"""Our JiebaTokenizer drops the whitespace tokens Rasa 3.6's own emits on mixed text."""
from __future__ import annotations

import pytest
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.nlu.tokenizers.jieba_tokenizer import JiebaTokenizer
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.jieba_tokenizer import CleanJiebaTokenizer
from bot.settings import ROOT


def _make(cls, tmp_path):
    config = {**cls.get_default_config(), "dictionary_path": str(ROOT / "knowledge" / "jieba")}
    return cls.create(config, LocalModelStorage(tmp_path), Resource("tok"),
                      ExecutionContext(GraphSchema({}), "test"))


@pytest.mark.parametrize("text", ["我的 app 登不上", "电费 bill 太高 了", "hello  world 户号"])
def test_no_whitespace_tokens_on_mixed_text(tmp_path, text: str) -> None:
    original = _make(JiebaTokenizer, tmp_path).tokenize(Message({"text": text}), "text")
    assert any(not t.text.strip() for t in original), "Rasa's tokenizer no longer emits them: drop this class?"
    ours = _make(CleanJiebaTokenizer, tmp_path).tokenize(Message({"text": text}), "text")
    assert ours and all(t.text.strip() for t in ours)
    # offsets still point into the original text
    assert all(text[t.start:t.end] == t.text for t in ours)


def test_project_dictionary_keeps_domain_terms_whole(tmp_path) -> None:
    tokens = _make(CleanJiebaTokenizer, tmp_path).tokenize(Message({"text": "峰谷电价怎么申请网上国网"}), "text")
    words = [t.text for t in tokens]
    assert "峰谷电价" in words and "网上国网" in words


def test_whitespace_only_message_still_has_a_token(tmp_path) -> None:
    tokens = _make(CleanJiebaTokenizer, tmp_path).tokenize(Message({"text": "   "}), "text")
    assert len(tokens) == 1
