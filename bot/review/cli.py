"""``python -m bot report`` (分类统计) and ``python -m bot misses`` (unanswered questions, grouped)."""
from __future__ import annotations

import argparse
import re
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from bot.clock import beijing_today

_RELATIVE = re.compile(r"(\d+)d")


def day_arg(text: str) -> date:
    """YYYY-MM-DD, 'today', or 'Nd' (the last N Beijing days, today included)."""
    text = text.strip().lower()
    if text == "today":
        return beijing_today()
    m = _RELATIVE.fullmatch(text)
    if m:
        return beijing_today() - timedelta(days=max(1, int(m.group(1))) - 1)
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"日期应为 YYYY-MM-DD、today 或 7d 这样的天数：{text!r}") from None


def _range(args: argparse.Namespace) -> tuple[date, date]:
    first, last = args.since, args.until or beijing_today()
    if last < first:
        raise SystemExit(f"--until {last} 早于 --since {first}")
    return first, last


def _turns_and_misses(args: argparse.Namespace, settings, engine, first: date, last: date):
    from bot.review.conversations import read_turns
    from bot.review.misses import group_misses, misses_from_turns

    turns = read_turns(args.tracker or settings.tracker_url, first, last)
    misses = misses_from_turns(turns)
    return turns, group_misses(engine, misses)


def _engine():
    from bot.kb.engine import Engine
    from bot.kb.loader import load_knowledge
    from bot.settings import load

    return Engine(load_knowledge(load().knowledge_dir))


def cmd_misses(args: argparse.Namespace) -> int:
    from bot import settings as settings_mod
    from bot.review.misses import chart, format_groups

    first, last = _range(args)
    started = time.perf_counter()
    _turns, groups = _turns_and_misses(args, settings_mod.load(), _engine(), first, last)
    total = sum(g.size for g in groups)
    print(f"{first} 至 {last}（北京时间）：未答上的问题 {total} 条，分为 {len(groups)} 组"
          f"（{time.perf_counter() - started:.1f} 秒）")
    print(format_groups(groups, limit=args.top))
    if args.chart and groups:
        args.chart.parent.mkdir(parents=True, exist_ok=True)
        chart(groups, args.chart)
        print(f"图表：{args.chart}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from bot import settings as settings_mod
    from bot.orders.models import TOPIC_LABELS
    from bot.clock import day_range_utc
    from bot.orders.livechat import LiveChatStore
    from bot.orders.service import OrderService
    from bot.review import report

    first, last = _range(args)
    settings = settings_mod.load()
    started = time.perf_counter()
    turns, groups = _turns_and_misses(args, settings, _engine(), first, last)
    service = OrderService.from_url(args.orders or settings.prepared_orders_url(),
                                    spool_dir=Path(settings.var_dir) / "spool")
    try:
        orders = service.list(since=first, until=last)
        live = LiveChatStore(service.store).finished_between(*day_range_utc(first, last))
    finally:
        service.store.dispose()
    built = report.build(turns, orders, first, last, groups, live)
    out = args.out or Path(settings.var_dir) / "reports" / f"{first:%Y%m%d}-{last:%Y%m%d}"
    page = report.write(built, out, dict(TOPIC_LABELS))
    questions = sum(built.outcomes.values())
    print(f"分类统计 {first} 至 {last}：会话 {sum(built.contacts.values())}，问题 {questions}，"
          f"工单 {built.orders_total}（超时 {built.overdue}），未答上分组 {len(groups)}"
          f"（{time.perf_counter() - started:.1f} 秒）")
    print(f"报告：{page}\n数据：{out / 'report.csv'}")
    return 0


def cmd_kb_check(args: argparse.Namespace) -> int:
    """Knowledge hygiene (make validate): loader errors fail; the rest is for trainers to look at."""
    from bot import settings as settings_mod
    from bot.kb.loader import load_knowledge
    from bot.kb.model import KnowledgeError
    from bot.review.conversations import read_turns
    from bot.review.hygiene import due_for_review, format_findings, overlaps, unreached

    settings = settings_mod.load()
    try:
        kb = load_knowledge(settings.knowledge_dir)
    except KnowledgeError as exc:
        print(f"知识库有错误 / knowledge base is broken:\n{exc}", file=sys.stderr)
        return 2
    findings = due_for_review(kb, beijing_today()) + overlaps(kb)
    first, last = _range(args)
    turns = [t for t in read_turns(args.tracker or settings.tracker_url, first, last) if t.is_question]
    if len(turns) >= args.min_questions:
        reached = {t.entry_id for t in turns if t.entry_id}
        reached |= {c.get("entry_id") for t in turns for c in (t.kb or {}).get("candidates") or []}
        findings += unreached(kb, reached, first, last)
        note = f"{first} 至 {last} 共 {len(turns)} 个客户问题"
    else:
        note = f"{first} 至 {last} 只有 {len(turns)} 个客户问题，不足 {args.min_questions} 个，不统计没人问到的条目"
    print(f"知识库 {len(kb.entries)} 条；{note}。")
    print(format_findings(findings))
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--since", type=day_arg, default=day_arg("7d"), help="起始日（YYYY-MM-DD、today 或 7d；默认 7d）")
    p.add_argument("--until", type=day_arg, help="截止日，含当天（默认今天，北京时间）")
    p.add_argument("--tracker", help="tracker store 的数据库 URL（默认取设置）")


def add_review(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("misses", help="group the questions the bot failed, that were not clicked, or marked 没帮助")
    _common(p)
    p.add_argument("--top", type=int, default=30, help="show this many groups")
    p.add_argument("--chart", type=Path, help="write a PNG chart of the largest groups")
    p.set_defaults(func=cmd_misses)
    p = sub.add_parser("report", help="分类统计: HTML report with PNG charts and a CSV for a date range")
    _common(p)
    p.add_argument("--orders", help="工单数据库 URL（默认取设置）")
    p.add_argument("--out", type=Path, help="output folder (default var/reports/<since>-<until>)")
    p.set_defaults(func=cmd_report)
    p = sub.add_parser("kb-check", help="knowledge hygiene: entries due for review, unreached, overlapping (file:line)")
    _common(p)
    p.set_defaults(since=day_arg("30d"))
    p.add_argument("--min-questions", type=int, default=200,
                   help="list entries nobody reached only when the period has this many questions")
    p.set_defaults(func=cmd_kb_check)


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use: python -m bot report | misses")
