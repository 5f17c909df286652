"""Work orders end to end: the real Rasa server and action server, the real order database.

Each trigger opens exactly one order; the order's transcript is the tracker's conversation;
retries and repeated triggers never duplicate; the customer reads only their own orders; a
database that is down spools the request and the order appears, complete, once it is back.
"""
from __future__ import annotations

import copy
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
import requests

from bot.orders import OrderService, from_rasa_events
from bot.orders.models import STATUS_NEW
from conftest import pg_admin, scratch_pg_database
from servers import Servers, action_headers, custom, free_port, rest_id, texts, wait_http

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def orders(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> OrderService:
    """The same order database the action server writes (BOT_VAR_DIR/orders.db)."""
    return OrderService.from_url(f"sqlite:///{servers.workdir / 'orders.db'}",
                                 spool_dir=tmp_path_factory.mktemp("reader-spool"))


def sender(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:8]}"


def work_order(messages: List[Dict[str, Any]]) -> Dict[str, Any]:
    for m in messages:
        if (m.get("custom") or {}).get("type") == "work_order":
            return m["custom"]
    return {}


def conversation(tracker: Dict[str, Any]) -> List[tuple]:
    return [(m.role, m.text, m.buttons, m.chosen_button) for m in from_rasa_events(tracker["events"])]


def stored(view: Any) -> List[tuple]:
    return [(m.role, m.text, m.buttons, m.chosen_button) for m in view.transcript]


def test_not_helpful_opens_one_order_carrying_the_whole_conversation(servers: Servers, orders: OrderService) -> None:
    who = sender("nothelpful")
    answer = servers.say(who, "阶梯电价怎么算")
    assert custom(answer).get("outcome") == "answer"
    assert work_order(answer) == {}                      # an answer alone opens nothing
    assert orders.orders_for(channel="rest", sender_id=rest_id(who)) == []

    reply = servers.say(who, "/feedback_negative")        # the 没帮助 button
    ticket = work_order(reply)
    assert ticket["status"] == "stored" and ticket["order_no"].startswith("GD")
    assert ticket["order_no"] in texts(reply) and "答复" in texts(reply)
    assert "联系电话" in texts(reply) or "手机号" in texts(reply)   # the phone invitation

    assert "13812345678" in texts(servers.say(who, "13812345678"))
    servers.say(who, "谢谢")                              # after the order: still appended

    view = orders.get(ticket["order_no"])
    assert view is not None
    assert (view.reason, view.status, view.topic, view.phone) == ("not_helpful", STATUS_NEW, "tariff", "13812345678")
    assert view.candidates and view.candidates[0]["entry_id"] == custom(answer)["entry_id"]
    transcript = stored(view)
    assert transcript == conversation(servers.tracker(who))
    assert transcript[0][:2] == ("user", "阶梯电价怎么算")
    assert ("bot", "这个回答对您有帮助吗？", ("有帮助", "没帮助"), None) in transcript
    assert any(m[0] == "user" and m[3] == "没帮助" for m in transcript)
    assert transcript[-1][0] == "bot" and "不客气" in transcript[-1][1]
    assert all(a.at <= b.at for a, b in zip(view.transcript, view.transcript[1:]))


def test_words_of_disappointment_right_after_an_answer_open_an_order(servers: Servers, orders: OrderService) -> None:
    who = sender("wordsno")
    servers.say(who, "漏电保护器多久试一次")
    ticket = work_order(servers.say(who, "答非所问"))
    assert ticket.get("order_no"), "答非所问 after an answer must open a work order"
    assert orders.get(ticket["order_no"]).reason == "not_helpful"


def test_asking_twice_for_a_person_keeps_one_order(servers: Servers, orders: OrderService) -> None:
    who = sender("human")
    first = work_order(servers.say(who, "转人工"))
    second = work_order(servers.say(who, "人工客服"))
    assert first["status"] == "stored"
    assert second["status"] == "appended" and second["order_no"] == first["order_no"]
    mine = orders.orders_for(channel="rest", sender_id=rest_id(who))
    assert [o.order_no for o in mine] == [first["order_no"]]
    assert mine[0].reason == "request_human"
    assert [m[1] for m in stored(mine[0]) if m[0] == "user"] == ["转人工", "人工客服"]


