"""The WeChat channel over HTTP, with real wechatpy signing/encryption, a fake WeChat API and a stub Rasa.

The stub stands in for Rasa's on_new_message (it counts turns and answers like the real actions do);
tests/test_wechat_e2e.py runs the same channel inside the real Rasa server.
"""
from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterator, List, Optional

import pytest
import requests

from bot.channels.wechat import NOT_CONFIGURED, WeChatConfig, WeChatInput
from bot.channels.wechat.format import UNSUPPORTED_TEXT, VOICE_UNRECOGNISED_TEXT
from wechat_fake import ChannelServer, FakeWeChatApi, StubRasa, WeChatAccount, WeChatClient

@pytest.fixture(scope="module")
def account() -> WeChatAccount:
    return WeChatAccount.generate()


@pytest.fixture(scope="module")
def api(account: WeChatAccount) -> Iterator[FakeWeChatApi]:
    fake = FakeWeChatApi(account.app_id, account.app_secret).start()
    yield fake
    fake.stop()


class Harness:
    def __init__(self, account: WeChatAccount, api: FakeWeChatApi, safe: bool = True,
                 passive_timeout: float = 4.0, channel: Optional[WeChatInput] = None) -> None:
        self.rasa = StubRasa()
        self.api = api
        self.channel = channel or WeChatInput(WeChatConfig(
            account.token, account.app_id, account.app_secret, account.aes_key if safe else "",
            api.url, passive_timeout))
        self.server = ChannelServer(self.channel, self.rasa)
        self.client = WeChatClient(self.server.url, account, safe=safe)


@pytest.fixture()
def make(account: WeChatAccount, api: FakeWeChatApi) -> Iterator[Any]:
    made: List[Harness] = []

    def factory(**kwargs: Any) -> Harness:
        made.append(Harness(account, api, **kwargs))
        return made[-1]

    yield factory
    for h in made:
        h.server.stop()


_openids = iter(range(10**6))


def openid() -> str:
    """A new customer for every test, so the fake API's records do not mix."""
    return f"oCustomer{next(_openids)}x{int(time.time())}"


# --- URL verification ---------------------------------------------------------------------------
def test_url_verification_echoes_echostr_when_signed_with_our_token(make: Any) -> None:
    h = make()
    r = requests.get(h.server.url, params=dict(h.client.signed_params(), echostr="echo-123"), timeout=10)
    assert (r.status_code, r.text) == (200, "echo-123")


def test_url_verification_with_a_forged_signature_is_403(make: Any) -> None:
    h = make()
    params = dict(h.client.signed_params(), echostr="echo-123")
    params["signature"] = "0" * 40
    r = requests.get(h.server.url, params=params, timeout=10)
    assert r.status_code == 403 and "echo-123" not in r.text


# --- plain and safe mode ------------------------------------------------------------------------
def test_plain_mode_text_gets_a_passive_xml_answer(make: Any) -> None:
    h = make(safe=False)
    r = h.client.post(h.client.text_xml(openid(), "阶梯电价怎么算"))
    assert r.text.startswith("<xml>") and "<Encrypt>" not in r.text
    assert h.client.reply_text(r) == "您问的是：阶梯电价怎么算\n1. 有帮助\n2. 没帮助\n（回复序号即可选择）"
    assert h.rasa.texts() == ["阶梯电价怎么算"]
    assert h.rasa.turns[0].sender_id.startswith("wx:oCustomer")
    assert h.rasa.turns[0].input_channel == "wechat"


def test_safe_mode_text_gets_an_encrypted_answer_signed_for_our_account(make: Any) -> None:
    h = make()
    r = h.client.post(h.client.text_xml(openid(), "停电了怎么办"))
    assert "<Encrypt>" in r.text and "停电" not in r.text  # nothing readable on the wire
    # reply_text verifies the reply's msg_signature and AppID while decrypting (wechatpy raises otherwise)
    assert h.client.reply_text(r).startswith("您问的是：停电了怎么办")


