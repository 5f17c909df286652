"""How fast the conversation review lists and opens conversations on a big tracker store.

Fills a scratch PostgreSQL database (or SQLite file) with N made-up conversations in Rasa's own
``events`` table (created by Rasa's SQLTrackerStore), then times what the console's 对话复盘 does:
the first and a deep page of the list, the list for one channel, one conversation, and the
分类统计 figures for one day. The scratch database is dropped at the end.

  .venv/bin/python scripts/bench_review.py --conversations 100000            # PostgreSQL on 127.0.0.1
  .venv/bin/python scripts/bench_review.py --conversations 20000 --sqlite     # a temporary SQLite file
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402
from tqdm import tqdm  # noqa: E402

from bot.clock import BEIJING  # noqa: E402
from bot.review import index  # noqa: E402
from bot.review.conversations import ensure_review_index, page_conversations, read_events, read_turns  # noqa: E402

KINDS = ["answer", "answer_with_related", "clarify", "no_match", "out_of_domain"]
TEXTS = ["阶梯电价怎么算", "家里跳闸了怎么办", "电费怎么交", "过户要带什么材料", "光伏并网怎么申请", "停电了什么时候来电"]
PREFIXES = ["rest:", "web:", "wx:"]


def _events(i: int, t0: float) -> list[dict]:
    sender = f"{PREFIXES[i % 3]}bench-{i:07d}"
    rows = []
    for k in range(2):
        ts = t0 + k * 30
        text = TEXTS[(i + k) % len(TEXTS)]
        kind = KINDS[(i * 7 + k) % len(KINDS)]
        user = {"event": "user", "timestamp": ts, "text": text, "input_channel": "rest",
                "parse_data": {"intent": {"name": "ask_question", "confidence": 0.9}}}
        bot = {"event": "bot", "timestamp": ts + 0.5, "text": "……",
               "data": {"custom": {"type": "kb_answer", "kind": kind, "entry_id": f"tariff.e{i % 50}",
                                   "topic": "tariff", "confidence": 0.8, "candidates": []}}}
        rows += [(sender, "action", ts - 0.1, None, "action_listen", json.dumps({"event": "action", "name": "action_listen"})),
                 (sender, "user", ts, "ask_question", None, json.dumps(user, ensure_ascii=False)),
                 (sender, "action", ts + 0.2, None, "action_answer_question",
                  json.dumps({"event": "action", "name": "action_answer_question"})),
                 (sender, "bot", ts + 0.5, None, None, json.dumps(bot, ensure_ascii=False))]
    return rows


def fill(url: str, n: int, days: int) -> None:
    from rasa.core.tracker_store import SQLTrackerStore

    engine = sa.create_engine(url)
    SQLTrackerStore.SQLEvent.metadata.create_all(engine)  # Rasa's own table and its index
    table = sa.table("events", *(sa.column(c) for c in ("sender_id", "type_name", "timestamp", "intent_name",
                                                          "action_name", "data")))
    end = datetime.now(timezone.utc).timestamp()
    batch: list[dict] = []
    with engine.begin() as conn:
        for i in tqdm(range(n), desc="conversations", unit="conv", file=sys.stderr):
            t0 = end - (i / n) * days * 86400
            batch += [dict(zip(("sender_id", "type_name", "timestamp", "intent_name", "action_name", "data"), r))
                      for r in _events(i, t0)]
            if len(batch) >= 20000:
                conn.execute(table.insert(), batch)
                batch = []
        if batch:
            conn.execute(table.insert(), batch)
    engine.dispose()


def timed(fn, repeat: int = 5) -> tuple[float, float]:
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - t) * 1000)
    return statistics.median(runs), max(runs)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--conversations", type=int, default=100_000)
    ap.add_argument("--days", type=int, default=7, help="spread the conversations over this many days")
    ap.add_argument("--sqlite", action="store_true", help="a temporary SQLite file instead of PostgreSQL")
    ap.add_argument("--report", action="store_true", help="also time the whole 分类统计 report on the range")
    args = ap.parse_args()
    tmp = tempfile.TemporaryDirectory(prefix="bench-review-")
    if args.sqlite:
        url, drop = f"sqlite:///{tmp.name}/tracker.db", None
    else:
        name = f"bench_review_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine("postgresql://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(sa.text(f"CREATE DATABASE {name}"))
        url, drop = f"postgresql://postgres@127.0.0.1:5432/{name}", name
    try:
        started = time.perf_counter()
        fill(url, args.conversations, args.days)
        print(f"filled {args.conversations:,} conversations ({args.conversations * 8:,} events) "
              f"in {time.perf_counter() - started:.0f} s")
        engine = sa.create_engine(url)
        t = time.perf_counter()
        ensure_review_index(engine)
        print(f"review index created in {time.perf_counter() - t:.1f} s")
        t = time.perf_counter()
        n = index.sync(engine)
        print(f"conversation summary built for {n:,} conversations in {time.perf_counter() - t:.1f} s (once; then incremental)")
        today = datetime.now(BEIJING).date()
        first, last = today - timedelta(days=args.days), today
        total, _ = page_conversations(engine, first, last)
        rows = [
            ("summary: list, page 1", lambda: index.page(engine, first, last)),
            ("summary: list, page 100", lambda: index.page(engine, first, last, offset=99 * 50)),
            ("summary: WeChat only, page 1", lambda: index.page(engine, first, last, channel="wechat")),
            ("summary: outcome 未答上, page 1", lambda: index.page(engine, first, last, outcome="failed")),
            ("summary: one entry, page 1", lambda: index.page(engine, first, last, entry="tariff.e7")),
            ("summary: sync, nothing new", lambda: index.sync(engine)),
            ("events: list, page 1 (50 conversations)", lambda: page_conversations(engine, first, last)),
            ("events: WeChat only, page 1", lambda: page_conversations(engine, first, last, sender_prefix="wx:")),
            ("one conversation", lambda: read_events(url, "wx:bench-0000003", engine=engine)),
            ("one day's turns (report input)", lambda: read_turns(url, today, today, engine=engine)),
        ]
        print(f"\n{'what':40} {'median ms':>10} {'max ms':>8}   ({total:,} conversations in range; "
              f"{'SQLite' if args.sqlite else 'PostgreSQL'})")
        for what, fn in rows:
            med, worst = timed(fn, 3 if "day" in what else 5)
            print(f"{what:40} {med:10.1f} {worst:8.1f}")
        if args.report:
            from bot.kb.engine import Engine
            from bot.kb.loader import load_knowledge
            from bot.review import report
            from bot.review.misses import group_misses, misses_from_turns

            kb_engine = Engine(load_knowledge())
            t = time.perf_counter()
            turns = read_turns(url, first, last, engine=engine)
            t_read = time.perf_counter() - t
            misses = misses_from_turns(turns)
            groups = group_misses(kb_engine, misses)
            t_group = time.perf_counter() - t - t_read
            built = report.build(turns, [], first, last, groups)
            report.write(built, Path(tmp.name) / "report")
            print(f"\n分类统计 on {len({x.sender_id for x in turns}):,} conversations ({len(turns):,} turns): "
                  f"{time.perf_counter() - t:.1f} s in all — reading {t_read:.1f} s, grouping {len(misses):,} "
                  f"misses into {len(groups)} groups {t_group:.1f} s")
        engine.dispose()
    finally:
        if drop:
            with admin.connect() as c:
                c.execute(sa.text(f"DROP DATABASE IF EXISTS {drop} WITH (FORCE)"))
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
