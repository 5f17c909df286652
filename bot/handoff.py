"""Hand-off to a person: open (or add to) the conversation's work order and word the reply.

The actions call these functions with plain data from the Rasa tracker, so the same logic is
testable without a running Rasa. Rules:

- one open order per conversation partner; a second trigger adds to it;
- the idempotency key is the triggering user message plus the reason, so a retried action
  call replays the stored result instead of writing again;
- a number is shown only once it is stored; a spooled request is told honestly.
"""
from __future__ import annotations

import logging
import re
import threading
from typing import Any, Dict, Iterable, List, Optional

from bot import replies
from bot.orders import OrderNotFound, OrderService, describe_for_customer, from_rasa_events
from bot.orders.numbering import find_order_no
from bot.orders.phone import PhoneError
from bot.clock import format_beijing

logger = logging.getLogger(__name__)

Message = Dict[str, Any]

_service: Optional[OrderService] = None
_service_lock = threading.Lock()


def service() -> OrderService:
    """The process's OrderService, built on first use (a database that is down must not stop start-up)."""
    global _service
    with _service_lock:
        if _service is None:
            _service = OrderService.from_settings()
        return _service


def latest_user_event(events: Iterable[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    last = None
    for ev in events:
        if isinstance(ev, dict) and ev.get("event") == "user":
            last = ev
    return last


def idempotency_key(sender_id: str, events: List[Dict[str, Any]], reason: str) -> str:
    """Same triggering message + same reason → same key, however often the action is retried."""
    user = latest_user_event(events) or {}
    marker = user.get("message_id") or f"{user.get('timestamp', 0):.6f}"
    return f"{sender_id}|{marker}|{reason}"


def open_order(*, channel: str, sender_id: str, events: List[Dict[str, Any]], reason: str,
               topic: Optional[str], candidates: List[Dict[str, Any]], urgent: bool = False) -> List[Message]:
    """Open or append, and return what the customer should read (``urgent``: a hazard on site)."""
    extra: Dict[str, Any] = {"priority": "urgent"} if urgent else {}
    result = service().open_or_append(
        channel=channel, sender_id=sender_id, reason=reason, topic=topic, candidates=candidates,
        transcript=from_rasa_events(events), idempotency_key=idempotency_key(sender_id, events, reason),
        conversation_id=sender_id, **extra)
    due = format_beijing(result.due_at) if result.due_at else None
    status = result.status
    # Ask for a phone only for a new order (which cannot have one yet), or for the retry of its
    # creation if the customer has not given one since.
    ask_phone = bool(result.order_no) and status == "stored" and result.created
    if result.order_no and status == "stored" and result.replayed:
        view = service().get(result.order_no)
        ask_phone = view is not None and not view.phone
    logger.info("work order %s for %s/%s: %s (%s)", result.order_no or "-", channel, sender_id,
                status, reason)
    return replies.order_opened(reason, status, result.order_no, due, ask_phone)


def store_phone(*, channel: str, sender_id: str, text: str, entity: Optional[str]) -> List[Message]:
    """Validate and store the callback number on the sender's order."""
    candidate = entity or _digits_part(text)
    try:
        phone = service().set_phone(channel=channel, sender_id=sender_id, phone_text=candidate)
    except PhoneError:
        return [{"text": replies.PHONE_BAD_TEXT}]
    except OrderNotFound:
        return [{"text": replies.PHONE_NO_ORDER_TEXT}]
    return [{"text": replies.PHONE_SAVED_TEXT.format(phone=phone)}]


def _digits_part(text: str) -> str:
    # "我的电话是 138 1234 5678 谢谢" → "138 1234 5678": the number and what people put inside it.
    match = re.search(r"[+＋]?[0-9０-９][0-9０-９\s\-－()（）]{4,}[0-9０-９]", text or "")
    return match.group(0) if match else (text or "")


def query_orders(*, channel: str, sender_id: str, text: str, entity: Optional[str]) -> List[Message]:
    """The customer's own orders (never anyone else's): one by number, or all of them."""
    wanted = entity or find_order_no(text)
    svc = service()
    if wanted:
        view = svc.get_for(channel=channel, sender_id=sender_id, order_no=wanted.upper())
        if view is None:
            return [{"text": replies.ORDER_NOT_FOUND_TEXT.format(order_no=wanted.upper())}]
        return [{"text": describe_for_customer(view),
                 "json_message": {"type": "work_order_status", "order_no": view.order_no,
                                  "status": view.status}}]
    views = svc.orders_for(channel=channel, sender_id=sender_id)
    if not views:
        return [{"text": replies.NO_ORDERS_TEXT}]
    shown = views[:replies.ORDERS_SHOWN]
    head = replies.orders_list_head(len(views))
    body = "\n——\n".join(describe_for_customer(v) for v in shown)
    return [{"text": f"{head}\n{body}",
             "json_message": {"type": "work_order_status",
                              "orders": [{"order_no": v.order_no, "status": v.status} for v in shown]}}]


def unresolved_fallback_before(events: List[Dict[str, Any]]) -> bool:
    """Was the customer's previous message also not understood (NLU fallback, no answer)?

    True when the user message before the latest one was an nlu_fallback and the bot's reply to
    it set last_outcome to "not_understood" — i.e. NLU fell back twice running.
    """
    users = [i for i, ev in enumerate(events) if isinstance(ev, dict) and ev.get("event") == "user"]
    if len(users) < 2:
        return False
    prev, last = users[-2], users[-1]
    intent = ((events[prev].get("parse_data") or {}).get("intent") or {}).get("name")
    if intent != "nlu_fallback":
        return False
    for ev in events[prev:last]:
        if ev.get("event") == "session_started":
            return False
        if ev.get("event") == "slot" and ev.get("name") == "last_outcome" and ev.get("value") == "not_understood":
            return True
    return False


# --- 在线人工 (issue 15): a person in the same chat when one is on duty ---------------------------
_live: Optional[Any] = None


def live_chats() -> Any:
    """The process's LiveChatStore, on the same database as the work orders."""
    global _live
    store = service().store  # before the lock: service() takes the same (non-reentrant) lock
    with _service_lock:
        if _live is None:
            from bot.orders.livechat import LiveChatStore

            _live = LiveChatStore(store)
        return _live


def try_live_chat(*, channel: str, sender_id: str, reason: str) -> Any:
    """Queue the customer for an agent if one is on duty (bot.livechat.queue.Decision)."""
    from bot.livechat import queue
    from bot.settings import load as load_settings

    if reason not in queue.LIVE_REASONS:
        return queue.Decision(False)
    try:
        orders = service().orders_for(channel=channel, sender_id=sender_id)
    except Exception:  # noqa: BLE001 — the priority is a nicety; the queue still works
        orders = []
    return queue.request_person(live_chats(), load_settings(), sender_id=sender_id, channel=channel,
                                reason=reason, orders=orders)
