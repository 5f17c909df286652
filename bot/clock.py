"""The one notion of time: instants in UTC, calendar days in Beijing time.

Customers and staff live in Beijing time; servers run in UTC (or anything else). Every calendar
day the product shows or counts — order numbers, due dates, export defaults, date filters,
reports, review dates — is the Beijing day and comes from here. Nothing else in the code calls
``date.today()`` or a naive ``datetime.now()``: tests/test_clock.py searches the source for them.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone, tzinfo


def _beijing() -> tzinfo:
    # China has had no daylight saving since 1991, so a fixed UTC+8 is exact; it only matters on
    # machines without the tz database (slim containers, Windows without the tzdata package).
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo("Asia/Shanghai")
    except Exception:  # noqa: BLE001 — ZoneInfoNotFoundError or a missing module
        return timezone(timedelta(hours=8), "CST")


BEIJING = _beijing()


def utcnow() -> datetime:
    """Now, timezone-aware, in UTC: what gets stored."""
    return datetime.now(timezone.utc)


def beijing_now() -> datetime:
    """Now on a Beijing wall clock (aware)."""
    return datetime.now(BEIJING)


def beijing_today() -> date:
    """Today's calendar date in Beijing, whatever the server's TZ."""
    return beijing_now().date()


def to_beijing(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("naive datetime: times must be timezone-aware")
    return at.astimezone(BEIJING)


def beijing_day(at: datetime) -> date:
    """The Beijing calendar day an aware instant falls on."""
    return to_beijing(at).date()


def format_beijing(at: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """'2026-11-23 14:05' in Beijing time; '' for None."""
    return "" if at is None else to_beijing(at).strftime(fmt)


def day_start_utc(day: date) -> datetime:
    """00:00 Beijing time of ``day``, as an aware UTC instant (the start of that day's range)."""
    return datetime.combine(day, time(0), tzinfo=BEIJING).astimezone(timezone.utc)


def day_range_utc(first: date, last: date) -> tuple[datetime, datetime]:
    """[start, end) in UTC covering the Beijing days ``first`` to ``last`` inclusive."""
    return day_start_utc(first), day_start_utc(last + timedelta(days=1))


def month_start(day: date) -> date:
    return day.replace(day=1)
