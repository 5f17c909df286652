"""Working days and business hours in Beijing time, for due times counted in working days.

Working days follow China's public holidays and make-up working days (调休) as published by the
State Council each year, from the ``chinesecalendar`` package (``import chinese_calendar``), not
a hand-kept list. The package ships one year's schedule at a time: a date in a year beyond its
data (it raises NotImplementedError) is counted Monday–Friday, with a warning in the log once per
year. That errs on the side of an EARLIER due time (a holiday counted as a working day), never a
later promise; upgrading the pinned package (a new release follows each year's announcement,
usually in November) brings the next year in.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from bot.clock import BEIJING, to_beijing

logger = logging.getLogger(__name__)

_warned_years: set[int] = set()


def is_working_day(day: date) -> bool:
    """True on a Beijing working day (holidays off, 调休 Saturdays/Sundays on)."""
    try:
        import chinese_calendar

        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        if day.year not in _warned_years:
            _warned_years.add(day.year)
            logger.warning("chinesecalendar has no holiday data for %d: counting Monday–Friday as "
                           "working days that year (upgrade the chinesecalendar pin)", day.year)
        return day.weekday() < 5


class BusinessHoursError(ValueError):
    """A business-hours setting that is not "HH:MM-HH:MM" with the start before the end."""


@dataclass(frozen=True)
class BusinessHours:
    """The opening hours of a working day (Beijing time), e.g. 08:30–17:30."""

    opens: time = time(8, 30)
    closes: time = time(17, 30)

    @classmethod
    def parse(cls, text: str) -> "BusinessHours":
        m = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*[-–~]\s*(\d{1,2}):(\d{2})\s*", str(text or ""))
        if not m:
            raise BusinessHoursError(f"营业时间应写成 08:30-17:30 的形式，而不是 {text!r}")
        try:
            opens, closes = time(int(m[1]), int(m[2])), time(int(m[3]), int(m[4]))
        except ValueError as exc:
            raise BusinessHoursError(f"营业时间里的时刻不存在：{text!r}") from exc
        if opens >= closes:
            raise BusinessHoursError(f"营业时间的开始应早于结束：{text!r}")
        return cls(opens, closes)

    def describe(self) -> str:
        return f"{self.opens:%H:%M}-{self.closes:%H:%M}"

    def clamp(self, local: datetime) -> datetime:
        """The same day's opening time before it, its closing time after it, else ``local``."""
        if local.time() < self.opens:
            return datetime.combine(local.date(), self.opens, tzinfo=BEIJING)
        if local.time() > self.closes:
            return datetime.combine(local.date(), self.closes, tzinfo=BEIJING)
        return local


def next_working_day(day: date) -> date:
    day += timedelta(days=1)
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def add_working_days(start: datetime, days: int, hours: BusinessHours | None = None) -> datetime:
    """``days`` working days after ``start``, within business hours when given (aware UTC).

    The due day is the ``days``-th working day after the (Beijing) day of ``start``; its time is
    the time of day of ``start``, moved into business hours: before opening → opening time, after
    closing → closing time. A consultation made at 04:42 on Wednesday is due Thursday 08:30, one
    made Friday at 20:00 is due Monday 17:30, one made at 14:05 is due at 14:05.
    """
    if days < 0:
        raise ValueError("days must be >= 0")
    local = to_beijing(start)
    day = local.date()
    for _ in range(days):
        day = next_working_day(day)
    due = datetime.combine(day, local.timetz().replace(tzinfo=None), tzinfo=BEIJING)
    if hours is not None:
        due = hours.clamp(due)
    return due.astimezone(timezone.utc)
