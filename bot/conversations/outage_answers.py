"""停电公告 answers: "我们村明天停电吗", "XX小区什么时候来电", "为什么停电了".

The place comes from the question (a published notice's place name first) or from the answer to
"哪个村/小区？" (outage_notice_form); the time window from the question's words (明天, 下周,
现在 …). A match gives the window, the reason and when power returns; no match says that no
notice is published for that place and offers 报修 (the power may be off now) or the App.
"""
from __future__ import annotations

import logging
import re
import threading
from typing import Any, Dict, List, Optional

from bot.conversations import wording
from bot.orders.notices import NoticeBoard, place_in_question, window_for

logger = logging.getLogger(__name__)
Message = Dict[str, Any]
ERROR_TEXT = "抱歉，停电公告暂时查不到，请稍后再试，或在“网上国网”App 查看，也可以拨打 95598 供电服务热线（24 小时）。"

_board: Optional[NoticeBoard] = None
_lock = threading.Lock()


def board() -> NoticeBoard:
    global _board
    with _lock:
        if _board is None:
            _board = NoticeBoard.from_settings()
        return _board


def place_of(text: str, *, asked: bool) -> Optional[str]:
    """The place in a question, or (when the form asked for it) the answer itself: "张家村"."""
    try:
        known = board().known_places()
    except Exception:  # noqa: BLE001 — no notices readable: the generic place words still work
        logger.warning("reading the notices' place names failed", exc_info=True)
        known = []
    place = place_in_question(text, known)
    if place or not asked:
        return place
    bare = re.sub(r"[\s，,。.!！?？]+", "", text or "")
    bare = re.sub(r"^(?:是|在|我们是|我家在|我住在|住在)", "", bare)
    bare = re.sub(r"(?:的?停电公告|停电吗|停不停电|呢|啊|吧)$", "", bare)
    if 2 <= len(bare) <= 20 and re.fullmatch(r"[\u4e00-\u9fffA-Za-z0-9\-]+", bare) and not re.search(
            r"停电|来电|什么|怎么|为什么|多久|不知道|算了|不用", bare):
        return bare
    return None


def question_text(events: List[Dict[str, Any]]) -> str:
    """The question that started the lookup (the user message before outage_notice_form began)."""
    start = None
    for i, ev in enumerate(events):
        if ev.get("event") == "active_loop" and ev.get("name") == "outage_notice_form":
            start = i
    texts = [ev.get("text") or "" for ev in (events[:start] if start is not None else events)
             if ev.get("event") == "user"]
    return texts[-1] if texts else ""


def answer(place: Optional[str], question: str) -> List[Message]:
    nb = board()
    if not place:
        return [{"text": wording.PLACE_AGAIN}]
    start, end, label = window_for(question, nb.clock())
    found = nb.find(place, start, end)
    window_text = "" if label == "现在" else label
    if found:
        return wording.notices_found(place, found, window_text)
    return wording.no_notice(place, window_text)
