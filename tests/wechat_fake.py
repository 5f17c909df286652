"""WeChat's side, for tests and the benchmark: a fake API server and a client that signs like WeChat.

FakeWeChatApi serves GET /cgi-bin/token and POST /cgi-bin/message/custom/send on 127.0.0.1 in a
thread and records every call. WeChatClient builds the XML WeChat would post, signs it with the
account's Token, encrypts it with wechatpy's WeChatCrypto in safe mode, and decrypts the reply.
ChannelServer mounts a channel on a small Sanic app; StubRasa plays on_new_message in unit tests.
"""
from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional
from urllib.parse import parse_qs, urlparse

import requests
import xmltodict
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner


@dataclass(frozen=True)
class WeChatAccount:
    """A made-up official account, new for every test run."""

    token: str
    app_id: str
    app_secret: str
    aes_key: str

    @classmethod
    def generate(cls) -> "WeChatAccount":
        aes_key = base64.b64encode(os.urandom(32)).decode()[:43]  # EncodingAESKey: 43 chars, no "="
        return cls(secrets.token_hex(8), "wx" + secrets.token_hex(8), secrets.token_hex(16), aes_key)

    def env(self, api_base: str, safe: bool = True) -> Dict[str, str]:
        return {"WECHAT_TOKEN": self.token, "WECHAT_APP_ID": self.app_id,
                "WECHAT_APP_SECRET": self.app_secret, "WECHAT_AES_KEY": self.aes_key if safe else "",
                "WECHAT_API_BASE": api_base}


@dataclass
class Send:
    openid: str
    content: str
    access_token: str
    at: float = field(default_factory=time.monotonic)  # when it arrived (the benchmark's clock)
    msgtype: str = "text"


@dataclass
class FakeWeChatApi:
    """Records token fetches and customer-service sends; can be told to refuse a token once."""

    app_id: str = ""
    app_secret: str = ""
    expires_in: int = 7200
    token_calls: int = 0
    sends: List[Send] = field(default_factory=list)
    refuse_token_once: bool = False  # the next send answers errcode 40001 (token invalid)
    refuse_sends: List[int] = field(default_factory=list)  # the next sends answer these errcodes (45015 …)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _issued: List[str] = field(default_factory=list)
    _server: Optional[ThreadingHTTPServer] = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> "FakeWeChatApi":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _json(self, data: Dict[str, Any]) -> None:
                body = json.dumps(data, ensure_ascii=False).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802
                url = urlparse(self.path)
                q = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path != "/cgi-bin/token":
                    return self._json({"errcode": 404, "errmsg": "not found"})
                if q.get("appid") != fake.app_id or q.get("secret") != fake.app_secret:
                    return self._json({"errcode": 40125, "errmsg": "invalid appsecret"})
                with fake._lock:
                    fake.token_calls += 1
                    token = f"TOKEN-{fake.token_calls}"
                    fake._issued.append(token)
                self._json({"access_token": token, "expires_in": fake.expires_in})

            def do_POST(self) -> None:  # noqa: N802
                url = urlparse(self.path)
                q = {k: v[0] for k, v in parse_qs(url.query).items()}
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                if url.path != "/cgi-bin/message/custom/send":
                    return self._json({"errcode": 404, "errmsg": "not found"})
                with fake._lock:
                    token = q.get("access_token", "")
                    if fake.refuse_token_once or token not in fake._issued:
                        fake.refuse_token_once = False
                        return self._json({"errcode": 40001, "errmsg": "invalid credential"})
                    if fake.refuse_sends:
                        return self._json({"errcode": fake.refuse_sends.pop(0), "errmsg": "refused"})
                    fake.sends.append(Send(body["touser"], body["text"]["content"], token,
                                           msgtype=body.get("msgtype", "")))
                self._json({"errcode": 0, "errmsg": "ok"})

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def sends_for(self, openid: str) -> List[Send]:
        with self._lock:
            return [s for s in self.sends if s.openid == openid]

    def texts_for(self, openid: str) -> List[str]:
        return [s.content for s in self.sends_for(openid)]

    def wait_for(self, openid: str, count: int, timeout: float = 60) -> List[str]:
        """The customer-service texts to openid once there are at least `count` (or when time is up)."""
        deadline = time.monotonic() + timeout
        while len(self.texts_for(openid)) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.texts_for(openid)