def test_an_electricity_question_the_knowledge_base_cannot_answer_opens_an_order(
        servers: Servers, orders: OrderService) -> None:
    who = sender("enginefail")
    reply = servers.say(who, "供电所所长的电话是多少")
    meta = custom(reply)
    if meta.get("outcome") != "fail":
        pytest.fail(f"the probe question was not a failure for the engine: {meta}")
    ticket = work_order(reply)
    assert ticket.get("order_no"), reply
    view = orders.get(ticket["order_no"])
    assert view.reason in ("engine_fail", "nlu_fallback")
    assert view.candidates, "the engine's best guesses travel with the order"


def test_two_messages_running_that_nlu_cannot_read_open_an_order(servers: Servers, orders: OrderService) -> None:
    who = sender("fallback")
    first = servers.say(who, "qwzx plmn")
    assert work_order(first) == {} and "没太明白" in texts(first)
    ticket = work_order(servers.say(who, "zzkv bnmq"))
    assert ticket.get("order_no")
    assert orders.get(ticket["order_no"]).reason == "nlu_fallback"


def test_chit_chat_opens_no_order_until_the_customer_asks_for_a_person(servers: Servers, orders: OrderService) -> None:
    who = sender("chitchat")
    assert "不在我的服务范围" in texts(servers.say(who, "讲个笑话听听"))
    assert "不在我的服务范围" in texts(servers.say(who, "天然气费用怎么交"))
    assert orders.orders_for(channel="rest", sender_id=rest_id(who)) == []
    assert work_order(servers.say(who, "那帮我转人工吧")).get("order_no")
    assert len(orders.orders_for(channel="rest", sender_id=rest_id(who))) == 1


def test_a_customer_reads_their_own_orders_and_nobody_elses(servers: Servers) -> None:
    alice, bob = sender("alice"), sender("bob")
    number = work_order(servers.say(alice, "转人工"))["order_no"]
    own = texts(servers.say(alice, f"查询工单 {number}"))
    assert number in own and STATUS_NEW in own
    assert number in texts(servers.say(alice, "我的工单"))
    other = texts(servers.say(bob, f"查询工单 {number}"))
    assert "没有查到" in other and STATUS_NEW not in other
    assert number not in texts(servers.say(bob, "我的工单"))


def test_a_badly_formed_phone_number_is_refused_politely(servers: Servers, orders: OrderService) -> None:
    who = sender("badphone")
    number = work_order(servers.say(who, "转人工"))["order_no"]
    reply = texts(servers.say(who, "我的电话是123"))
    assert "格式" in reply and "13812345678" in reply  # says what a good one looks like
    assert orders.get(number).phone is None


def test_a_retried_action_call_does_not_duplicate_the_order(servers: Servers, orders: OrderService) -> None:
    who = sender("retry")
    servers.say(who, "阶梯电价怎么算")
    tracker = with_user_turn(servers.tracker(who), "转人工", "request_human")
    body = {"next_action": "action_request_human", "sender_id": rest_id(who), "tracker": tracker, "domain": {},
            "version": "3.6.2"}
    url = f"http://127.0.0.1:{servers.action_port}/webhook"
    headers = action_headers(servers.workdir)
    answers = [requests.post(url, json=body, headers=headers, timeout=60).json() for _ in range(3)]
    numbers = {work_order(a["responses"])["order_no"] for a in answers}
    assert len(numbers) == 1 and None not in numbers
    assert len(orders.orders_for(channel="rest", sender_id=rest_id(who))) == 1


def with_user_turn(tracker: Dict[str, Any], text: str, intent: str) -> Dict[str, Any]:
    """The tracker as Rasa would send it to the action server after one more customer message."""
    t = copy.deepcopy(tracker)
    parse = {"text": text, "intent": {"name": intent, "confidence": 1.0}, "entities": [],
             "intent_ranking": [{"name": intent, "confidence": 1.0}]}
    t["events"].append({"event": "user", "timestamp": time.time(), "text": text, "parse_data": parse,
                        "input_channel": "rest", "message_id": uuid.uuid4().hex})
    t["latest_message"] = parse
    t["latest_input_channel"] = "rest"
    return t


# --- the database is down when an order must be opened ----------------------------------------
@pytest.fixture()
def missing_pg_database() -> Iterator[str]:
    """A PostgreSQL URL whose database does not exist yet (connections fail as in an outage)."""
    with scratch_pg_database("orders_down", create=False) as name:
        yield name