def test_safe_mode_refuses_an_unencrypted_message(make: Any) -> None:
    h = make()
    r = requests.post(h.server.url, params=h.client.signed_params(),
                      data=h.client.text_xml(openid(), "你好").encode(), timeout=10)
    assert r.status_code == 403
    assert h.rasa.turns == []


@pytest.mark.parametrize("safe", [False, True], ids=["plain", "safe"])
def test_forged_signature_is_403_and_not_processed(make: Any, safe: bool) -> None:
    h = make(safe=safe)
    params = h.client.signed_params()
    params["signature"] = params["signature"][:-1] + ("0" if params["signature"][-1] != "0" else "1")
    r = h.client.post(h.client.text_xml(openid(), "你好"), params=params)
    assert r.status_code == 403
    assert h.rasa.turns == []


def test_forged_msg_signature_is_403_and_not_processed(make: Any, account: WeChatAccount) -> None:
    h = make()
    # Encrypted with the right key but signed by someone who does not know the Token.
    forger = WeChatClient(h.server.url, WeChatAccount("not-the-token", account.app_id, "", account.aes_key))
    params = h.client.signed_params()  # the outer signature is fine (a replayed one)
    xml = forger.crypto.encrypt_message(h.client.text_xml(openid(), "你好"), params["nonce"], params["timestamp"])
    import xmltodict
    env = xmltodict.parse(xml)["xml"]
    r = requests.post(h.server.url, params=dict(params, encrypt_type="aes", msg_signature=env["MsgSignature"]),
                      data=f"<xml><Encrypt><![CDATA[{env['Encrypt']}]]></Encrypt></xml>".encode(), timeout=10)
    assert r.status_code == 403
    assert h.rasa.turns == []


@pytest.mark.parametrize("age", [600, -600], ids=["stale", "future"])
def test_replayed_request_with_an_old_timestamp_is_403(make: Any, age: int) -> None:
    h = make()
    r = h.client.post(h.client.text_xml(openid(), "你好"), timestamp=int(time.time()) - age)
    assert r.status_code == 403
    assert h.rasa.turns == []


MALFORMED = [
    b"<xml><ToUserName>unclosed",
    b"not xml at all \xff\xfe",
    b"<xml><ToUserName><![CDATA[gh]]></ToUserName></xml>",  # no MsgType / FromUserName
    b"<other><MsgType>text</MsgType></other>",
    b"<xml><FromUserName>o1</FromUserName><ToUserName>gh</ToUserName><MsgType>text</MsgType>"
    b"<CreateTime>yesterday</CreateTime></xml>",
]


