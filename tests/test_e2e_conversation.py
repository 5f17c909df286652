"""End to end: the real Rasa server and action server, over the REST channel."""
from __future__ import annotations

import re

import pytest
import requests

from bot.blank import is_blank
from bot.topics import TOPICS
from servers import Servers, custom, texts

# (message as a customer might type it, a phrase the right reply contains)
CONVERSATION_TURNS = [
    ("您好呀", "电力服务助手"),
    ("好的 再见了", "再见"),
    ("太感谢了", "不客气"),
    ("你是真人还是机器", "不是真人"),
    ("帮我转个人工客服", "95598"),
    ("讲个笑话听听", "不在我的服务范围"),
    ("天然气费用怎么交", "不在我的服务范围"),
    ("我的工单进度怎么样了", "工单"),
]


@pytest.mark.parametrize("message,expected", CONVERSATION_TURNS)
def test_conversation_intent_gets_its_reply(servers: Servers, message: str, expected: str) -> None:
    reply = texts(servers.say(f"conv-{abs(hash(message))}", message))
    assert expected in reply, reply


def test_greeting_offers_the_topics_as_buttons(servers: Servers) -> None:
    messages = servers.say("greet-buttons", "你好")
    buttons = [b["title"] for m in messages for b in m.get("buttons", [])]
    assert buttons == [t.label for t in TOPICS]  # knowledge/topics.yml


def test_feedback_buttons_after_an_answer_are_understood(servers: Servers) -> None:
    sender = "feedback-flow"
    first = servers.say(sender, "阶梯电价是怎么收费的")
    assert custom(first).get("type") == "kb_answer"
    assert "感谢您的反馈" in texts(servers.say(sender, "/feedback_positive"))
    assert "抱歉没能帮到您" in texts(servers.say(sender, "答非所问"))


def test_electricity_question_reaches_the_knowledge_base(servers: Servers) -> None:
    # (a report that the power is off now goes to the 故障报修 form; a question about the rules goes here)
    payload = custom(servers.say("kb-route", "阶梯电价是按年算还是按月算"))
    assert payload.get("type") == "kb_answer"
    assert payload.get("outcome") in {"answer", "clarify", "fail"}


BAD_INPUTS = [
    "",
    "   \n\t ",
    "我家电费太贵了，" * 1000,  # 10,000 characters
    "😀😀😡⚡️🔌",
    "停電了怎麼辦，電費也太貴了吧",
    "How do I pay my electricity bill?",
    "<script>alert('x')</script><b>电费</b>",
    "我的 app 登不上 怎么 bind 户号 thanks",
    "电费 " + "a b c " * 50,
]


@pytest.mark.parametrize("message", BAD_INPUTS, ids=range(len(BAD_INPUTS)))
def test_bad_input_gets_a_polite_reply_and_server_keeps_serving(servers: Servers, message: str) -> None:
    sender = f"bad-{abs(hash(message))}"
    r = requests.post(f"{servers.url}/webhooks/rest/webhook", json={"sender": sender, "message": message},
                      timeout=60)
    assert r.status_code == 200
    reply = texts(r.json())
    assert re.search(r"[\u4e00-\u9fff]", reply), f"no Chinese reply to {message[:40]!r}: {r.json()}"
    if is_blank(message):
        assert "请用文字描述" in reply
    if message.startswith("How do I"):  # told in English that the assistant answers in Chinese
        assert "written in Chinese" in reply
    assert "<script>" not in reply
    assert "电力服务助手" in texts(servers.say(sender + "-after", "你好"))


def test_non_json_body_is_a_clear_4xx(servers: Servers) -> None:
    r = requests.post(f"{servers.url}/webhooks/rest/webhook", data=b"\xff{not json",
                      headers={"Content-Type": "application/json"}, timeout=30)
    assert 400 <= r.status_code < 500
    assert "电力服务助手" in texts(servers.say("after-bad-json", "你好"))


def test_nothing_is_logged_at_error(servers: Servers) -> None:
    # Runs after the bad inputs above (pytest keeps file order).
    errors = [line for line in servers.logs().splitlines() if re.search(r"\bERROR\b", line)]
    assert errors == []


def test_a_topic_button_shows_that_topics_common_questions(servers: Servers) -> None:
    messages = servers.say("topic-menu", "电价电费")
    payload = custom(messages)
    assert payload.get("outcome") == "clarify"
    buttons = [b for m in messages for b in m.get("buttons", [])]
    assert len(buttons) >= 3 and all(c["entry_id"].startswith("tariff.") for c in payload["candidates"])


def test_clarify_then_choose_answers_the_chosen_question(servers: Servers) -> None:
    sender = "clarify-flow"
    # one word of several subjects (looking up the bill, paying it): far apart, so a choice ("停电了"
    # is now answered with the outage overview and its related questions)
    first = servers.say(sender, "电费")
    payload = custom(first)
    assert payload.get("outcome") == "clarify", payload
    buttons = [b for m in first for b in m.get("buttons", [])]
    assert buttons[-1]["payload"] == "/request_human"        # "none of these" is always offered
    chosen = buttons[0]
    answer = servers.say(sender, chosen["payload"])
    meta = custom(answer)
    assert meta.get("outcome") == "answer"
    assert meta["entry_id"] == payload["candidates"][0]["entry_id"]
    assert "这个回答对您有帮助吗？" in texts(answer)
