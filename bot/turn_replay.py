"""A message sent again with the same request id is answered from the tracker store, never run twice.

A request can reach Rasa twice: haproxy sends it again to another process when the first one
closed the connection without answering (a process killed mid-turn, or a request that was still
in its accept queue), and the web chat page's 重新发送 sends a message again after a timeout. In
both cases the first attempt may have been stored completely before the answer was lost.

The channels pass the request's id (the X-Request-ID header: set by haproxy, or by the page) as
the message id, prefixed with ``REQUEST_PREFIX``. Rasa runs each turn of a conversation under the
conversation's lock, so when a message with such an id arrives, the earlier attempt has either
stored its whole turn or nothing of it. If the tracker holds a user message with that id, the
turn is not run again: the bot's replies stored after it are sent, and nothing is saved.

Messages without such an id (Rasa's default, a random uuid) are not looked up. Installed by the
tracker store (bot/orders/tracker_sync.py), the part of ours every Rasa process loads.
"""
from __future__ import annotations

import logging
import re
import threading
from typing import Any, Dict, List, Optional

from rasa.shared.core.events import BotUttered, UserUttered

logger = logging.getLogger(__name__)

REQUEST_PREFIX = "req-"
# What a request id may look like: haproxy's uuid(), the page's random hex; never a megabyte.
REQUEST_ID_RE = re.compile(r"[A-Za-z0-9-]{8,64}")
HEADER = "x-request-id"

_installed = False
_install_lock = threading.Lock()


def message_id_for(request_id: Optional[str]) -> Optional[str]:
    """The message id for a request's X-Request-ID header (None: no usable id, Rasa picks one)."""
    if not request_id or not REQUEST_ID_RE.fullmatch(request_id):
        return None
    return REQUEST_PREFIX + request_id


def stored_replies(events: List[Any], message_id: str) -> Optional[List[Dict[str, Any]]]:
    """The bot's replies stored after the user message ``message_id``; None if it is not stored."""
    for i in range(len(events) - 1, -1, -1):
        event = events[i]
        if isinstance(event, UserUttered) and event.message_id == message_id:
            replies = []
            for later in events[i + 1:]:
                if isinstance(later, UserUttered):
                    break
                if isinstance(later, BotUttered):
                    replies.append(later.message())
            return replies
    return None


class AlreadyHandled(Exception):
    """The message's turn is in the tracker store already (raised before anything is changed)."""

    def __init__(self, replies: List[Dict[str, Any]]) -> None:
        super().__init__("turn already stored")
        self.replies = replies


def install() -> None:
    """Patch Rasa's MessageProcessor (idempotent)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        from rasa.core.channels.channel import CollectingOutputChannel
        from rasa.core.processor import MessageProcessor

        handle_message = MessageProcessor.handle_message
        with_tracker = MessageProcessor._handle_message_with_tracker

        async def _handle_message_with_tracker(self: Any, message: Any, tracker: Any) -> None:
            # The tracker was just fetched under the conversation's lock: the place to look.
            if isinstance(message.message_id, str) and message.message_id.startswith(REQUEST_PREFIX):
                replies = stored_replies(list(tracker.events), message.message_id)
                if replies is not None:
                    raise AlreadyHandled(replies)
            await with_tracker(self, message, tracker)

        async def _handle_message(self: Any, message: Any) -> Optional[List[Dict[str, Any]]]:
            try:
                return await handle_message(self, message)
            except AlreadyHandled as done:
                logger.warning("conversation %s: message %s was already answered; its stored replies are sent "
                               "again, the turn is not run twice", message.sender_id, message.message_id)
                for reply in done.replies:
                    await message.output_channel.send_response(message.sender_id, dict(reply))
                if isinstance(message.output_channel, CollectingOutputChannel):
                    return message.output_channel.messages
                return None

        MessageProcessor._handle_message_with_tracker = _handle_message_with_tracker  # type: ignore[assignment]
        MessageProcessor.handle_message = _handle_message  # type: ignore[assignment]
        _installed = True
