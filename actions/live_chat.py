"""在线人工 actions (issue 15): thin, the work is in bot.livechat and bot.handoff.

- action_leave_message: 留言/转工单 while waiting — out of the queue, into a work order.
- action_rate_service: 满意 / 基本满意 / 不满意 for the chat an agent just ended.
- action_livechat_timeout: the console's EXTERNAL_livechat_timeout — nobody took the chat in time
  (or nobody is left on duty): the work order, with the whole conversation, as before.
- action_livechat_ended: the console's EXTERNAL_livechat_ended — the agent pressed 结束: ask for the rating.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.actions import _channel, _hand_off, _send
from bot import handoff, replies
from bot.livechat import queue

logger = logging.getLogger(__name__)


class ActionLeaveMessage(Action):
    def name(self) -> Text:
        return "action_leave_message"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        left = queue.leave(handoff.live_chats(), tracker.sender_id)
        if left is not None:
            _send(dispatcher, [{"text": replies.LIVE_LEFT_TEXT}])
        _hand_off(dispatcher, tracker, "request_human", live=False)
        return [SlotSet("last_outcome", "handed_off")]


class ActionRateService(Action):
    def name(self) -> Text:
        return "action_rate_service"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        rating = next(tracker.get_latest_entity_values("rating"), None)
        _send(dispatcher, queue.rate(handoff.live_chats(), tracker.sender_id, rating))
        return []


class ActionLiveChatTimeout(Action):
    def name(self) -> Text:
        return "action_livechat_timeout"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        _send(dispatcher, [{"text": replies.LIVE_TIMEOUT_TEXT}])
        _hand_off(dispatcher, tracker, "request_human", live=False)
        return [SlotSet("last_outcome", "handed_off")]


class ActionLiveChatEnded(Action):
    def name(self) -> Text:
        return "action_livechat_ended"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        _send(dispatcher, replies.live_rating())
        return [SlotSet("last_outcome", "live_chat_ended")]
