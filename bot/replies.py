"""What the customer sees for each engine outcome — the one place replies are worded.

Each reply is a list of message dicts with the keyword arguments of Rasa SDK's
dispatcher.utter_message (text, buttons, json_message), so the actions stay thin and
every channel (REST, web chat, WeChat) gets the same wording.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List

FEEDBACK_PROMPT = "这个回答对您有帮助吗？"
FEEDBACK_BUTTONS = [
    {"title": "有帮助", "payload": "/feedback_positive"},
    {"title": "没帮助", "payload": "/feedback_negative"},
]
CLARIFY_PROMPT = "您是想问："
NONE_OF_THESE = {"title": "都不是，转人工", "payload": "/request_human"}
FAIL_TEXT = (
    "抱歉，这个问题我暂时答不上来。您可以拨打 95598 供电服务热线（24 小时）咨询，"
    "或输入“转人工”由人工客服为您处理。"
)
BLANK_TEXT = "您好像没有输入文字。请用文字描述您想咨询的用电问题，例如：“阶梯电价怎么算”“家里跳闸了怎么办”。"
ERROR_TEXT = (
    "抱歉，系统刚才出了点问题，没能查到答案。请稍后再试，或拨打 95598 供电服务热线（24 小时）。"
)

Message = Dict[str, Any]


def _meta(answer: Any) -> Dict[str, Any]:
    """Machine-readable facts about the reply, sent as the custom payload (for evaluation and web chat)."""
    entry = answer.entry
    return {
        "type": "kb_answer",
        "outcome": answer.outcome,
        "entry_id": entry.id if entry else None,
        "topic": entry.topic if entry else None,
        "confidence": round(float(answer.confidence), 4),
        "candidates": [
            {"entry_id": c.entry.id, "question": c.entry.question, "confidence": round(float(c.confidence), 4)}
            for c in answer.candidates
        ],
    }


def answer_text(entry: Any) -> str:
    """The entry's answer with its source, so the customer can see what it rests on."""
    # Rasa's REST channel splits a text at blank lines into separate messages; keep one answer one message.
    body = re.sub(r"\n\s*\n+", "\n", entry.answer.strip())
    return f"{body}\n（依据：{entry.source}）"


def render(answer: Any) -> List[Message]:
    """Messages for an engine result: answer + feedback buttons, clarify buttons, or an apology."""
    meta = _meta(answer)
    if answer.outcome == "answer" and answer.entry is not None:
        return [
            {"text": answer_text(answer.entry), "json_message": meta},
            {"text": FEEDBACK_PROMPT, "buttons": list(FEEDBACK_BUTTONS)},
        ]
    if answer.outcome == "clarify" and answer.candidates:
        buttons = [{"title": c.entry.question, "payload": c.entry.question} for c in answer.candidates[:3]]
        return [{"text": CLARIFY_PROMPT, "buttons": buttons + [dict(NONE_OF_THESE)], "json_message": meta}]
    return [{"text": FAIL_TEXT, "json_message": meta}]


def blank() -> List[Message]:
    return [{"text": BLANK_TEXT}]


def error() -> List[Message]:
    return [{"text": ERROR_TEXT, "json_message": {"type": "kb_answer", "outcome": "error"}}]

# Until work orders exist (issue 4) these hand-offs name the hotline, so no customer is left without a next step.
NOT_HELPFUL_TEXT = (
    "抱歉没能帮到您。您可以换个说法再问一次，或拨打 95598 供电服务热线（24 小时）由人工为您解答。"
)
HUMAN_TEXT = "好的，人工客服请拨打 95598 供电服务热线（24 小时服务）。您也可以继续在这里描述问题。"
NO_ORDERS_TEXT = "目前没有查到您的工单。如需人工处理，请拨打 95598 供电服务热线（24 小时）。"
PHONE_NOTED_TEXT = "收到您的联系电话。如需人工回电，请拨打 95598 供电服务热线说明情况。"
