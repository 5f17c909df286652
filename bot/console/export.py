"""Work orders as CSV for Excel: UTF-8 with a BOM (so Excel shows Chinese), Beijing times.

A cell whose first non-blank character starts a formula — = + - @, or their full-width forms
＝ ＋ － ＠ that Excel and WPS also accept — or that starts with a tab or line break, is prefixed
with an apostrophe: customers type the questions, and a spreadsheet would otherwise run
" =HYPERLINK(…)" typed into the chat as a formula. Phones are masked (138****5678) unless the
export is made by a role that may see them (bot/console/auth.py EXPORT_PHONES).
"""
from __future__ import annotations

import csv
import io
import unicodedata
from typing import Any, Iterable

from bot.orders.models import REASON_LABELS, TOPIC_LABELS
from bot.orders.phone import mask_phone
from bot.clock import format_beijing

BOM = "\ufeff"
HEADER = ["工单号", "状态", "原因", "主题", "渠道", "客户标识", "联系电话", "处理人", "创建时间", "答复时限",
          "是否超时", "关闭时间", "满意度", "客户问题", "最新进展", "对话条数"]
_FORMULA_START = ("=", "+", "-", "@", "＝", "＋", "－", "＠")
_BLANK_START = ("\t", "\r", "\n")


def safe_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    if text.startswith(_BLANK_START) or _first_visible(text).startswith(_FORMULA_START):
        return "'" + text
    return text


def _first_visible(text: str) -> str:
    # Blanks include the ideographic space and no-break space; zero-width and other format
    # characters (U+200B, U+FEFF …) are invisible too, so they do not hide a formula either.
    i = 0
    while i < len(text) and (text[i].isspace() or unicodedata.category(text[i]) == "Cf"):
        i += 1
    return text[i:]


def _first_question(order: Any) -> str:
    for m in order.transcript:
        if m.role == "user" and not m.text.startswith("/"):
            return m.text
    return ""


def order_row(o: Any, full_phones: bool = False) -> list[str]:
    fmt = "%Y-%m-%d %H:%M:%S"
    phone = (o.phone if full_phones else mask_phone(o.phone)) or ""
    return [safe_cell(v) for v in (
        o.order_no, o.status, REASON_LABELS.get(o.reason, o.reason), TOPIC_LABELS.get(o.topic or "", o.topic or ""),
        o.channel, o.sender_id, phone, o.assignee or "", format_beijing(o.created_at, fmt),
        format_beijing(o.due_at, fmt), "是" if o.overdue else "否", format_beijing(o.closed_at, fmt),
        o.satisfaction or "", _first_question(o), o.latest_note, len(o.transcript))]


def orders_csv(orders: Iterable[Any], full_phones: bool = False) -> str:
    buf = io.StringIO()
    buf.write(BOM)
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(HEADER)
    for o in orders:
        writer.writerow(order_row(o, full_phones))
    return buf.getvalue()
