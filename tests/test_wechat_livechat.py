"""在线人工 on WeChat (issue 15): a WeChat customer held by an agent, the agent's words through
客服消息 within WeChat's limits, and the rating by number after 结束.

The session's real Rasa and action servers run the WeChat channel (safe mode, real wechatpy
signatures and encryption) with a fake WeChat API; the console's desk (bot.console.app.live_desk)
runs here, on the same work-order database, with the same fake API.
"""
from __future__ import annotations

import secrets
from typing import Any, Dict, Iterator, List

import pytest
import requests

from bot.console.app import live_desk
from bot.livechat.desk import WECHAT_QUOTA, LiveDesk
from bot.orders.livechat import ChatView, LiveChatStore
from bot.orders.store import OrderStore
from bot.settings import Settings
from conftest import run_async
from servers import Servers
from wechat_fake import WeChatClient

AGENT = "微信客服小王"


@pytest.fixture(scope="module")
def wechat(servers: Servers) -> WeChatClient:
    assert servers.wechat is not None
    return WeChatClient(f"{servers.url}/webhooks/wechat/webhook", servers.wechat, safe=True)


@pytest.fixture(scope="module")
def store(servers: Servers) -> Iterator[OrderStore]:
    s = OrderStore.from_url(f"sqlite:///{servers.workdir / 'orders.db'}")
    yield s
    s.dispose()


@pytest.fixture(scope="module")
def chats(store: OrderStore) -> LiveChatStore:
    return LiveChatStore(store)


@pytest.fixture(scope="module")
def desk(servers: Servers, store: OrderStore) -> LiveDesk:
    """The console's desk as bot.console.app builds it, pointed at the session's servers."""
    assert servers.wechat is not None and servers.wechat_api is not None
    settings = Settings(var_dir=servers.workdir, rasa_url=servers.url, livechat_hours="00:00-24:00",
                        wechat_app_id=servers.wechat.app_id, wechat_app_secret=servers.wechat.app_secret,
                        wechat_api_base=servers.wechat_api.url)
    built = live_desk(settings, store)
    assert built.wechat_send is not None
    return built


@pytest.fixture(autouse=True)
def agent_on_duty(chats: LiveChatStore) -> Iterator[None]:
    chats.set_status(AGENT, "online")
    yield
    # Other tests of the session expect nobody on duty (转人工 → a work order).
    chats.set_status(AGENT, "away")


def customer() -> str:
    return "oLive" + secrets.token_hex(6)


def events(servers: Servers, openid: str) -> List[Dict[str, Any]]:
    r = requests.get(f"{servers.url}/conversations/wx:{openid}/tracker", params={"include_events": "ALL"},
                     timeout=30)
    return r.json()["events"]


def held_chat(servers: Servers, wechat: WeChatClient, chats: LiveChatStore, desk: LiveDesk, who: str) -> ChatView:
    """The customer asks for a person on WeChat, is queued, and the agent accepts."""
    api = servers.wechat_api
    queued = wechat.say(who, "转人工", api)
    assert "正在为您转接人工客服" in queued, queued
    chat = chats.open_chat_for(f"wx:{who}")
    assert chat is not None and chat.state == "waiting" and chat.channel == "wechat"
    before = len(api.texts_for(who))
    run_async(desk.accept(chat.id, AGENT))
    joined = api.wait_for(who, before + 1, timeout=30)[before:]
    assert joined and AGENT in joined[0] and "已接入" in joined[0]
    return chats.get(chat.id)


def silent(wechat: WeChatClient, who: str, text: str) -> None:
    """A customer message the channel answers with "success" (no passive reply)."""
    assert wechat.reply_text(wechat.post(wechat.text_xml(who, text))) is None


