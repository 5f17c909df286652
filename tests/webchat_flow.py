"""Helpers for the browser tests: drive the web chat page, and pick questions that give an
answer or a clarify — chosen with the answer engine and checked over the REST channel, so no
test hard-codes a question the knowledge base may stop answering the same way.

The session fixtures built from these live in conftest.py (answer_question, clarify_question,
webchat_order), so the web chat and console tests share one conversation and one work order.
"""
from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, Dict, List

from servers import Servers, custom

ROOT = Path(__file__).resolve().parent.parent
FEEDBACK_PROMPT = "这个回答对您有帮助吗？"


def chat_url(servers: Servers) -> str:
    return f"{servers.url}/webhooks/webchat/"


def load_engine():
    from bot.kb.engine import Engine
    from bot.kb.loader import load_knowledge

    return Engine(load_knowledge(ROOT / "knowledge"))


def probe(servers: Servers, text: str) -> Dict[str, Any]:
    """What the real pipeline (NLU + actions) does with ``text``, asked by a throwaway sender."""
    return custom(servers.say(f"probe-{uuid.uuid4().hex[:10]}", text))


def pick_answer_question(engine: Any, servers: Servers) -> Dict[str, Any]:
    """A tariff question answered outright by the engine and by the bot; None if there is none."""
    entries = [e for e in engine.entries if e.topic == "tariff" and not e.refuse]
    entries.sort(key=lambda e: ("阶梯" not in e.question, len(e.question)))
    for e in entries[:25]:
        if engine.ask(e.question).outcome != "answer":
            continue
        meta = probe(servers, e.question)
        if meta.get("outcome") == "answer" and meta.get("entry_id") == e.id:
            return {"question": e.question, "entry": e}
    raise AssertionError("no tariff question is answered outright by the engine and the bot")


def pick_clarify_question(engine: Any, servers: Servers) -> Dict[str, Any]:
    """A vague question that gets "您是想问：" with at least two candidate buttons."""
    tried: List[str] = []
    seeds = ["电费怎么算", "电费", "电价", "停电", "过户", "电表", "交电费", "峰谷电价", "阶梯电价", "报装",
             "充电桩", "跳闸", "电费高", "用电", "开户"]
    seeds += [e.question[:4] for e in engine.entries[:80]]
    for q in dict.fromkeys(seeds):
        ans = engine.ask(q)
        if ans.outcome != "clarify" or len(ans.candidates) < 2:
            continue
        tried.append(q)
        meta = probe(servers, q)
        if meta.get("outcome") == "clarify" and len(meta.get("candidates") or []) >= 2:
            return {"question": q, "candidates": [c["question"] for c in meta["candidates"]]}
        if len(tried) >= 12:
            break
    raise AssertionError(f"no vague question produced a clarify reply over REST; tried {tried}")


def new_page(browser: Any, width: int = 1280, height: int = 860) -> tuple[Any, Any]:
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(60_000)
    return context, page


def send(page: Any, text: str) -> None:
    page.fill("#input", text)
    page.press("#input", "Enter")


def bot_count(page: Any) -> int:
    return page.locator(".row.from-bot:not(.typing-row)").count()


def wait_bot_reply_after(page: Any, count_before: int) -> None:
    """Wait until more bot messages than before are shown and the typing indicator is gone."""
    page.wait_for_function(
        "n => document.querySelectorAll('.row.from-bot:not(.typing-row)').length > n"
        " && !document.querySelector('.typing-row')", arg=count_before)


def webchat_sender(context: Any) -> str:
    """The customer's id, from the signed HttpOnly cookie the server set (the page cannot read it)."""
    value = next(c["value"] for c in context.cookies() if c["name"] == "webchat_id")
    return value.rpartition(".")[0]


def chat_until_work_order(browser: Any, servers: Servers, question: str, screenshots: Path) -> Dict[str, Any]:
    """A customer asks, gets the answer, clicks 没帮助, and is shown a work-order number.

    Returns the open page too (its context is closed by the caller).
    """
    context, page = new_page(browser)
    page.goto(chat_url(servers))
    n = bot_count(page)
    send(page, question)
    wait_bot_reply_after(page, n)
    page.get_by_role("button", name="没帮助").last.wait_for()
    answer_texts = page.locator(".row.from-bot .bubble").all_inner_texts()
    page.screenshot(path=str(screenshots / "webchat-desktop-answer.png"))
    sender = webchat_sender(context)
    n = bot_count(page)
    page.get_by_role("button", name="没帮助").last.click()
    wait_bot_reply_after(page, n)
    card = page.locator("[data-testid=work-order]").last
    card.wait_for()
    order_no = card.locator(".order-no").inner_text().strip()
    page.screenshot(path=str(screenshots / "webchat-desktop.png"))
    return {"order_no": order_no, "sender": sender, "answer_texts": answer_texts, "page": page,
            "context": context, "card_text": card.inner_text(), "question": question}
