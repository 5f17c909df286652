"""End to end: WeChat (safe mode) → the real Rasa server and action server → the customer.

The session's Rasa server (tests/conftest.py `servers`) runs the WeChat channel with a made-up
official account; its customer-service API calls go to a fake WeChat API in this process.
"""
from __future__ import annotations

import re
import secrets
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List

import pytest
import requests

from servers import Servers
from wechat_fake import WeChatClient


@pytest.fixture(scope="module")
def wechat(servers: Servers) -> WeChatClient:
    assert servers.wechat is not None
    return WeChatClient(f"{servers.url}/webhooks/wechat/webhook", servers.wechat, safe=True)


def customer() -> str:
    return "oE2E" + secrets.token_hex(6)


def user_events(servers: Servers, openid: str) -> List[Dict[str, Any]]:
    return [e for e in servers.tracker(f"wx:{openid}")["events"] if e["event"] == "user"]


def test_question_in_safe_mode_gets_the_knowledge_answer_with_numbered_choices(
        servers: Servers, wechat: WeChatClient) -> None:
    who = customer()
    answer = wechat.say(who, "阶梯电价怎么算", servers.wechat_api)
    assert "阶梯" in answer
    assert "1. 有帮助\n2. 没帮助" in answer and "{" not in answer
    events = user_events(servers, who)
    assert [e["input_channel"] for e in events] == ["wechat"]


def test_reply_with_a_number_sends_the_button_payload_to_rasa(servers: Servers, wechat: WeChatClient) -> None:
    who = customer()
    wechat.say(who, "阶梯电价怎么算", servers.wechat_api)
    reply = wechat.say(who, "1", servers.wechat_api)  # 1. 有帮助
    assert "感谢您的反馈" in reply
    assert user_events(servers, who)[-1]["parse_data"]["intent"]["name"] == "feedback_positive"


def test_same_message_three_times_is_one_turn_in_the_tracker(servers: Servers, wechat: WeChatClient) -> None:
    who = customer()
    msg_id = wechat.next_msg_id()
    xml = wechat.text_xml(who, "峰谷电价怎么申请", msg_id)
    with ThreadPoolExecutor(3) as pool:
        responses = list(pool.map(lambda _i: wechat.post(xml), range(3)))
    assert all(r.status_code == 200 for r in responses)
    events = user_events(servers, who)
    assert [e["message_id"] for e in events] == [str(msg_id)]


def test_subscribe_then_picking_a_topic_by_number(servers: Servers, wechat: WeChatClient) -> None:
    who = customer()
    welcome = wechat.reply_text(wechat.post(wechat.event_xml(who, "subscribe")))
    assert "1. 电价电费" in welcome and "4. 安全用电" in welcome
    wechat.say(who, "2", servers.wechat_api)
    assert user_events(servers, who)[-1]["text"] == "停电报修"


def test_asking_for_a_person_gets_a_work_order_number(servers: Servers, wechat: WeChatClient) -> None:
    who = customer()
    wechat.say(who, "家里停电了怎么办", servers.wechat_api)
    reply = wechat.say(who, "转人工", servers.wechat_api)
    assert re.search(r"GD\d", reply), reply
    assert reply.count(re.search(r"GD[\w-]+", reply).group(0)) == 1  # the number shown once


def test_menu_click_for_a_person_is_the_request_human_intent(servers: Servers, wechat: WeChatClient) -> None:
    who = customer()
    wechat.reply_text(wechat.post(wechat.event_xml(who, "CLICK", "HUMAN")))
    assert user_events(servers, who)[-1]["parse_data"]["intent"]["name"] == "request_human"


def test_rasa_initiated_message_reaches_the_customer_through_the_api(
        servers: Servers, wechat: WeChatClient) -> None:
    who = customer()
    api = servers.wechat_api
    r = requests.post(f"{servers.url}/conversations/wx:{who}/trigger_intent",
                      params={"output_channel": "wechat"}, json={"name": "greet"}, timeout=60)
    assert r.status_code == 200, r.text
    sent = "\n".join(api.wait_for(who, 1, timeout=30))
    assert "1. 电价电费" in sent and "4. 安全用电" in sent
    wechat.say(who, "4", api)  # the choice offered by the pushed message
    assert user_events(servers, who)[-1]["text"] == "安全用电"


def test_forged_request_is_refused_by_the_real_server(servers: Servers, wechat: WeChatClient) -> None:
    params = wechat.signed_params()
    params["signature"] = "f" * 40
    assert wechat.post(wechat.text_xml(customer(), "你好"), params=params).status_code == 403


def test_nothing_is_logged_at_error(servers: Servers) -> None:
    # Runs after the tests above (pytest keeps file order).
    errors = [line for line in servers.logs().splitlines() if re.search(r"\bERROR\b", line)]
    assert errors == []
