"""``python -m bot orders …``: the staff command line for the work-order queue.

    orders list [--status 待处理] [--topic outage] [--reason not_helpful] [--overdue]
    orders show GD202611220007
    orders assign GD202611220007 --to 张三 --by 李四
    orders resolve GD202611220007 --note "已核实，…" --by 张三
    orders callback GD202611220007 --satisfaction 满意 --note "电话回访" --by 李四
    orders close GD202611220007 --by 李四
    orders flush

Refusals (unknown number, a step the workflow does not allow, database down) print one Chinese
line on stderr and exit 1.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import unicodedata
from collections.abc import Callable
from datetime import date, datetime

from bot.orders.vocabulary import KIND_LABELS, KINDS, PRIORITIES, PRIORITY_LABELS
from bot.orders.numbering import OrderNumberError, normalise_order_no
from bot.orders.models import REASON_LABELS, REASONS, SATISFACTIONS, STATUSES, TOPIC_LABELS
from bot.orders.phone import PhoneError
from bot.orders.service import OrderError, OrderService, OrderView
from bot.clock import format_beijing
from bot.orders.sla import SlaError
from bot.orders.transcript import format_line

ServiceFactory = Callable[[argparse.Namespace], OrderService]


def _default_factory(args: argparse.Namespace) -> OrderService:
    from bot.settings import load

    settings = load()
    if getattr(args, "db", None):
        settings = dataclasses.replace(settings, orders_db_url=args.db)
    return OrderService.from_settings(settings)


# --- formatting ------------------------------------------------------------------------------
def _width(text: str) -> int:
    # Chinese characters take two terminal columns; without this the table does not line up.
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))


def _clip(text: str, width: int) -> str:
    if _width(text) <= width:
        return text
    out = ""
    for ch in text:
        if _width(out + ch) > width - 1:
            break
        out += ch
    return out + "…"


def _topic(topic: str | None) -> str:
    return TOPIC_LABELS.get(topic, topic) if topic else "-"


def format_table(orders: list[OrderView]) -> str:
    header = ["工单号", "状态", "原因", "主题", "渠道/客户", "创建", "答复时限", "处理人"]
    rows = []
    for o in orders:
        due = format_beijing(o.due_at, "%m-%d %H:%M") + (" 超时" if o.overdue else "")
        rows.append([o.order_no, o.status, REASON_LABELS.get(o.reason, o.reason), _topic(o.topic),
                     _clip(f"{o.channel}/{o.sender_id}", 24), format_beijing(o.created_at, "%m-%d %H:%M"),
                     due, o.assignee or "-"])
    widths = [max(_width(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(_pad(c, w) for c, w in zip(r, widths)).rstrip() for r in [header, *rows]]
    overdue = sum(1 for o in orders if o.overdue)
    lines.append(f"共 {len(orders)} 张工单" + (f"，其中超时 {overdue} 张" if overdue else ""))
    return "\n".join(lines)


def format_order(o: OrderView) -> str:
    status = o.status + ("（已超时）" if o.overdue else "")
    fields = [
        ("工单号", o.order_no),
        ("状态", status),
        ("原因", f"{REASON_LABELS.get(o.reason, o.reason)}（{o.reason}）"),
        ("主题", _topic(o.topic)),
        ("渠道", o.channel),
        ("客户", o.sender_id),
        ("会话", o.conversation_id or "-"),
        ("联系电话", o.phone or "-"),
        ("处理人", o.assignee or "-"),
        ("创建时间", format_beijing(o.created_at, "%Y-%m-%d %H:%M:%S")),
        ("更新时间", format_beijing(o.updated_at, "%Y-%m-%d %H:%M:%S")),
        ("答复时限", format_beijing(o.due_at, "%Y-%m-%d %H:%M")),
        ("关闭时间", format_beijing(o.closed_at, "%Y-%m-%d %H:%M:%S") or "-"),
        ("满意度", o.satisfaction or "-"),
        ("幂等键", o.idempotency_key),
    ]
    width = max(_width(k) for k, _ in fields)
    lines = [f"{_pad(k, width)}  {v}" for k, v in fields]
    lines.append("（时间均为北京时间）")
    if o.candidates:
        lines += ["", "候选答案："]
        for c in o.candidates:
            conf = c.get("confidence")
            lines.append(f"  {conf:.2f}  {c.get('entry_id')}  {c.get('question')}" if conf is not None
                         else f"  -     {c.get('entry_id')}  {c.get('question')}")
    lines += ["", "处理记录："]
    for e in o.events:
        move = f"{e.from_status} → {e.to_status}" if e.from_status and e.from_status != e.to_status else (
            f"新建 → {e.to_status}" if e.from_status is None else e.to_status)
        lines.append(f"  [{format_beijing(e.at, '%m-%d %H:%M:%S')}] {e.actor}  {move}"
                     + (f"  {e.note}" if e.note else ""))
    lines += ["", f"对话记录（{len(o.transcript)} 条）："]
    lines += [f"  {format_line(m)}" for m in o.transcript] or ["  （无）"]
    return "\n".join(lines)


# --- commands --------------------------------------------------------------------------------
def _list(service: OrderService, args: argparse.Namespace) -> int:
    orders = service.list(status=args.status, topic=args.topic, reason=args.reason,
                          kind=getattr(args, "kind", None), priority=getattr(args, "priority", None),
                          urgent_first=True,
                          overdue=True if args.overdue else None, since=args.since, until=args.until)
    print(format_table(orders))
    return 0


def _show(service: OrderService, args: argparse.Namespace) -> int:
    view = service.get(normalise_order_no(args.order_no))  # a malformed number says so
    if view is None:
        raise OrderError(f"没有找到工单 {args.order_no}，请核对工单号（如 GD202611220007）。")
    print(format_order(view))
    return 0


def _assign(service: OrderService, args: argparse.Namespace) -> int:
    v = service.assign(args.order_no, args.to, args.by, args.note or "")
    print(f"已指派：{v.order_no} → {v.assignee}（状态：{v.status}）")
    return 0


def _resolve(service: OrderService, args: argparse.Namespace) -> int:
    v = service.resolve(args.order_no, args.by, args.note)
    print(f"已办结：{v.order_no}（状态：{v.status}）")
    return 0


def _callback(service: OrderService, args: argparse.Namespace) -> int:
    v = service.callback(args.order_no, args.by, args.satisfaction, args.note or "")
    print(f"已回访：{v.order_no}（满意度：{v.satisfaction}，状态：{v.status}）")
    return 0


def _close(service: OrderService, args: argparse.Namespace) -> int:
    v = service.close(args.order_no, args.by, args.note or "")
    print(f"已关闭：{v.order_no}（状态：{v.status}）")
    return 0


FLUSH_WAIT = 30.0  # seconds `orders flush` waits for a flusher that is already running


def _flush(service: OrderService, args: argparse.Namespace) -> int:
    done = service.flush_spool(wait=FLUSH_WAIT)  # a background flusher may be mid-attempt: wait for it
    left = service.pending_spool()
    print(f"已补录 {done} 条暂存的工单请求。")
    if left:
        print(f"仍有 {left} 条在 {service.spool.directory} 等待数据库恢复。", file=sys.stderr)
        return 1
    failed = sorted(service.spool.failed_dir.glob("*.json")) if service.spool.failed_dir.exists() else []
    if failed:
        print(f"注意：{service.spool.failed_dir} 中有 {len(failed)} 条无法补录的请求（原因见同名 .error.txt），请人工处理。",
              file=sys.stderr)
    return 0


def _choices(labels: dict[str, str]) -> str:
    return " / ".join(f"{code} {label}" for code, label in labels.items())


def _day(text: str) -> date:
    try:
        return datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"日期格式应为 YYYY-MM-DD，而不是 {text!r}") from exc


def add_orders(sub: argparse._SubParsersAction, *, service_factory: ServiceFactory | None = None) -> None:
    """Register ``orders`` and its actions on the ``python -m bot`` parser."""
    factory = service_factory or _default_factory

    def runner(handler: Callable[[OrderService, argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        def run(args: argparse.Namespace) -> int:
            try:
                return handler(factory(args), args)
            except (OrderError, OrderNumberError, PhoneError, SlaError) as exc:
                print(f"错误：{exc}", file=sys.stderr)
                return 1
        return run

    p = sub.add_parser("orders", help="工单：查看和处理工单队列",
                       description="工单（work orders）：查看和处理。时间均为北京时间。")
    p.add_argument("--db", metavar="URL", help="工单数据库 SQLAlchemy URL（默认：ORDERS_DB_URL，或 var/orders.db）")
    p.set_defaults(func=lambda _args: (p.print_help(), 2)[1])
    osub = p.add_subparsers(dest="orders_command", metavar="ACTION")

    c = osub.add_parser("list", help="列出工单（表格）")
    c.add_argument("--status", choices=STATUSES, action="append", help="按状态筛选，可重复")
    c.add_argument("--topic", choices=sorted(TOPIC_LABELS), help="按主题筛选")
    c.add_argument("--reason", choices=REASONS, help="按转工单原因筛选")
    c.add_argument("--overdue", action="store_true", help="只看超时未答复的")
    # Listed from vocabulary.py, so a new kind shows up here without an edit.
    c.add_argument("--kind", choices=KINDS, help=f"按工单类型筛选（{_choices(KIND_LABELS)}）")
    c.add_argument("--priority", choices=PRIORITIES, help=f"按优先级筛选（{_choices(PRIORITY_LABELS)}）")
    c.add_argument("--since", type=_day, metavar="YYYY-MM-DD", help="创建日期不早于（北京时间）")
    c.add_argument("--until", type=_day, metavar="YYYY-MM-DD", help="创建日期不晚于（北京时间）")
    c.set_defaults(func=runner(_list))

    c = osub.add_parser("show", help="一张工单的全部信息、处理记录和对话记录")
    c.add_argument("order_no", metavar="NO")
    c.set_defaults(func=runner(_show))

    c = osub.add_parser("assign", help="指派处理人（待处理的工单同时转为处理中）")
    c.add_argument("order_no", metavar="NO")
    c.add_argument("--to", required=True, metavar="NAME", help="处理人")
    c.add_argument("--by", required=True, metavar="NAME", help="操作人")
    c.add_argument("--note", default="", help="备注")
    c.set_defaults(func=runner(_assign))

    c = osub.add_parser("resolve", help="办结（处理中 → 已办结）")
    c.add_argument("order_no", metavar="NO")
    c.add_argument("--note", required=True, help="处理说明（客户查询时可见）")
    c.add_argument("--by", required=True, metavar="NAME", help="操作人")
    c.set_defaults(func=runner(_resolve))

    c = osub.add_parser("callback", help="回访（已办结 → 已回访），记录满意度")
    c.add_argument("order_no", metavar="NO")
    c.add_argument("--satisfaction", required=True, choices=SATISFACTIONS)
    c.add_argument("--note", default="", help="回访记录")
    c.add_argument("--by", required=True, metavar="NAME", help="操作人")
    c.set_defaults(func=runner(_callback))

    c = osub.add_parser("close", help="关闭（已回访或已办结 → 已关闭）")
    c.add_argument("order_no", metavar="NO")
    c.add_argument("--by", required=True, metavar="NAME", help="操作人")
    c.add_argument("--note", default="", help="备注")
    c.set_defaults(func=runner(_close))

    c = osub.add_parser("flush", help="补录数据库故障期间暂存（var/spool/）的工单请求")
    c.set_defaults(func=runner(_flush))
