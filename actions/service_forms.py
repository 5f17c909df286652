"""The service conversations' actions (issue 13): 故障报修 form, 投诉/建议/表扬, 停电公告.

Thin, like actions/actions.py: reading the customer's words is bot/conversations/fault_report.py,
wording is bot/conversations/wording.py, orders are bot/conversations/service_orders.py, notices
are bot/orders/notices.py. The safety and self-help steps are the knowledge base's entries, read
through the answer engine (ENGINE.get), never copied here.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.actions import ENGINE, _channel, _send
from bot.conversations import fault_report as fr
from bot import replies
from bot.conversations import outage_answers, service_orders, wording
from bot.kb.scope import about_our_service

logger = logging.getLogger(__name__)

# Intents that are never an answer to a form's question: the form lets the rules handle them.
NOT_AN_ANSWER = {"cancel", "request_human", "query_work_order", "feedback_negative", "feedback_positive",
                 "goodbye", "complain", "suggest", "praise", "greet", "thank", "bot_challenge"}
# Intents of a question (answered by the knowledge base, then the form resumes).
QUESTION_INTENTS = {"ask_question", "ask_outage_notice", "out_of_scope"}


def _text(tracker: Tracker) -> str:
    return tracker.latest_message.get("text") or ""


def _intent(tracker: Tracker) -> Optional[str]:
    return (tracker.latest_message.get("intent") or {}).get("name")


def _stopping(tracker: Tracker) -> bool:
    """算了 / 转人工: not an answer; the rules stop the form or hand over."""
    return _intent(tracker) in ("cancel", "request_human") or fr.is_stop(_text(tracker))


def _requested(tracker: Tracker) -> Optional[str]:
    return tracker.get_slot("requested_slot") if tracker.active_loop_name else None


def _shown_this_turn(tracker: Tracker, entry_id: str) -> bool:
    """Did a message of this turn already show this entry (the answer engine's emergency reply)?"""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return False
        custom = ((event.get("data") or {}).get("custom") or {}) if event.get("event") == "bot" else {}
        if custom.get("entry_id") == entry_id or custom.get("kind") == "emergency":
            return True
    return False


def _chatter(tracker: Tracker) -> bool:
    """A "complaint" or "suggestion" that names nothing of ours, and is not a detail added to an
    order just opened in this conversation ("昨天下午三点" after a complaint is part of it)."""
    return tracker.get_slot("last_outcome") != "handed_off" and not about_our_service(_text(tracker))


def _not_ours(dispatcher: CollectingDispatcher) -> List[EventType]:
    """A "complaint" or "suggestion" about nothing of ours (the NLU's guess on chatter): the polite
    out-of-domain reply, no order."""
    dispatcher.utter_message(response=replies.OUT_OF_SCOPE_RESPONSE)
    return [SlotSet("last_outcome", "out_of_domain")]


class ValidateFaultReportForm(FormValidationAction):
    """故障报修: danger first, the self-check (skippable), address and phone, in any order."""

    def name(self) -> Text:
        return "validate_fault_report_form"

    async def extract_fault_hazard(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                   domain: DomainDict) -> Dict[Text, Any]:
        if _stopping(tracker):
            return {}
        found = fr.hazard_kind(_text(tracker))
        if found and not tracker.get_slot("fault_hazard"):
            kind, entry_id = found
            entry = ENGINE.get(entry_id)
            if entry is not None and not _shown_this_turn(tracker, entry_id):
                _send(dispatcher, wording.hazard(entry))
            return {"fault_hazard": True}
        if tracker.get_slot("fault_hazard") is None:
            return {"fault_hazard": False}  # decided once, on the report itself
        return {}

    async def extract_fault_check(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                  domain: DomainDict) -> Dict[Text, Any]:
        if tracker.get_slot("fault_check") is not None or _intent(tracker) in NOT_AN_ANSWER or _stopping(tracker):
            return {}
        text = _text(tracker)
        if tracker.get_slot("fault_hazard"):
            return {"fault_check": fr.CHECK_HAZARD}
        if _requested(tracker) != "fault_check":
            value = fr.check_from_report(text)   # the report itself may already tell
            if (tracker.get_slot("requested_slot") is None and value not in (fr.CHECK_AREA, fr.CHECK_HOME)
                    and fr.past_self_help(text)):
                value = fr.CHECK_SKIP  # out for days, nobody came, a noisy transformer: no breaker to try
            return {"fault_check": value} if value else {}
        value = fr.read_check(text)
        if value:
            return {"fault_check": value}
        if _intent(tracker) in QUESTION_INTENTS:
            return {}  # a question: answered by the rules, then the form asks again
        dispatcher.utter_message(text=wording.CHECK_AGAIN)
        return {"fault_check": None}

    async def extract_fault_go_on(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                  domain: DomainDict) -> Dict[Text, Any]:
        if tracker.get_slot("fault_go_on") is not None:
            return {}
        check = tracker.get_slot("fault_check")
        if check is not None and check not in fr.SELF_HELP_CHECKS:
            return {"fault_go_on": True}  # nothing to try first
        if _requested(tracker) != "fault_go_on" or _intent(tracker) == "request_human":
            return {}  # 算了 / 不用了 here means "no report": read_go_on says False
        decided = fr.read_go_on(_text(tracker))
        if decided is None:
            if _intent(tracker) in QUESTION_INTENTS:
                return {}
            dispatcher.utter_message(text=wording.GO_ON_AGAIN)
            return {"fault_go_on": None}
        return {"fault_go_on": decided}

    async def extract_fault_address(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> Dict[Text, Any]:
        if _stopping(tracker):
            return {}
        asked = _requested(tracker) == "fault_address"
        address, problem = fr.read_address(_text(tracker), asked=asked)
        if address:
            return {"fault_address": address}
        if asked and problem and _intent(tracker) not in NOT_AN_ANSWER:
            dispatcher.utter_message(text=wording.ADDRESS_PROBLEMS[problem])
            return {"fault_address": None}
        return {}

    async def extract_fault_phone(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                  domain: DomainDict) -> Dict[Text, Any]:
        if _stopping(tracker):
            return {}
        phone, number_like = fr.find_phone(_text(tracker))
        if phone:
            return {"fault_phone": phone}
        asked = _requested(tracker) == "fault_phone"
        if asked and (number_like or _intent(tracker) not in NOT_AN_ANSWER | QUESTION_INTENTS):
            dispatcher.utter_message(text=wording.PHONE_BAD)
            return {"fault_phone": None}
        return {}

    def validate_fault_hazard(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                              domain: DomainDict) -> Dict[Text, Any]:
        """Decided on the report itself: when nothing is left to try first (a hazard, an area
        outage, out for days), the repair order is opened now and its number told at once;
        address and phone complete it (validate_fault_address, action_submit_fault_report)."""
        if (tracker.get_slot("fault_go_on") is not True or tracker.get_slot("fault_order")
                or (tracker.get_slot("fault_address") and tracker.get_slot("fault_phone"))):
            return {"fault_hazard": value}
        try:
            messages, order_no = service_orders.report_now(
                channel=_channel(tracker), sender_id=tracker.sender_id, events=list(tracker.events),
                hazard=bool(value), check=tracker.get_slot("fault_check"))
        except Exception:  # noqa: BLE001 — the form goes on; the order is stored when it completes
            logger.exception("opening a repair order on the report failed for %s", tracker.sender_id)
            return {"fault_hazard": value}
        _send(dispatcher, messages)
        return {"fault_hazard": value, "fault_order": order_no}

    def validate_fault_address(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                               domain: DomainDict) -> Dict[Text, Any]:
        order_no = tracker.get_slot("fault_order")
        if value and order_no and not tracker.get_slot("fault_phone"):
            try:  # the crew can set out; the phone follows (a complete form updates the order itself)
                service_orders.add_address(channel=_channel(tracker), sender_id=tracker.sender_id,
                                           events=list(tracker.events), address=value)
            except Exception:  # noqa: BLE001 — kept in the slot; the submit stores it
                logger.exception("adding the address to repair order %s failed", order_no)
        return {"fault_address": value}

    def validate_fault_check(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                             domain: DomainDict) -> Dict[Text, Any]:
        if value in fr.SELF_HELP_CHECKS and tracker.get_slot("fault_go_on") is None:
            # a tripped breaker, a dead circuit, an empty balance: the self-help steps first
            _send(dispatcher, wording.self_help(ENGINE.get(fr.SELF_HELP_ENTRIES[value])))
        return {"fault_check": value}

    def validate_fault_go_on(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                             domain: DomainDict) -> Dict[Text, Any]:
        if value is False:
            dispatcher.utter_message(text=wording.NOT_REPORTED)
            return {"fault_go_on": False, "requested_slot": None}  # the form ends, no order
        return {"fault_go_on": value}


class ActionSubmitFaultReport(Action):
    """The form is complete: store the repair order and tell the customer number, next step and
    commitment in one message. Keeps address and phone for a repeat report in this conversation."""

    def name(self) -> Text:
        return "action_submit_fault_report"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        reset = [SlotSet("fault_hazard", None), SlotSet("fault_check", None), SlotSet("fault_go_on", None),
                 SlotSet("fault_order", None), SlotSet("requested_slot", None)]
        if tracker.get_slot("fault_go_on") is False:
            return reset  # solved by the self-check; already said so
        address, phone = tracker.get_slot("fault_address"), tracker.get_slot("fault_phone")
        if not address or not phone:
            return reset
        try:
            messages = service_orders.open_repair(
                channel=_channel(tracker), sender_id=tracker.sender_id, events=list(tracker.events),
                address=address, phone=phone, hazard=bool(tracker.get_slot("fault_hazard")),
                check=tracker.get_slot("fault_check"), opened=bool(tracker.get_slot("fault_order")))
        except Exception:  # noqa: BLE001 — the customer must hear something
            logger.exception("storing a repair order failed for %s", tracker.sender_id)
            messages = [{"text": service_orders.ERROR_TEXT}]
        _send(dispatcher, messages)
        return reset + [SlotSet("last_outcome", "handed_off")]


class ActionCancelFaultReport(Action):
    """算了 / 不用了 during the report: nothing is stored; an order already opened on the report
    stays for staff to check (with a note), and the customer is told so honestly."""

    def name(self) -> Text:
        return "action_cancel_fault_report"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        order_no = tracker.get_slot("fault_order")
        reset = [SlotSet("fault_hazard", None), SlotSet("fault_check", None), SlotSet("fault_go_on", None),
                 SlotSet("fault_order", None), SlotSet("requested_slot", None)]
        if not order_no:
            dispatcher.utter_message(text=wording.CANCELLED)
            return reset
        try:
            service_orders.note_cancelled(order_no, _text(tracker))
        except Exception:  # noqa: BLE001 — the order stays as it is; staff see the conversation
            logger.exception("noting the cancellation on repair order %s failed", order_no)
        dispatcher.utter_message(text=wording.CANCELLED_AFTER_ORDER.format(order_no=order_no))
        return reset


class ActionOpenComplaint(Action):
    """投诉: a complaint order with its own time limit; the customer may add details and a phone."""

    def name(self) -> Text:
        return "action_open_complaint"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        if _chatter(tracker):
            return _not_ours(dispatcher)
        try:
            messages = service_orders.open_complaint(channel=_channel(tracker), sender_id=tracker.sender_id,
                                                     events=list(tracker.events))
        except Exception:  # noqa: BLE001
            logger.exception("storing a complaint failed for %s", tracker.sender_id)
            messages = [{"text": service_orders.ERROR_TEXT}]
        _send(dispatcher, messages)
        return [SlotSet("last_outcome", "handed_off")]


class ActionRecordFeedback(Action):
    """建议 / 表扬: recorded (kind 建议/表扬) and thanked; no callback is promised."""

    def name(self) -> Text:
        return "action_record_feedback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        if _chatter(tracker):
            return _not_ours(dispatcher)
        reason = "praise" if _intent(tracker) == "praise" else "suggestion"
        try:
            messages = service_orders.record_feedback(channel=_channel(tracker), sender_id=tracker.sender_id,
                                                      events=list(tracker.events), reason=reason)
        except Exception:  # noqa: BLE001
            logger.exception("storing feedback failed for %s", tracker.sender_id)
            messages = wording.feedback_recorded(reason=reason, status="spooled", order_no=None)
        _send(dispatcher, messages)
        return []


class ValidateOutageNoticeForm(FormValidationAction):
    """停电公告: the place asked about, from the question or the answer to "哪个村/小区？"."""

    def name(self) -> Text:
        return "validate_outage_notice_form"

    async def extract_notice_place(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                   domain: DomainDict) -> Dict[Text, Any]:
        if _intent(tracker) in NOT_AN_ANSWER or _stopping(tracker):
            return {}
        asked = _requested(tracker) == "notice_place"
        place = outage_answers.place_of(_text(tracker), asked=asked)
        if place:
            return {"notice_place": place}
        if asked and _intent(tracker) not in QUESTION_INTENTS | {"report_fault"}:
            dispatcher.utter_message(text=wording.PLACE_AGAIN)
            return {"notice_place": None}
        return {}


class ActionAnswerOutageNotice(Action):
    """Answer "我们村明天停电吗" from the published notices for that place and time window."""

    def name(self) -> Text:
        return "action_answer_outage_notice"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        place = tracker.get_slot("notice_place")
        question = outage_answers.question_text(list(tracker.events))
        try:
            messages = outage_answers.answer(place, question)
        except Exception:  # noqa: BLE001
            logger.exception("looking up outage notices failed for %r", place)
            messages = [{"text": outage_answers.ERROR_TEXT}]
        _send(dispatcher, messages)
        return [SlotSet("notice_place", None), SlotSet("requested_slot", None),
                SlotSet("last_outcome", "outage_notice")]


def _asker(slot: str) -> type:
    """action_ask_<slot>: the form's question for ``slot`` (wording.ASK)."""

    class AskSlot(Action):
        def name(self) -> Text:
            return f"action_ask_{slot}"

        async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                      domain: DomainDict) -> List[EventType]:
            dispatcher.utter_message(**wording.ASK[slot])
            return []

    AskSlot.__name__ = AskSlot.__qualname__ = f"ActionAsk_{slot}"
    AskSlot.__doc__ = f"Ask the customer for {slot} (worded in bot/conversations/wording.py)."
    return AskSlot


ASKERS = [_asker(slot) for slot in wording.ASK]
