"""WeChat trust boundary: a captured signed URL cannot carry another body; the Token is long enough;
long messages are cut before the NLU; one openid cannot flood."""
from __future__ import annotations

from typing import Any, Iterator, List

import pytest
import requests

from bot.channels.wechat import WeChatConfig, WeChatInput
from wechat_fake import ChannelServer, FakeWeChatApi, StubRasa, WeChatAccount, WeChatClient


@pytest.fixture(scope="module")
def account() -> WeChatAccount:
    return WeChatAccount.generate()


@pytest.fixture(scope="module")
def api(account: WeChatAccount) -> Iterator[FakeWeChatApi]:
    fake = FakeWeChatApi(account.app_id, account.app_secret).start()
    yield fake
    fake.stop()


@pytest.fixture()
def make(account: WeChatAccount, api: FakeWeChatApi) -> Iterator[Any]:
    servers: List[ChannelServer] = []

    def factory(safe: bool = False, **config: Any) -> Any:
        rasa = StubRasa()
        channel = WeChatInput(WeChatConfig(account.token, account.app_id, account.app_secret,
                                           account.aes_key if safe else "", api.url, 4.0, **config))
        server = ChannelServer(channel, rasa)
        servers.append(server)
        return rasa, WeChatClient(server.url, account, safe=safe)

    yield factory
    for s in servers:
        s.stop()


def test_plain_mode_refuses_a_signed_url_replayed_with_another_body(make: Any) -> None:
    rasa, client = make(safe=False)
    params = client.signed_params()
    first = client.post(client.text_xml("oAlice", "你好"), params=params)
    assert first.status_code == 200
    # the same URL, the attacker's body: another customer's openid
    forged = client.post(client.text_xml("oVictim", "我的工单"), params=params)
    assert forged.status_code == 403
    assert [t.sender_id for t in rasa.turns] == ["wx:oAlice"]


def test_plain_mode_accepts_the_same_request_again_as_a_retry(make: Any) -> None:
    rasa, client = make(safe=False)
    params = client.signed_params()
    xml = client.text_xml("oAlice", "你好")
    assert client.post(xml, params=params).status_code == 200
    assert client.post(xml, params=params).status_code == 200  # WeChat's retry: same MsgId, one turn
    assert len(rasa.turns) == 1


@pytest.mark.parametrize("token", ["abc", "short1234", "x" * 33, "有中文的令牌有中文的令牌有中文的令牌"])
def test_a_short_or_odd_token_keeps_the_channel_off(token: str) -> None:
    config = WeChatConfig(token, "wx1234567890abcdef", "secret" * 5)
    assert any("WECHAT_TOKEN" in p for p in config.problems())
    assert not WeChatInput(config).enabled


def test_a_long_wechat_message_is_cut_before_the_nlu_with_a_notice(make: Any, api: FakeWeChatApi) -> None:
    rasa, client = make(safe=True, max_chars=30)
    reply = client.say("oLong", "停电" * 500, api)
    assert [len(t.text) for t in rasa.turns] == [30]
    assert "太长" in reply


def test_one_openid_over_the_rate_limit_is_told_to_wait(make: Any, api: FakeWeChatApi) -> None:
    rasa, client = make(safe=True, per_sender_per_minute=2)
    replies = [client.say("oFast", f"问题{i}", api) for i in range(4)]
    assert len(rasa.turns) == 2
    assert "太频繁" in replies[2] and "太频繁" in replies[3]
    client.say("oSlow", "你好", api)
    assert len(rasa.turns) == 3


def test_rest_of_the_body_size_check_still_answers(make: Any) -> None:
    rasa, client = make(safe=False)
    r = requests.post(client.url, params=client.signed_params(), data=b"<xml>" + b"a" * 70_000 + b"</xml>",
                      timeout=10)
    assert r.status_code == 400 and rasa.turns == []
