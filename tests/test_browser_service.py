"""A fault report through the web chat page in Chromium (issue 13): buttons for the self-check,
then address and phone, ending in the work-order card with the repair number."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.orders import OrderService
from servers import Servers
from webchat_flow import bot_count, chat_url, new_page, send, wait_bot_reply_after, webchat_sender


def test_a_fault_report_in_the_web_chat_ends_in_the_repair_order_card(
        browser: Any, servers: Servers, screenshots: Path, tmp_path: Path) -> None:
    context, page = new_page(browser, 375, 812)
    try:
        page.goto(chat_url(servers))
        n = bot_count(page)
        send(page, "我家停电了")
        wait_bot_reply_after(page, n)
        skip = page.get_by_role("button", name="跳过，直接报修").last
        skip.wait_for()
        n = bot_count(page)
        skip.click()
        wait_bot_reply_after(page, n)
        page.get_by_text("详细地址").last.wait_for()
        n = bot_count(page)
        send(page, "城东区幸福路12号幸福小区3栋")
        wait_bot_reply_after(page, n)
        n = bot_count(page)
        send(page, "13812345678")
        wait_bot_reply_after(page, n)
        card = page.locator("[data-testid=work-order]").last
        card.wait_for()
        order_no = card.locator(".order-no").inner_text().strip()
        page.screenshot(path=str(screenshots / "webchat-fault-report-375.png"))
        assert order_no.startswith("GD")
        assert "城区抢修人员承诺 45 分钟内" in card.inner_text()  # the card carries the message's text
        orders = OrderService.from_url(f"sqlite:///{servers.workdir / 'orders.db'}", spool_dir=tmp_path / "spool")
        view = orders.get(order_no)
        assert view.kind == "repair" and view.channel == "webchat" and view.sender_id == webchat_sender(context)
        assert view.phone == "13812345678" and view.details["area"] == "城区"
        assert [m.text for m in view.transcript if m.role == "user"][:2] == ["我家停电了", "跳过，直接报修"]
    finally:
        context.close()
