"""knowledge/topics.yml is the one list of topics: everything that names them follows it, and the
Rasa training data (which cannot read it) is checked against it."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from bot import topics
from bot.channels.wechat import format as wechat_format
from bot.channels.webchat import load_static
from bot.kb import engine, model
from bot.orders import vocabulary
from bot.topics import TopicsError, load_topics

ROOT = Path(__file__).resolve().parent.parent
LABELS = [t.label for t in topics.TOPICS]


def test_the_topics_file_is_read_in_its_order(tmp_path: Path) -> None:
    f = tmp_path / "topics.yml"
    f.write_text("topics:\n"
                 "  - {id: outage, label: 停电报修, menu_words: [停电抢修, 停电报修]}\n"
                 "  - {id: tariff, label: 电价电费}\n", encoding="utf-8")
    assert load_topics(f) == (topics.Topic("outage", "停电报修", ("停电报修", "停电抢修")),
                              topics.Topic("tariff", "电价电费", ("电价电费",)))
    # the ids the SLA table and the engine's rules name
    assert {"tariff", "outage", "business", "safety"} <= set(topics.TOPIC_IDS)


def test_domain_greeting_buttons_are_the_topics_in_order() -> None:
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    for variant in domain["responses"]["utter_greet"]:
        assert [(b["title"], b["payload"]) for b in variant["buttons"]] == [(x, x) for x in LABELS]
        for label in LABELS:
            assert label in variant["text"]


def _examples() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / "data" / "nlu").glob("*.yml")):
        for item in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu") or []:
            if "intent" in item:
                lines = re.findall(r"^\s*-\s*(.+?)\s*$", item.get("examples") or "", re.M)
                found.setdefault(item["intent"], set()).update(lines)
    return found


def test_every_topic_button_is_a_question_for_the_nlu_and_nothing_else() -> None:
    examples = _examples()
    for label in LABELS:
        assert label in examples["ask_question"], f"{label} is not an ask_question example in data/nlu"
        others = [intent for intent, texts in examples.items() if intent != "ask_question" and label in texts]
        assert others == [], f"{label} is also an example of {others}"


def test_every_consumer_follows_the_file() -> None:
    assert model.TOPICS == tuple(t.id for t in topics.TOPICS)
    assert vocabulary.TOPIC_LABELS == {t.id: t.label for t in topics.TOPICS}
    assert engine.TOPIC_MENU_WORDS == topics.MENU_WORDS
    welcome = wechat_format.welcome()
    assert [b["title"] for b in welcome.buttons] == LABELS
    assert all(f"{i}. {x}" in welcome.text for i, x in enumerate(LABELS, 1))
    page = load_static()["index.html"].decode("utf-8")
    assert re.findall(r'class="chip" data-text="([^"]+)">', page) == LABELS
    assert "{{" not in page
    assert "电价电费" not in (ROOT / "bot/channels/webchat_static/webchat.js").read_text(encoding="utf-8")


def test_a_label_is_escaped_in_the_page(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(topics, "TOPICS", (topics.Topic("x", '<b>"电"</b>', ("x",)),))
    page = load_static()["index.html"].decode("utf-8")
    assert '<b>"电"</b>' not in page and 'data-text="&lt;b&gt;&quot;电&quot;&lt;/b&gt;"' in page


def test_a_broken_topics_file_lists_every_problem(tmp_path: Path) -> None:
    f = tmp_path / "topics.yml"
    f.write_text(
        "topics:\n"
        "  - {id: tariff, label: 电价电费, menu_words: [电费]}\n"
        "  - {id: tariff, label: 其他}\n"
        "  - {id: Outage, label: 停电}\n"
        "  - {id: business}\n"
        "  - {id: safety, label: 电费, colour: red}\n", encoding="utf-8")
    with pytest.raises(TopicsError) as err:
        load_topics(f)
    assert err.value.problems == [
        "topics.yml topic tariff field id: repeated",
        "topics.yml topic 3 field id: 'Outage' is not a lower-case name like 'tariff'",
        "topics.yml topic business field label: missing",
        "topics.yml topic 5: unknown field(s) colour",
        "topics.yml topic safety: '电费' also names topic tariff",
    ]
    f.write_text("topics: []\n", encoding="utf-8")
    with pytest.raises(TopicsError, match="expected 'topics:'"):
        load_topics(f)


def test_a_topic_word_gets_that_topics_menu_with_the_menu_prompt() -> None:
    from bot import replies
    from bot.kb.engine import Engine
    from bot.kb.loader import load_knowledge
    from bot.kb.model import TOPIC_MENU

    engine = Engine(load_knowledge(ROOT / "tests" / "data" / "kb_fixture"), cache_dir=None)
    present = {e.topic for e in engine.entries}
    words = {w: t for w, t in topics.MENU_WORDS.items() if t in present}
    assert len(set(words.values())) >= 2
    for word, topic in words.items():
        ans = engine.ask(word)
        assert (ans.kind, ans.detail) == ("clarify", TOPIC_MENU), word
        assert ans.candidates and {c.entry.topic for c in ans.candidates} == {topic}
        assert replies.render(ans)[0]["text"].startswith(replies.MENU_PROMPT)
    assert engine.ask("阶梯电价怎么算").detail != TOPIC_MENU
