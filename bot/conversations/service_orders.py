"""Orders of the service conversations: a repair, a complaint, a suggestion or praise.

Called by actions/service_forms.py with plain tracker data (like bot/handoff.py for
consultations), so it is testable without Rasa. Same rules as every order: one open order per
customer and kind (a repeat report adds to it), idempotent per triggering message, a number only
once stored, a spooled request told honestly.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional

from bot.conversations import fault_report as fr
from bot.conversations import wording
from bot.handoff import idempotency_key, service
from bot.orders import from_rasa_events
from bot.orders.vocabulary import CUSTOMER_ACTOR, PRIORITY_NORMAL, PRIORITY_URGENT

logger = logging.getLogger(__name__)
Message = Dict[str, Any]
ERROR_TEXT = ("抱歉，系统刚才出了点问题，没能登记成功。请稍后再试，"
              "或拨打 95598 供电服务热线（24 小时）；情况紧急请直接拨打。")


def _user_texts(events: List[Dict[str, Any]], since_form: bool = True) -> List[str]:
    """What the customer said in this report: from the form's activation (or the whole conversation)."""
    texts: List[str] = []
    start = 0
    if since_form:
        for i, ev in enumerate(events):
            if ev.get("event") == "active_loop" and ev.get("name") == "fault_report_form":
                start = i
        # the report itself is the user message just before the activation
        for i in range(start, -1, -1):
            if events[i].get("event") == "user":
                start = i
                break
    for ev in events[start:]:
        if ev.get("event") == "user" and (ev.get("text") or "").strip():
            texts.append(ev["text"].strip())
    return texts


def report_now(*, channel: str, sender_id: str, events: List[Dict[str, Any]], hazard: bool,
               check: Optional[str]) -> tuple[List[Message], Optional[str]]:
    """Open the repair order on the report itself, before address and phone (a hazard, an area
    outage: no self-check can help and the customer learns the number at once). Returns the
    message and the order number (None when spooled). Without an address the due time is the
    default area's; open_repair re-times it once the address is known."""
    details = {"hazard": hazard, "self_check": check, "description": "\n".join(_user_texts(events))[:2000]}
    result = service().open_or_append(
        channel=channel, sender_id=sender_id, reason="fault_report", topic="outage", candidates=[],
        transcript=from_rasa_events(events), idempotency_key=idempotency_key(sender_id, events, "fault_report"),
        conversation_id=sender_id, kind="repair", priority=PRIORITY_URGENT if hazard else PRIORITY_NORMAL,
        details=details)
    logger.info("repair order %s opened on the report of %s/%s (%s)", result.order_no or "-", channel,
                sender_id, result.status)
    number = result.order_no if result.status != "spooled" else None
    return wording.repair_opened(status=result.status, order_no=number, urgent=hazard), number


def add_address(*, channel: str, sender_id: str, events: List[Dict[str, Any]], address: str) -> None:
    """The address of a repair order opened on the report: kept on the order, which is re-timed
    to the area's arrival commitment (城区 45 分钟 …) counted from the report."""
    area = fr.area_of(address)
    service().open_or_append(
        channel=channel, sender_id=sender_id, reason="fault_report", topic="outage", candidates=[],
        transcript=from_rasa_events(events), idempotency_key=idempotency_key(sender_id, events, "fault_address"),
        conversation_id=sender_id, kind="repair", details={"address": address}, area=area,
        note=f"客户补充地址：{address}")


def note_cancelled(order_no: str, text: str) -> None:
    """The customer stopped the form after the order was opened: staff check before closing it
    (a hazard report is not withdrawn by a word)."""
    service().add_note(order_no, CUSTOMER_ACTOR, f"客户在补充地址电话时说不用报修了（“{text[:50]}”），请核实后处理。")


def open_repair(*, channel: str, sender_id: str, events: List[Dict[str, Any]], address: str, phone: str,
                hazard: bool, check: Optional[str], opened: bool = False) -> List[Message]:
    """Store the repair order (or complete the one ``opened`` on the report) and word the
    summary: number, address, next step, commitment."""
    area = fr.area_of(address)
    description = "\n".join(_user_texts(events))[:2000]
    details = {"address": address, "phone": phone, "hazard": hazard, "self_check": check,
               "description": description}
    svc = service()
    result = svc.open_or_append(
        channel=channel, sender_id=sender_id, reason="fault_report", topic="outage", candidates=[],
        transcript=from_rasa_events(events), idempotency_key=idempotency_key(sender_id, events, "fault_report"),
        conversation_id=sender_id, kind="repair", priority=PRIORITY_URGENT if hazard else PRIORITY_NORMAL,
        details=details, area=area)
    if result.order_no and result.status != "spooled":
        try:  # the crew's number on the order itself (the field staff see first)
            svc.set_phone(channel=channel, sender_id=sender_id, phone_text=phone)
        except Exception:  # noqa: BLE001 — it is in details too
            logger.warning("could not set the phone on repair order %s", result.order_no, exc_info=True)
    rule = svc.sla.rule_for("fault_report", "outage", "repair", area)
    logger.info("repair order %s for %s/%s: %s (%s, %s)", result.order_no or "-", channel, sender_id,
                result.status, area, "urgent" if hazard else "normal")
    return wording.repair_order(status=result.status, order_no=result.order_no, due_at=result.due_at,
                                area=area, urgent=hazard, address=address, phone=phone,
                                commitment=rule.describe(), completed=opened)


def open_complaint(*, channel: str, sender_id: str, events: List[Dict[str, Any]]) -> List[Message]:
    svc = service()
    texts = _user_texts(events, since_form=False)
    result = svc.open_or_append(
        channel=channel, sender_id=sender_id, reason="complaint", topic=None, candidates=[],
        transcript=from_rasa_events(events), idempotency_key=idempotency_key(sender_id, events, "complaint"),
        conversation_id=sender_id, kind="complaint",
        details={"complaint": texts[-1][:2000] if texts else ""})
    rule = svc.sla.rule_for("complaint", None, "complaint")
    return wording.complaint_order(status=result.status, order_no=result.order_no, due_at=result.due_at,
                                   contact_due_at=result.contact_due_at, answer_limit=rule.describe(),
                                   contact_limit=rule.contact.describe() if rule.contact else "")


def record_feedback(*, channel: str, sender_id: str, events: List[Dict[str, Any]], reason: str) -> List[Message]:
    texts = _user_texts(events, since_form=False)
    result = service().open_or_append(
        channel=channel, sender_id=sender_id, reason=reason, topic=None, candidates=[],
        transcript=from_rasa_events(events), idempotency_key=idempotency_key(sender_id, events, reason),
        conversation_id=sender_id, kind="feedback", details={reason: texts[-1][:2000] if texts else ""})
    return wording.feedback_recorded(reason=reason, status=result.status, order_no=result.order_no)