def test_a_held_customer_reaches_the_agent_and_the_bot_stays_silent(
        servers: Servers, wechat: WeChatClient, chats: LiveChatStore, desk: LiveDesk) -> None:
    who = customer()
    chat = held_chat(servers, wechat, chats, desk, who)
    sent_before = len(servers.wechat_api.texts_for(who))

    silent(wechat, who, "我家电表箱一直跳闸，能派人来看看吗")
    silent(wechat, who, "1")  # would be 留言/转工单 from the queue message: here it is for the agent

    kept = [m for m in chats.messages(chat.id) if m.direction == "in"]
    assert [(m.author, m.text) for m in kept] == [("customer", "我家电表箱一直跳闸，能派人来看看吗"),
                                                  ("customer", "1")]
    log = events(servers, who)
    users = [e for e in log if e["event"] == "user"]
    assert [e["text"] for e in users[-2:]] == ["我家电表箱一直跳闸，能派人来看看吗", "1"]
    assert all(e["metadata"]["livechat"]["chat"] == chat.id for e in users[-2:])
    assert all(e["input_channel"] == "wechat" for e in users[-2:])
    # The bot did not answer: nothing after the pause but the customer's messages (and no action).
    after_pause = log[max(i for i, e in enumerate(log) if e["event"] == "pause"):]
    assert {e["event"] for e in after_pause} <= {"pause", "user", "user_featurization"}
    assert len(servers.wechat_api.texts_for(who)) == sent_before
    run_async(desk.end(chat.id, AGENT))


def test_the_agents_message_goes_out_as_a_customer_service_text(
        servers: Servers, wechat: WeChatClient, chats: LiveChatStore, desk: LiveDesk) -> None:
    who = customer()
    api = servers.wechat_api
    chat = held_chat(servers, wechat, chats, desk, who)
    before = len(api.sends_for(who))

    message = run_async(desk.send(chat.id, AGENT, "您好，请提供一下户号，我帮您查询。"))

    sends = api.sends_for(who)[before:]
    assert [(s.openid, s.msgtype, s.content) for s in sends] == [(who, "text", "您好，请提供一下户号，我帮您查询。")]
    row = next(m for m in chats.messages(chat.id) if m.id == message.id)
    assert row.delivered_at is not None and row.delivery_error is None
    bots = [e for e in events(servers, who) if e["event"] == "bot"]
    assert bots[-1]["text"] == "您好，请提供一下户号，我帮您查询。"
    assert bots[-1]["metadata"]["livechat"]["agent"] == AGENT
    run_async(desk.end(chat.id, AGENT))


def test_the_sixth_message_waits_for_the_customer_then_the_sweep_sends_it(
        servers: Servers, wechat: WeChatClient, chats: LiveChatStore, desk: LiveDesk) -> None:
    who = customer()
    api = servers.wechat_api
    chat = held_chat(servers, wechat, chats, desk, who)
    silent(wechat, who, "好的，我等着")  # the customer's last message: the count starts again
    before = len(api.texts_for(who))

    sent = [run_async(desk.send(chat.id, AGENT, f"第{i}条说明")) for i in range(1, WECHAT_QUOTA + 2)]

    assert api.texts_for(who)[before:] == [f"第{i}条说明" for i in range(1, WECHAT_QUOTA + 1)]
    rows = {m.id: m for m in chats.messages(chat.id)}
    sixth = rows[sent[-1].id]
    assert sixth.delivered_at is None and "上限" in (sixth.delivery_error or "")
    assert desk.wechat_quota_left(chats.get(chat.id)) == 0
    run_async(desk.sweep())
    assert "第6条说明" not in api.texts_for(who)  # still blocked: the customer has not written

    silent(wechat, who, "收到")
    run_async(desk.sweep())

    assert api.texts_for(who)[-1] == "第6条说明"
    sixth = next(m for m in chats.messages(chat.id) if m.id == sent[-1].id)
    assert sixth.delivered_at is not None and sixth.delivery_error is None
    run_async(desk.end(chat.id, AGENT))


