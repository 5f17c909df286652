"""The work-order vocabulary: kinds, reasons, priorities, statuses and the labels people read.

One module, so that adding a kind (or a reason) is an edit here and, if it has its own time
limit, a rule in sla.yml — never a schema migration. The database stores these values as plain
strings; OrderService validates them (statuses and satisfactions keep their CHECK constraints:
the workflow itself changes only with code).
"""
from __future__ import annotations

from bot import topics

# --- statuses and the workflow -----------------------------------------------------------------
STATUS_NEW = "待处理"
STATUS_IN_PROGRESS = "处理中"
STATUS_RESOLVED = "已办结"
STATUS_CALLED_BACK = "已回访"
STATUS_CLOSED = "已关闭"
STATUSES = (STATUS_NEW, STATUS_IN_PROGRESS, STATUS_RESOLVED, STATUS_CALLED_BACK, STATUS_CLOSED)
# "Overdue" only makes sense while nobody has answered yet.
ACTIVE_STATUSES = (STATUS_NEW, STATUS_IN_PROGRESS)

# The only moves a work order may make. 已办结 → 已关闭 exists because a customer who cannot be
# reached for the follow-up call must not keep the order (and its conversation) open forever.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    STATUS_NEW: (STATUS_IN_PROGRESS,),
    STATUS_IN_PROGRESS: (STATUS_RESOLVED,),
    STATUS_RESOLVED: (STATUS_CALLED_BACK, STATUS_CLOSED),
    STATUS_CALLED_BACK: (STATUS_CLOSED,),
    STATUS_CLOSED: (),
}
SATISFACTIONS = ("满意", "基本满意", "不满意")

# --- kinds: what the customer came for -----------------------------------------------------------
KIND_CONSULT = "consult"      # an answer failed or the customer asked for a person
KIND_REPAIR = "repair"        # 故障报修: a repair crew goes out
KIND_COMPLAINT = "complaint"  # 投诉
KIND_FEEDBACK = "feedback"    # 建议 / 表扬: recorded and thanked, no callback promised
KINDS = (KIND_CONSULT, KIND_REPAIR, KIND_COMPLAINT, KIND_FEEDBACK)
KIND_LABELS = {
    KIND_CONSULT: "咨询转人工",
    KIND_REPAIR: "故障报修",
    KIND_COMPLAINT: "投诉",
    KIND_FEEDBACK: "建议/表扬",
}

# --- reasons: what opened the order ----------------------------------------------------------
REASON_LABELS = {
    "engine_fail": "知识库未找到答案",
    "not_helpful": "客户反馈答复没帮助",
    "request_human": "客户要求人工",
    "nlu_fallback": "连续未能理解",
    "error": "系统出错",
    "fault_report": "客户报修",
    "complaint": "客户投诉",
    "suggestion": "客户建议",
    "praise": "客户表扬",
}
REASONS = tuple(REASON_LABELS)
# The kind an order opened for a reason belongs to (what the caller gets when it names no kind).
REASON_KINDS = {
    "fault_report": KIND_REPAIR,
    "complaint": KIND_COMPLAINT,
    "suggestion": KIND_FEEDBACK,
    "praise": KIND_FEEDBACK,
}


def kind_for_reason(reason: str) -> str:
    return REASON_KINDS.get(reason, KIND_CONSULT)


# --- priorities ------------------------------------------------------------------------------
PRIORITY_URGENT = "urgent"   # a hazard: wire on the ground, sparks, smoke, someone hurt
PRIORITY_NORMAL = "normal"
PRIORITIES = (PRIORITY_URGENT, PRIORITY_NORMAL)
PRIORITY_LABELS = {PRIORITY_URGENT: "紧急", PRIORITY_NORMAL: "一般"}

# --- repair areas: the arrival commitment depends on where the crew goes ----------------------
AREA_URBAN = "城区"
AREA_RURAL = "农村"
AREA_REMOTE = "特殊边远"
AREA_CLASSES = (AREA_URBAN, AREA_RURAL, AREA_REMOTE)

TOPIC_LABELS = topics.TOPIC_LABELS  # knowledge/topics.yml
ROLES = ("user", "bot")

# Actors the code writes itself (people are recorded by the name they give).
SYSTEM_ACTOR = "系统"
CUSTOMER_ACTOR = "客户"


def label(value: str | None, labels: dict[str, str]) -> str:
    """The Chinese label of a code ('' for None; the code itself when unknown)."""
    if value is None:
        return ""
    return labels.get(value, value)
