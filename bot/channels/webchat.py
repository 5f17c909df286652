"""The customer web chat: a Rasa input channel that serves the chat page and receives its messages.

Registered in credentials.yml as ``bot.channels.webchat.WebChatInput``; Rasa mounts it at
/webhooks/webchat/:

- ``GET  /webhooks/webchat/``         the chat page (static HTML/CSS/JS in webchat_static/, no build step)
- ``GET  /webhooks/webchat/static/…`` its files
- ``POST /webhooks/webchat/webhook``  the REST protocol: ``{"message"}`` → list of
  ``{"recipient_id", "text"?, "buttons"?, "custom"?}``, recorded with input channel "webchat".
- ``POST /webhooks/webchat/session``  a new id (the customer chose 清空记录 and a fresh start).
- ``GET  /webhooks/webchat/live?after=&wait=``  在线人工: a long poll for what an agent (or the
  queue) sent to this customer since message ``after``, with the queue place or the agent's name.

Who the customer is comes from the ``webchat_id`` cookie only: an id ``web:<random>`` that the
server issues, HMAC-signed with WEBCHAT_SECRET (identity.py), HttpOnly, SameSite=Strict. A
"sender" in the body is ignored, so no one can post as another customer. The page keeps the
transcript in localStorage; a reload continues the same conversation because the cookie stays.
Everything the server sends is inserted with textContent.
"""
from __future__ import annotations

import asyncio
import html
import logging
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import topics
from bot.channels import identity
from bot.channels.rest import GuardedInput, client_ip
from bot.livechat.queue import HeldCheck
from bot.local_secrets import local_secret

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).with_name("webchat_static")
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "application/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}
# Server text is only ever inserted as text, and the page loads nothing from elsewhere; the
# policy makes a mistake in that rule harmless instead of exploitable.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; base-uri 'none'; form-action 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-cache",
}
COOKIE = "webchat_id"
COOKIE_PATH = "/webhooks/webchat/"
COOKIE_MAX_AGE = 90 * 24 * 3600  # a returning customer still finds their orders for 90 days


LIVE_MAX_WAIT = 25.0   # seconds a long poll is held open (proxies commonly cut at 30–60 s)
LIVE_CHECK_EVERY = 0.25  # how often a held poll looks at the outbox (the console writes it)


async def live_updates(check: HeldCheck, sender_id: str, after: int, wait: float) -> Dict[str, Any]:
    """The customer's live-chat state and the messages to them after ``after`` (-1: none, just
    the cursor — a fresh page must not replay old chats). A database that is down reads as "none"."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while True:
        try:
            if after < 0:
                after = await loop.run_in_executor(None, check.chats.last_message_id, sender_id)
            rows = await loop.run_in_executor(None, check.chats.outbox, sender_id, after)
            chat = await loop.run_in_executor(None, check.chats.open_chat_for, sender_id)
        except Exception:  # noqa: BLE001 — the page keeps polling; the customer can still chat with the bot
            logger.warning("web chat: live-chat state unavailable")
            return {"state": "none", "cursor": max(after, 0), "messages": []}
        if rows or loop.time() >= deadline:
            break
        await asyncio.sleep(LIVE_CHECK_EVERY)
    body: Dict[str, Any] = {"state": chat.state if chat else "none", "cursor": rows[-1].id if rows else after,
                            "messages": [_live_message(m) for m in rows]}
    if chat is not None and chat.state == "held":
        body["agent"] = chat.holder
    elif chat is not None:
        body["ahead"] = max(0, await loop.run_in_executor(None, check.chats.position, chat.id) - 1)
    return body


def _live_message(m: Any) -> Dict[str, Any]:
    payload = m.payload if isinstance(m.payload, dict) else {}
    out: Dict[str, Any] = {"id": m.id, "author": m.author, "text": m.text}
    if isinstance(payload.get("buttons"), list):
        out["buttons"] = payload["buttons"]
    if isinstance(payload.get("custom"), dict):
        out["custom"] = payload["custom"]
    return out


def load_static(directory: Path = STATIC_DIR) -> Dict[str, bytes]:
    """The page's files, read once: they do not change while the server runs."""
    files = {p.name: p.read_bytes() for p in sorted(directory.iterdir())
             if p.is_file() and p.suffix in CONTENT_TYPES}
    if "index.html" in files:
        files["index.html"] = with_topics(files["index.html"])
    return files


