"""Custom actions. Each is thin: it asks bot/ and sends what bot.replies words."""
from __future__ import annotations

import logging
from typing import Any, Callable, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot import handoff, next_step, replies
from bot.blank import is_blank
from bot.channels.identity import channel_of
from bot.kb.live import LiveEngine
from bot.kb.text import written_without_chinese
from bot.settings import load as load_settings

logger = logging.getLogger(__name__)

# One engine per action-server process, loaded at start-up; it reloads itself when knowledge/ changes.
ENGINE = LiveEngine(load_settings().knowledge_dir)


def _channel(tracker: Tracker) -> str:
    # From the sender id's prefix, which the channel set; never the client's input_channel label.
    return channel_of(tracker.sender_id)


def _hand_off(dispatcher: CollectingDispatcher, tracker: Tracker, reason: str,
              topic: Any = None, candidates: Any = None, urgent: bool = False, live: bool = True) -> None:
    """A person takes it: an agent in this chat when one is on duty (``live``, issue 15), else the
    conversation's work order (opened or added to); tells the customer; never raises."""
    if live:
        try:
            decision = handoff.try_live_chat(channel=_channel(tracker), sender_id=tracker.sender_id,
                                             reason=reason)
        except Exception:  # noqa: BLE001 — the work order below still reaches a person
            logger.exception("live chat hand-off failed for %s", tracker.sender_id)
            decision = None
        if decision is not None:
            _send(dispatcher, decision.messages)
            if decision.queued:
                return
    try:
        messages = handoff.open_order(channel=_channel(tracker), sender_id=tracker.sender_id,
                                      events=list(tracker.events), reason=reason, topic=topic,
                                      candidates=list(candidates or []), urgent=urgent)
    except Exception:  # noqa: BLE001 — the spool covers an outage; this is a bug, still answer
        logger.exception("opening a work order failed for %s", tracker.sender_id)
        messages = [{"text": replies.ERROR_TEXT}]
    _send(dispatcher, messages)


def _customer_request(dispatcher: CollectingDispatcher, tracker: Tracker,
                      handler: Callable[..., List[Dict[str, Any]]], entity: str, what: str) -> None:
    """Run a request on the customer's own orders (query, phone) and reply; never raises."""
    try:
        messages = handler(channel=_channel(tracker), sender_id=tracker.sender_id,
                           text=tracker.latest_message.get("text") or "",
                           entity=next(tracker.get_latest_entity_values(entity), None))
    except Exception:  # noqa: BLE001
        logger.exception("%s failed for %s", what, tracker.sender_id)
        messages = [{"text": replies.QUERY_ERROR_TEXT}]
    _send(dispatcher, messages)


def _available(domain: Dict[Text, Any]) -> List[str]:
    """The actions and forms of the running domain (the 故障报修 form exists only once it is built)."""
    forms = domain.get("forms") or {}
    return [*(domain.get("actions") or []), *(forms.keys() if isinstance(forms, dict) else forms)]


def _send(dispatcher: CollectingDispatcher, messages: List[Dict[str, Any]]) -> None:
    for message in messages:
        dispatcher.utter_message(**message)


class ActionAnswerQuestion(Action):
    """Answer from the knowledge base, offer choices, or hand the question to a person."""

    def name(self) -> Text:
        return "action_answer_question"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        text = tracker.latest_message.get("text") or ""
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if is_blank(text):
            _send(dispatcher, replies.blank())
            return []
        try:
            # a short follow-up ("去哪里办", "那第二档呢") is read with the entry answered just before
            context = tracker.get_slot("last_entry_id") if tracker.get_slot("last_outcome") == "answer" else None
            answer = ENGINE.ask(text, context=context)
        except Exception:  # noqa: BLE001 — the customer must get a reply whatever broke
            # no message text in logs (issue 14): the conversation holds it for staff
            logger.exception("answer engine failed on a message of %d characters from %s", len(text), tracker.sender_id)
            _hand_off(dispatcher, tracker, "error")
            return [SlotSet("last_outcome", "error")]
        # what happens next for this kind of decision is bot/next_step.py's, not this action's
        step = next_step.plan(answer, available=_available(domain), intent=intent,
                              fallback_before=handoff.unresolved_fallback_before(list(tracker.events)))
        if step.kind == "no_match" and written_without_chinese(text):
            # "How do I pay my bill?": say in their language that we answer in Chinese
            _send(dispatcher, replies.latin_note())
        _send(dispatcher, step.messages)
        events: List[EventType] = [SlotSet("last_outcome", step.last_outcome)]
        if answer.entry is not None:
            events.append(SlotSet("last_entry_id", answer.entry.id))
        if step.followup:
            # the 故障报修 form or the complaint action takes the report and opens the order
            events.append(FollowupAction(step.followup))
        elif step.order_reason:
            _hand_off(dispatcher, tracker, step.order_reason, topic=step.topic, candidates=step.candidates,
                      urgent=step.urgent)
        return events


class ActionFeedbackNegative(Action):
    """The customer says the answer did not help: a person takes over."""

    def name(self) -> Text:
        return "action_feedback_negative"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        entry_id = tracker.get_slot("last_entry_id")
        if tracker.get_slot("last_outcome") not in ("answer", "clarify"):
            # "不对" with no answer before it: nothing to disown; ask what they need.
            dispatcher.utter_message(text=replies.NOTHING_TO_DISOWN_TEXT)
            return []
        entry = ENGINE.get(entry_id) if entry_id else None
        candidates = [{"entry_id": entry.id, "question": entry.question, "confidence": None}] if entry else []
        _hand_off(dispatcher, tracker, "not_helpful", topic=entry.topic if entry else None,
                  candidates=candidates)
        return [SlotSet("last_outcome", "handed_off")]


class ActionRequestHuman(Action):
    """The customer asks for a person (转人工, 人工客服, the menu button)."""

    def name(self) -> Text:
        return "action_request_human"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        entry_id = tracker.get_slot("last_entry_id")
        entry = ENGINE.get(entry_id) if entry_id else None
        _hand_off(dispatcher, tracker, "request_human", topic=entry.topic if entry else None,
                  candidates=[{"entry_id": entry.id, "question": entry.question}] if entry else [])
        return [SlotSet("last_outcome", "handed_off")]


class ActionQueryWorkOrder(Action):
    """查询工单 GD… / 我的工单: only the customer's own orders."""

    def name(self) -> Text:
        return "action_query_work_order"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        _customer_request(dispatcher, tracker, handoff.query_orders, "order_no", "work-order query")
        return []


class ActionStorePhone(Action):
    """The customer leaves a callback number: validate it and store it on their order."""

    def name(self) -> Text:
        return "action_store_phone"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        _customer_request(dispatcher, tracker, handoff.store_phone, "phone", "storing a phone number")
        return []
