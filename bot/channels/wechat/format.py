"""Rasa bot messages as WeChat text: WeChat's limits and wording over bot/channels/common/.

WeChat shows plain text only and limits one text message to 2048 bytes of UTF-8 (passive reply
and customer-service message alike). After a customer message WeChat allows 5 customer-service
messages within 48 hours, so an answer is cut into at most MAX_PARTS messages.
"""
from __future__ import annotations

from typing import Any, Dict, List

from bot import topics
from bot.channels.common import buttons as _buttons
from bot.channels.common import split as _split
from bot.channels.common.buttons import BUTTON_HINT, Button, Reply, choose  # noqa: F401 — the channel's vocabulary
from bot.channels.common.split import TRUNCATED_NOTE  # noqa: F401

MAX_BYTES = 2048
MAX_PARTS = 3
TOPICS = [t.label for t in topics.TOPICS]  # knowledge/topics.yml, in its order
WELCOME_TEXT = "您好，欢迎关注！我是电力服务助手，可以为您解答："
WELCOME_TAIL = "回复序号选择主题，或直接输入您的问题，例如“阶梯电价怎么算”。需要人工服务请输入“转人工”。"
UNSUPPORTED_TEXT = "目前我只能看懂文字消息。请用文字描述您的问题，例如“阶梯电价怎么算”“家里停电了怎么办”。"
VOICE_UNRECOGNISED_TEXT = "抱歉，没能听清您的语音。请用文字描述您的问题，例如“阶梯电价怎么算”。"
# 在线人工: the message could not be kept for the agent (the database is down).
LIVE_NOT_KEPT_TEXT = "抱歉，您的消息暂时没能转给人工客服，请稍后再发一次。"
# The customer clicked the 转人工 menu item: Rasa gets the request_human intent directly.
REQUEST_HUMAN_PAYLOAD = "/request_human"


def _cdata_safe(text: str) -> str:
    # Passive replies put the text in <![CDATA[...]]>; "]]>" would end it early.
    return text.replace("]]>", "]] >")


def render(messages: List[Dict[str, Any]], already_said: str = "") -> Reply:
    """Rasa's collected messages as one WeChat text with numbered buttons."""
    reply = _buttons.render(messages, already_said)
    reply.text = _cdata_safe(reply.text)
    return reply


def welcome() -> Reply:
    """The subscribe greeting: the topics as numbered choices (payloads as in domain.yml's utter_greet)."""
    buttons = [{"title": t, "payload": t} for t in TOPICS]
    lines = [WELCOME_TEXT] + [f"{i}. {t}" for i, t in enumerate(TOPICS, 1)] + [WELCOME_TAIL]
    return Reply("\n".join(lines), buttons)


def split(text: str, max_bytes: int = MAX_BYTES, max_parts: int = MAX_PARTS) -> List[str]:
    """At most MAX_PARTS messages of at most MAX_BYTES (common/split.py)."""
    return _split.split(text, max_bytes, max_parts)