@pytest.mark.parametrize("body", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_xml_is_400_without_an_error_in_the_log(make: Any, body: bytes,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    h = make(safe=False)
    with caplog.at_level(logging.INFO):
        r = requests.post(h.server.url, params=h.client.signed_params(), data=body, timeout=10)
    assert r.status_code == 400
    assert h.rasa.turns == []
    assert [rec for rec in caplog.records if rec.levelno >= logging.ERROR] == []


def test_malformed_encrypted_envelope_is_400(make: Any, caplog: pytest.LogCaptureFixture) -> None:
    h = make()
    params = h.client.signed_params()
    garbage = "bm90IGEgcmVhbCBjaXBoZXJ0ZXh0"
    from wechat_fake import _sign
    params.update(encrypt_type="aes", msg_signature=_sign(h.client.account.token, params["timestamp"],
                                                          params["nonce"], garbage))
    with caplog.at_level(logging.INFO):
        for body in (b"<xml><Encrypt>", f"<xml><Encrypt>{garbage}</Encrypt></xml>".encode()):
            r = requests.post(h.server.url, params=params, data=body, timeout=10)
            assert r.status_code == 400
    assert h.rasa.turns == []
    assert [rec for rec in caplog.records if rec.levelno >= logging.ERROR] == []


# --- retries and the 5-second rule --------------------------------------------------------------
def test_same_msg_id_three_times_is_one_rasa_turn(make: Any, api: FakeWeChatApi) -> None:
    h = make()
    h.rasa.delay = 0.5  # the retries arrive while the answer is still being computed
    who = openid()
    xml = h.client.text_xml(who, "峰谷电价怎么申请")
    with ThreadPoolExecutor(3) as pool:
        futures = [pool.submit(h.client.post, xml) for _ in range(3)]
        answers = [h.client.reply_text(f.result()) for f in futures]
    assert h.rasa.texts() == ["峰谷电价怎么申请"]
    assert answers == [answers[0]] * 3 and answers[0].startswith("您问的是：峰谷电价怎么申请")
    # A later retry still gets the same answer, without a new turn and without an API send.
    assert h.client.reply_text(h.client.post(xml)) == answers[0]
    assert len(h.rasa.turns) == 1 and api.texts_for(who) == []


def test_slow_answer_replies_success_then_exactly_one_customer_service_message(
        make: Any, api: FakeWeChatApi) -> None:
    h = make(passive_timeout=0.2)
    h.rasa.delay = 1.0  # slower than the passive timeout
    who = openid()
    xml = h.client.text_xml(who, "过户要带什么材料")
    assert h.client.post(xml).text == "success"
    assert h.client.post(xml).text == "success"  # WeChat's retry while the turn still runs
    sends = api.wait_for(who, 1, timeout=30)
    assert sends == ["您问的是：过户要带什么材料\n1. 有帮助\n2. 没帮助\n（回复序号即可选择）"]
    assert h.client.post(xml).text == "success"  # a retry after the answer went out
    time.sleep(0.5)
    assert api.texts_for(who) == sends and len(h.rasa.turns) == 1


def test_answer_still_reaches_the_customer_when_wechat_hangs_up_first(make: Any, api: FakeWeChatApi) -> None:
    h = make(passive_timeout=3.0)
    h.rasa.delay = 1.0
    who = openid()
    with pytest.raises(requests.exceptions.Timeout):
        h.client.post(h.client.text_xml(who, "电表走得快"), timeout=0.3)  # WeChat's side gives up
    assert api.wait_for(who, 1, timeout=30) == ["您问的是：电表走得快\n1. 有帮助\n2. 没帮助\n（回复序号即可选择）"]


def test_rasa_failure_gets_an_apology_not_silence(make: Any) -> None:
    h = make()
    h.rasa.fail = True
    assert "95598" in h.client.reply_text(h.client.post(h.client.text_xml(openid(), "电费")))


# --- message types ------------------------------------------------------------------------------
OTHER_MEDIA = {
    "image": {"PicUrl": "http://example.com/a.jpg", "MediaId": "m1"},
    "video": {"MediaId": "m2", "ThumbMediaId": "t2"},
    "shortvideo": {"MediaId": "m3", "ThumbMediaId": "t3"},
    "location": {"Location_X": "30.27", "Location_Y": "120.15", "Scale": "15", "Label": "杭州"},
    "link": {"Title": "文章", "Description": "d", "Url": "http://example.com"},
    "file": {"Title": "账单.pdf", "Description": "d", "FileKey": "k", "FileMd5": "x", "FileTotalLen": "1"},
    "somethingnew": {"Foo": "bar"},
}


@pytest.mark.parametrize("msg_type", list(OTHER_MEDIA))
def test_non_text_message_asks_for_a_text_description(make: Any, msg_type: str) -> None:
    h = make()
    r = h.client.post(h.client.xml(openid(), msg_type, OTHER_MEDIA[msg_type]))
    assert h.client.reply_text(r) == UNSUPPORTED_TEXT and "请用文字描述您的问题" in UNSUPPORTED_TEXT
    assert h.rasa.turns == []


def test_voice_message_goes_to_rasa_as_its_recognised_text(make: Any) -> None:
    h = make()
    r = h.client.post(h.client.xml(openid(), "voice", {"MediaId": "v", "Format": "amr",
                                                       "Recognition": "家里停电了怎么办"}))
    assert h.rasa.texts() == ["家里停电了怎么办"]
    assert "家里停电了怎么办" in h.client.reply_text(r)


def test_voice_without_recognition_asks_to_type(make: Any) -> None:
    h = make()
    r = h.client.post(h.client.xml(openid(), "voice", {"MediaId": "v", "Format": "amr", "Recognition": ""}))
    assert h.client.reply_text(r) == VOICE_UNRECOGNISED_TEXT
    assert h.rasa.turns == []


def test_subscribe_gets_the_four_topics_as_numbered_choices(make: Any) -> None:
    h = make()
    who = openid()
    welcome = h.client.reply_text(h.client.post(h.client.event_xml(who, "subscribe")))
    for i, topic in enumerate(["电价电费", "停电报修", "业务办理", "安全用电"], 1):
        assert f"{i}. {topic}" in welcome
    assert h.rasa.turns == []
    h.client.post(h.client.text_xml(who, "3"))  # the customer picks a topic by its number
    assert h.rasa.texts() == ["业务办理"]


def test_menu_click_for_a_person_sends_request_human_to_rasa(make: Any) -> None:
    h = make()
    for key in ("HUMAN", "转人工"):
        h.client.post(h.client.event_xml(openid(), "CLICK", key))
    assert h.rasa.texts() == ["/request_human", "/request_human"]


@pytest.mark.parametrize("event", ["unsubscribe", "VIEW", "LOCATION", "TEMPLATESENDJOBFINISH"])
def test_events_without_a_question_get_success_and_no_turn(make: Any, event: str) -> None:
    h = make()
    r = h.client.post(h.client.event_xml(openid(), event, "http://example.com"))
    assert r.text == "success"
    assert h.rasa.turns == []


def test_same_event_twice_is_handled_once(make: Any) -> None:
    h = make()
    xml = h.client.event_xml(openid(), "CLICK", "HUMAN", create_time=int(time.time()))
    h.client.post(xml)
    h.client.post(xml)
    assert h.rasa.texts() == ["/request_human"]


# --- long answers and buttons -------------------------------------------------------------------
def test_long_answer_is_split_within_the_byte_limit_first_part_passive(make: Any, api: FakeWeChatApi) -> None:
    h = make()
    lines = [f"第{i}条：办理时请携带身份证原件、房产证明和近期电费缴费凭证，营业厅窗口当场受理。" for i in range(60)]
    h.rasa.messages = [{"text": "\n".join(lines)}]
    who = openid()
    passive = h.client.reply_text(h.client.post(h.client.text_xml(who, "过户")))
    total = int(passive.rsplit("（1/", 1)[1].rstrip("）"))
    parts = [passive] + api.wait_for(who, total - 1, timeout=30)
    assert total >= 2 and len(parts) == total
    assert all(len(p.encode("utf-8")) <= 2048 for p in parts)
    received = [line for p in parts for line in p.split("\n") if line.startswith("第")]
    shown = lines[:len(received)]
    assert received == shown  # whole lines, in order (a very long answer may end with a note)
    assert len(received) == len(lines) or "未能全部显示" in parts[-1]


def test_digit_reply_selects_the_offered_button_payload(make: Any) -> None:
    h = make()
    who = openid()
    h.client.post(h.client.text_xml(who, "阶梯电价怎么算"))  # offers 1. 有帮助 2. 没帮助
    h.client.post(h.client.text_xml(who, "２"))  # full-width digit
    assert h.rasa.texts()[-1] == "/feedback_negative"
    h.client.post(h.client.text_xml(who, "1."))
    assert h.rasa.texts()[-1] == "/feedback_positive"
    h.client.post(h.client.text_xml(who, "9"))  # not an offered number: Rasa gets the text
    assert h.rasa.texts()[-1] == "9"


def test_work_order_payload_shows_the_number_once(make: Any) -> None:
    h = make()
    h.rasa.messages = [
        {"text": "好的，已为您转人工处理。\n工单号：GD20260101-0001\n工作人员会在 01月02日 18:00 前答复您。",
         "custom": {"type": "work_order", "status": "opened", "order_no": "GD20260101-0001",
                    "due": "01月02日 18:00"}},
        {"text": "如方便，请留下您的手机号。"},
    ]
    reply = h.client.reply_text(h.client.post(h.client.text_xml(openid(), "转人工")))
    assert reply.count("GD20260101-0001") == 1 and "手机号" in reply
    h.rasa.messages = [{"text": "已为您转人工处理。", "custom": {"type": "work_order", "order_no": "GD9",
                                                               "due": "明天 12:00"}}]
    reply = h.client.reply_text(h.client.post(h.client.text_xml(openid(), "转人工")))
    assert "工单号：GD9" in reply and "明天 12:00" in reply
    assert "{" not in reply  # no raw JSON for the customer


# --- not configured -----------------------------------------------------------------------------
def test_without_wechat_settings_the_webhook_answers_503_and_warns_once(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    for name in ("WECHAT_TOKEN", "WECHAT_APP_ID", "WECHAT_APP_SECRET", "WECHAT_AES_KEY"):
        monkeypatch.delenv(name, raising=False)
    with caplog.at_level(logging.INFO, logger="bot.channels.wechat"):
        channel = WeChatInput.from_credentials(None)
    warnings = [r for r in caplog.records if r.name == "bot.channels.wechat"]
    assert [r.levelno for r in warnings] == [logging.WARNING]
    assert "WECHAT_TOKEN" in warnings[0].getMessage()
    assert channel.get_output_channel() is None
    server = ChannelServer(channel, StubRasa())
    try:
        for method in (requests.get, requests.post):
            r = method(server.url, timeout=10)
            assert r.status_code == 503 and r.text == NOT_CONFIGURED
            assert "未配置" in r.text and "WECHAT_TOKEN" in r.text
    finally:
        server.stop()


# --- Rasa-initiated messages ----------------------------------------------------------------------
def test_output_channel_sends_rasa_initiated_messages_through_the_api(
        make: Any, api: FakeWeChatApi) -> None:
    h = make()
    who = openid()
    out = h.channel.get_output_channel()
    assert out is not None and out.name() == "wechat"

    async def push() -> None:
        await out.send_response(f"wx:{who}", {"text": "您的工单 GD7 已办结，请评价：", "buttons": [
            {"title": "满意", "payload": "/feedback_positive"}, {"title": "不满意", "payload": "/feedback_negative"}]})
        await out.send_response(f"wx:{who}", {"custom": {"type": "work_order", "order_no": "GD7"}})
        await out.send_response(f"wx:{who}", {"custom": {"type": "kb_answer", "outcome": "answer"}})

    # The channel's store is in memory, so run in the channel server's loop like Rasa would.
    asyncio.run_coroutine_threadsafe(push(), h.server.loop).result(30)
    assert api.texts_for(who) == ["您的工单 GD7 已办结，请评价：\n1. 满意\n2. 不满意\n（回复序号即可选择）"]
    h.client.post(h.client.text_xml(who, "2"))
    assert h.rasa.texts() == ["/feedback_negative"]


@pytest.mark.parametrize("bad_key", ["short", "!" * 43])
def test_a_wrong_aes_key_switches_the_channel_off_with_a_clear_warning(
        account: WeChatAccount, bad_key: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="bot.channels.wechat"):
        channel = WeChatInput(WeChatConfig(account.token, account.app_id, account.app_secret, bad_key))
    assert not channel.enabled and "EncodingAESKey" in caplog.text