def _sign(*parts: str) -> str:
    signer = WeChatSigner()
    signer.add_data(*parts)
    return signer.signature


class WeChatClient:
    """Posts messages to the channel's webhook as WeChat's servers would."""

    ACCOUNT_ID = "gh_0123456789ab"  # the official account's own id (ToUserName)

    def __init__(self, url: str, account: WeChatAccount, safe: bool = True) -> None:
        self.url = url  # http://host:port/webhooks/wechat/webhook
        self.account = account
        self.safe = safe
        self.crypto = WeChatCrypto(account.token, account.aes_key, account.app_id)
        self._msg_id = int(time.time() * 1000) * 1000 + secrets.randbelow(1000)

    def next_msg_id(self) -> int:
        self._msg_id += 1
        return self._msg_id

    # --- message XML --------------------------------------------------------------------------
    def xml(self, openid: str, msg_type: str, fields: Dict[str, Any], msg_id: Optional[int] = None,
            create_time: Optional[int] = None) -> str:
        items = {"ToUserName": self.ACCOUNT_ID, "FromUserName": openid,
                 "CreateTime": create_time or int(time.time()), "MsgType": msg_type, **fields}
        if msg_type != "event":
            items["MsgId"] = msg_id or self.next_msg_id()
        body = "".join(f"<{k}><![CDATA[{v}]]></{k}>" if isinstance(v, str) else f"<{k}>{v}</{k}>"
                       for k, v in items.items())
        return f"<xml>{body}</xml>"

    def text_xml(self, openid: str, content: str, msg_id: Optional[int] = None) -> str:
        return self.xml(openid, "text", {"Content": content}, msg_id)

    def event_xml(self, openid: str, event: str, key: str = "", create_time: Optional[int] = None) -> str:
        return self.xml(openid, "event", {"Event": event, "EventKey": key}, create_time=create_time)

    # --- HTTP ---------------------------------------------------------------------------------
    def signed_params(self, timestamp: Optional[int] = None, nonce: Optional[str] = None) -> Dict[str, str]:
        ts, nonce = str(timestamp or int(time.time())), nonce or secrets.token_hex(5)
        return {"timestamp": ts, "nonce": nonce, "signature": _sign(self.account.token, ts, nonce),
                "openid": "ignored"}

    def post(self, xml: str, timestamp: Optional[int] = None, params: Optional[Dict[str, str]] = None,
             timeout: float = 60) -> requests.Response:
        """POST one message (encrypted and msg_signature'd in safe mode)."""
        q = params or self.signed_params(timestamp)
        data = xml.encode("utf-8")
        if self.safe:
            envelope = xmltodict.parse(self.crypto.encrypt_message(xml, q["nonce"], q["timestamp"]))["xml"]
            q = dict(q, encrypt_type="aes", msg_signature=envelope["MsgSignature"])
            data = (f"<xml><ToUserName><![CDATA[{self.ACCOUNT_ID}]]></ToUserName>"
                    f"<Encrypt><![CDATA[{envelope['Encrypt']}]]></Encrypt></xml>").encode()
        return requests.post(self.url, params=q, data=data, headers={"Content-Type": "text/xml"},
                             timeout=timeout)

    def reply_text(self, resp: requests.Response) -> Optional[str]:
        """The passive reply's text (decrypted and its msg_signature checked in safe mode); None for "success"."""
        assert resp.status_code == 200, (resp.status_code, resp.text)
        if resp.text in ("success", ""):
            return None
        xml = resp.text
        if self.safe:
            env = xmltodict.parse(xml)["xml"]
            xml = self.crypto.decrypt_message(xml, env["MsgSignature"], env["TimeStamp"], env["Nonce"])
        msg = xmltodict.parse(xml)["xml"]
        assert msg["MsgType"] == "text" and msg["FromUserName"] == self.ACCOUNT_ID, msg
        return msg["Content"]

    def say(self, openid: str, content: str, api: Optional[FakeWeChatApi] = None, timeout: float = 60) -> str:
        """One text message; the whole answer the customer sees (passive reply and/or later sends)."""
        before = len(api.texts_for(openid)) if api else 0
        passive = self.reply_text(self.post(self.text_xml(openid, content), timeout=timeout))
        return self.collect(openid, passive, api, before, timeout)

    @staticmethod
    def collect(openid: str, passive: Optional[str], api: Optional[FakeWeChatApi], before: int,
                timeout: float = 60) -> str:
        """Passive text plus the customer-service sends that belong to the same answer."""
        if api is None:
            return passive or ""
        if passive is None:
            wanted = 1  # "success": the answer comes through the API
        else:
            marker = passive.rsplit("（1/", 1)
            wanted = int(marker[1].rstrip("）")) - 1 if len(marker) == 2 and passive.endswith("）") else 0
        sends = api.wait_for(openid, before + wanted, timeout)[before:]
        if passive is None and sends and sends[0].rstrip().endswith("）") and "（1/" in sends[0]:
            total = int(sends[0].rsplit("（1/", 1)[1].rstrip("）"))
            sends = api.wait_for(openid, before + total, timeout)[before:]
        return "\n".join(([passive] if passive else []) + sends)


