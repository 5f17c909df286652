"""Work-order numbers: GD + YYYYMMDD (Beijing date) + a daily sequence, e.g. GD202611220007.

The sequence itself is allocated by OrderStore from the order_counters table inside the same
transaction as the insert (see store.py), which is what makes it unique across processes.
"""
from __future__ import annotations

import re
from datetime import date, datetime

from bot.clock import to_beijing

PREFIX = "GD"
# Four digits is the normal width; a day with more than 9999 orders simply gets a fifth digit
# rather than failing to open an order. The one pattern of a number, also for finding one in text.
ORDER_NO_PATTERN = r"GD(\d{8})(\d{4,})"
_ORDER_NO = re.compile(ORDER_NO_PATTERN)
_ORDER_NO_ANY_CASE = re.compile(ORDER_NO_PATTERN, re.IGNORECASE)


class OrderNumberError(ValueError):
    """Not a work-order number; the message is for a person (customer or staff)."""


def day_key(at: datetime) -> str:
    """The counter row an order created at ``at`` draws from: its Beijing calendar day."""
    return to_beijing(at).strftime("%Y%m%d")


def format_order_no(day: str, seq: int) -> str:
    if not re.fullmatch(r"\d{8}", day) or seq < 1:
        raise ValueError(f"bad day {day!r} or sequence {seq!r}")
    return f"{PREFIX}{day}{seq:04d}"


def parse_order_no(text: str) -> tuple[date, int]:
    """'GD202611220007' → (date(2026, 11, 22), 7); OrderNumberError otherwise."""
    no = normalise_order_no(text)
    m = _ORDER_NO.fullmatch(no)
    assert m is not None  # normalise_order_no already checked
    return datetime.strptime(m.group(1), "%Y%m%d").date(), int(m.group(2))


def find_order_no(text: str) -> str | None:
    """The first work-order number written in a text ('我的工单gd202611220007呢'), upper case; None if none."""
    m = _ORDER_NO_ANY_CASE.search(text or "")
    return m.group(0).upper() if m else None


def normalise_order_no(text: str) -> str:
    """Accept what people type ('gd 2026 1122 0007') and return the canonical number."""
    no = re.sub(r"[\s\-]", "", (text or "")).upper()
    m = _ORDER_NO.fullmatch(no)
    if not m:
        raise OrderNumberError(f"工单号格式不正确：{text!r}，应为 GD + 8 位日期 + 4 位序号，如 GD202611220007。")
    try:
        datetime.strptime(m.group(1), "%Y%m%d")
    except ValueError as exc:
        raise OrderNumberError(f"工单号中的日期不存在：{text!r}。") from exc
    return no
