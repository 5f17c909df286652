"""Custom actions. Each is thin: it asks bot/ and sends what bot.replies words."""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot import replies
from bot.blank import is_blank
from bot.kb.live import LiveEngine
from bot.settings import load as load_settings

logger = logging.getLogger(__name__)

# One engine per action-server process, loaded at start-up; it reloads itself when knowledge/ changes.
ENGINE = LiveEngine(load_settings().knowledge_dir)


def _send(dispatcher: CollectingDispatcher, messages: List[Dict[str, Any]]) -> None:
    for message in messages:
        dispatcher.utter_message(**message)


class ActionAnswerQuestion(Action):
    """Answer an electricity question from the knowledge base, offer choices, or apologise and route."""

    def name(self) -> Text:
        return "action_answer_question"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        text = tracker.latest_message.get("text") or ""
        if is_blank(text):
            _send(dispatcher, replies.blank())
            return []
        try:
            answer = ENGINE.ask(text)
        except Exception:  # noqa: BLE001 — the customer must get a reply whatever broke
            logger.exception("answer engine failed on %r", text[:200])
            _send(dispatcher, replies.error())
            return [SlotSet("last_outcome", "error")]
        _send(dispatcher, replies.render(answer))
        return [SlotSet("last_entry_id", answer.entry.id if answer.entry else None),
                SlotSet("last_outcome", answer.outcome)]


class ActionFeedbackNegative(Action):
    """The customer says the answer did not help: apologise and give the next step."""

    def name(self) -> Text:
        return "action_feedback_negative"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        dispatcher.utter_message(text=replies.NOT_HELPFUL_TEXT)
        return []


class ActionRequestHuman(Action):
    """The customer asks for a person."""

    def name(self) -> Text:
        return "action_request_human"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        dispatcher.utter_message(text=replies.HUMAN_TEXT)
        return []


class ActionQueryWorkOrder(Action):
    """The customer asks about their work orders."""

    def name(self) -> Text:
        return "action_query_work_order"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        dispatcher.utter_message(text=replies.NO_ORDERS_TEXT)
        return []


class ActionStorePhone(Action):
    """The customer leaves a phone number."""

    def name(self) -> Text:
        return "action_store_phone"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        dispatcher.utter_message(text=replies.PHONE_NOTED_TEXT)
        return []
