"""Work-order due times (限时办结): the SLA table in sla.yml and working-day arithmetic.

All times handled here are timezone-aware. Working days are Monday–Friday in Beijing time
(Asia/Shanghai). Public holidays and the make-up working weekends (调休) are NOT modelled: a
holiday counts as an ordinary working day, which errs on the side of an earlier due time.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import yaml

from bot.clock import to_beijing
from bot.orders.models import REASONS

DEFAULT_SLA_FILE = Path(__file__).with_name("sla.yml")


def add_working_days(start: datetime, days: int) -> datetime:
    """The same wall-clock time ``days`` working days later (Mon–Fri, Beijing time).

    Friday 18:00 + 1 → Monday 18:00; Saturday 10:00 + 1 → Monday 10:00.
    """
    if days < 0:
        raise ValueError("days must be >= 0")
    local = to_beijing(start)
    counted = 0
    while counted < days:
        local = local + timedelta(days=1)
        if local.weekday() < 5:
            counted += 1
    # Aware + timedelta is wall-clock arithmetic in Python, so "same time of day" holds; the
    # conversion back to UTC then uses the offset valid on the new date.
    return local.astimezone(timezone.utc)


class SlaError(ValueError):
    """The SLA file is missing or malformed; the message names the file and the fix."""


@dataclass(frozen=True)
class SlaRule:
    name: str
    reasons: frozenset[str] | None  # None: any reason
    topics: frozenset[str] | None   # None: any topic (including none)
    hours: float | None = None
    working_days: int | None = None

    def matches(self, reason: str, topic: str | None) -> bool:
        return (self.reasons is None or reason in self.reasons) and (
            self.topics is None or topic in self.topics)

    def due_at(self, created_at: datetime) -> datetime:
        if self.hours is not None:
            return created_at.astimezone(timezone.utc) + timedelta(hours=self.hours)
        return add_working_days(created_at, self.working_days or 0)

    def describe(self) -> str:
        return f"{self.hours:g} 小时" if self.hours is not None else f"{self.working_days} 个工作日"


@dataclass(frozen=True)
class SlaTable:
    rules: tuple[SlaRule, ...]
    default: SlaRule
    source: str = "<built-in>"

    def rule_for(self, reason: str, topic: str | None) -> SlaRule:
        for rule in self.rules:
            if rule.matches(reason, topic):
                return rule
        return self.default

    def due_at(self, created_at: datetime, reason: str, topic: str | None) -> datetime:
        """When a person must have answered an order created at ``created_at`` (UTC, aware)."""
        if created_at.tzinfo is None:
            raise ValueError("naive datetime: work-order times must be timezone-aware")
        return self.rule_for(reason, topic).due_at(created_at)

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
        rules = tuple(_rule(r, f"{path}: rules[{i}]") for i, r in enumerate(data.get("rules") or []))
        default = _rule(data.get("default") or {"within": {"working_days": 1}}, f"{path}: default")
        return cls(rules=rules, default=default, source=str(path))


def _names(value: Any, where: str, field: str) -> frozenset[str] | None:
    if value is None:
        return None
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
        raise SlaError(f"{where}: {field} 应为一个名称或名称列表")
    return frozenset(values)


def _rule(raw: Any, where: str) -> SlaRule:
    if not isinstance(raw, dict):
        raise SlaError(f"{where}: 应为映射（name / reason / topic / within）")
    reasons = _names(raw.get("reason"), where, "reason")
    unknown = sorted((reasons or frozenset()) - set(REASONS))
    if unknown:
        raise SlaError(f"{where}: 未知的 reason {unknown}；可选：{', '.join(REASONS)}")
    within = raw.get("within")
    if not isinstance(within, dict) or len(within) != 1 or not set(within) <= {"hours", "working_days"}:
        raise SlaError(f"{where}: within 应为 {{hours: N}} 或 {{working_days: N}}")
    hours, wdays = within.get("hours"), within.get("working_days")
    if hours is not None and (not isinstance(hours, (int, float)) or isinstance(hours, bool) or hours <= 0):
        raise SlaError(f"{where}: hours 应为正数")
    if wdays is not None and (not isinstance(wdays, int) or isinstance(wdays, bool) or wdays < 1):
        raise SlaError(f"{where}: working_days 应为正整数")
    return SlaRule(name=str(raw.get("name") or where), reasons=reasons,
                   topics=_names(raw.get("topic"), where, "topic"),
                   hours=float(hours) if hours is not None else None, working_days=wdays)
