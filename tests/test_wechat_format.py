"""How Rasa's replies read in WeChat: numbered buttons, digit choices, answers split within 2048 bytes."""
from __future__ import annotations

import pytest

from bot.channels.wechat import format as fmt

BUTTONS = [{"title": "有帮助", "payload": "/feedback_positive"},
           {"title": "没帮助", "payload": "/feedback_negative"}]


def test_buttons_become_numbered_lines_under_their_text() -> None:
    reply = fmt.render([{"text": "答案正文"}, {"text": "这个回答对您有帮助吗？", "buttons": BUTTONS}])
    assert reply.text == "答案正文\n\n这个回答对您有帮助吗？\n1. 有帮助\n2. 没帮助\n" + fmt.BUTTON_HINT
    assert reply.buttons == BUTTONS


def test_machine_payloads_are_not_shown_to_the_customer() -> None:
    reply = fmt.render([{"text": "答案"}, {"custom": {"type": "kb_answer", "outcome": "answer"}}])
    assert reply.text == "答案"


@pytest.mark.parametrize("typed,payload", [
    ("1", "/feedback_positive"), ("２", "/feedback_negative"), ("1.", "/feedback_positive"),
    (" 2。", "/feedback_negative"), ("第1个", "/feedback_positive"), ("①", "/feedback_positive"),
])
def test_a_number_picks_the_offered_button(typed: str, payload: str) -> None:
    chosen = fmt.choose(typed, BUTTONS)
    assert chosen is not None and chosen["payload"] == payload


@pytest.mark.parametrize("typed", ["0", "3", "12", "1和2", "有帮助", "95598", ""])
def test_anything_else_is_not_a_choice(typed: str) -> None:
    assert fmt.choose(typed, BUTTONS) is None


def test_no_buttons_offered_means_digits_are_plain_text() -> None:
    assert fmt.choose("1", []) is None


def test_short_text_is_one_part() -> None:
    assert fmt.split("一句话") == ["一句话"]


def test_long_text_splits_at_line_ends_within_the_byte_limit() -> None:
    lines = [f"第{i}行：" + "电" * 40 for i in range(40)]  # ~5 KB
    parts = fmt.split("\n".join(lines), max_parts=5)
    assert len(parts) == 3
    assert all(len(p.encode()) <= fmt.MAX_BYTES for p in parts)
    assert [p.rsplit("\n", 1)[1] for p in parts] == ["（1/3）", "（2/3）", "（3/3）"]
    body = [line for p in parts for line in p.split("\n")[:-1]]
    assert body == lines


def test_a_single_very_long_line_is_cut_at_sentence_ends() -> None:
    text = "。".join(["请携带身份证和房产证明到营业厅办理"] * 200) + "。"
    parts = fmt.split(text, max_parts=10)
    assert len(parts) > 1 and all(len(p.encode()) <= fmt.MAX_BYTES for p in parts)
    assert all(p.split("\n")[0].endswith("。") for p in parts)
    assert "".join(p.split("\n")[0] for p in parts) == text


def test_beyond_the_message_quota_the_answer_is_shortened_with_a_note() -> None:
    text = "\n".join("第%d行" % i + "电" * 200 for i in range(100))
    parts = fmt.split(text)
    assert len(parts) == fmt.MAX_PARTS
    assert fmt.TRUNCATED_NOTE in parts[-1] and "95598" in parts[-1]
    assert all(len(p.encode()) <= fmt.MAX_BYTES for p in parts)


def test_text_cannot_break_out_of_the_xml_cdata() -> None:
    assert "]]>" not in fmt.render([{"text": "a]]><xml>b"}]).text
