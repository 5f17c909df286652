"""The staff console in a real browser, on the same work-order database as the running action
server: a counter clerk logs in, looks up a question, and handles the order the web chat opened.
"""
from __future__ import annotations

import re
from datetime import datetime, time, timezone
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest

from bot.clock import BEIJING

STAFF, STAFF_PW = "柜台小王", "counter-pass-2026"
CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture(scope="module")
def staff_page(browser, console) -> Iterator[Any]:
    console.add_user(STAFF, "staff", STAFF_PW)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN", accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{console.url}/orders")
    assert page.url.startswith(f"{console.url}/login")  # no session yet: the login page, next= kept
    page.fill("input[name=username]", STAFF)
    page.fill("input[name=password]", STAFF_PW)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(f"{console.url}/orders")
    yield page
    context.close()


def test_staff_looks_up_a_question_and_sees_answer_source_dates_and_timing(staff_page, console, answer_question,
                                                                           screenshots: Path) -> None:
    page = staff_page
    entry = answer_question["entry"]
    page.click("nav >> text=知识查询")
    page.fill("input[name=q]", answer_question["question"])
    page.press("input[name=q]", "Enter")
    page.locator(".outcome").wait_for()
    assert "可直接答复" in page.locator(".outcome").inner_text()
    card = page.locator(f"article.entry[data-entry='{entry.id}']")
    assert entry.answer.strip().splitlines()[0][:20] in card.locator(".answer").inner_text()
    text = card.inner_text()
    assert entry.source[:15] in text
    assert entry.effective_text in text and entry.review_by.isoformat() in text
    ms = float(page.locator("[data-testid=search-ms]").inner_text())
    assert ms >= 0  # the page shows the engine's own timing (its speed is make eval's business)
    page.screenshot(path=str(screenshots / "console-search.png"), full_page=True)
    if entry.related:
        page.locator(".related a").first.click()
        page.locator("article.entry").wait_for()
        assert page.locator("article.entry").get_attribute("data-entry") == entry.related[0]


def test_staff_handles_the_order_the_web_chat_opened(staff_page, console, webchat_order: Dict[str, Any],
                                                     screenshots: Path) -> None:
    page = staff_page
    no = webchat_order["order_no"]
    page.goto(f"{console.url}/orders")
    row = page.locator(f"tr[data-order='{no}']")
    row.wait_for()
    assert "webchat" in row.inner_text()
    row.locator("a").first.click()
    page.wait_for_url(f"{console.url}/orders/{no}")
    # the complete conversation: the question, the answer, the buttons shown and the one chosen
    transcript = page.locator("ol.transcript")
    assert webchat_order["question"] in transcript.inner_text()
    assert transcript.locator(".chip.on", has_text="没帮助").count() >= 1
    assert transcript.locator(".shown .chip", has_text="有帮助").count() >= 1
    assert webchat_order["sender"] in page.locator("dl.info").inner_text()

    page.click("form[data-action=assign] button[type=submit]")
    page.wait_for_url(re.compile(r".*done=assign$"))
    page.fill("form[data-action=note] textarea", "已致电客户，正在核对电费账单。")
    page.click("form[data-action=note] button[type=submit]")
    page.wait_for_url(re.compile(r".*done=note$"))
    page.fill("form[data-action=resolve] textarea", "已向客户解释阶梯电价的计算方法并核对了本月账单。")
    page.click("form[data-action=resolve] button[type=submit]")
    page.wait_for_url(re.compile(r".*done=resolve$"))
    page.check("form[data-action=callback] input[value='满意']")
    page.fill("form[data-action=callback] textarea", "电话回访，客户表示清楚了")
    page.click("form[data-action=callback] button[type=submit]")
    page.wait_for_url(re.compile(r".*done=callback$"))
    assert "已回访" in page.locator("h1.order-title").inner_text()
    assert "满意" in page.locator("dl.info").inner_text()
    events = page.locator("table.events tbody").inner_text()
    assert events.count(STAFF) >= 4  # assign, note, resolve, callback — each by the logged-in clerk
    page.screenshot(path=str(screenshots / "console-order.png"), full_page=True)

    # the same facts through the command line the lead's tools use
    out = console.cli("orders", "show", no)
    assert out.returncode == 0, out.stderr
    assert "已回访" in out.stdout and "满意" in out.stdout and STAFF in out.stdout


