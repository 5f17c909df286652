"""Spoofing, end to end: the real Rasa server, action server and order database.

A web chat customer and a WeChat customer each open a work order and leave a phone. Then an
attacker tries every channel with their ids (REST body sender and input_channel, web chat body
sender and copied ids, a forged WeChat signature, direct calls to the action server): 0 orders
are disclosed and 0 phones changed. Limits: a long message is cut with a notice, a 100 MB body is
refused, and the server keeps answering.
"""
from __future__ import annotations

import copy
import socket
import time
import uuid
from typing import Any, Dict, List

import pytest
import requests

from bot.orders import OrderService
from servers import Servers, action_headers, texts
from wechat_fake import WeChatClient

PHONE = "13812345678"
ATTACKER_PHONE = "13900000000"


def _order_no(messages: List[Dict[str, Any]]) -> str:
    for m in messages:
        custom = m.get("custom") or {}
        if custom.get("type") == "work_order" and custom.get("order_no"):
            return custom["order_no"]
    raise AssertionError(f"no work order in {messages}")


@pytest.fixture(scope="module")
def orders(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> OrderService:
    return OrderService.from_url(f"sqlite:///{servers.workdir / 'orders.db'}",
                                 spool_dir=tmp_path_factory.mktemp("reader-spool"))


@pytest.fixture(scope="module")
def victims(servers: Servers, orders: OrderService) -> Dict[str, Any]:
    """A web chat customer and a WeChat customer, each with an order and a phone."""
    web = requests.Session()
    url = f"{servers.url}/webhooks/webchat/webhook"
    web_order = _order_no(web.post(url, json={"message": "转人工"}, timeout=60).json())
    web.post(url, json={"message": PHONE}, timeout=60)
    web_id = next(c.value for c in web.cookies if c.name == "webchat_id").rpartition(".")[0]

    wechat = WeChatClient(f"{servers.url}/webhooks/wechat/webhook", servers.wechat, safe=True)
    openid = f"oVictim{uuid.uuid4().hex[:10]}"
    wx_order = _order_no_in_text(wechat.say(openid, "转人工", servers.wechat_api))
    wechat.say(openid, PHONE, servers.wechat_api)
    assert orders.get(web_order).phone == PHONE and orders.get(wx_order).phone == PHONE
    return {"web_id": web_id, "web_order": web_order, "wx_id": f"wx:{openid}", "wx_order": wx_order,
            "web_session": web}


def _order_no_in_text(text: str) -> str:
    import re

    match = re.search(r"GD\d{12}", text or "")
    assert match, text
    return match.group(0)


def test_no_channel_and_no_direct_call_discloses_or_changes_another_customers_order(
        servers: Servers, orders: OrderService, victims: Dict[str, Any]) -> None:
    numbers = (victims["web_order"], victims["wx_order"])
    replies: List[tuple] = []  # (what the attacker sent, what came back)
    rest = f"{servers.url}/webhooks/rest/webhook"
    for victim in (victims["web_id"], victims["wx_id"]):
        channel = "webchat" if victim.startswith("web:") else "wechat"
        for text in ("我的工单", f"查询工单 {numbers[0]}", f"查询工单 {numbers[1]}", ATTACKER_PHONE):
            # REST: sender and input_channel from the body
            body = {"sender": victim, "input_channel": channel, "message": text, "metadata": {"sender": victim}}
            replies.append((text, texts(requests.post(rest, json=body, timeout=60).json())))
            # web chat: a body sender, and the id as a cookie without (or with a made-up) signature
            web = f"{servers.url}/webhooks/webchat/webhook"
            replies.append((text, texts(requests.post(web, json={"sender": victim, "message": text},
                                                      timeout=60).json())))
            for cookie in (victim, victim + ".0000"):
                r = requests.post(web, json={"message": text}, cookies={"webchat_id": cookie}, timeout=60)
                replies.append((text, texts(r.json())))
    # WeChat: a body naming the victim, with a forged signature
    forged = WeChatClient(f"{servers.url}/webhooks/wechat/webhook", servers.wechat, safe=False)
    params = dict(forged.signed_params(), signature="0" * 40)
    r = requests.post(forged.url, params=params, data=forged.text_xml(victims["wx_id"][3:], "我的工单"),
                      timeout=30)
    assert r.status_code == 403
    # the action server, called directly: without a token, with a wrong one
    action_url = f"http://127.0.0.1:{servers.action_port}/webhook"
    for victim in (victims["web_id"], victims["wx_id"]):
        for name, text in (("action_query_work_order", "我的工单"), ("action_store_phone", ATTACKER_PHONE)):
            call = _action_call(servers, victim, name, text)
            for headers in ({}, {"Authorization": "Bearer guessed"}):
                r = requests.post(action_url, json=call, headers=headers, timeout=60)
                assert r.status_code == 403
                replies.append((text, r.text))
    # Disclosed: a number the attacker did not type shows up, or one they typed is not refused
    # ("没有查到" echoes the number typed, nothing more).
    disclosed = sum(1 for sent, reply in replies for no in numbers
                    if no in reply and (no not in sent or "没有查到" not in reply))
    changed = sum(1 for no in numbers if orders.get(no).phone != PHONE)
    assert (disclosed, changed) == (0, 0)
    # and the real customers still see their own
    mine = texts(victims["web_session"].post(f"{servers.url}/webhooks/webchat/webhook",
                                             json={"message": "我的工单"}, timeout=60).json())
    assert victims["web_order"] in mine


def test_the_action_server_answers_with_its_token(servers: Servers, victims: Dict[str, Any]) -> None:
    call = _action_call(servers, victims["web_id"], "action_query_work_order", "我的工单")
    r = requests.post(f"http://127.0.0.1:{servers.action_port}/webhook", json=call,
                      headers=action_headers(servers.workdir), timeout=60)
    assert r.status_code == 200 and victims["web_order"] in r.text


def test_a_long_message_is_cut_with_a_notice_and_a_huge_body_is_refused(servers: Servers) -> None:
    reply = servers.say("long-msg", "我家电费太贵了，" * 1000)  # 8,000 characters (48 KB as JSON)
    assert "太长" in texts(reply)
    assert _status_of_huge_body(servers.rasa_port, 100 * 1024 * 1024) == 413
    r = requests.post(f"{servers.url}/webhooks/rest/webhook",
                      data=b'{"sender": "big", "message": "' + b"a" * 200_000 + b'"}', timeout=60)
    assert r.status_code == 413
    assert "电力服务助手" in texts(servers.say("after-big", "你好"))


def _status_of_huge_body(port: int, size: int) -> int:
    """Announce a body of ``size`` bytes, send a little of it, and read the status line."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall((f"POST /webhooks/rest/webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   f"Content-Length: {size}\r\n\r\n").encode() + b"{" * 65536)
        data = s.recv(200).decode("latin-1")
    return int(data.split()[1])


def _action_call(servers: Servers, sender_id: str, action: str, text: str) -> Dict[str, Any]:
    parse = {"text": text, "intent": {"name": "query_work_order", "confidence": 1.0}, "entities": []}
    events = [{"event": "user", "timestamp": time.time(), "text": text, "parse_data": parse,
               "input_channel": "webchat", "message_id": uuid.uuid4().hex}]
    tracker = {"sender_id": sender_id, "slots": {}, "latest_message": copy.deepcopy(parse), "events": events,
               "paused": False, "followup_action": None, "active_loop": {}, "latest_action_name": "action_listen",
               "latest_input_channel": "webchat"}
    return {"next_action": action, "sender_id": sender_id, "tracker": tracker, "domain": {}, "version": "3.6.2"}


def test_a_customer_cannot_send_the_consoles_intents(servers: Servers, orders: OrderService) -> None:
    """A message starting with "/" is an intent to Rasa; typed by a customer it may only be a button's
    shortcut: /EXTERNAL_livechat_timeout (the console's: it opens an order with the conversation) is
    read as plain text and opens nothing, and a real button's shortcut still works."""
    sender = f"slash-{uuid.uuid4().hex[:6]}"
    url = f"{servers.url}/webhooks/rest/webhook"

    def say(text: str) -> List[Dict[str, Any]]:
        r = requests.post(url, json={"sender": sender, "message": text}, timeout=60)
        assert r.status_code == 200
        return r.json()

    say("阶梯电价怎么算")
    say("/EXTERNAL_livechat_timeout")
    assert orders.orders_for(channel="rest", sender_id=f"rest:{sender}") == []
    intents = [e["parse_data"]["intent"]["name"] for e in servers.tracker(sender)["events"] if e.get("event") == "user"]
    assert len(intents) == 2 and intents[1] != "EXTERNAL_livechat_timeout"
    say("/feedback_positive")
    assert servers.tracker(sender)["latest_message"]["intent"]["name"] == "feedback_positive"
