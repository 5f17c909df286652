"""The REST channel for integrators and local tools: POST /webhooks/rest/webhook.

Same protocol as Rasa's built-in ``rest`` channel — ``{"sender": "...", "message": "..."}`` in,
a list of ``{"recipient_id", "text"?, "buttons"?, "custom"?}`` out — with the trust boundary the
built-in one lacks (bot/channels/identity.py):

- the sender id becomes ``rest:<sender>``: a REST client can never speak as a WeChat or web chat
  customer, and ``input_channel`` in the body is ignored;
- with REST_SECRET set, every request needs ``Authorization: Bearer <REST_SECRET>`` (for an
  integrator's back end); without it (the default, for local runs and ../shared/realq/probe.py)
  only clients on this machine are answered;
- body size, text cap, control characters and rate limits as on every channel (limits.py);
- if Rasa fails (tracker or lock store down) the customer reads a polite message, never a 500.
"""
from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import re
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import log_privacy, turn_replay
from bot.channels import identity, limits
from bot.livechat.queue import HeldCheck
from bot.settings import Settings, load as load_settings

logger = logging.getLogger(__name__)

# A client's own id: printable, no spaces, not megabytes long.
CLIENT_ID_RE = re.compile(r"^[^\s\x00-\x1f\x7f]{1,%d}$" % identity.MAX_SENDER_CHARS)


def client_ip(request: Request) -> str:
    # remote_addr honours X-Forwarded-For only when Sanic is told to trust a proxy
    # (SANIC_PROXIES_COUNT / SANIC_REAL_IP_HEADER); otherwise it is empty and the peer counts.
    return request.remote_addr or request.ip or "?"


def _loopback(address: str) -> bool:
    address = address.strip().strip('"').strip("[]")
    if address.count(":") == 1:  # "1.2.3.4:5678"
        address = address.split(":")[0]
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def is_loopback(request: Request) -> bool:
    """A client on this machine. A request relayed by a proxy on this machine (haproxy, nginx)
    counts as local only if the proxy says its own client was local too (the last hop it added)."""
    if not _loopback(request.ip or ""):
        return False
    relayed = [v for h in ("x-forwarded-for", "x-real-ip") for v in request.headers.getall(h, [])]
    hops = [hop for value in relayed for hop in value.split(",") if hop.strip()]
    for value in request.headers.getall("forwarded", []):
        hops += [part.split("=", 1)[1] for part in value.replace(",", ";").split(";")
                 if part.strip().lower().startswith("for=")]
    return not hops or _loopback(hops[-1].strip())


def json_error(text: str, status: int) -> HTTPResponse:
    return response.json({"error": text}, status=status)


