"""Retention: conversations and closed work orders are not kept forever.

    python -m bot retention [--dry-run] [--conversation-days N] [--order-days N]

- Conversations (Rasa's tracker store, table ``events``) whose last event is older than
  RETENTION_CONVERSATION_DAYS (default 180) are deleted.
- Work orders closed (已关闭) more than RETENTION_ORDER_DAYS ago (default 365) are anonymised:
  the transcript and the phone are deleted, the customer id is replaced by a pseudonym, and
  personal fields of the details (address, phone, name) are dropped. The order number, kind,
  topic, reason, times, status history and satisfaction stay, for the statistics (分类统计).
- Spool files parked in var/spool/failed/ past the order age are deleted.

Run it once a day (cron ``15 3 * * * cd /srv/dianli && .venv/bin/python -m bot retention`` or a
systemd timer; see README). It is idempotent: a second run finds nothing to do.
"""
from __future__ import annotations

import argparse
import hashlib
import logging
import re
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, delete, func, select, update
from sqlalchemy.orm import Session

from bot.clock import utcnow

logger = logging.getLogger(__name__)
PERSONAL_DETAILS = ("address", "phone", "name", "contact", "location")
# Mobile and landline numbers, as stored (13812345678, 0371-12345678) or typed.
_PHONE = re.compile(r"(?<![0-9])(?:1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8})(?![0-9])")


@dataclass
class RetentionResult:
    conversations: int = 0
    events: int = 0
    orders: int = 0
    spool_files: int = 0


def anonymous_id(sender_id: str) -> str:
    """A stable pseudonym: the same customer's old orders still count as one customer."""
    prefix = sender_id.split(":", 1)[0] if ":" in sender_id else "id"
    return f"anon:{prefix}:{hashlib.sha256(sender_id.encode('utf-8')).hexdigest()[:16]}"


def purge_conversations(tracker_url: str, days: int, *, dry_run: bool = False) -> tuple[int, int]:
    """Delete Rasa conversations idle for ``days``; (conversations, events)."""
    from rasa.core.tracker_store import SQLTrackerStore

    engine = create_engine(tracker_url, future=True)
    table = SQLTrackerStore.SQLEvent.__table__
    cutoff = time.time() - days * 86400
    try:
        with engine.begin() as conn:
            if not engine.dialect.has_table(conn, table.name):
                return 0, 0
            old = select(table.c.sender_id).group_by(table.c.sender_id).having(func.max(table.c.timestamp) < cutoff)
            senders = [r[0] for r in conn.execute(old)]
            events = 0
            for i in range(0, len(senders), 500):
                chunk = senders[i:i + 500]
                if dry_run:
                    events += conn.execute(select(func.count()).select_from(table)
                                           .where(table.c.sender_id.in_(chunk))).scalar_one()
                else:
                    events += conn.execute(delete(table).where(table.c.sender_id.in_(chunk))).rowcount
            return len(senders), events
    finally:
        engine.dispose()


def anonymise_orders(orders_url: str, days: int, *, dry_run: bool = False) -> int:
    """Anonymise orders closed more than ``days`` ago; how many."""
    from bot.orders.models import STATUS_CLOSED, OrderEvent, TranscriptMessage, WorkOrder
    from bot.db import make_engine

    engine = make_engine(orders_url)
    cutoff = utcnow() - timedelta(days=days)
    count = 0
    try:
        with Session(engine, future=True) as s, s.begin():
            rows = s.execute(select(WorkOrder).where(WorkOrder.status == STATUS_CLOSED,
                                                     WorkOrder.closed_at < cutoff,
                                                     ~WorkOrder.sender_id.like("anon:%"))).scalars().all()
            for order in rows:
                count += 1
                if dry_run:
                    continue
                s.execute(delete(TranscriptMessage).where(TranscriptMessage.order_id == order.id))
                details = {k: v for k, v in (order.details or {}).items() if k not in PERSONAL_DETAILS}
                s.execute(update(WorkOrder).where(WorkOrder.id == order.id).values(
                    sender_id=anonymous_id(order.sender_id), conversation_id=None, phone=None,
                    details=details or None))
                # History notes keep what was done, not the numbers in them ("客户留下联系电话：…").
                for event in s.execute(select(OrderEvent).where(OrderEvent.order_id == order.id)).scalars():
                    hidden = _PHONE.sub("（已删除）", event.note or "")
                    if hidden != (event.note or ""):
                        event.note = hidden
    finally:
        engine.dispose()
    return count


def purge_parked_spool(spool_dir: Path, days: int, *, dry_run: bool = False) -> int:
    failed = Path(spool_dir) / "failed"
    if not failed.is_dir():
        return 0
    cutoff = time.time() - days * 86400
    removed = 0
    for path in failed.iterdir():
        if path.is_file() and path.stat().st_mtime < cutoff:
            removed += 1
            if not dry_run:
                path.unlink(missing_ok=True)
    return removed


def run(settings: Any, *, conversation_days: int | None = None, order_days: int | None = None,
        dry_run: bool = False) -> RetentionResult:
    conv_days = conversation_days if conversation_days is not None else settings.retention_conversation_days
    ord_days = order_days if order_days is not None else settings.retention_order_days
    result = RetentionResult()
    result.conversations, result.events = purge_conversations(settings.tracker_url, conv_days, dry_run=dry_run)
    result.orders = anonymise_orders(settings.prepared_orders_url(), ord_days, dry_run=dry_run)
    result.spool_files = purge_parked_spool(Path(settings.var_dir) / "spool", ord_days, dry_run=dry_run)
    return result


def cmd_retention(args: argparse.Namespace) -> int:
    from bot.settings import load

    settings = load()
    r = run(settings, conversation_days=args.conversation_days, order_days=args.order_days, dry_run=args.dry_run)
    verb = "将" if args.dry_run else "已"
    print(f"{verb}删除 {r.conversations} 个对话（{r.events} 条事件），{verb}匿名化 {r.orders} 张已关闭工单，"
          f"{verb}删除 {r.spool_files} 个搁置的暂存文件。" + ("（演练，未改动任何数据）" if args.dry_run else ""))
    return 0


def add_retention(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("retention", help="delete old conversations and anonymise old closed work orders")
    p.add_argument("--conversation-days", type=int, default=None,
                   help="delete conversations idle this many days (default RETENTION_CONVERSATION_DAYS, 180)")
    p.add_argument("--order-days", type=int, default=None,
                   help="anonymise orders closed this many days ago (default RETENTION_ORDER_DAYS, 365)")
    p.add_argument("--dry-run", action="store_true", help="only count what would change")
    p.set_defaults(func=cmd_retention)
