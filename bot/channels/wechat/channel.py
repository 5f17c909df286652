"""The WeChat official-account (公众号) channel: POST/GET /webhooks/wechat/webhook.

Customers write to the official account; WeChat forwards each message here, signed with the
account's Token (and AES-encrypted in 安全模式). Each message becomes one Rasa turn for the
sender id "wx:<openid>". The answer goes back as the passive reply when it is ready within
WECHAT_PASSIVE_TIMEOUT seconds (WeChat gives up after 5), otherwise "success" now and the answer
through the customer-service message API as soon as it is ready (bot/channels/common/turns.py).

在线人工 (bot/livechat/): while an agent holds the conversation, a customer's message is kept for
the console and still given to Rasa (its paused tracker records it, the bot stays silent); the
passive reply is "success" and the agent's words come through 客服消息 from the console. A reply
"1" to numbered choices the console sent (the rating after 结束) picks from those choices.

Configured from the environment (bot/settings.py, .env.example); with no WeChat settings the
webhook answers 503 and the rest of the assistant runs as usual.

Trust: the sender is the openid of a message signed with the Token. In plain mode (明文模式) the
signature covers only token, timestamp and nonce, not the body, so each (timestamp, nonce) is
remembered for the 5-minute window with a digest of the body it came with: a captured signed URL
cannot carry another body. Production must use safe mode (安全模式, WECHAT_AES_KEY), where the
body itself is signed and encrypted; plain mode logs a warning at start-up. The Token must be
16–32 letters or digits (a short one is guessed from one captured signature).
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Dict, List, Optional

import xmltodict
from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException
from wechatpy.parser import parse_message
from wechatpy.replies import TextReply
from wechatpy.utils import WeChatSigner

from bot.channels.common.buttons import ButtonMemory
from bot.channels.common.store import Store, open_store
from bot.channels.common.turns import TurnCoordinator
from bot.channels.limits import RATE_LIMITED_TEXT, UNAVAILABLE_TEXT, RateLimiter, prepare
from bot.channels.wechat import format as fmt
from bot.channels.wechat.api import WeChatApi
from bot.livechat.queue import HeldCheck
from bot.settings import Settings, load as load_settings

if TYPE_CHECKING:
    from bot.orders.livechat import ChatView

# The name it has always logged under (operators filter on it), not "….wechat.channel".
logger = logging.getLogger("bot.channels.wechat")

KEY_PREFIX = "wechat"  # this channel's keys in the shared store: "wechat:seen:<MsgId>", …
SENDER_PREFIX = "wx:"  # Rasa sender id = "wx:" + openid (the customer's id within this account)
HUMAN_KEYS = {"HUMAN", "转人工"}  # menu CLICK keys that ask for a person
MAX_BODY = 64 * 1024  # WeChat messages are a few hundred bytes
BUTTONS_TTL = 2 * 3600.0  # "reply 1" still means the last offered choice within two hours
# 在线人工: choices the console sent through 客服消息 (the rating after 结束) count for 30 minutes,
# read from the live-chat outbox for a reply this short (a choice or a button's title).
LIVE_CHOICE_WINDOW = 30 * 60.0
LIVE_CHOICE_MAX_CHARS = 10
LIVE_OUTBOX_PAGE = 200
TOKEN_RE = re.compile(r"^[A-Za-z0-9]{16,32}$")
NOT_CONFIGURED = ("微信公众号通道未配置。/ WeChat channel is not configured: "
                  "set WECHAT_TOKEN, WECHAT_APP_ID and WECHAT_APP_SECRET (see .env.example).")


@dataclass(frozen=True)
class WeChatConfig:
    token: str = ""
    app_id: str = ""
    app_secret: str = ""
    aes_key: str = ""  # EncodingAESKey, 43 characters; set = 安全模式
    api_base: str = "https://api.weixin.qq.com"
    passive_timeout: float = 4.0
    redis_url: str = ""
    max_age: float = 300.0  # a signed request older than this is a replay
    max_chars: int = 1000  # MESSAGE_MAX_CHARS: what the NLU reads of one message
    per_sender_per_minute: int = 20  # RATE_LIMIT_SENDER_PER_MINUTE

    @classmethod
    def from_settings(cls, s: Settings) -> "WeChatConfig":
        return cls(s.wechat_token, s.wechat_app_id, s.wechat_app_secret, s.wechat_aes_key,
                   s.wechat_api_base, s.wechat_passive_timeout, s.shared_redis_url,
                   max_chars=s.message_max_chars, per_sender_per_minute=s.rate_sender_per_minute)

    def problems(self) -> List[str]:
        """What stops the channel from working, for the start-up warning."""
        missing = [n for n, v in (("WECHAT_TOKEN", self.token), ("WECHAT_APP_ID", self.app_id),
                                  ("WECHAT_APP_SECRET", self.app_secret)) if not v]
        if missing:
            return [f"missing {', '.join(missing)}"]
        if not TOKEN_RE.match(self.token):
            return ["WECHAT_TOKEN must be 16-32 letters or digits (公众平台 accepts up to 32; a short "
                    "token can be guessed from one captured signature): choose a new one in 基本配置"]
        if self.aes_key:
            try:
                ok = len(self.aes_key) == 43 and len(base64.b64decode(self.aes_key + "=", validate=True)) == 32
            except ValueError:
                ok = False
            if not ok:
                return ["WECHAT_AES_KEY must be the 43-character EncodingAESKey from 公众平台 → 基本配置"]
        return []


def _signature(*parts: str) -> str:
    signer = WeChatSigner()
    signer.add_data(*parts)
    return signer.signature


def _same(given: str, expected: str) -> bool:
    # Constant time, so response timing does not reveal how much of a forged signature was right.
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))


def openid_of(sender_id: str) -> Optional[str]:
    return sender_id[len(SENDER_PREFIX):] if sender_id.startswith(SENDER_PREFIX) else None


class WeChatOutput(OutputChannel):
    """Rasa-initiated messages (trigger_intent / execute with ?output_channel=wechat) to a customer,
    through the customer-service API. Each Rasa message is one WeChat message (quota: 5 per 48 h)."""

    @classmethod
    def name(cls) -> str:
        return "wechat"

    def __init__(self, api: WeChatApi, buttons: ButtonMemory, max_bytes: int = fmt.MAX_BYTES) -> None:
        self.api = api
        self.buttons = buttons
        self.max_bytes = max_bytes
        self._said = ""  # text sent so far, so a work-order payload does not repeat its number

    async def send_response(self, recipient_id: str, message: Dict[str, Any]) -> None:
        openid = openid_of(recipient_id)
        if openid is None:
            logger.warning("WeChat output: %r is not a WeChat sender id (wx:<openid>); message dropped",
                           recipient_id)
            return
        reply = fmt.render([message], already_said=self._said)
        self._said += reply.text
        if reply.buttons:
            await self.buttons.remember(recipient_id, reply.buttons)
        await self.api.send_texts(openid, fmt.split(reply.text, self.max_bytes))

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"text": text})


class WeChatInput(InputChannel):
    """Rasa input channel for a WeChat official account (plain and safe mode)."""

    @classmethod
    def name(cls) -> str:
        return "wechat"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> "WeChatInput":
        # Secrets never live in credentials.yml: everything comes from the environment.
        settings = load_settings()
        return cls(WeChatConfig.from_settings(settings), live=HeldCheck(settings))

    def __init__(self, config: WeChatConfig, store: Optional[Store] = None,
                 api: Optional[WeChatApi] = None, max_bytes: int = fmt.MAX_BYTES,
                 live: Optional[HeldCheck] = None) -> None:
        self.config = config
        # 在线人工: is an agent holding this conversation? (None: no live chat, as in unit tests)
        self.live = live
        self.problems = config.problems()
        self.enabled = not self.problems
        if not self.enabled:
            logger.warning("WeChat channel off (%s); /webhooks/wechat/webhook answers 503.",
                           "; ".join(self.problems))
        self.store = store or open_store(config.redis_url)
        self.api = api or WeChatApi(self.store, config.api_base, config.app_id, config.app_secret)
        self.buttons = ButtonMemory(self.store, KEY_PREFIX, BUTTONS_TTL)
        self.turns = TurnCoordinator(self.store, config.passive_timeout, prefix=KEY_PREFIX)
        self.limiter = RateLimiter(self.store, config.per_sender_per_minute, 0)
        self.max_bytes = max_bytes
        self.crypto = (WeChatCrypto(config.token, config.aes_key, config.app_id)
                       if self.enabled and config.aes_key else None)
        if self.enabled and self.crypto is None:
            logger.warning("WeChat channel in plain mode (明文模式): message bodies are not signed. Use it "
                           "for testing only; in production set WECHAT_AES_KEY and choose 安全模式.")

    def get_output_channel(self) -> Optional[OutputChannel]:
        return WeChatOutput(self.api, self.buttons, self.max_bytes) if self.enabled else None

    # --- HTTP ---------------------------------------------------------------------------------
    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bp = Blueprint(f"wechat_webhook_{id(self)}", __name__)

        @bp.route("/", methods=["GET"])
        async def health(_request: Request) -> HTTPResponse:
            return response.json({"status": "ok" if self.enabled else "not configured"})

        @bp.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            """公众平台 checks the server URL: echo `echostr` if the signature is ours."""
            if not self.enabled:
                return response.text(NOT_CONFIGURED, status=503)
            refusal = self._check_signature(request)
            if refusal:
                return refusal
            return response.text(request.args.get("echostr", ""))

        @bp.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not self.enabled:
                return response.text(NOT_CONFIGURED, status=503)
            refusal = self._check_signature(request)
            if refusal:
                return refusal
            if len(request.body or b"") > MAX_BODY:
                return self._bad(request, "body too large")
            xml = self._plaintext(request)
            if isinstance(xml, HTTPResponse):
                return xml
            try:
                message = parse_message(xml)
                incoming = Incoming.of(message)
            except Exception as exc:  # noqa: BLE001 — any malformed XML is the sender's problem: 400
                return self._bad(request, f"malformed message XML ({type(exc).__name__})")
            # Only a well-formed, verified message uses up its nonce.
            refusal = await self._check_nonce(request)
            if refusal:
                return refusal
            text = await self._answer(incoming, on_new_message)
            if text is None:
                return response.text("success")
            reply = TextReply(source=incoming.account, target=incoming.openid, content=text).render()
            if self.crypto is not None:
                args = request.args
                reply = self.crypto.encrypt_message(reply, args.get("nonce", ""), args.get("timestamp"))
            return response.text(reply, content_type="application/xml; charset=utf-8")

        return bp

    def _check_signature(self, request: Request) -> Optional[HTTPResponse]:
        """403 unless signed with our Token within max_age seconds (a stale one is a replay)."""
        args = request.args
        timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
        try:
            fresh = abs(time.time() - int(timestamp)) <= self.config.max_age
        except ValueError:
            fresh = False
        if not fresh:
            logger.warning("WeChat request refused: timestamp %r missing or stale (from %s)",
                           timestamp[:20], request.ip)
            return response.text("forbidden: stale or missing timestamp", status=403)
        if not _same(args.get("signature", ""), _signature(self.config.token, timestamp, nonce)):
            logger.warning("WeChat request refused: bad signature (from %s)", request.ip)
            return response.text("forbidden: bad signature", status=403)
        return None

    async def _check_nonce(self, request: Request) -> Optional[HTTPResponse]:
        """403 if this (timestamp, nonce) was already used with another body (a replayed URL).

        The same body again is WeChat retrying (or a replay that changes nothing: MsgId dedup)."""
        args = request.args
        key = f"{KEY_PREFIX}:nonce:{self.config.app_id}:{args.get('timestamp', '')}:{args.get('nonce', '')}"
        digest = hashlib.sha256(request.body or b"").hexdigest()
        if await self.store.set_nx(key, digest, self.config.max_age * 2 + 60):
            return None
        if await self.store.get(key) == digest:
            return None
        logger.warning("WeChat request refused: nonce reused with another body (from %s)", request.ip)
        return response.text("forbidden: nonce already used", status=403)

    def _bad(self, request: Request, why: str) -> HTTPResponse:
        logger.warning("WeChat request refused: %s (from %s)", why, request.ip)
        return response.text(f"bad request: {why}", status=400)

    def _plaintext(self, request: Request) -> Any:
        """The message XML: the body in plain mode, decrypted in safe mode; or the refusal."""
        if self.crypto is None:
            return request.body
        args = request.args
        if args.get("encrypt_type") != "aes":
            # Safe mode: a plain body is not covered by any signature, so it is not accepted.
            logger.warning("WeChat request refused: safe mode is on but the message is not encrypted "
                           "(公众平台 must be set to 安全模式; from %s)", request.ip)
            return response.text("forbidden: encrypted message expected", status=403)
        try:
            encrypt = xmltodict.parse(request.body)["xml"]["Encrypt"]
            if not isinstance(encrypt, str):
                raise TypeError("Encrypt is not text")
        except Exception as exc:  # noqa: BLE001
            return self._bad(request, f"malformed encrypted envelope ({type(exc).__name__})")
        msg_signature = args.get("msg_signature", "")
        if not _same(msg_signature, _signature(self.config.token, args.get("timestamp", ""),
                                               args.get("nonce", ""), encrypt)):
            logger.warning("WeChat request refused: bad msg_signature (from %s)", request.ip)
            return response.text("forbidden: bad msg_signature", status=403)
        try:
            return self.crypto.decrypt_message({"Encrypt": encrypt}, msg_signature,
                                               args.get("timestamp"), args.get("nonce"))
        except InvalidAppIdException:
            logger.warning("WeChat request refused: encrypted for another AppID (from %s)", request.ip)
            return response.text("forbidden: wrong AppID", status=403)
        except Exception as exc:  # noqa: BLE001 — undecryptable ciphertext
            return self._bad(request, f"cannot decrypt ({type(exc).__name__})")

    # --- turns --------------------------------------------------------------------------------
    async def _answer(self, msg: "Incoming", on_new_message: Callable[[UserMessage], Awaitable[Any]]
                      ) -> Optional[str]:
        """The passive reply text, or None for "success"."""
        sender = SENDER_PREFIX + msg.openid
        action = await self._what_to_do(msg, sender)
        if action is None:
            return None  # unsubscribe, menu links, location reports …

        async def compute() -> List[str]:
            if isinstance(action, fmt.Reply):
                reply = action
            elif isinstance(action, ForAgent):
                reply = await self._agent_turn(msg, sender, action, on_new_message)
            else:
                reply = await self._rasa_turn(msg, sender, action, on_new_message)
            await self.buttons.remember(sender, reply.buttons)
            return fmt.split(reply.text, self.max_bytes)

        async def send(parts: List[str]) -> bool:
            return await self.api.send_texts(msg.openid, parts)

        return await self.turns.reply(f"{self.config.app_id}:{msg.dedup_key}", compute, send)

    async def _what_to_do(self, msg: "Incoming", sender: str) -> Any:
        """Text for Rasa, a fixed Reply, or None for nothing."""
        if msg.type in ("text", "voice", "event") and not await self.limiter.allow_sender(sender):
            return fmt.Reply(RATE_LIMITED_TEXT)
        if msg.type == "text":
            held = await self._held(sender)
            if held is not None:
                return ForAgent(held, msg.content)  # as typed: "1" is for the agent, not a button
            chosen = await self._choice(sender, msg.content)
            return chosen["payload"] if chosen else msg.content
        if msg.type == "voice":
            heard = msg.recognition.strip()
            if not heard:
                return fmt.Reply(fmt.VOICE_UNRECOGNISED_TEXT)
            held = await self._held(sender)
            return ForAgent(held, heard) if held is not None else heard
        if msg.type == "event":
            if msg.event in {"subscribe", "subscribe_scan"}:
                return fmt.welcome()
            if msg.event == "click":
                if msg.event_key in HUMAN_KEYS:
                    return fmt.REQUEST_HUMAN_PAYLOAD
                return fmt.welcome()  # any other menu item: show what the assistant can do
            return None
        return fmt.Reply(fmt.UNSUPPORTED_TEXT)  # image, video, shortvideo, location, link, file, …

    # --- 在线人工 -----------------------------------------------------------------------------
    async def _held(self, sender: str) -> Optional["ChatView"]:
        """The chat an agent holds with this customer, if any (a database that is down: None)."""
        if self.live is None:
            return None
        return await asyncio.get_running_loop().run_in_executor(None, self.live.held, sender)

    async def _choice(self, sender: str, text: str) -> Optional[fmt.Button]:
        """The button a reply picks: from the newest choices offered, the bot's (ButtonMemory) or
        the console's (the live-chat outbox: WeChat got them as numbered lines via 客服消息)."""
        offered, at = await self.buttons.last(sender)
        live: List[fmt.Button] = []
        if self.live is not None and len(text.strip()) <= LIVE_CHOICE_MAX_CHARS:
            try:
                live = await asyncio.get_running_loop().run_in_executor(
                    None, self._live_buttons, sender, at)
            except Exception:  # noqa: BLE001 — the reply still reaches the bot as text
                logger.warning("WeChat: the live-chat outbox could not be read for a choice")
        if not live:
            return fmt.choose(text, offered)
        typed = text.strip()
        return fmt.choose(text, live) or next((b for b in live if b["title"] == typed), None)

    def _live_buttons(self, sender: str, after: Optional[float]) -> List[fmt.Button]:
        """The buttons of the newest out message of a live chat to this customer, sent within
        LIVE_CHOICE_WINDOW and after ``after`` (the customer's last turn); [] if none."""
        assert self.live is not None
        since = max(time.time() - LIVE_CHOICE_WINDOW, after or 0.0)
        found: List[fmt.Button] = []
        cursor = 0
        while True:
            rows = self.live.chats.outbox(sender, cursor, LIVE_OUTBOX_PAGE)
            for m in rows:
                buttons = m.payload.get("buttons") if isinstance(m.payload, dict) else None
                if isinstance(buttons, list) and buttons and m.created_at.timestamp() > since:
                    found = [{"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
                             for b in buttons if isinstance(b, dict)]
            if len(rows) < LIVE_OUTBOX_PAGE:
                return found
            cursor = rows[-1].id

    async def _agent_turn(self, msg: "Incoming", sender: str, turn: "ForAgent",
                          on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> fmt.Reply:
        """An agent holds the conversation: the message is kept for the console and still given
        to Rasa, whose paused tracker records it without answering. The customer gets "success"."""
        assert self.live is not None
        text, notice = prepare(turn.text, self.config.max_chars)
        kept = await asyncio.get_running_loop().run_in_executor(None, self.live.record, turn.chat, text)
        collector = CollectingOutputChannel()
        if notice:
            await collector.send_text_message(sender, notice)
        metadata = {"wechat": {"msg_type": msg.type, "msg_id": msg.msg_id or None},
                    "livechat": {"chat": turn.chat.id}}
        try:
            await on_new_message(UserMessage(text, collector, sender, input_channel=self.name(),
                                             message_id=msg.dedup_key, metadata=metadata))
        except Exception:  # noqa: BLE001 — the agent has it (kept); the sweep writes it to the tracker
            logger.exception("WeChat message to a held conversation not recorded by Rasa")
            await asyncio.get_running_loop().run_in_executor(None, self.live.missed_by_rasa, kept)
        reply = fmt.render(collector.messages)
        if not kept:
            reply.text = "\n\n".join(t for t in (reply.text, fmt.LIVE_NOT_KEPT_TEXT) if t)
        return reply

    async def _rasa_turn(self, msg: "Incoming", sender: str, text: str,
                         on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> fmt.Reply:
        collector = CollectingOutputChannel()
        metadata = {"wechat": {"msg_type": msg.type, "msg_id": msg.msg_id or None}}
        text, notice = prepare(text, self.config.max_chars)
        if notice:
            await collector.send_text_message(sender, notice)
        try:
            await on_new_message(UserMessage(text, collector, sender, input_channel=self.name(),
                                             message_id=msg.dedup_key, metadata=metadata))
        except Exception:  # noqa: BLE001 — the customer must hear something whatever broke
            logger.exception("Rasa failed on a WeChat message (%d characters)", len(text))
            return fmt.Reply(UNAVAILABLE_TEXT)
        return fmt.render(collector.messages)


@dataclass(frozen=True)
class ForAgent:
    """A customer's message while an agent holds the conversation."""

    chat: "ChatView"
    text: str


@dataclass(frozen=True)
class Incoming:
    """The fields of a WeChat message that the channel uses, read (and validated) once."""

    type: str
    openid: str
    account: str
    msg_id: int
    create_time: int
    content: str = ""
    recognition: str = ""
    event: str = ""
    event_key: str = ""

    @classmethod
    def of(cls, message: Any) -> "Incoming":
        data: Dict[str, Any] = message._data  # wechatpy keeps the parsed XML here
        openid, account = data["FromUserName"], data["ToUserName"]
        if not isinstance(openid, str) or not openid or not isinstance(account, str):
            raise ValueError("FromUserName/ToUserName missing")
        # The raw MsgType, not wechatpy's class: an event type wechatpy does not know is still an event.
        kind = str(data["MsgType"]).lower()
        event = str(data.get("Event") or "").lower() if kind == "event" else ""
        return cls(type=kind, openid=openid, account=account, msg_id=int(message.id or 0),
                   create_time=int(message.time), content=str(data.get("Content") or ""),
                   recognition=str(data.get("Recognition") or ""), event=event,
                   event_key=str(data.get("EventKey") or ""))

    @property
    def dedup_key(self) -> str:
        # WeChat's advice: MsgId for messages, FromUserName + CreateTime for events.
        if self.msg_id:
            return str(self.msg_id)
        return f"{self.openid}:{self.create_time}:{self.event}"
