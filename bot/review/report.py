"""分类统计: the periodic report of what customers asked, what they got, and what became of orders.

Figures come from the tracker store (customer turns, bot/review/conversations.py) and the orders
database (through OrderService), both by SQL that runs on SQLite and PostgreSQL. ``build`` makes
the figures as plain data; ``write`` turns them into an HTML page with PNG charts and a CSV.
"""
from __future__ import annotations

import csv
import html
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Sequence

from bot.clock import beijing_day, format_beijing, utcnow
from bot.review.conversations import (
    ANSWERED, CLARIFIED, DECLINED, FAILED, HANDED_OFF, HELPFUL, NOT_HELPFUL, OUTCOME_LABELS, Turn,
)
from bot.review.misses import Group

QUESTION_OUTCOMES = (ANSWERED, CLARIFIED, FAILED, DECLINED, HANDED_OFF)


@dataclass
class Report:
    first: date
    last: date
    contacts: dict[tuple[str, str], int]            # (Beijing day, channel) → conversations
    messages: dict[tuple[str, str], int]            # (Beijing day, channel) → customer messages
    outcomes: dict[tuple[str, str], int]            # (topic, outcome) → question turns
    top_entries: list[tuple[str, int]]              # entry id → times answered
    feedback: dict[str, tuple[int, int]]            # entry id → (有帮助, 没帮助)
    orders_by: dict[str, dict[str, int]]            # kind / status / topic / reason → value → orders
    orders_total: int
    overdue: int
    median_first_action_h: float | None
    median_close_h: float | None
    satisfaction: dict[str, int]
    groups: list[Group] = field(default_factory=list)
    # 在线人工 (issue 15): chats closed in the range, by how they ended; waits, handling, ratings.
    live_by_end: dict[str, int] = field(default_factory=dict)
    live_median_wait_s: float | None = None
    live_median_handle_s: float | None = None
    live_ratings: dict[str, int] = field(default_factory=dict)
    live_by_agent: dict[str, int] = field(default_factory=dict)
    made_at: datetime = field(default_factory=utcnow)

    @property
    def worst_entries(self) -> list[tuple[str, int, int]]:
        """Entries with any 没帮助, worst share first: (entry, 有帮助, 没帮助)."""
        rows = [(e, up, down) for e, (up, down) in self.feedback.items() if down]
        return sorted(rows, key=lambda r: (-r[2] / (r[1] + r[2]), -r[2], r[0]))

    def rows(self) -> list[tuple[str, str, str, float]]:
        """Every figure as (table, key, sub-key, value): the CSV, and what the tests check."""
        out: list[tuple[str, str, str, float]] = []
        out += [("contacts", d, ch, n) for (d, ch), n in sorted(self.contacts.items())]
        out += [("messages", d, ch, n) for (d, ch), n in sorted(self.messages.items())]
        out += [("outcomes", t, o, n) for (t, o), n in sorted(self.outcomes.items())]
        out += [("top_entries", e, "", n) for e, n in self.top_entries]
        out += [("feedback", e, "helpful", up) for e, (up, _d) in sorted(self.feedback.items())]
        out += [("feedback", e, "not_helpful", down) for e, (_u, down) in sorted(self.feedback.items())]
        for by, counts in self.orders_by.items():
            out += [(f"orders_by_{by}", k, "", n) for k, n in sorted(counts.items())]
        out.append(("orders", "total", "", self.orders_total))
        out.append(("orders", "overdue", "", self.overdue))
        if self.median_first_action_h is not None:
            out.append(("orders", "median_first_action_hours", "", round(self.median_first_action_h, 2)))
        if self.median_close_h is not None:
            out.append(("orders", "median_close_hours", "", round(self.median_close_h, 2)))
        out += [("satisfaction", k, "", n) for k, n in sorted(self.satisfaction.items())]
        out += [("unanswered_groups", g.representative, g.describe_action(), g.size) for g in self.groups]
        out += [("live_chats", k, "", n) for k, n in sorted(self.live_by_end.items())]
        out += [("live_chats_by_agent", k, "", n) for k, n in sorted(self.live_by_agent.items())]
        out += [("live_ratings", k, "", n) for k, n in sorted(self.live_ratings.items())]
        if self.live_median_wait_s is not None:
            out.append(("live_chats", "median_wait_seconds", "", round(self.live_median_wait_s, 1)))
        if self.live_median_handle_s is not None:
            out.append(("live_chats", "median_handle_seconds", "", round(self.live_median_handle_s, 1)))
        return out


