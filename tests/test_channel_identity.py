"""The REST and web chat channels over HTTP: identity from the channel, limits before the NLU.

A stub stands in for Rasa's on_new_message (it records each turn as Rasa would receive it);
tests/test_e2e_identity.py runs the same channels inside the real Rasa server.
"""
from __future__ import annotations

import socket
from pathlib import Path
from typing import Any, Iterator, List

import pytest
import requests

from bot.channels import identity, limits
from bot.channels.rest import RestChannel
from bot.channels.webchat import COOKIE, WebChatInput
from bot.channels.common.store import MemoryStore
from bot.settings import Settings
from wechat_fake import ChannelServer, StubRasa


def settings(tmp_path: Path, **kw: Any) -> Settings:
    base = dict(var_dir=tmp_path, message_max_chars=50, request_max_bytes=4096,
                rate_sender_per_minute=1000, rate_ip_per_minute=1000, webchat_new_ids_per_ip_per_hour=1000)
    base.update(kw)
    return Settings(**base)


class Served:
    def __init__(self, channel: Any, prefix: str, host: str = "127.0.0.1") -> None:
        self.rasa = StubRasa()
        self.server = ChannelServer(channel, self.rasa, prefix=prefix, host=host)
        self.url = self.server.url

    def turns(self) -> List[Any]:
        return list(self.rasa.turns)


@pytest.fixture()
def serve() -> Iterator[Any]:
    made: List[Served] = []

    def factory(channel: Any, prefix: str, host: str = "127.0.0.1") -> Served:
        made.append(Served(channel, prefix, host))
        return made[-1]

    yield factory
    for s in made:
        s.server.stop()


def rest(tmp_path: Path, **kw: Any) -> RestChannel:
    s = settings(tmp_path, **kw)
    return RestChannel(s, limits.RateLimiter(MemoryStore(), s.rate_sender_per_minute, s.rate_ip_per_minute))


def webchat(tmp_path: Path, **kw: Any) -> WebChatInput:
    s = settings(tmp_path, **kw)
    return WebChatInput(s, limits.RateLimiter(MemoryStore(), s.rate_sender_per_minute, s.rate_ip_per_minute,
                                              s.webchat_new_ids_per_ip_per_hour))


# --- identity -----------------------------------------------------------------------------------
def test_rest_never_takes_a_wechat_or_webchat_id_or_channel_from_the_body(tmp_path: Path, serve: Any) -> None:
    s = serve(rest(tmp_path), "/webhooks/rest")
    for spoof in ("wx:oVictim", "web:victim", "rest:other"):
        r = requests.post(s.url, json={"sender": spoof, "message": "我的工单", "input_channel": "wechat"},
                          timeout=10)
        assert r.status_code == 200
    seen = [(t.sender_id, t.input_channel) for t in s.turns()]
    assert seen == [("rest:wx:oVictim", "rest"), ("rest:web:victim", "rest"), ("rest:rest:other", "rest")]
    assert [identity.channel_of(t.sender_id) for t in s.turns()] == ["rest"] * 3


def test_rest_without_a_secret_answers_only_this_machine(tmp_path: Path, serve: Any) -> None:
    outside = next((ip for ip in _own_addresses() if not ip.startswith("127.")), None)
    if outside is None:
        pytest.skip("this machine has no non-loopback IPv4 address to call from")
    s = serve(rest(tmp_path), "/webhooks/rest", host="0.0.0.0")
    port = s.server.port
    r = requests.post(f"http://{outside}:{port}/webhooks/rest/webhook", json={"sender": "a", "message": "你好"},
                      timeout=10)
    assert r.status_code == 403 and s.turns() == []
    ok = requests.post(f"http://127.0.0.1:{port}/webhooks/rest/webhook", json={"sender": "a", "message": "你好"},
                       timeout=10)
    assert ok.status_code == 200 and len(s.turns()) == 1
    # a reverse proxy on this machine relays someone else: not local
    relayed = requests.post(f"http://127.0.0.1:{port}/webhooks/rest/webhook", json={"sender": "a", "message": "你好"},
                            headers={"X-Forwarded-For": "203.0.113.5"}, timeout=10)
    assert relayed.status_code == 403 and len(s.turns()) == 1
    local_proxy = requests.post(f"http://127.0.0.1:{port}/webhooks/rest/webhook",
                                json={"sender": "a", "message": "你好"},
                                headers={"X-Forwarded-For": "127.0.0.1"}, timeout=10)
    assert local_proxy.status_code == 200  # a local client through a local balancer


