"""The customer web chat in a real browser (Debian's chromium via Playwright) against the real
Rasa server and action server: what a customer on a phone or a PC sees and can do.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, List

import pytest

from servers import Servers
from webchat_flow import FEEDBACK_PROMPT, bot_count, chat_url, new_page, send, wait_bot_reply_after, webchat_sender

ORDER_NO = re.compile(r"GD\d{12}")


def test_tariff_question_is_answered_with_source_and_feedback_buttons(webchat_order, answer_question) -> None:
    entry = answer_question["entry"]
    shown = "\n".join(webchat_order["answer_texts"])
    first_line = entry.answer.strip().splitlines()[0].strip()
    assert first_line[:20] in shown
    assert "依据" in shown and FEEDBACK_PROMPT in shown
    page = webchat_order["page"]
    # the customer's own question is shown as their bubble
    assert answer_question["question"] in page.locator(".row.from-user .bubble").first.inner_text()


def test_not_helpful_shows_the_work_order_number_in_a_card(webchat_order) -> None:
    page = webchat_order["page"]
    assert ORDER_NO.fullmatch(webchat_order["order_no"]), webchat_order["order_no"]
    assert "工单号" in webchat_order["card_text"]
    assert "预计答复" in webchat_order["card_text"]
    # the clicked button's title is the customer's bubble, and the old buttons are spent
    assert page.locator(".row.from-user .bubble", has_text="没帮助").count() == 1
    assert page.locator(".choice.chosen", has_text="没帮助").count() == 1
    assert page.get_by_role("button", name="有帮助").last.is_disabled()


def test_reload_shows_the_same_conversation_with_the_same_sender(webchat_order, servers: Servers) -> None:
    page = webchat_order["page"]
    before = page.locator(".row").count()
    page.reload()
    page.locator("[data-testid=work-order]").last.wait_for()
    assert page.locator(".row").count() == before
    assert webchat_sender(webchat_order["context"]) == webchat_order["sender"]
    assert page.evaluate("document.cookie") == ""  # HttpOnly: the page's script cannot read the id
    # and the server continues that conversation: the order is found under the same sender
    n = bot_count(page)
    send(page, "我的工单")
    wait_bot_reply_after(page, n)
    assert webchat_order["order_no"] in page.locator(".row.from-bot").last.inner_text()


def test_clarify_candidates_are_buttons_and_a_click_sends_the_question(browser, servers: Servers,
                                                                      clarify_question) -> None:
    context, page = new_page(browser)
    try:
        page.goto(chat_url(servers))
        n = bot_count(page)
        send(page, clarify_question["question"])
        wait_bot_reply_after(page, n)
        reply = page.locator(".row.from-bot").filter(has_text="您是想问").last
        reply.wait_for()
        titles = [t.strip() for t in reply.locator(".choice").all_inner_texts()]
        for cand in clarify_question["candidates"][:3]:
            assert cand in titles
        assert "都不是，转人工" in titles
        n = bot_count(page)
        reply.locator(".choice").first.click()
        wait_bot_reply_after(page, n)
        # the chosen title (not a payload) is what the customer sees as their message
        assert page.locator(".row.from-user .bubble").last.inner_text().strip() == titles[0]
        assert reply.locator(".choice.chosen").count() == 1
    finally:
        context.close()


def test_phone_width_has_no_horizontal_scroll_and_human_button_in_reach(browser, servers: Servers,
                                                                       answer_question, screenshots: Path) -> None:
    context, page = new_page(browser, 375, 740)
    try:
        page.goto(chat_url(servers))
        n = bot_count(page)
        send(page, answer_question["question"])
        wait_bot_reply_after(page, n)
        n = bot_count(page)
        send(page, "我家的户号是 " + "1234567890" * 8 + " 电费怎么这么高？https://example.com/" + "a" * 80)
        wait_bot_reply_after(page, n)
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        assert page.evaluate("document.body.scrollWidth") <= 375
        human = page.get_by_role("button", name="转人工").first
        box = human.bounding_box()
        assert box is not None and box["y"] >= 0 and box["x"] + box["width"] <= 375
        for chip in ("电价电费", "停电报修", "业务办理", "安全用电"):
            assert page.locator(".chip", has_text=chip).count() == 1
        page.locator(".log").evaluate("el => el.scrollTop = 0")
        page.screenshot(path=str(screenshots / "webchat-375.png"))
        n = bot_count(page)
        human.click()
        wait_bot_reply_after(page, n)
        assert page.locator(".row.from-user .bubble").last.inner_text().strip() == "转人工"
        page.locator("[data-testid=work-order]").last.wait_for()
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        page.screenshot(path=str(screenshots / "webchat-375-order.png"))
    finally:
        context.close()


def test_quick_start_button_sends_its_words(browser, servers: Servers) -> None:
    context, page = new_page(browser, 375, 740)
    try:
        page.goto(chat_url(servers))
        n = bot_count(page)
        page.locator(".chip", has_text="电价电费").click()
        wait_bot_reply_after(page, n)
        assert page.locator(".row.from-user .bubble").last.inner_text().strip() == "电价电费"
    finally:
        context.close()


@pytest.mark.parametrize("attack", ["<script>alert(1)</script>", "<img src=x onerror=alert(2)>"])
def test_html_in_a_message_is_shown_as_text_never_run(browser, servers: Servers, attack: str) -> None:
    context, page = new_page(browser)
    dialogs: List[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        page.goto(chat_url(servers))
        n = bot_count(page)
        send(page, attack)
        wait_bot_reply_after(page, n)
        page.wait_for_timeout(500)
        assert dialogs == []
        assert page.locator(".row.from-user .bubble").last.inner_text().strip() == attack
        assert page.locator(".log img, .log script").count() == 0
    finally:
        context.close()


def test_unreachable_server_gives_a_friendly_message_and_a_resend(browser, servers: Servers) -> None:
    context, page = new_page(browser, 375, 740)
    try:
        page.goto(chat_url(servers))
        page.route("**/webhooks/webchat/webhook", lambda route: route.abort("connectionrefused"))
        send(page, "停电了怎么办")
        error = page.locator(".notice-error").last
        error.wait_for()
        assert "暂时连不上服务器" in error.inner_text() and "95598" in error.inner_text()
        page.unroute("**/webhooks/webchat/webhook")
        page.route("**/webhooks/webchat/webhook", lambda route: route.fulfill(status=502, body="bad gateway"))
        send(page, "停电了怎么办")
        page.locator(".notice-error", has_text="服务器暂时没有响应").wait_for()
        page.unroute("**/webhooks/webchat/webhook")
        # the server is back: 重新发送 delivers the message and the bot answers
        n = bot_count(page)
        page.get_by_role("button", name="重新发送").last.click()
        wait_bot_reply_after(page, n)
        assert page.locator(".row.from-bot").count() > 1
    finally:
        context.close()


def test_resend_after_a_lost_answer_shows_the_answer_and_the_message_is_handled_once(browser, servers: Servers) -> None:
    # The server answers, but the answer is lost on the way (a proxy's 502); 重新发送 sends the
    # message with the same X-Request-ID, and the server gives back what it stored.
    context, page = new_page(browser, 375, 740)
    ids: List[str] = []
    try:
        page.goto(chat_url(servers))
        n = bot_count(page)
        send(page, "你好")
        wait_bot_reply_after(page, n)
        page.on("request", lambda r: ids.append(r.headers.get("x-request-id", ""))
                if r.url.endswith("/webhooks/webchat/webhook") else None)

        lost: List[Any] = []

        def lose_the_answer(route) -> None:
            lost.append(route.fetch().json())  # the real server handles the message
            route.fulfill(status=502, body="bad gateway")

        page.route("**/webhooks/webchat/webhook", lose_the_answer)
        send(page, "峰谷电价是什么")
        page.locator(".notice-error", has_text="服务器暂时没有响应").wait_for()
        page.unroute("**/webhooks/webchat/webhook")
        n = bot_count(page)
        page.get_by_role("button", name="重新发送").last.click()
        wait_bot_reply_after(page, n)
        first_text = next(m["text"] for m in lost[0] if m.get("text"))
        shown = "\n".join(page.locator(".row.from-bot").all_inner_texts()[n:])
        assert first_text.splitlines()[0][:12] in shown, (first_text, shown)
        assert len(ids) == 2 and ids[0] == ids[1] and len(ids[0]) == 32, ids
        users = [e["text"] for e in servers.tracker(webchat_sender(context))["events"] if e["event"] == "user"]
        assert users == ["你好", "峰谷电价是什么"]  # handled once, though the server got it twice
    finally:
        context.close()