def test_database_down_spools_then_the_order_appears_complete_when_it_is_back(
        servers: Servers, missing_pg_database: str, tmp_path: Path) -> None:
    url = f"postgresql://postgres@127.0.0.1:5432/{missing_pg_database}"
    port = free_port()
    # A short circuit-breaker cooldown, so the background flusher notices the database is back soon.
    env = dict(servers.env, ORDERS_DB_URL=url, BOT_VAR_DIR=str(tmp_path), ACTION_PORT=str(port),
               ORDERS_BREAKER_SECONDS="1")
    log = tmp_path / "actions.log"
    proc = subprocess.Popen([sys.executable, "-m", "bot.action_server", "--port", str(port)],
                            cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{port}/health", proc, log, 90)
        who = sender("outage")
        servers.say(who, "家里停电了 邻居家有电")
        tracker = with_user_turn(servers.tracker(who), "转人工", "request_human")
        body = {"next_action": "action_request_human", "sender_id": rest_id(who), "tracker": tracker, "domain": {}}
        headers = action_headers(tmp_path)
        reply = requests.post(f"http://127.0.0.1:{port}/webhook", json=body, headers=headers,
                              timeout=60).json()["responses"]
        ticket = work_order(reply)
        assert ticket["status"] == "spooled" and ticket["order_no"] is None
        assert "GD" not in texts(reply) and "记录" in texts(reply)   # honest: recorded, no number
        assert list((tmp_path / "spool").glob("*.json")), "the request must be on disk"

        admin = pg_admin()
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{missing_pg_database}"')  # the database is back
        admin.close()

        # The action server's background flusher replays the spool on its own, in order.
        deadline = time.monotonic() + 90
        while list((tmp_path / "spool").glob("*.json")) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not list((tmp_path / "spool").glob("*.json")), "the background flusher did not replay"
        query = with_user_turn(tracker, "我的工单", "query_work_order")
        body = {"next_action": "action_query_work_order", "sender_id": rest_id(who), "tracker": query, "domain": {}}
        status = texts(requests.post(f"http://127.0.0.1:{port}/webhook", json=body, headers=headers,
                                     timeout=60).json()["responses"])
        assert "GD" in status, status
        service = OrderService.from_url(url, spool_dir=tmp_path / "reader-spool")
        [view] = service.orders_for(channel="rest", sender_id=rest_id(who))
        assert view.reason == "request_human"
        assert stored(view) == conversation(tracker)
        assert not list((tmp_path / "spool").glob("*.json"))
        service.store.dispose()
    finally:
        proc.terminate()
        proc.wait(20)


def _say_with_id(servers: Servers, who: str, text: str, request_id: str) -> List[Dict[str, Any]]:
    r = requests.post(f"{servers.url}/webhooks/rest/webhook", json={"sender": who, "message": text},
                      headers={"X-Request-ID": request_id}, timeout=60)
    r.raise_for_status()
    return r.json()


def test_a_request_sent_again_with_its_id_is_answered_from_the_store_not_run_twice(
        servers: Servers, orders: OrderService) -> None:
    # haproxy retries a request whose process died mid-turn, and the web chat page's 重新发送
    # sends a message again, with the same X-Request-ID (bot/turn_replay.py).
    who = sender("again")
    servers.say(who, "阶梯电价怎么算")
    request_id = uuid.uuid4().hex
    first = _say_with_id(servers, who, "转人工", request_id)
    assert work_order(first), first
    again = _say_with_id(servers, who, "转人工", request_id)
    assert again == first                     # the same answer, the same order number
    users = [e["text"] for e in servers.tracker(who)["events"] if e["event"] == "user"]
    assert users == ["阶梯电价怎么算", "转人工"]  # stored once
    (order,) = orders.orders_for(channel="rest", sender_id=rest_id(who))
    assert [m.text for m in order.transcript if m.role == "user"] == ["阶梯电价怎么算", "转人工"]
    # A new request with the same words is a new turn.
    _say_with_id(servers, who, "转人工", uuid.uuid4().hex)
    users = [e["text"] for e in servers.tracker(who)["events"] if e["event"] == "user"]
    assert users == ["阶梯电价怎么算", "转人工", "转人工"]
