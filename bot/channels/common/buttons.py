"""Rasa bot messages as plain text with numbered buttons, and the reply that picks one.

A text-only channel cannot show buttons: each becomes a numbered line, the channel remembers
what it offered (ButtonMemory, in the shared store), and a reply like "1" or "第1个" is taken
as that button (``choose``).
"""
from __future__ import annotations

import json
import re
import time
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from bot.channels.common.store import Store

BUTTON_HINT = "（回复序号即可选择）"

Button = Dict[str, str]


@dataclass
class Reply:
    """What one turn says: the text (unsplit) and the buttons it offered, in their numbered order."""

    text: str
    buttons: List[Button] = field(default_factory=list)


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
    return Reply("\n\n".join(blocks), buttons)


def _work_order_note(payload: Dict[str, Any], said: str) -> Optional[str]:
    """The work-order number as text, unless the reply text already shows it."""
    order_no = payload.get("order_no")
    if not order_no or str(order_no) in said:
        return None
    due = payload.get("due")
    return f"工单号：{order_no}" + (f"，预计 {due} 前答复（北京时间）" if due else "")


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


class ButtonMemory:
    """The buttons last offered to each customer, so that a reply "1" can select the first one.

    Every turn is remembered with its time, even one without buttons: choices the console sent
    later (在线人工) are newer than it, and choices answered already are older."""

    def __init__(self, store: Store, prefix: str, ttl: float) -> None:
        self.store = store
        self.prefix = prefix  # the channel's name: "wechat:buttons:<sender>"
        self.ttl = ttl

    async def remember(self, sender_id: str, buttons: List[Button]) -> None:
        await self.store.set(f"{self.prefix}:buttons:{sender_id}",
                             json.dumps({"at": time.time(), "buttons": buttons}, ensure_ascii=False),
                             self.ttl)

    async def last(self, sender_id: str) -> Tuple[List[Button], Optional[float]]:
        """The buttons of the customer's last turn and when it was (None: no turn remembered)."""
        raw = await self.store.get(f"{self.prefix}:buttons:{sender_id}")
        if not raw:
            return [], None
        item = json.loads(raw)
        if isinstance(item, list):  # written by a version before the time was kept
            return item, None
        return list(item.get("buttons") or []), float(item.get("at") or 0) or None

    async def offered(self, sender_id: str) -> List[Button]:
        return (await self.last(sender_id))[0]
