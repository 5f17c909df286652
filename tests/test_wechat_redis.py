"""Several Rasa processes behind a load balancer share WeChat state through the real Redis:
a retry that lands on another process neither starts a second turn nor delivers a second answer."""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Iterator, List, Tuple

import pytest

from bot.channels.wechat import WeChatConfig, WeChatInput
from bot.channels.common.store import RedisStore
from conftest import require_redis
from wechat_fake import ChannelServer, FakeWeChatApi, StubRasa, WeChatAccount, WeChatClient

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="module", autouse=True)
def redis_up() -> None:
    require_redis(REDIS_URL)


@pytest.fixture()
def two_processes() -> Iterator[Tuple[List[WeChatClient], StubRasa, FakeWeChatApi, List[WeChatInput]]]:
    """Two channel instances with their own memory and one Redis — like two `rasa run` processes."""
    account = WeChatAccount.generate()  # a fresh AppID, so keys do not collide with other runs
    api = FakeWeChatApi(account.app_id, account.app_secret).start()
    rasa = StubRasa()  # one conversation store behind both, as Rasa's shared tracker store would be
    config = WeChatConfig(account.token, account.app_id, account.app_secret, account.aes_key, api.url,
                          passive_timeout=4.0, redis_url=REDIS_URL)
    channels = [WeChatInput(config, store=RedisStore(REDIS_URL)) for _ in range(2)]
    servers = [ChannelServer(c, rasa) for c in channels]
    yield [WeChatClient(s.url, account) for s in servers], rasa, api, channels
    for s in servers:
        s.stop()
    api.stop()


def test_retry_on_another_process_reuses_the_answer_of_the_first(two_processes) -> None:  # type: ignore[no-untyped-def]
    (a, b), rasa, api, _ = two_processes
    rasa.delay = 0.6
    xml = a.text_xml("oRedis1", "电费怎么交")
    with ThreadPoolExecutor(3) as pool:
        first = pool.submit(a.post, xml)
        time.sleep(0.2)  # the retries arrive while process A is still computing
        retries = [pool.submit(b.post, xml), pool.submit(b.post, xml)]
        answers = [a.reply_text(first.result())] + [b.reply_text(r.result()) for r in retries]
    assert rasa.texts() == ["电费怎么交"]
    assert answers == [answers[0]] * 3 and "电费怎么交" in answers[0]
    assert api.texts_for("oRedis1") == []


def test_slow_answer_is_delivered_once_even_when_the_retry_hits_another_process(two_processes) -> None:  # type: ignore[no-untyped-def]
    (a, b), rasa, api, channels = two_processes
    for c in channels:
        c.turns.passive_timeout = 0.2
    rasa.delay = 1.0
    xml = a.text_xml("oRedis2", "新装要多久")
    assert a.post(xml).text == "success"
    assert b.post(xml).text == "success"
    sends = api.wait_for("oRedis2", 1, timeout=30)
    time.sleep(0.5)
    assert b.post(xml).text == "success"  # delivered through the API already: nothing more
    assert api.texts_for("oRedis2") == sends and len(sends) == 1 and "新装要多久" in sends[0]
    assert rasa.texts() == ["新装要多久"]


def test_a_choice_offered_by_one_process_is_understood_by_another(two_processes) -> None:  # type: ignore[no-untyped-def]
    (a, b), rasa, _api, _ = two_processes
    a.post(a.text_xml("oRedis3", "阶梯电价"))  # process A offers 1. 有帮助 2. 没帮助
    b.post(b.text_xml("oRedis3", "2"))
    assert rasa.texts() == ["阶梯电价", "/feedback_negative"]