LIVE_END_LABELS = {"agent": "人工接待完成", "timeout": "排队超时转工单", "no_agent": "无人在岗转工单",
                   "customer": "客户改为留言"}


def build(turns: Sequence[Turn], orders: Sequence[Any], first: date, last: date,
          groups: Sequence[Group] = (), live_chats: Sequence[Any] = ()) -> Report:
    contacts: dict[tuple[str, str], set[str]] = defaultdict(set)
    messages: Counter[tuple[str, str]] = Counter()
    outcomes: Counter[tuple[str, str]] = Counter()
    served: Counter[str] = Counter()
    feedback: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    last_answered: dict[str, str] = {}
    for t in turns:
        day = beijing_day(t.at).isoformat()
        contacts[(day, t.channel)].add(t.sender_id)
        messages[(day, t.channel)] += 1
        outcome = t.outcome
        if outcome in (HELPFUL, NOT_HELPFUL):
            entry = last_answered.get(t.sender_id)
            if entry:
                feedback[entry][0 if outcome == HELPFUL else 1] += 1
            continue
        if t.is_question or outcome in (HANDED_OFF, DECLINED):
            outcomes[(t.topic or "none", outcome)] += 1
        if outcome == ANSWERED and t.entry_id:
            served[t.entry_id] += 1
            last_answered[t.sender_id] = t.entry_id
    by: dict[str, Counter[str]] = {k: Counter() for k in ("kind", "status", "topic", "reason")}
    first_action, to_close, satisfaction = [], [], Counter()
    overdue = 0
    for o in orders:
        for k in by:
            by[k][str(getattr(o, k, None) or "none")] += 1
        overdue += bool(o.overdue)
        acted = [e.at for e in o.events if e.from_status is not None]
        if acted:
            first_action.append((min(acted) - o.created_at).total_seconds() / 3600)
        if o.closed_at is not None:
            to_close.append((o.closed_at - o.created_at).total_seconds() / 3600)
        if o.satisfaction:
            satisfaction[o.satisfaction] += 1
    return Report(
        first=first, last=last,
        contacts={k: len(v) for k, v in contacts.items()}, messages=dict(messages), outcomes=dict(outcomes),
        top_entries=sorted(served.items(), key=lambda kv: (-kv[1], kv[0]))[:20],
        feedback={e: (v[0], v[1]) for e, v in feedback.items()},
        orders_by={k: dict(v) for k, v in by.items()}, orders_total=len(orders), overdue=overdue,
        median_first_action_h=statistics.median(first_action) if first_action else None,
        median_close_h=statistics.median(to_close) if to_close else None,
        satisfaction=dict(satisfaction), groups=list(groups), **_live_figures(live_chats))


def _live_figures(chats: Sequence[Any]) -> dict[str, Any]:
    """在线人工 records (kind 在线人工): how each ended, the agent, the wait, the handling, the rating."""
    waits = [(c.accepted_at - c.queued_at).total_seconds() for c in chats if c.accepted_at]
    handled = [(c.ended_at - c.accepted_at).total_seconds() for c in chats
               if c.accepted_at and c.ended_at and c.end_reason == "agent"]
    return {
        "live_by_end": dict(Counter(str(c.end_reason or "none") for c in chats)),
        "live_by_agent": dict(Counter(c.agent for c in chats if c.agent and c.end_reason == "agent")),
        "live_ratings": dict(Counter(c.rating for c in chats if c.rating)),
        "live_median_wait_s": statistics.median(waits) if waits else None,
        "live_median_handle_s": statistics.median(handled) if handled else None,
    }


