"""Work-order due times (限时办结): the SLA table in sla.yml.

All times handled here are timezone-aware. Two kinds of limit:

- clock time, 24/7 (``minutes`` / ``hours``): a repair crew's arrival, outage questions;
- working days (``working_days``): Beijing working days with China's public holidays and make-up
  days (bot/orders/workdays.py, from the chinesecalendar package), ending within the business
  hours set in sla.yml (``business_hours``): a consultation made at 04:42 is due the next working
  day at opening time, never at 04:42.

A rule matches on kind, reason, topic and (for repairs) the area class of the address; the
first rule that matches wins. A rule may also carry ``contact_within`` (a complaint: first
contact within 1 working day, answer within 7).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import yaml

from bot.orders.vocabulary import AREA_CLASSES, KINDS, REASONS, TOPIC_LABELS, kind_for_reason
from bot.orders.workdays import BusinessHours, BusinessHoursError
from bot.orders.workdays import add_working_days as _add_working_days

DEFAULT_SLA_FILE = Path(__file__).with_name("sla.yml")


def add_working_days(start: datetime, days: int, hours: BusinessHours | None = None) -> datetime:
    """``days`` Beijing working days after ``start`` (holidays and 调休 counted; see workdays.py)."""
    return _add_working_days(start, days, hours)


class SlaError(ValueError):
    """The SLA file is missing or malformed; the message names the file and the fix."""


@dataclass(frozen=True)
class Limit:
    """One time limit: clock minutes (24/7) or working days (within business hours)."""

    minutes: float | None = None
    working_days: int | None = None

    def due_at(self, created_at: datetime, hours: BusinessHours | None) -> datetime:
        if self.minutes is not None:
            return created_at.astimezone(timezone.utc) + timedelta(minutes=self.minutes)
        return add_working_days(created_at, self.working_days or 0, hours)

    def describe(self) -> str:
        if self.minutes is None:
            return f"{self.working_days} 个工作日"
        if self.minutes % 60 == 0:
            return f"{self.minutes / 60:g} 小时"
        return f"{self.minutes:g} 分钟"


@dataclass(frozen=True)
class SlaRule:
    name: str
    reasons: frozenset[str] | None  # None: any reason
    topics: frozenset[str] | None   # None: any topic (including none)
    hours: float | None = None
    working_days: int | None = None
    kinds: frozenset[str] | None = None   # None: any kind
    areas: frozenset[str] | None = None   # None: any area class (城区 / 农村 / 特殊边远)
    minutes: float | None = None
    contact: Limit | None = None          # first contact (complaints), besides the answer
    business_hours: BusinessHours | None = None
    source: str = ""

    @property
    def limit(self) -> Limit:
        if self.minutes is not None:
            return Limit(minutes=self.minutes)
        if self.hours is not None:
            return Limit(minutes=self.hours * 60)
        return Limit(working_days=self.working_days or 0)

    def matches(self, reason: str, topic: str | None, kind: str | None = None,
                area: str | None = None) -> bool:
        kind = kind or kind_for_reason(reason)
        return ((self.reasons is None or reason in self.reasons)
                and (self.topics is None or topic in self.topics)
                and (self.kinds is None or kind in self.kinds)
                and (self.areas is None or area in self.areas))

    def due_at(self, created_at: datetime) -> datetime:
        return self.limit.due_at(created_at, self.business_hours)

    def contact_due_at(self, created_at: datetime) -> datetime | None:
        return self.contact.due_at(created_at, self.business_hours) if self.contact else None

    def describe(self) -> str:
        return self.limit.describe()


@dataclass(frozen=True)
class SlaTable:
    rules: tuple[SlaRule, ...]
    default: SlaRule
    source: str = "<built-in>"
    business_hours: BusinessHours = BusinessHours()

    def rule_for(self, reason: str, topic: str | None, kind: str | None = None,
                 area: str | None = None) -> SlaRule:
        for rule in self.rules:
            if rule.matches(reason, topic, kind, area):
                return rule
        return self.default

    def due_at(self, created_at: datetime, reason: str, topic: str | None, kind: str | None = None,
               area: str | None = None) -> datetime:
        """When a person must have answered (or a crew arrived) for an order created at ``created_at``."""
        if created_at.tzinfo is None:
            raise ValueError("naive datetime: work-order times must be timezone-aware")
        return self.rule_for(reason, topic, kind, area).due_at(created_at)

    @classmethod
    def load(cls, path: Path | str | None = None) -> "SlaTable":
        path = Path(path) if path else DEFAULT_SLA_FILE
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise SlaError(f"SLA 文件不存在：{path}（检查 ORDERS_SLA_FILE）") from exc
        except yaml.YAMLError as exc:
            raise SlaError(f"SLA 文件不是合法的 YAML：{path}: {exc}") from exc
        if not isinstance(data, dict) or not isinstance(data.get("rules", []), list):
            raise SlaError(f"{path}: 顶层应为 rules: [...] 和 default: {{within: ...}}")
        try:
            hours = BusinessHours.parse(data["business_hours"]) if data.get("business_hours") else BusinessHours()
        except BusinessHoursError as exc:
            raise SlaError(f"{path}: business_hours: {exc}") from exc
        rules = tuple(_rule(r, f"{path}: rules[{i}]", hours) for i, r in enumerate(data.get("rules") or []))
        default = _rule(data.get("default") or {"within": {"working_days": 1}}, f"{path}: default", hours)
        return cls(rules=rules, default=default, source=str(path), business_hours=hours)


def _names(value: Any, where: str, field: str, allowed: tuple[str, ...] | None = None) -> frozenset[str] | None:
    if value is None:
        return None
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
        raise SlaError(f"{where}: {field} 应为一个名称或名称列表")
    unknown = sorted(set(values) - set(allowed)) if allowed else []
    if unknown:
        raise SlaError(f"{where}: 未知的 {field} {unknown}；可选：{', '.join(allowed or ())}")
    return frozenset(values)


def _limit(within: Any, where: str, field: str) -> Limit:
    units = {"minutes", "hours", "working_days"}
    if not isinstance(within, dict) or len(within) != 1 or not set(within) <= units:
        raise SlaError(f"{where}: {field} 应为 {{minutes: N}}、{{hours: N}} 或 {{working_days: N}}")
    (unit, value), = within.items()
    if unit == "working_days":
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise SlaError(f"{where}: working_days 应为正整数")
        return Limit(working_days=value)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
        raise SlaError(f"{where}: {unit} 应为正数")
    return Limit(minutes=float(value) * (60 if unit == "hours" else 1))


def _rule(raw: Any, where: str, hours: BusinessHours | None = None) -> SlaRule:
    if not isinstance(raw, dict):
        raise SlaError(f"{where}: 应为映射（name / kind / reason / topic / area / within）")
    limit = _limit(raw.get("within"), where, "within")
    contact = _limit(raw["contact_within"], where, "contact_within") if raw.get("contact_within") else None
    return SlaRule(name=str(raw.get("name") or where),
                   reasons=_names(raw.get("reason"), where, "reason", REASONS),
                   topics=_names(raw.get("topic"), where, "topic", tuple(TOPIC_LABELS)),
                   kinds=_names(raw.get("kind"), where, "kind", KINDS),
                   areas=_names(raw.get("area"), where, "area", AREA_CLASSES),
                   minutes=limit.minutes, working_days=limit.working_days, contact=contact,
                   business_hours=hours, source=str(raw.get("source") or ""))