@pytest.mark.parametrize("errcode,reason", [(45015, "48 小时"), (45047, "条数上限")])
def test_wechat_refusals_are_kept_as_reasons_and_retried(
        servers: Servers, wechat: WeChatClient, chats: LiveChatStore, desk: LiveDesk,
        errcode: int, reason: str) -> None:
    who = customer()
    api = servers.wechat_api
    chat = held_chat(servers, wechat, chats, desk, who)

    api.refuse_sends.append(errcode)
    message = run_async(desk.send(chat.id, AGENT, "请问还有其他问题吗？"))

    row = next(m for m in chats.messages(chat.id) if m.id == message.id)
    assert row.delivered_at is None and reason in (row.delivery_error or "")
    assert "请问还有其他问题吗？" not in api.texts_for(who)
    run_async(desk.sweep())  # WeChat accepts it now
    assert api.texts_for(who)[-1] == "请问还有其他问题吗？"
    run_async(desk.end(chat.id, AGENT))


def rating_prompt(servers: Servers, who: str, before: int) -> str:
    sent = servers.wechat_api.wait_for(who, before + 1, timeout=30)[before:]
    prompt = next((t for t in sent if "评价" in t), "")
    assert "1. 满意\n2. 基本满意\n3. 不满意" in prompt, sent
    return prompt


def test_after_the_end_replying_2_rates_the_chat_basically_satisfied(
        servers: Servers, wechat: WeChatClient, chats: LiveChatStore, desk: LiveDesk) -> None:
    who = customer()
    chat = held_chat(servers, wechat, chats, desk, who)
    silent(wechat, who, "谢谢，已经好了")
    before = len(servers.wechat_api.texts_for(who))

    run_async(desk.end(chat.id, AGENT))
    rating_prompt(servers, who, before)
    thanks = wechat.say(who, "2", servers.wechat_api)

    assert "感谢您的评价" in thanks
    assert chats.get(chat.id).rating == "基本满意"
    last = [e for e in events(servers, who) if e["event"] == "user"][-1]
    assert last["parse_data"]["intent"]["name"] == "rate_service"
    # The choice is answered: a later "1" is no rating any more.
    wechat.say(who, "1", servers.wechat_api)
    assert [e for e in events(servers, who) if e["event"] == "user"][-1]["text"] == "1"
    assert chats.get(chat.id).rating == "基本满意"


def test_the_rating_choice_wins_over_older_buttons_the_bot_offered(
        servers: Servers, wechat: WeChatClient, chats: LiveChatStore, desk: LiveDesk) -> None:
    # The queue message offered "1. 留言/转工单"; the customer says nothing while held, so the
    # channel's own memory still has that button when the console's rating prompt arrives.
    who = customer()
    chat = held_chat(servers, wechat, chats, desk, who)
    run_async(desk.send(chat.id, AGENT, "已为您登记，抢修人员稍后联系您。"))
    before = len(servers.wechat_api.texts_for(who))

    run_async(desk.end(chat.id, AGENT))
    rating_prompt(servers, who, before)
    wechat.say(who, "1", servers.wechat_api)

    assert chats.get(chat.id).rating == "满意"
    last = [e for e in events(servers, who) if e["event"] == "user"][-1]
    assert last["text"] == '/rate_service{"rating":"满意"}'  # not /leave_message


def test_typing_a_rating_title_picks_it(servers: Servers, wechat: WeChatClient, chats: LiveChatStore,
                                        desk: LiveDesk) -> None:
    who = customer()
    chat = held_chat(servers, wechat, chats, desk, who)
    before = len(servers.wechat_api.texts_for(who))
    run_async(desk.end(chat.id, AGENT))
    rating_prompt(servers, who, before)

    wechat.say(who, "不满意", servers.wechat_api)

    assert chats.get(chat.id).rating == "不满意"
    last = [e for e in events(servers, who) if e["event"] == "user"][-1]
    assert last["text"] == '/rate_service{"rating":"不满意"}'


def test_nothing_empty_is_sent_to_wechat_after_the_end(
        servers: Servers, wechat: WeChatClient, chats: LiveChatStore, desk: LiveDesk) -> None:
    who = customer()
    chat = held_chat(servers, wechat, chats, desk, who)
    before = len(servers.wechat_api.texts_for(who))
    run_async(desk.end(chat.id, AGENT))
    rating_prompt(servers, who, before)
    run_async(desk.sweep())
    assert all(t.strip() for t in servers.wechat_api.texts_for(who))