def test_rest_with_a_secret_needs_the_bearer_token(tmp_path: Path, serve: Any) -> None:
    s = serve(rest(tmp_path, rest_secret="s3cret-for-integrators"), "/webhooks/rest")
    body = {"sender": "crm-42", "message": "你好"}
    assert requests.post(s.url, json=body, timeout=10).status_code == 403
    assert requests.post(s.url, json=body, headers={"Authorization": "Bearer wrong"}, timeout=10).status_code == 403
    r = requests.post(s.url, json=body, headers={"Authorization": "Bearer s3cret-for-integrators"}, timeout=10)
    assert r.status_code == 200 and [t.sender_id for t in s.turns()] == ["rest:crm-42"]


def test_webchat_ignores_the_body_sender_and_keeps_its_signed_cookie(tmp_path: Path, serve: Any) -> None:
    s = serve(webchat(tmp_path), "/webhooks/webchat")
    alice = requests.Session()
    r = alice.post(s.url, json={"sender": "wx:oVictim", "message": "你好"}, timeout=10)
    assert r.status_code == 200
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/webhooks/webchat/" in cookie
    alice.post(s.url, json={"sender": "web:someone-else", "message": "我的工单"}, timeout=10)
    first, second = [t.sender_id for t in s.turns()]
    assert first == second and first.startswith("web:") and identity.channel_of(first) == "webchat"
    assert {t.input_channel for t in s.turns()} == {"webchat"}


def test_webchat_cookie_that_is_forged_or_copied_from_an_id_gets_a_new_id(tmp_path: Path, serve: Any) -> None:
    s = serve(webchat(tmp_path), "/webhooks/webchat")
    alice = requests.Session()
    alice.post(s.url, json={"message": "你好"}, timeout=10)
    victim = s.turns()[0].sender_id
    for forged in (victim, f"{victim}.{'0' * 43}", f"web:made-up.{'a' * 43}", "x" * 5000):
        requests.post(s.url, json={"message": "我的工单"}, cookies={COOKIE: forged}, timeout=10)
    assert victim not in [t.sender_id for t in s.turns()[1:]]


def test_webchat_fresh_start_is_a_new_id_only_when_asked(tmp_path: Path, serve: Any) -> None:
    s = serve(webchat(tmp_path), "/webhooks/webchat")
    browser = requests.Session()
    browser.post(s.url, json={"message": "你好"}, timeout=10)
    browser.post(s.url, json={"message": "你好"}, timeout=10)
    r = browser.post(s.url.rsplit("/", 1)[0] + "/session", timeout=10)
    assert r.status_code == 200
    browser.post(s.url, json={"message": "你好"}, timeout=10)
    ids = [t.sender_id for t in s.turns()]
    assert ids[0] == ids[1] != ids[2]


# --- limits before the NLU ----------------------------------------------------------------------
@pytest.mark.parametrize("prefix,make", [("/webhooks/rest", rest), ("/webhooks/webchat", webchat)])
def test_long_message_is_cut_before_the_nlu_and_the_customer_is_told(tmp_path: Path, serve: Any,
                                                                        prefix: str, make: Any) -> None:
    s = serve(make(tmp_path, request_max_bytes=8_000_000), prefix)
    for size in (1_000, 100_000, 1_000_000):
        r = requests.post(s.url, json={"sender": "long", "message": "停" * size}, timeout=30)
        assert r.status_code == 200
        notice = r.json()[0]["text"]
        assert "太长" in notice and "前 50 个字" in notice
    assert [len(t.text) for t in s.turns()] == [50, 50, 50]


def test_nul_and_control_characters_are_stripped_at_the_edge(tmp_path: Path, serve: Any) -> None:
    s = serve(rest(tmp_path), "/webhooks/rest")
    requests.post(s.url, json={"sender": "ctl", "message": "电\x00费\x07怎么\x1b交\r\n谢谢\ud800"}, timeout=10)
    assert s.turns()[0].text == "电费怎么交\n谢谢"


