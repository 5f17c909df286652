"""The customer's side of 在线人工: called by the actions (join, leave, rate) and by the channels
(is this conversation held by an agent? then the message is the agent's to read).

Every function takes a LiveChatStore so that the actions (through bot.handoff's OrderService) and
the channels (one store per Rasa process) share the logic. A database that is down never stops a
customer: joining falls back to the work order, and "held?" answers no (the bot replies).
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Dict, List, Optional

from bot import replies
from bot.clock import utcnow
from bot.livechat import hours
from bot.livechat.rasa_api import addressable
from bot.orders.livechat import (
    PRIORITY_COMPLAINT,
    PRIORITY_HAZARD,
    PRIORITY_NORMAL,
    RATINGS,
    ChatView,
    LiveChatStore,
    MessageView,
)
from bot.orders.store import OrderError, OrderStore
from bot.settings import Settings

logger = logging.getLogger(__name__)

Message = Dict[str, Any]
# Hand-offs a person on duty can take in the chat. A 故障报修 or 投诉 is an order of its own (a crew,
# a department) whatever happens; asking for a person after it queues with its priority.
LIVE_REASONS = frozenset({"request_human", "not_helpful", "engine_fail", "nlu_fallback"})


@dataclass
class Decision:
    """``queued``: the customer is in the queue (``messages`` say so); otherwise open the work order
    as before, after ``messages`` (why no person can take it)."""

    queued: bool
    messages: List[Message] = field(default_factory=list)
    chat: Optional[ChatView] = None


def priority_of(orders: List[Any]) -> int:
    """A hazard (an urgent repair order) first, then a complaint, then the rest."""
    open_orders = [o for o in orders if getattr(o, "status", "") != "closed"]
    if any(getattr(o, "priority", "") == "urgent" for o in open_orders):
        return PRIORITY_HAZARD
    if any(getattr(o, "kind", "") == "complaint" for o in open_orders):
        return PRIORITY_COMPLAINT
    return PRIORITY_NORMAL


def request_person(chats: LiveChatStore, settings: Settings, *, sender_id: str, channel: str,
                   reason: str, orders: Optional[List[Any]] = None) -> Decision:
    """Queue the customer when an agent is on duty within service hours; else say why not."""
    is_open = hours.open_at(settings.livechat_hours) and addressable(sender_id)
    try:
        current = chats.open_chat_for(sender_id)
        if current is not None and current.state == "held":
            agent = f" {current.holder}" if current.holder else ""
            return Decision(True, [{"text": replies.LIVE_HELD_TEXT.format(agent=agent)}], current)
        on_duty = chats.on_duty(timedelta(seconds=settings.livechat_agent_gone_seconds)) if is_open else []
        if not on_duty and current is None:
            # Only a customer who asked for a person is told why none can come; the other
            # hand-offs (an unanswered question …) just get their work order as before.
            said = replies.live_no_agent(settings.livechat_hours, is_open) if reason == "request_human" else []
            return Decision(False, said)
        chat, _created = chats.enqueue(sender_id=sender_id, channel=channel, reason=reason,
                                       priority=priority_of(orders or []))
        ahead = max(0, chats.position(chat.id) - 1)
        median = chats.median_wait(utcnow() - timedelta(days=7))
        return Decision(True, replies.live_queued(ahead, max(1, settings.livechat_max_wait_seconds // 60),
                                                  None if median is None else median / 60, chat.id), chat)
    except OrderError:
        # The database is down (or refused): the work-order path has its own spool and says so.
        logger.warning("live chat unavailable for a hand-off; a work order is opened instead")
        return Decision(False)


def leave(chats: LiveChatStore, sender_id: str) -> Optional[ChatView]:
    """留言/转工单: the customer stops waiting (a held chat is the agent's to end)."""
    try:
        current = chats.open_chat_for(sender_id)
        if current is None or current.state != "waiting":
            return None
        return chats.finish(current.id, state="left", end_reason="customer", from_states=("waiting",))
    except OrderError:
        logger.warning("live chat: could not take a customer out of the queue")
        return None


def rate(chats: LiveChatStore, sender_id: str, rating: Optional[str]) -> List[Message]:
    """The customer's 满意 / 基本满意 / 不满意 for the chat an agent just ended."""
    rating = (rating or "").strip()
    if rating not in RATINGS:
        return [{"text": replies.LIVE_RATING_PROMPT, "buttons": replies.RATING_BUTTONS}]
    try:
        rated = chats.rate(sender_id, rating)
    except OrderError:
        logger.warning("live chat: a rating could not be stored")
        rated = None
    return [{"text": replies.LIVE_RATED_TEXT if rated else replies.LIVE_NOT_RATED_TEXT}]


class HeldCheck:
    """For the channels: the held chat of a sender, if any, from a store built on first use.

    The lookup is one indexed query per customer message; a database that is down means "not
    held" (the bot answers) rather than a customer left without a reply."""

    def __init__(self, settings: Settings, chats: Optional[LiveChatStore] = None) -> None:
        self.settings = settings
        self._chats = chats
        self._lock = threading.Lock()

    @property
    def chats(self) -> LiveChatStore:
        with self._lock:
            if self._chats is None:
                store = OrderStore.from_url(self.settings.prepared_orders_url())
                self._chats = LiveChatStore(store)
            return self._chats

    def held(self, sender_id: str) -> Optional[ChatView]:
        try:
            chat = self.chats.open_chat_for(sender_id)
        except Exception:  # noqa: BLE001 — never stop a customer's message on this check
            logger.warning("live chat: could not check whether a conversation is held")
            return None
        return chat if chat is not None and chat.state == "held" else None

    def record(self, chat: ChatView, text: str) -> Optional[MessageView]:
        """Keep the customer's message for the agent (Rasa's paused tracker records it too); None
        if it could not be kept."""
        try:
            return self.chats.add_message(chat.id, sender_id=chat.sender_id, direction="in", author="customer",
                                          text=text, tracker_synced=True)
        except Exception:  # noqa: BLE001
            logger.exception("live chat: a customer message could not be kept for the agent")
            return None

    def missed_by_rasa(self, message: Optional[MessageView]) -> None:
        """Rasa failed on a kept message: the console's sweep writes it to the tracker later."""
        if message is None:
            return
        try:
            self.chats.mark_synced(message.id, synced=False)
        except Exception:  # noqa: BLE001
            logger.exception("live chat: a customer message will be missing from the tracker")
