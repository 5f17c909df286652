"""Work orders as CSV for Excel: UTF-8 with a BOM (so Excel shows Chinese), Beijing times.

A cell that starts with = + - @ (or a tab/CR) is prefixed with an apostrophe: customers type the
questions, and Excel would otherwise run "=HYPERLINK(…)" typed into the chat as a formula.
"""
from __future__ import annotations

import csv
import io
from typing import Any, Iterable

from bot.orders.models import REASON_LABELS, TOPIC_LABELS
from bot.clock import format_beijing

BOM = "\ufeff"
HEADER = ["工单号", "状态", "原因", "主题", "渠道", "客户标识", "联系电话", "处理人", "创建时间", "答复时限",
          "是否超时", "关闭时间", "满意度", "客户问题", "最新进展", "对话条数"]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _first_question(order: Any) -> str:
    for m in order.transcript:
        if m.role == "user" and not m.text.startswith("/"):
            return m.text
    return ""


def order_row(o: Any) -> list[str]:
    fmt = "%Y-%m-%d %H:%M:%S"
    return [safe_cell(v) for v in (
        o.order_no, o.status, REASON_LABELS.get(o.reason, o.reason), TOPIC_LABELS.get(o.topic or "", o.topic or ""),
        o.channel, o.sender_id, o.phone or "", o.assignee or "", format_beijing(o.created_at, fmt),
        format_beijing(o.due_at, fmt), "是" if o.overdue else "否", format_beijing(o.closed_at, fmt),
        o.satisfaction or "", _first_question(o), o.latest_note, len(o.transcript))]


def orders_csv(orders: Iterable[Any]) -> str:
    buf = io.StringIO()
    buf.write(BOM)
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(HEADER)
    for o in orders:
        writer.writerow(order_row(o))
    return buf.getvalue()