class ChannelServer:
    """A channel's blueprint on a small Sanic app in a thread (its own event loop), as Rasa mounts it."""

    _count = 0

    def __init__(self, channel: Any, on_new_message: Any, prefix: str = "/webhooks/wechat",
                 host: str = "127.0.0.1") -> None:
        import asyncio
        import socket

        from sanic import Sanic

        # Several Sanic apps start in this process; test mode keeps Sanic's start-up code rewriting
        # (TouchUp) from working on its own output the second time.
        Sanic.test_mode = True
        ChannelServer._count += 1
        self.app = Sanic(f"wechat_test_{ChannelServer._count}_{secrets.token_hex(3)}")
        self.prefix = prefix
        self.app.blueprint(channel.blueprint(on_new_message), url_prefix=prefix)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.loop = asyncio.new_event_loop()
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.server = self.loop.run_until_complete(self.app.create_server(
                host=host, port=self.port, return_asyncio_server=True, access_log=False))
            self.loop.run_until_complete(self.server.startup())
            started.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        started.wait(30)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.prefix}/webhook"

    def stop(self) -> None:
        def _stop() -> None:
            self.server.close()
            self.loop.stop()

        self.loop.call_soon_threadsafe(_stop)
        self.thread.join(10)


# --- a stand-in for Rasa -------------------------------------------------------------------------
FEEDBACK = [{"title": "有帮助", "payload": "/feedback_positive"},
            {"title": "没帮助", "payload": "/feedback_negative"}]


class StubRasa:
    """on_new_message: records each turn, waits `delay` seconds, answers `messages` (or echoes)."""

    def __init__(self) -> None:
        self.turns: List[Any] = []
        self.delay = 0.0
        self.messages: Optional[List[Dict[str, Any]]] = None
        self.fail = False
        self._lock = threading.Lock()

    def texts(self) -> List[str]:
        with self._lock:
            return [m.text for m in self.turns]

    async def __call__(self, message: Any) -> None:
        with self._lock:
            self.turns.append(message)
        await asyncio.sleep(self.delay)
        if self.fail:
            raise RuntimeError("rasa broke")
        out = message.output_channel
        for m in self.messages or [{"text": f"您问的是：{message.text}", "buttons": FEEDBACK}]:
            if m.get("buttons"):
                await out.send_text_with_buttons(message.sender_id, m["text"], m["buttons"])
            elif m.get("text"):
                await out.send_text_message(message.sender_id, m["text"])
            if m.get("custom"):
                await out.send_custom_json(message.sender_id, m["custom"])
