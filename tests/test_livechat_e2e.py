"""在线人工 end to end (issue 15): a real Rasa server, action server and console, Chromium with two
contexts — a customer on the web chat page and an agent in the console — and the REST channel.

These tests run on their own servers (the waits and the agent-gone delay are short here, and one
test restarts Rasa), on the same work-order database as the console.
"""
from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
import requests

from bot.orders.livechat import LiveChatStore
from bot.orders.store import OrderStore
from console_server import Console, start_console
from servers import Servers, rest_id, start_servers, texts

AGENT, AGENT_PW = "客服小李", "agent-pass-2026"
AGENT2, AGENT2_PW = "客服小张", "agent-pass-2027"
TRAINER, TRAINER_PW = "培训老周", "trainer-pass-2026"
MAX_WAIT = 15
GONE = 10


@pytest.fixture(scope="module")
def live_servers(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    s = start_servers(tmp_path_factory.mktemp("live"), model_path,
                      extra_env={"LIVECHAT_MAX_WAIT_SECONDS": str(MAX_WAIT), "LIVECHAT_AGENT_GONE_SECONDS": str(GONE)})
    yield s
    s.stop()


@pytest.fixture(scope="module")
def live_console(live_servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    c = start_console(tmp_path_factory.mktemp("live-console"), env=live_servers.env)
    for name, role, pw in ((AGENT, "staff", AGENT_PW), (AGENT2, "staff", AGENT2_PW), (TRAINER, "trainer", TRAINER_PW)):
        c.add_user(name, role, pw)
    yield c
    c.stop()


@pytest.fixture(scope="module")
def chats(live_servers: Servers) -> Iterator[LiveChatStore]:
    store = OrderStore.from_url(f"sqlite:///{live_servers.workdir / 'orders.db'}")
    yield LiveChatStore(store)
    store.dispose()


@pytest.fixture(autouse=True)
def nobody_on_duty(chats: LiveChatStore) -> Iterator[None]:
    yield
    for a in chats.agents():
        chats.set_status(a.username, "away")


def wait_for(check: Any, timeout: float = 60, every: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"condition not met within {timeout}s")


def csrf(session: requests.Session, console: Console) -> str:
    from console_server import csrf_of

    return csrf_of(session.get(f"{console.url}/live", timeout=30).text)


def api(session: requests.Session, console: Console, path: str, body: Dict[str, Any] | None = None,
        token: str | None = None) -> requests.Response:
    return session.post(f"{console.url}{path}", json=body or {}, timeout=60,
                        headers={"X-CSRF-Token": token if token is not None else csrf(session, console)})


def tracker_events(servers: Servers, sender_id: str) -> List[Dict[str, Any]]:
    return requests.get(f"{servers.url}/conversations/{sender_id}/tracker",
                        params={"include_events": "ALL"}, timeout=30).json()["events"]


def agent_page(browser: Any, console: Console, name: str, password: str) -> Any:
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{console.url}/live")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", password)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(f"{console.url}/live")
    return page


def customer_page(browser: Any, servers: Servers) -> Any:
    context = browser.new_context(viewport={"width": 420, "height": 860}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{servers.url}/webhooks/webchat/")
    return page


def test_queue_accept_both_ways_a_knowledge_answer_end_and_rating(browser, live_servers: Servers, live_console: Console,
                                                                   chats: LiveChatStore, screenshots: Path) -> None:
    agent = agent_page(browser, live_console, AGENT, AGENT_PW)
    agent.select_option("#status", "online")
    wait_for(lambda: AGENT in chats.on_duty(timedelta(seconds=GONE)))

    customer = customer_page(browser, live_servers)
    customer.click("#human")
    customer.wait_for_selector("text=正在为您转接人工客服")
    status = customer.locator("#live-status")
    status.wait_for(state="visible")
    assert "转接人工客服" in status.inner_text()
    chat = wait_for(lambda: chats.waiting())[0]
    sender = chat.sender_id
    assert sender.startswith("web:") and chat.reason == "request_human"

    # The agent sees the queue and takes the chat.
    agent.locator(f"#queue li[data-chat='{chat.id}'] button.accept").click()
    agent.wait_for_selector("#send-form:not([hidden])")
    customer.wait_for_selector(f"text=人工客服 {AGENT}已接入")
    assert chats.get(chat.id).holder == AGENT
    assert any(e.get("event") == "pause" for e in tracker_events(live_servers, sender))

    # Customer → agent: the bot stays silent, the agent reads it.
    customer.fill("#input", "我家电表一直在闪红灯，是不是坏了")
    customer.press("#input", "Enter")
    agent.wait_for_selector("#chat-log >> text=我家电表一直在闪红灯")
    customer.wait_for_timeout(1500)
    assert customer.locator("text=这个回答对您有帮助吗？").count() == 0  # no bot answer while held
    assert customer.locator("text=助手这次没有回复").count() == 0

    # Agent → customer.
    agent.fill("#reply", "您好，请问闪灯时家里有电吗？")
    agent.press("#reply", "Enter")
    customer.wait_for_selector(".from-agent >> text=您好，请问闪灯时家里有电吗？")
    assert AGENT in customer.locator(".from-agent .agent-label").last.inner_text()

    # A knowledge answer from the side panel, with its source, in one click.
    agent.fill("#kb-q", "阶梯电价怎么算")
    agent.press("#kb-q", "Enter")
    card = agent.locator(".kb-card").first
    card.wait_for()
    answer = card.locator(".kb-answer").inner_text()
    source = card.locator(".kb-source").inner_text().replace("依据：", "")
    card.locator(".kb-send").click()
    customer.wait_for_selector(f".from-agent >> text=依据：{source[:20]}")
    agent.screenshot(path=str(screenshots / "live_agent.png"), full_page=True)
    customer.screenshot(path=str(screenshots / "live_customer.png"), full_page=True)

    # 结束: the bot resumes and asks for a rating.
    agent.once("dialog", lambda d: d.accept())
    agent.click("#end")
    customer.wait_for_selector("text=本次人工服务已结束")
    customer.locator("button.choice", has_text="基本满意").click()
    customer.wait_for_selector("text=感谢您的评价")
    ended = chats.get(chat.id)
    assert (ended.state, ended.end_reason, ended.rating, ended.agent) == ("ended", "agent", "基本满意", AGENT)
    assert ended.accepted_at is not None and ended.ended_at is not None

    # The tracker holds both sides, and the bot did not answer what was meant for the agent.
    events = tracker_events(live_servers, sender)
    texts_ = [(e["event"], e.get("text") or "") for e in events if e.get("event") in ("user", "bot")]
    assert ("user", "我家电表一直在闪红灯，是不是坏了") in texts_
    assert ("bot", "您好，请问闪灯时家里有电吗？") in texts_
    assert any(t.startswith(answer[:30]) for k, t in texts_ if k == "bot")
    after_user = texts_[texts_.index(("user", "我家电表一直在闪红灯，是不是坏了")) + 1]
    assert after_user == ("bot", "您好，请问闪灯时家里有电吗？")  # nothing from the bot in between
    agent_events = [e for e in events if e.get("event") == "bot" and (e.get("metadata") or {}).get("livechat")]
    assert {e["metadata"]["livechat"].get("agent") for e in agent_events} >= {AGENT}

    # The bot answers again after 结束, with its context.
    customer.fill("#input", "阶梯电价怎么算")
    customer.press("#input", "Enter")
    customer.wait_for_selector("text=这个回答对您有帮助吗？")
    agent.context.close()
    customer.context.close()


def test_no_agent_on_duty_opens_the_work_order_at_once(browser, live_servers: Servers, live_console: Console,
                                                       chats: LiveChatStore) -> None:
    customer = customer_page(browser, live_servers)
    customer.click("#human")
    customer.wait_for_selector("text=现在没有人工客服在线")
    card = customer.locator("[data-testid=work-order]").last
    card.wait_for()
    assert card.locator(".order-no").inner_text().startswith("GD")
    assert chats.waiting() == []
    customer.context.close()


def test_a_wait_past_the_limit_becomes_a_work_order_with_the_whole_conversation(
        live_servers: Servers, live_console: Console, chats: LiveChatStore) -> None:
    chats.set_status(AGENT, "online")
    who = "live-timeout"
    live_servers.say(who, "阶梯电价怎么算")
    queued = live_servers.say(who, "转人工")
    assert "正在为您转接人工客服" in texts(queued)
    assert any(b["payload"] == "/leave_message" for m in queued for b in m.get("buttons") or [])
    # Keep the agent present (as their open console would) but never accept.
    stop = threading.Event()

    def heartbeat() -> None:
        while not stop.is_set():
            chats.heartbeat(AGENT)
            stop.wait(1)
    threading.Thread(target=heartbeat, daemon=True).start()
    try:
        chat = chats.open_chat_for(rest_id(who))
        ordered = wait_for(lambda: (c := chats.get(chat.id)).state == "ordered" and c.order_no and c,
                           timeout=MAX_WAIT + 60)
    finally:
        stop.set()
    assert ordered.end_reason == "timeout"
    notes = [m.text for m in chats.outbox(rest_id(who))]
    assert any("人工客服暂时都不能接入" in t for t in notes) and any(ordered.order_no in t for t in notes)
    from bot.orders import OrderService

    svc = OrderService.from_url(f"sqlite:///{live_servers.workdir / 'orders.db'}",
                                spool_dir=live_servers.workdir / "spool-test")
    view = svc.get(ordered.order_no)
    said = [m.text for m in view.transcript]
    assert "阶梯电价怎么算" in said and "转人工" in said  # the whole conversation went with it
    svc.store.dispose()


def test_leave_message_while_waiting_opens_the_order_and_leaves_the_queue(
        live_servers: Servers, chats: LiveChatStore) -> None:
    chats.set_status(AGENT, "online")
    who = "live-leave"
    live_servers.say(who, "转人工")
    assert chats.open_chat_for(rest_id(who)).state == "waiting"
    reply = live_servers.say(who, "/leave_message")
    assert "已为您取消排队" in texts(reply) and "GD" in texts(reply)
    assert chats.open_chat_for(rest_id(who)) is None


def test_rasa_restart_mid_chat_loses_no_message_and_the_bot_stays_silent(
        live_servers: Servers, live_console: Console, chats: LiveChatStore) -> None:
    agent = live_console.login(AGENT, AGENT_PW)
    assert api(agent, live_console, "/api/live/status", {"status": "online"}).status_code == 200
    who = "live-restart"
    live_servers.say(who, "转人工")
    chat = chats.open_chat_for(rest_id(who))
    assert api(agent, live_console, f"/api/live/{chat.id}/accept").json()["ok"]

    # The agent's page stays open through the restart: it polls once a second (its presence).
    stop = threading.Event()

    def page_polls() -> None:
        while not stop.is_set():
            try:
                agent.get(f"{live_console.url}/api/live/state", timeout=10)
            except requests.RequestException:
                pass
            stop.wait(1)
    poller = threading.Thread(target=page_polls, daemon=True)
    poller.start()
    live_servers.stop_rasa()
    try:
        # Rasa is down: the agent's message is kept (the outbox) and reaches the tracker later.
        sent = api(agent, live_console, f"/api/live/{chat.id}/send", {"text": "系统维护中，我还在，请稍等"})
        assert sent.status_code == 200
        message_id = sent.json()["message"]["id"]
        assert [m.id for m in chats.outbox(rest_id(who))][-1] == message_id
        assert message_id in [m.id for m in chats.unsynced()]
    finally:
        live_servers.start_rasa()
    wait_for(lambda: message_id not in [m.id for m in chats.unsynced()], timeout=60)
    bot_texts = [e.get("text") for e in tracker_events(live_servers, rest_id(who)) if e.get("event") == "bot"]
    assert "系统维护中，我还在，请稍等" in bot_texts
    # Still paused after the restart: the message goes to the agent, the bot says nothing.
    reply = live_servers.say(who, "好的我等你")
    assert texts(reply) == "" and reply[-1]["custom"]["state"] == "held"
    state = agent.get(f"{live_console.url}/api/live/state", params={"chat": chat.id}, timeout=30).json()
    assert "好的我等你" in [m["text"] for m in state["chat"]["messages"] if m["direction"] == "in"]
    assert chats.get(chat.id).holder == AGENT  # never dropped: the page kept polling
    assert api(agent, live_console, f"/api/live/{chat.id}/end").status_code == 200
    stop.set()


def test_a_dropped_agent_sends_the_chat_back_to_the_queue_and_the_customer_is_told(
        live_servers: Servers, live_console: Console, chats: LiveChatStore) -> None:
    agent = live_console.login(AGENT, AGENT_PW)
    api(agent, live_console, "/api/live/status", {"status": "online"})
    who = "live-drop"
    live_servers.say(who, "转人工")
    chat = chats.open_chat_for(rest_id(who))
    api(agent, live_console, f"/api/live/{chat.id}/accept")
    # The agent's console stops polling (browser closed, network gone).
    back = wait_for(lambda: (c := chats.get(chat.id)).state == "waiting" and c, timeout=GONE + 60)
    assert back.holder is None
    assert any("连接中断" in m.text for m in chats.outbox(rest_id(who)))
    # The bot answers again while the customer waits.
    assert "这个回答对您有帮助吗？" in texts(live_servers.say(who, "阶梯电价怎么算"))


def test_only_staff_with_a_session_and_the_csrf_token_act_and_two_accepts_give_one_holder(
        live_servers: Servers, live_console: Console, chats: LiveChatStore) -> None:
    anonymous = requests.get(f"{live_console.url}/api/live/state", timeout=30)
    assert anonymous.status_code == 401
    trainer = live_console.login(TRAINER, TRAINER_PW)
    assert trainer.get(f"{live_console.url}/api/live/state", timeout=30).status_code == 403
    a1, a2 = live_console.login(AGENT, AGENT_PW), live_console.login(AGENT2, AGENT2_PW)
    assert api(a1, live_console, "/api/live/status", {"status": "online"}, token="forged").status_code == 403
    api(a1, live_console, "/api/live/status", {"status": "online"})
    api(a2, live_console, "/api/live/status", {"status": "online"})
    who = "live-race"
    live_servers.say(who, "转人工")
    chat = chats.open_chat_for(rest_id(who))
    tokens = {id(s): csrf(s, live_console) for s in (a1, a2)}
    results: Dict[str, int] = {}
    barrier = threading.Barrier(2)

    def accept(name: str, s: requests.Session) -> None:
        barrier.wait()
        results[name] = api(s, live_console, f"/api/live/{chat.id}/accept", token=tokens[id(s)]).status_code
    threads = [threading.Thread(target=accept, args=(n, s)) for n, s in ((AGENT, a1), (AGENT2, a2))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results.values()) == [200, 409], results
    winner = next(n for n, code in results.items() if code == 200)
    assert chats.get(chat.id).holder == winner
    loser = a2 if winner == AGENT else a1
    refused = api(loser, live_console, f"/api/live/{chat.id}/send", {"text": "我来"})
    assert refused.status_code == 409
    winner_session = a1 if winner == AGENT else a2
    assert api(winner_session, live_console, f"/api/live/{chat.id}/end").status_code == 200
    audit = [json.loads(line) for line in (Path(live_console.env["BOT_VAR_DIR"]) / "audit.log").read_text().splitlines()]
    actions = {(a["actor"], a["action"]) for a in audit}
    assert (winner, "live.accept") in actions and (winner, "live.end") in actions
    assert any(a["action"] == "live.accept" and a.get("refused") for a in audit)