class GuardedInput(InputChannel):
    """What the REST and web chat channels share: limits, cleaning and a turn that never 500s."""

    def __init__(self, settings: Optional[Settings] = None, limiter: Optional[limits.RateLimiter] = None) -> None:
        self.settings = settings or load_settings()
        self.limiter = limiter or limits.RateLimiter.from_settings(self.settings)
        self.live = HeldCheck(self.settings)  # 在线人工: is an agent holding this conversation?
        log_privacy.install()  # Rasa's process: phones and customer ids out of its logs

    def _body(self, request: Request) -> Any:
        """The JSON object of the request, or an error response."""
        if len(request.body or b"") > self.settings.request_max_bytes:
            return json_error(f"请求太大：最多 {self.settings.request_max_bytes} 字节。", 413)
        try:
            body = request.json
        except Exception:  # noqa: BLE001 — sanic raises InvalidUsage on a body that is not JSON
            body = None
        if not isinstance(body, dict):
            return json_error("请求格式有误：需要 JSON 对象 {\"sender\", \"message\"}。", 400)
        if not isinstance(body.get("message"), str):
            return json_error("message 必须是文字。", 400)
        return body

    async def _limited(self, request: Request, sender_id: Optional[str]) -> Optional[HTTPResponse]:
        if not await self.limiter.allow_ip(client_ip(request)):
            return self._refusal(sender_id, 429)
        if sender_id and not await self.limiter.allow_sender(sender_id):
            return self._refusal(sender_id, 429)
        return None

    @staticmethod
    def _refusal(sender_id: Optional[str], status: int) -> HTTPResponse:
        # The body is what a chat client shows, so the customer reads why.
        return response.json([{"recipient_id": sender_id or "", "text": limits.RATE_LIMITED_TEXT}],
                             status=status)

    async def _turn(self, on_new_message: Callable[[UserMessage], Awaitable[Any]], sender_id: str,
                    text: str, request: Optional[Request] = None) -> List[Dict[str, Any]]:
        collector = CollectingOutputChannel()
        # The same request again (haproxy's retry, the page's 重新发送) is answered from the
        # tracker store instead of running twice (bot/turn_replay.py).
        message_id = turn_replay.message_id_for(request.headers.get(turn_replay.HEADER) if request else None)
        text, notice = limits.prepare(text, self.settings.message_max_chars)
        if notice:
            await collector.send_text_message(sender_id, notice)
        loop = asyncio.get_running_loop()
        held = await loop.run_in_executor(None, self.live.held, sender_id)
        if held is not None:
            # An agent holds the conversation: the message is theirs (kept for the console), and
            # Rasa's paused tracker records it without answering.
            kept = await loop.run_in_executor(None, self.live.record, held, text)
            try:
                await on_new_message(UserMessage(text, collector, sender_id, input_channel=self.name(),
                                                 message_id=message_id, metadata={"livechat": {"chat": held.id}}))
            except Exception:  # noqa: BLE001 — the agent has it (kept); the sweep writes it to the tracker
                logger.exception("%s message to a held conversation not recorded by Rasa", self.name())
                await loop.run_in_executor(None, self.live.missed_by_rasa, kept)
            return collector.messages + [{"recipient_id": sender_id, "custom": {
                "type": "live_chat", "state": "held", "agent": held.holder, "delivered": bool(kept)}}]
        try:
            await on_new_message(UserMessage(text, collector, sender_id, input_channel=self.name(),
                                             message_id=message_id, metadata=None))
        except asyncio.CancelledError:
            logger.error("%s message timed out (%d characters)", self.name(), len(text))
        except Exception:  # noqa: BLE001 — the tracker or lock store may be down: say so politely
            logger.exception("%s message failed (%d characters)", self.name(), len(text))
            if len(collector.messages) <= (1 if notice else 0):
                await collector.send_text_message(sender_id, limits.UNAVAILABLE_TEXT)
        if len(collector.messages) <= (1 if notice else 0):
            await collector.send_text_message(sender_id, limits.NO_REPLY_TEXT)
        return collector.messages


class RestChannel(GuardedInput):
    """POST /webhooks/rest/webhook; GET /webhooks/rest/ for a health check."""

    @classmethod
    def name(cls) -> Text:
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "RestChannel":
        return cls()

    def _authorised(self, request: Request) -> bool:
        secret = self.settings.rest_secret
        if not secret:
            return is_loopback(request)
        given = request.headers.get("authorization", "")
        return hmac.compare_digest(given.encode("utf-8", "replace"), f"Bearer {secret}".encode("utf-8"))

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bp = Blueprint("rest_channel", __name__)

        @bp.route("/", methods=["GET"])
        async def health(_request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @bp.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not self._authorised(request):
                logger.warning("REST request refused from %s: %s", client_ip(request),
                               "bad or missing REST_SECRET" if self.settings.rest_secret
                               else "REST_SECRET is not set, so only this machine may call")
                return json_error("未授权：请在 Authorization 头中提供 Bearer REST_SECRET。", 403)
            body = self._body(request)
            if isinstance(body, HTTPResponse):
                return body
            client = body.get("sender")
            if not isinstance(client, str) or not CLIENT_ID_RE.match(client):
                return json_error(f"sender 缺失或格式有误（1–{identity.MAX_SENDER_CHARS} 个可见字符）。", 400)
            sender_id = identity.rest_sender(client)
            refused = await self._limited(request, sender_id)
            if refused:
                return refused
            return response.json(await self._turn(on_new_message, sender_id, body["message"], request))

        return bp