@pytest.mark.parametrize("prefix,make", [("/webhooks/rest", rest), ("/webhooks/webchat", webchat)])
def test_a_body_over_the_limit_is_413_and_the_channel_still_answers(tmp_path: Path, serve: Any,
                                                                    prefix: str, make: Any) -> None:
    s = serve(make(tmp_path), prefix)
    r = requests.post(s.url, data=b'{"sender": "big", "message": "' + b"a" * 10_000 + b'"}', timeout=10)
    assert r.status_code == 413 and s.turns() == []
    assert requests.post(s.url, json={"sender": "small", "message": "你好"}, timeout=10).status_code == 200


def test_a_sender_over_the_rate_limit_is_told_to_wait(tmp_path: Path, serve: Any) -> None:
    s = serve(rest(tmp_path, rate_sender_per_minute=3), "/webhooks/rest")
    codes = [requests.post(s.url, json={"sender": "fast", "message": "你好"}, timeout=10).status_code
             for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429] and len(s.turns()) == 3
    r = requests.post(s.url, json={"sender": "fast", "message": "你好"}, timeout=10)
    assert "95598" in r.json()[0]["text"]
    assert requests.post(s.url, json={"sender": "other", "message": "你好"}, timeout=10).status_code == 200


def test_new_webchat_ids_per_address_are_capped(tmp_path: Path, serve: Any) -> None:
    s = serve(webchat(tmp_path, webchat_new_ids_per_ip_per_hour=2), "/webhooks/webchat")
    codes = [requests.post(s.url, json={"message": "转人工"}, timeout=10).status_code for _ in range(4)]
    assert codes == [200, 200, 429, 429] and len(s.turns()) == 2


def test_when_rasa_fails_the_customer_gets_a_polite_message_not_a_500(tmp_path: Path, serve: Any) -> None:
    s = serve(rest(tmp_path), "/webhooks/rest")
    s.rasa.fail = True
    s.rasa.messages = []
    r = requests.post(s.url, json={"sender": "down", "message": "你好"}, timeout=10)
    assert r.status_code == 200 and "95598" in r.json()[0]["text"]


def _own_addresses() -> List[str]:
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
    except OSError:
        infos = []
    found = {i[4][0] for i in infos}
    try:  # the address used to reach the outside, without sending anything
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))
            found.add(probe.getsockname()[0])
    except OSError:
        pass
    return sorted(found)


def test_a_turn_that_ends_without_any_reply_tells_the_customer_to_resend(tmp_path: Path, serve: Any) -> None:
    """The action server died mid-action: resending is safe (orders are idempotent)."""
    s = serve(rest(tmp_path), "/webhooks/rest")
    s.rasa.messages = [{}]  # Rasa answered nothing
    r = requests.post(s.url, json={"sender": "lost", "message": "转人工"}, timeout=10)
    assert r.status_code == 200 and "再发一次" in r.json()[0]["text"]


def test_two_rasa_processes_share_the_limits_through_redis(tmp_path: Path, serve: Any) -> None:
    """With Redis configured, the limit counts the customer's messages to every process."""
    import uuid

    from bot.channels.common.store import RedisStore
    from conftest import require_redis

    url = "redis://127.0.0.1:6379/0"
    require_redis(url)
    s = settings(tmp_path, rate_sender_per_minute=3)
    one, two = (serve(RestChannel(s, limits.RateLimiter(RedisStore(url), 3, 1000)), "/webhooks/rest")
                for _ in range(2))
    who = f"redis-{uuid.uuid4().hex[:8]}"
    codes = [requests.post(server.url, json={"sender": who, "message": "你好"}, timeout=10).status_code
             for server in (one, two, one, two, one)]
    assert codes == [200, 200, 200, 429, 429]


@pytest.mark.parametrize("typed, reaches_rasa", [
    ("/feedback_positive", "/feedback_positive"),                          # a button's shortcut
    ('/rate_service{"rating":"基本满意"}', '/rate_service{"rating":"基本满意"}'),
    ("/EXTERNAL_livechat_ended", "EXTERNAL_livechat_ended"),                # the console's, never a customer's
    ('/provide_phone{"phone":"13900000000"}', 'provide_phone{"phone":"13900000000"}'),
    ('/rate_service{"rating":"随便写"}', 'rate_service{"rating":"随便写"}'),
    ("/greet@1.0", "greet@1.0"),
    ("电费/度是多少", "电费/度是多少"),
])
def test_every_channel_lets_a_customer_send_only_the_buttons_shortcuts(typed: str, reaches_rasa: str) -> None:
    from bot.channels.limits import prepare

    assert prepare(typed, 1000)[0] == reaches_rasa