def write(report: Report, out_dir: Path, topic_labels: dict[str, str] | None = None) -> Path:
    """report.html + report.csv + PNG charts in ``out_dir``; returns the HTML's path."""
    from bot.review.charts import barh, stacked

    out_dir.mkdir(parents=True, exist_ok=True)
    labels = topic_labels or {}
    with (out_dir / "report.csv").open("w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow(["table", "key", "sub_key", "value"])
        w.writerows(report.rows())
    topics = sorted({t for t, _o in report.outcomes})
    if topics:
        stacked([labels.get(t, t) for t in topics],
                {OUTCOME_LABELS[o]: [report.outcomes.get((t, o), 0) for t in topics] for o in QUESTION_OUTCOMES},
                "各主题问题的处理结果", out_dir / "outcomes.png")
    days = sorted({d for d, _c in report.contacts})
    channels = sorted({c for _d, c in report.contacts})
    if days:
        stacked(days, {c: [report.contacts.get((d, c), 0) for d in days] for c in channels},
                "每日会话数（按渠道）", out_dir / "contacts.png")
    if report.groups:
        barh([g.representative[:18] for g in report.groups[:15]], [g.size for g in report.groups[:15]],
             "未答上的问题：最大的分组", "条数", out_dir / "misses.png")
    (out_dir / "report.html").write_text(_html(report, labels, out_dir), encoding="utf-8")
    return out_dir / "report.html"


def _table(head: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    if not rows:
        return '<p class="empty">（无）</p>'
    th = "".join(f"<th>{html.escape(str(x))}</th>" for x in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(x))}</td>" for x in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _html(r: Report, labels: dict[str, str], out_dir: Path) -> str:
    def img(name: str) -> str:
        return f'<img src="{name}" alt="{name}">' if (out_dir / name).exists() else ""

    total_q = sum(r.outcomes.values())
    outcome_rows = [(OUTCOME_LABELS[o], n, f"{n / total_q:.0%}" if total_q else "-")
                    for o in QUESTION_OUTCOMES for n in [sum(v for (_t, oo), v in r.outcomes.items() if oo == o)]]
    h = html.escape
    parts = [
        f"<h1>分类统计 {r.first.isoformat()} 至 {r.last.isoformat()}（北京时间）</h1>",
        f"<p>生成于 {h(format_beijing(r.made_at))}。会话 {sum(r.contacts.values())} 个，客户消息 {sum(r.messages.values())} 条。</p>",
        "<h2>每日会话（按渠道）</h2>", img("contacts.png"),
        _table(["日期", "渠道", "会话", "消息"], [(d, c, n, r.messages.get((d, c), 0)) for (d, c), n in sorted(r.contacts.items())]),
        "<h2>问题的处理结果</h2>", img("outcomes.png"), _table(["结果", "条数", "占比"], outcome_rows),
        _table(["主题", "结果", "条数"], [(labels.get(t, t), OUTCOME_LABELS[o], n) for (t, o), n in sorted(r.outcomes.items())]),
        "<h2>答复最多的条目</h2>", _table(["条目", "次数"], r.top_entries),
        "<h2>“没帮助”比例最高的条目</h2>",
        _table(["条目", "有帮助", "没帮助"], r.worst_entries[:20]),
        "<h2>工单</h2>",
        f"<p>共 {r.orders_total} 张，超时 {r.overdue} 张"
        + (f"（{r.overdue / r.orders_total:.0%}）" if r.orders_total else "")
        + (f"；首次处理中位 {r.median_first_action_h:.1f} 小时" if r.median_first_action_h is not None else "")
        + (f"；办结中位 {r.median_close_h:.1f} 小时" if r.median_close_h is not None else "") + "。</p>",
    ]
    for by, title in (("kind", "类型"), ("status", "状态"), ("topic", "主题"), ("reason", "原因")):
        parts += [f"<h3>按{title}</h3>", _table([title, "张数"], sorted(r.orders_by.get(by, {}).items()))]
    parts += ["<h2>在线人工</h2>",
              "<p>" + "；".join(
                  [f"共 {sum(r.live_by_end.values())} 次"]
                  + ([f"排队中位 {r.live_median_wait_s:.0f} 秒"] if r.live_median_wait_s is not None else [])
                  + ([f"接待中位 {r.live_median_handle_s / 60:.1f} 分钟"] if r.live_median_handle_s is not None else []))
              + "。</p>",
              _table(["结果", "次数"], [(LIVE_END_LABELS.get(k, k), n) for k, n in sorted(r.live_by_end.items())]),
              _table(["客服", "接待次数"], sorted(r.live_by_agent.items())),
              _table(["评价", "次数"], sorted(r.live_ratings.items())),
              "<h2>回访满意度</h2>", _table(["满意度", "张数"], sorted(r.satisfaction.items())),
              "<h2>未答上的问题（分组）</h2>", img("misses.png"),
              _table(["代表问题", "条数", "客户", "建议"], [(g.representative, g.size, g.customers, g.describe_action())
                                                      for g in r.groups[:30]])]
    style = ("body{font-family:sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}"
             "table{border-collapse:collapse;margin:.5rem 0 1rem}td,th{border:1px solid #ccc;padding:.2rem .5rem}"
             "img{max-width:100%}")
    return (f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>分类统计</title>'
            f"<style>{style}</style></head><body>{''.join(parts)}</body></html>")
