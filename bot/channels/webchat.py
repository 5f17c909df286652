"""The customer web chat: a Rasa input channel that serves the chat page and receives its messages.

Registered in credentials.yml as ``bot.channels.webchat.WebChatInput``; Rasa mounts it at
/webhooks/webchat/:

- ``GET  /webhooks/webchat/``         the chat page (static HTML/CSS/JS in webchat_static/, no build step)
- ``GET  /webhooks/webchat/static/…`` its files
- ``POST /webhooks/webchat/webhook``  the REST protocol: ``{"sender", "message"}`` → list of
  ``{"recipient_id", "text"?, "buttons"?, "custom"?}`` — exactly what /webhooks/rest/webhook does,
  but the conversation is recorded with input channel "webchat", so work orders show where the
  customer came from.

The page keeps a random sender id and the transcript in the browser's localStorage, so a reload
continues the same conversation. Everything the server sends is inserted with textContent.
"""
from __future__ import annotations

import copy
import logging
import re
from asyncio import CancelledError
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

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
# The page makes ids like "web-3f2a…"; anything else printable and short is accepted too, so
# other front ends can use this webhook, but not control characters or megabyte-long ids.
SENDER_RE = re.compile(r"^[A-Za-z0-9_.:@-]{1,128}$")
MAX_MESSAGE_CHARS = 5000


def load_static(directory: Path = STATIC_DIR) -> Dict[str, bytes]:
    """The page's files, read once: they do not change while the server runs."""
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())
            if p.is_file() and p.suffix in CONTENT_TYPES}


def _file_response(files: Dict[str, bytes], name: str) -> HTTPResponse:
    body = files.get(name)
    if body is None:
        return response.text("not found", status=404)
    return response.raw(body, content_type=CONTENT_TYPES[Path(name).suffix], headers=SECURITY_HEADERS)


class WebChatInput(RestInput):
    """REST protocol plus the chat page, under /webhooks/webchat/."""

    @classmethod
    def name(cls) -> Text:
        return "webchat"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "WebChatInput":
        return cls()

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

        @bp.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                body = request.json
            except Exception:  # noqa: BLE001 — sanic raises InvalidUsage on a body that is not JSON
                body = None
            if not isinstance(body, dict):
                return response.json({"error": "请求格式有误：需要 JSON 对象 {\"sender\", \"message\"}。"}, status=400)
            sender, text = body.get("sender"), body.get("message")
            if not isinstance(sender, str) or not SENDER_RE.match(sender):
                return response.json({"error": "sender 缺失或格式有误。"}, status=400)
            if not isinstance(text, str):
                return response.json({"error": "message 必须是文字。"}, status=400)
            collector = CollectingOutputChannel()
            try:
                await on_new_message(UserMessage(text[:MAX_MESSAGE_CHARS], collector, sender,
                                                 input_channel=self.name(), metadata=None))
            except CancelledError:
                logger.error("webchat message timed out: %r", copy.deepcopy(text[:200]))
            except Exception:  # noqa: BLE001 — same as Rasa's REST channel: answer with what we have
                logger.exception("webchat message failed: %r", text[:200])
            return response.json(collector.messages)

        return bp
