"""Rasa bot messages as WeChat text: buttons become numbered lines, long answers are split.

WeChat shows plain text only and limits one text message to 2048 bytes of UTF-8 (passive reply
and customer-service message alike). After a customer message WeChat allows 5 customer-service
messages within 48 hours, so an answer is cut into at most MAX_PARTS messages.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from bot import topics

MAX_BYTES = 2048
MAX_PARTS = 3
BUTTON_HINT = "（回复序号即可选择）"
TRUNCATED_NOTE = "……（内容较长，未能全部显示。如需完整说明，请输入“转人工”或拨打 95598 供电服务热线。）"
TOPICS = [t.label for t in topics.TOPICS]  # knowledge/topics.yml, in its order
WELCOME_TEXT = "您好，欢迎关注！我是电力服务助手，可以为您解答："
WELCOME_TAIL = "回复序号选择主题，或直接输入您的问题，例如“阶梯电价怎么算”。需要人工服务请输入“转人工”。"
UNSUPPORTED_TEXT = "目前我只能看懂文字消息。请用文字描述您的问题，例如“阶梯电价怎么算”“家里停电了怎么办”。"
VOICE_UNRECOGNISED_TEXT = "抱歉，没能听清您的语音。请用文字描述您的问题，例如“阶梯电价怎么算”。"
# 在线人工: the message could not be kept for the agent (the database is down).
LIVE_NOT_KEPT_TEXT = "抱歉，您的消息暂时没能转给人工客服，请稍后再发一次。"
# The customer clicked the 转人工 menu item: Rasa gets the request_human intent directly.
REQUEST_HUMAN_PAYLOAD = "/request_human"

Button = Dict[str, str]


@dataclass
class Reply:
    """What one turn says: the text (unsplit) and the buttons it offered, in their numbered order."""

    text: str
    buttons: List[Button] = field(default_factory=list)


def _cdata_safe(text: str) -> str:
    # Passive replies put the text in <![CDATA[...]]>; "]]>" would end it early.
    return text.replace("]]>", "]] >")


def render(messages: List[Dict[str, Any]], already_said: str = "") -> Reply:
    """Rasa's collected messages as one text. `already_said`: text sent earlier in the same reply."""
    blocks: List[str] = []
    buttons: List[Button] = []
    for m in messages:
        lines: List[str] = []
        if m.get("text"):
            lines.append(str(m["text"]).strip())
        for b in m.get("buttons") or []:
            buttons.append({"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))})
            lines.append(f"{len(buttons)}. {b.get('title', '')}")
        for key, label in (("image", "图片"), ("attachment", "附件")):
            if m.get(key):
                lines.append(f"{label}：{m[key]}")
        custom = m.get("custom")
        if isinstance(custom, dict) and custom.get("type") == "work_order":
            note = _work_order_note(custom, already_said + "\n".join(blocks + lines))
            if note:
                lines.append(note)
        # Other custom payloads (kb_answer metadata) are for machines, not for the customer.
        if lines:
            blocks.append("\n".join(lines))
    if buttons:
        blocks[-1] += "\n" + BUTTON_HINT
    return Reply(_cdata_safe("\n\n".join(blocks)), buttons)


def _work_order_note(payload: Dict[str, Any], said: str) -> Optional[str]:
    """The work-order number as text, unless the reply text already shows it."""
    order_no = payload.get("order_no")
    if not order_no or str(order_no) in said:
        return None
    due = payload.get("due")
    return f"工单号：{order_no}" + (f"，预计 {due} 前答复（北京时间）" if due else "")


def welcome() -> Reply:
    """The subscribe greeting: the topics as numbered choices (payloads as in domain.yml's utter_greet)."""
    buttons = [{"title": t, "payload": t} for t in TOPICS]
    lines = [WELCOME_TEXT] + [f"{i}. {t}" for i, t in enumerate(TOPICS, 1)] + [WELCOME_TAIL]
    return Reply("\n".join(lines), buttons)


def _nbytes(text: str) -> int:
    return len(text.encode("utf-8"))


def _cut(line: str, budget: int) -> List[str]:
    """A line longer than the budget, cut at characters (after a 。；！？ when one is near the end)."""
    pieces: List[str] = []
    while _nbytes(line) > budget:
        end, size = 0, 0
        for ch in line:
            size += _nbytes(ch)
            if size > budget:
                break
            end += 1
        stop = max(line.rfind(p, 0, end) for p in "。；！？")
        if stop >= end * 2 // 3:  # a sentence end in the last third: cut there
            end = stop + 1
        pieces.append(line[:end])
        line = line[end:]
    return pieces + ([line] if line else [])


def split(text: str, max_bytes: int = MAX_BYTES, max_parts: int = MAX_PARTS) -> List[str]:
    """Parts of at most max_bytes each, cut at line ends, numbered （1/3） when more than one;
    beyond max_parts the last part ends with TRUNCATED_NOTE."""
    text = text.strip()
    if not text:
        return []
    if _nbytes(text) <= max_bytes:
        return [text]
    marker_room = _nbytes("\n（9/9）")
    budget = max_bytes - marker_room
    parts: List[str] = []
    current = ""
    for line in text.split("\n"):
        for piece in _cut(line, budget):
            candidate = f"{current}\n{piece}" if current else piece
            if _nbytes(candidate) <= budget:
                current = candidate
            else:
                if current.strip():
                    parts.append(current.strip())
                current = piece
    if current.strip():
        parts.append(current.strip())
    if len(parts) > max_parts:
        parts = parts[:max_parts]
        lines, room = parts[-1].split("\n"), budget - _nbytes(TRUNCATED_NOTE) - 1
        while len(lines) > 1 and _nbytes("\n".join(lines)) > room:
            lines.pop()  # drop whole lines, so no sentence is cut in half
        last = "\n".join(lines)
        while _nbytes(last) > room:
            last = last[:-1]
        parts[-1] = last.rstrip() + "\n" + TRUNCATED_NOTE
    if len(parts) == 1:
        return parts
    return [f"{p}\n（{i}/{len(parts)}）" for i, p in enumerate(parts, 1)]


_CHOICE = re.compile(r"第?\s*(\d{1,2})\s*(?:[.。、,，)）]|个|项|号)?")


def choose(text: str, buttons: List[Button]) -> Optional[Button]:
    """The button a reply like "1", "２", "1." or "第1个" picks from the last offered buttons."""
    if not buttons:
        return None
    match = _CHOICE.fullmatch(unicodedata.normalize("NFKC", text).strip())
    if not match:
        return None
    index = int(match.group(1)) - 1
    return buttons[index] if 0 <= index < len(buttons) else None