def _export_with_default_dates(page: Any, console_url: str, tmp_path: Path) -> str:
    page.goto(f"{console_url}/orders")
    with page.expect_download() as info:
        page.click("section.export button[type=submit]")
    path = tmp_path / "orders.csv"
    info.value.save_as(path)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads it as UTF-8
    text = raw.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("工单号,状态,原因")
    return text


def test_staff_exports_the_orders_as_excel_friendly_csv(staff_page, console, webchat_order, tmp_path: Path) -> None:
    text = _export_with_default_dates(staff_page, console.url, tmp_path)
    assert webchat_order["order_no"] in text


def test_export_defaults_hold_todays_orders_at_0430_beijing_time(browser, console, webchat_order,
                                                                  tmp_path_factory, tmp_path: Path) -> None:
    """Between 00:00 and 08:00 Beijing time the server's UTC date is yesterday: a console whose
    clock reads 04:30 Beijing time (UTC zone, as on our servers) must still default to today."""
    from console_server import start_console

    console.add_user(STAFF, "staff", STAFF_PW)
    day = datetime.strptime(webchat_order["order_no"][2:10], "%Y%m%d").date()  # the order's Beijing day
    at = datetime.combine(day, time(4, 30), tzinfo=BEIJING).astimezone(timezone.utc)
    early = start_console(tmp_path_factory.mktemp("console-0430"), env=console.env, clock_at=at)
    context = browser.new_context(locale="zh-CN", accept_downloads=True)
    try:
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(f"{early.url}/login")
        page.fill("input[name=username]", STAFF)
        page.fill("input[name=password]", STAFF_PW)
        page.click("form[action='/login'] button[type=submit]")
        page.wait_for_url(f"{early.url}/orders")
        since = page.locator("section.export input[name=since]").input_value()
        until = page.locator("section.export input[name=until]").input_value()
        assert (since, until) == (day.replace(day=1).isoformat(), day.isoformat())
        text = _export_with_default_dates(page, early.url, tmp_path)
        assert webchat_order["order_no"] in text
    finally:
        context.close()
        early.stop()


def test_pages_need_a_session_and_the_api_answers_401(browser, console) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        for path in ("/orders", "/search?q=电费", "/users"):
            page.goto(console.url + path)
            assert page.url.startswith(console.url + "/login?next="), path
            assert page.locator("form[action='/login']").count() == 1
        r = context.request.get(console.url + "/api/orders")
        assert r.status == 401
        r = context.request.get(console.url + "/api/ask?q=电费")
        assert r.status == 401
    finally:
        context.close()


def test_wrong_password_is_refused(browser, console) -> None:
    console.add_user(STAFF, "staff", STAFF_PW)
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(console.url + "/login")
        page.fill("input[name=username]", STAFF)
        page.fill("input[name=password]", "not-the-password")
        with page.expect_response(lambda r: r.url.endswith("/login") and r.request.method == "POST") as resp:
            page.click("form[action='/login'] button[type=submit]")
        assert resp.value.status == 401
        assert "用户名或密码不正确" in page.locator(".error").inner_text()
        assert context.request.get(console.url + "/api/orders").status == 401
    finally:
        context.close()


def test_a_post_without_the_csrf_token_is_refused(staff_page, console, webchat_order) -> None:
    request = staff_page.context.request  # carries the logged-in session cookie
    url = f"{console.url}/orders/{webchat_order['order_no']}/note"
    r = request.post(url, form={"note": "伪造的请求"}, max_redirects=0)
    assert r.status == 403
    r = request.post(url, form={"note": "伪造的请求", "csrf": "wrong-token"}, max_redirects=0)
    assert r.status == 403
    page = request.get(f"{console.url}/orders/{webchat_order['order_no']}")
    assert "伪造的请求" not in page.text()
    # the same POST with the page's token goes through (so the refusal above was the token)
    token = CSRF_RE.search(page.text()).group(1)
    r = request.post(url, form={"note": "带令牌的备注", "csrf": token}, max_redirects=0)
    assert r.status == 303