def with_topics(page: bytes) -> bytes:
    """The chat page with the topic buttons of knowledge/topics.yml, in the HTML (the script
    reads them from there: the CSP allows no inline script, and no second request is needed)."""
    labels = [html.escape(t.label) for t in topics.TOPICS]
    buttons = "".join(f'\n      <button type="button" class="chip" data-text="{label}">{label}</button>'
                      for label in labels)
    text = page.decode("utf-8").replace("{{topic_list}}", "、".join(labels))
    return text.replace("{{topic_buttons}}", buttons + "\n    ").encode("utf-8")


def _file_response(files: Dict[str, bytes], name: str) -> HTTPResponse:
    body = files.get(name)
    if body is None:
        return response.text("not found", status=404)
    return response.raw(body, content_type=CONTENT_TYPES[Path(name).suffix], headers=SECURITY_HEADERS)


class WebChatInput(GuardedInput):
    """The chat page and its webhook, under /webhooks/webchat/."""

    @classmethod
    def name(cls) -> Text:
        return "webchat"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "WebChatInput":
        return cls()

    @property
    def key(self) -> str:
        return local_secret(self.settings.var_dir, "webchat-cookie-key", self.settings.webchat_secret)

    def sender_of(self, request: Request) -> Optional[str]:
        return identity.verify_webchat_cookie(self.key, request.cookies.get(COOKIE))

    def _set_cookie(self, request: Request, resp: HTTPResponse, sender_id: str) -> None:
        resp.cookies[COOKIE] = identity.sign_webchat_id(self.key, sender_id)
        c = resp.cookies[COOKIE]
        c["path"] = COOKIE_PATH
        c["httponly"] = True
        c["samesite"] = "Strict"
        c["max-age"] = COOKIE_MAX_AGE
        if self.settings.webchat_cookie_secure or request.scheme == "https":
            c["secure"] = True

    async def _new_id(self, request: Request) -> Optional[str]:
        if not await self.limiter.allow_new_id(client_ip(request)):
            logger.warning("web chat: client %s asked for too many new ids", client_ip(request))
            return None
        return identity.new_webchat_id()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        files = load_static()
        bp = Blueprint("webchat_channel", __name__)

        @bp.route("/", methods=["GET"])
        async def page(request: Request) -> HTTPResponse:
            # The page refers to its files and its webhook relatively; without the trailing
            # slash "static/…" would resolve one level too high.
            if not request.path.endswith("/"):
                return response.redirect(request.path + "/")
            return _file_response(files, "index.html")

        @bp.route("/static/<name:str>", methods=["GET"])
        async def static(request: Request, name: str) -> HTTPResponse:
            return _file_response(files, name)

        @bp.route("/health", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @bp.route("/session", methods=["POST"])
        async def new_session(request: Request) -> HTTPResponse:
            """清空记录 with a fresh start: the customer's choice, so their old orders stay theirs
            only as long as they keep the number."""
            sender_id = await self._new_id(request)
            if sender_id is None:
                return self._refusal(None, 429)
            resp = response.json({"status": "ok"})
            self._set_cookie(request, resp, sender_id)
            return resp

        @bp.route("/live", methods=["GET"])
        async def live(request: Request) -> HTTPResponse:
            """在线人工: what an agent (or the queue) sent since ``after`` — a long poll of up to
            ``wait`` seconds (at most 25), answered as soon as something arrives."""
            sender_id = self.sender_of(request)
            if sender_id is None:
                return response.json({"state": "none", "cursor": 0, "messages": []}, headers=SECURITY_HEADERS)
            try:
                after = int(request.args.get("after", "-1"))
                wait = min(LIVE_MAX_WAIT, max(0.0, float(request.args.get("wait", "0"))))
            except ValueError:
                return response.json({"error": "after/wait 必须是数字。"}, status=400)
            return response.json(await live_updates(self.live, sender_id, after, wait), headers=SECURITY_HEADERS)

        @bp.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            body = self._body(request)
            if isinstance(body, HTTPResponse):
                return body
            sender_id = self.sender_of(request)
            fresh = sender_id is None
            if fresh:
                sender_id = await self._new_id(request)
                if sender_id is None:
                    return self._refusal(None, 429)
            refused = await self._limited(request, sender_id)
            if refused:
                return refused
            resp = response.json(await self._turn(on_new_message, sender_id, body["message"], request))
            if fresh:
                self._set_cookie(request, resp, sender_id)
            return resp

        return bp
