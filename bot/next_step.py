"""What happens after the answer engine decided: the one place that turns an Answer's kind into
the customer's messages, a work order or a conversation to hand over to.

The Rasa action (actions/actions.py), the staff console and ``python -m bot ask`` all call
``plan``; none of them reads ``Answer.reason`` (that is for logs). Wording lives in bot.replies.

| kind                 | the customer reads                               | then                               |
|----------------------|--------------------------------------------------|------------------------------------|
| answer               | the entry's answer, feedback buttons             | —                                  |
| answer_with_related  | the best entry's answer, 相关问题 buttons         | —                                  |
| clarify              | "您是想问：" and the far-apart candidates         | —                                  |
| emergency            | safety steps and numbers to call, at once        | a repair order if it is a report   |
| incident_report      | "we are taking your report"                      | 故障报修 form / complaint / order   |
| personal_data        | we cannot see accounts; how to look it up        | — (a person is one button away)    |
|  … an outage's date  | (the 停电公告 conversation answers instead)       | outage_notice_form                 |
| out_of_domain        | what we can help with; where to go for the rest  | no work order                      |
| no_match             | an apology                                        | a work order (engine_fail)         |
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional

from bot import replies

Message = Dict[str, Any]

# The service conversations of issue 13, used when the running domain has them.
FAULT_FORM = "fault_report_form"
COMPLAINT_ACTION = "action_open_complaint"
# "我们村明天停电吗" is answered from the 停电公告 staff publish, not with "we cannot see accounts".
NOTICE_FORM = "outage_notice_form"

# What a counter clerk sees in the console for each kind.
STAFF_LABELS = {
    "answer": "可直接答复",
    "answer_with_related": "可直接答复（附相关问题）",
    "clarify": "需要和客户确认",
    "emergency": "紧急情况：先告诉客户安全措施",
    "incident_report": "客户在报告故障或投诉：登记工单",
    "personal_data": "客户本人账户的数据",
    "out_of_domain": "不属于供电服务",
    "no_match": "知识库里没有答案",
}
STAFF_NOTES = {
    "emergency": "先把下面的安全措施告诉客户；有人受伤拨打 120，起火拨打 119；现场有危险（断线、倒杆、冒烟）时登记紧急报修工单。",
    "incident_report": "客户说的是某个地方正在发生的停电、隐患、损坏，或对服务的投诉：记下地址和联系电话，登记报修或投诉工单。",
    "personal_data": replies.PERSONAL_STAFF_NOTE,
    "out_of_domain": replies.OUT_OF_SCOPE_STAFF_NOTE,
    "no_match": "知识库里没有把握回答这个问题。按首问负责：记下客户的问题和联系电话，转人工工单处理；紧急情况请客户拨打 95598。",
}


@dataclass
class NextStep:
    """What to do with one decision. ``order_reason`` set: open (or add to) the work order with
    that reason after sending ``messages``; ``followup`` set: hand the conversation to that Rasa
    form or action instead (it opens the order itself)."""

    kind: str
    messages: List[Message]
    last_outcome: str
    order_reason: Optional[str] = None
    followup: Optional[str] = None
    staff_label: str = ""
    staff_note: Optional[str] = None
    topic: Optional[str] = None
    urgent: bool = False  # the order is for a hazard on site (priority 紧急)
    candidates: List[Dict[str, Any]] = field(default_factory=list)

    @property
    def order(self) -> bool:
        """True when a work order is opened (here or by the follow-up conversation)."""
        return bool(self.order_reason or self.followup in (FAULT_FORM, COMPLAINT_ACTION))


def _order_reasons() -> frozenset[str]:
    """The reasons the order store accepts (a 故障报修/投诉 reason only once the store has it)."""
    try:
        from bot.orders.vocabulary import REASONS
    except Exception:  # noqa: BLE001 — a broken order store must not stop the answer path
        return frozenset({"engine_fail"})
    return frozenset(REASONS)


def order_reason(kind: str) -> str:
    """The work-order reason for an incident of this kind ("fault" / "complaint")."""
    wanted = {"fault": "fault_report", "complaint": "complaint"}.get(kind, "engine_fail")
    return wanted if wanted in _order_reasons() else "engine_fail"


def plan(answer: Any, *, available: Iterable[str] = (), intent: Optional[str] = None,
         fallback_before: bool = False) -> NextStep:
    """The next step for an engine decision.

    ``available``: the actions and forms of the running Rasa domain (to hand incidents to the
    故障报修 form or the complaint action when they exist). ``intent``: the NLU intent of the
    message; an nlu_fallback that the engine cannot answer either is asked again once
    (``fallback_before`` False) before a person is involved.
    """
    kind = answer.kind
    info = replies.meta(answer)
    have = set(available)
    step = NextStep(kind=kind, messages=[], last_outcome=kind, staff_label=STAFF_LABELS.get(kind, kind),
                    staff_note=STAFF_NOTES.get(kind), topic=info["topic_guess"], candidates=info["candidates"])
    if kind in ("answer", "answer_with_related"):
        step.messages = replies.render(answer)
        step.last_outcome = "answer"
    elif kind == "clarify":
        step.messages = replies.render(answer)
    elif kind == "emergency":
        step.messages = replies.emergency(answer)
        step.last_outcome = "answer"
        if answer.order:
            _incident_order(step, answer.order, have, urgent=True)
    elif kind == "incident_report":
        step.messages = replies.incident_received(answer)
        _incident_order(step, answer.order or "fault", have, urgent=False)
    elif kind == "personal_data" and answer.detail == "outage_schedule" and NOTICE_FORM in have:
        step.followup = NOTICE_FORM  # it asks for the place if the question names none, then answers
        step.last_outcome = "outage_notice"
    elif kind == "personal_data":
        step.messages = replies.personal_data(answer)
    elif kind == "out_of_domain":
        step.messages = replies.out_of_domain(answer)
    else:  # no_match
        if intent == "nlu_fallback" and not fallback_before:
            # not understood once: could be chit-chat or a typo; ask again before involving a person
            step.messages = replies.not_understood(info)
            step.last_outcome = "not_understood"
            return step
        step.messages = replies.render(answer)
        step.order_reason = "nlu_fallback" if intent == "nlu_fallback" else "engine_fail"
        step.last_outcome = "handed_off"
    return step


def _incident_order(step: NextStep, kind: str, have: set[str], urgent: bool) -> None:
    """A fault goes to the 故障报修 form, a complaint to the complaint action, when the domain has
    them; otherwise to a work order now."""
    if kind == "complaint" and COMPLAINT_ACTION in have:
        step.followup = COMPLAINT_ACTION
    elif kind != "complaint" and FAULT_FORM in have:
        step.followup = FAULT_FORM
    else:
        step.order_reason = order_reason(kind)
    step.urgent = urgent
    step.last_outcome = "handed_off"
