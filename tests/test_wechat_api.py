"""The access token is fetched once, reused, refreshed before it expires or when WeChat refuses it;
several processes share one token through Redis."""
from __future__ import annotations

import logging
from typing import Iterator, List

import pytest

from bot.channels.wechat.api import WeChatApi, WeChatApiError
from bot.channels.common.store import MemoryStore, RedisStore
from conftest import require_redis, run_async
from wechat_fake import FakeWeChatApi, WeChatAccount

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture()
def fake() -> Iterator[FakeWeChatApi]:
    account = WeChatAccount.generate()
    api = FakeWeChatApi(account.app_id, account.app_secret).start()
    yield api
    api.stop()


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def test_token_is_fetched_once_and_reused(fake: FakeWeChatApi) -> None:
    api = WeChatApi(MemoryStore(), fake.url, fake.app_id, fake.app_secret)

    async def two_sends() -> None:
        await api.send_text("o1", "第一条")
        await api.send_text("o1", "第二条")

    run_async(two_sends())
    assert fake.token_calls == 1
    assert [(s.content, s.access_token) for s in fake.sends] == [("第一条", "TOKEN-1"), ("第二条", "TOKEN-1")]


def test_token_is_refreshed_before_it_expires(fake: FakeWeChatApi) -> None:
    clock = Clock()
    api = WeChatApi(MemoryStore(), fake.url, fake.app_id, fake.app_secret, margin=300, clock=clock)

    async def run() -> None:
        await api.send_text("o1", "a")
        clock.now += 7200 - 400  # still more than the margin left
        await api.send_text("o1", "b")
        clock.now += 200  # within the margin: refresh before WeChat would refuse it
        await api.send_text("o1", "c")

    run_async(run())
    assert fake.token_calls == 2
    assert [s.access_token for s in fake.sends] == ["TOKEN-1", "TOKEN-1", "TOKEN-2"]


def test_a_refused_token_is_refreshed_and_the_message_sent_once(fake: FakeWeChatApi) -> None:
    api = WeChatApi(MemoryStore(), fake.url, fake.app_id, fake.app_secret)
    fake.refuse_token_once = True
    run_async(api.send_text("o1", "你好"))
    assert fake.token_calls == 2
    assert [(s.content, s.access_token) for s in fake.sends] == [("你好", "TOKEN-2")]


def test_a_wrong_secret_is_reported_clearly_and_logged(fake: FakeWeChatApi,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    api = WeChatApi(MemoryStore(), fake.url, fake.app_id, "wrong-secret")
    with pytest.raises(WeChatApiError, match="WECHAT_APP_SECRET"):
        run_async(api.send_text("o1", "你好"))
    with caplog.at_level(logging.ERROR):
        assert run_async(api.send_texts("o1", ["你好"])) is False
    assert "not delivered" in caplog.text and fake.sends == []


def test_processes_share_one_token_through_redis(fake: FakeWeChatApi) -> None:
    require_redis(REDIS_URL)

    async def run() -> List[str]:
        # Two "processes": separate stores and clients, the same Redis.
        first = WeChatApi(RedisStore(REDIS_URL), fake.url, fake.app_id, fake.app_secret)
        second = WeChatApi(RedisStore(REDIS_URL), fake.url, fake.app_id, fake.app_secret)
        tokens = [await first.access_token(), await second.access_token()]
        await RedisStore(REDIS_URL).delete(f"wechat:token:{fake.app_id}")
        return tokens

    assert run_async(run()) == ["TOKEN-1", "TOKEN-1"]
    assert fake.token_calls == 1
