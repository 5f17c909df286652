"""在线人工 in the WeChat channel without Rasa: a stub plays on_new_message, the live-chat tables
are a SQLite file. Which choices a reply "1" picks (the bot's or the console's, whichever is newer),
a held customer's message kept for the agent, and a database that is down.
(tests/test_wechat_livechat.py runs the same through the real Rasa server and the console's desk.)
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterator, List

import pytest

from bot.channels.wechat import WeChatConfig, WeChatInput
from bot.livechat.queue import HeldCheck
from bot.orders.livechat import LiveChatStore
from bot.orders.store import OrderStore
from bot.replies import RATING_BUTTONS
from bot.settings import Settings
from test_wechat_channel import Harness
from wechat_fake import FakeWeChatApi, WeChatAccount


@pytest.fixture(scope="module")
def account() -> WeChatAccount:
    return WeChatAccount.generate()


@pytest.fixture(scope="module")
def api(account: WeChatAccount) -> Iterator[FakeWeChatApi]:
    fake = FakeWeChatApi(account.app_id, account.app_secret).start()
    yield fake
    fake.stop()


@pytest.fixture()
def chats(tmp_path: Path) -> Iterator[LiveChatStore]:
    store = OrderStore.from_url(f"sqlite:///{tmp_path / 'orders.db'}")
    yield LiveChatStore(store)
    store.dispose()


def channel_with(account: WeChatAccount, api: FakeWeChatApi, live: HeldCheck) -> WeChatInput:
    return WeChatInput(WeChatConfig(account.token, account.app_id, account.app_secret, account.aes_key,
                                    api.url, 4.0), live=live)


@pytest.fixture()
def harness(account: WeChatAccount, api: FakeWeChatApi, chats: LiveChatStore, tmp_path: Path) -> Iterator[Harness]:
    h = Harness(account, api, channel=channel_with(account, api, HeldCheck(Settings(var_dir=tmp_path), chats)))
    yield h
    h.server.stop()


_n = iter(range(10**6))


def openid() -> str:
    return f"oUnitLive{next(_n)}x{int(time.time())}"


def rated_chat(chats: LiveChatStore, sender: str) -> None:
    """A chat an agent ended, and the rating prompt the console sent (as desk.end stores it)."""
    chat, _ = chats.enqueue(sender_id=sender, channel="wechat", reason="request_human", priority=0)
    chats.accept(chat.id, "小王")
    chats.finish(chat.id, state="ended", end_reason="agent", agent="小王")
    chats.add_message(chat.id, sender_id=sender, direction="out", author="system", text="请评价",
                      payload={"text": "请评价", "buttons": RATING_BUTTONS}, tracker_synced=True)


def texts(h: Harness) -> List[str]:
    return h.rasa.texts()


def test_a_held_customers_message_is_kept_for_the_agent_as_typed_and_answered_with_success(
        harness: Harness, chats: LiveChatStore) -> None:
    who = openid()
    harness.client.say(who, "你好", harness.api)  # the stub offers 1. 有帮助 2. 没帮助
    chat, _ = chats.enqueue(sender_id=f"wx:{who}", channel="wechat", reason="request_human", priority=0)
    chats.accept(chat.id, "小王")
    harness.rasa.messages = [{}]  # Rasa's tracker is paused: it says nothing

    reply = harness.client.reply_text(harness.client.post(harness.client.text_xml(who, "1")))

    assert reply is None  # "success"
    assert [(m.direction, m.text) for m in chats.messages(chat.id)] == [("in", "1")]
    turn = harness.rasa.turns[-1]
    assert turn.text == "1" and turn.metadata["livechat"] == {"chat": chat.id}


def test_a_reply_picks_from_the_consoles_choices_when_they_are_newer(harness: Harness, chats: LiveChatStore) -> None:
    who = openid()
    harness.client.say(who, "你好", harness.api)  # the bot's choices: 1. 有帮助 2. 没帮助
    rated_chat(chats, f"wx:{who}")                # then the console's: 1. 满意 2. 基本满意 3. 不满意

    harness.client.say(who, "2", harness.api)
    harness.client.say(who, "1", harness.api)     # now the bot's choices (offered with that answer) are newer

    assert texts(harness)[-2:] == ['/rate_service{"rating":"基本满意"}', "/feedback_positive"]


def test_the_consoles_older_choices_do_not_hide_the_bots_newer_ones(harness: Harness, chats: LiveChatStore) -> None:
    who = openid()
    rated_chat(chats, f"wx:{who}")
    harness.client.say(who, "谢谢", harness.api)  # answered by the bot, with 1. 有帮助 2. 没帮助

    harness.client.say(who, "2", harness.api)

    assert texts(harness)[-1] == "/feedback_negative"


def test_a_typed_title_of_the_consoles_choices_picks_it(harness: Harness, chats: LiveChatStore) -> None:
    who = openid()
    rated_chat(chats, f"wx:{who}")

    harness.client.say(who, "不满意", harness.api)
    harness.client.say(who, "好的3", harness.api)  # neither a number nor a title: text for the bot

    assert texts(harness)[-2:] == ['/rate_service{"rating":"不满意"}', "好的3"]


class BrokenStore:
    """A live-chat store whose database is down."""

    def __getattr__(self, name: str) -> Any:
        def fail(*_args: Any, **_kwargs: Any) -> Any:
            raise RuntimeError("database is down")
        return fail


def test_a_database_that_is_down_leaves_the_bot_answering(account: WeChatAccount, api: FakeWeChatApi,
                                                          tmp_path: Path) -> None:
    live = HeldCheck(Settings(var_dir=tmp_path), BrokenStore())  # type: ignore[arg-type]
    h = Harness(account, api, channel=channel_with(account, api, live))
    try:
        who = openid()
        first = h.client.say(who, "你好", api)
        h.client.say(who, "1", api)
    finally:
        h.server.stop()
    assert "您问的是：你好" in first
    assert h.rasa.texts() == ["你好", "/feedback_positive"]  # the bot's own choices still work
