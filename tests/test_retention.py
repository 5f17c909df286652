"""python -m bot retention: old conversations deleted, old closed orders anonymised, nothing else."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import create_engine, insert, select, update
from sqlalchemy.orm import Session

from bot.clock import utcnow
from bot.orders import OrderService
from bot.orders.models import STATUS_CLOSED, TranscriptMessage, WorkOrder
from bot.orders.transcript import Msg

ROOT = Path(__file__).resolve().parent.parent


def _tracker_db(path: Path, conversations: dict) -> str:
    from rasa.core.tracker_store import SQLTrackerStore

    url = f"sqlite:///{path}"
    SQLTrackerStore(dialect="sqlite", db=str(path))  # creates the table as Rasa does
    table = SQLTrackerStore.SQLEvent.__table__
    engine = create_engine(url, future=True)
    with engine.begin() as conn:
        for sender, age_days in conversations.items():
            at = time.time() - age_days * 86400
            for i in range(3):
                conn.execute(insert(table).values(sender_id=sender, type_name="user", timestamp=at + i,
                                                  data=json.dumps({"event": "user", "text": "我的电话13812345678"})))
    engine.dispose()
    return url


def test_retention_deletes_old_conversations_and_anonymises_old_closed_orders(tmp_path: Path) -> None:
    tracker_url = _tracker_db(tmp_path / "tracker.db", {"web:old": 200, "web:recent": 10})
    svc = OrderService.from_url(f"sqlite:///{tmp_path / 'orders.db'}", spool_dir=tmp_path / "spool")
    now = utcnow()
    numbers = {}
    for who in ("web:closed-old", "web:closed-recent", "web:open-old"):
        numbers[who] = svc.open_or_append(
            channel="webchat", sender_id=who, reason="request_human", topic=None, candidates=[],
            transcript=[Msg("user", "转人工，我的电话13812345678", now)], idempotency_key=f"k-{who}").order_no
        svc.set_phone(channel="webchat", sender_id=who, phone_text="13812345678")
    with Session(svc.store.engine) as s, s.begin():
        for who, closed_days in (("web:closed-old", 400), ("web:closed-recent", 30)):
            s.execute(update(WorkOrder).where(WorkOrder.order_no == numbers[who]).values(
                status=STATUS_CLOSED, closed_at=now - timedelta(days=closed_days)))
    env = dict(os.environ, PYTHONPATH=str(ROOT), BOT_VAR_DIR=str(tmp_path), TRACKER_STORE_URL=tracker_url,
               ORDERS_DB_URL=f"sqlite:///{tmp_path / 'orders.db'}", SQLALCHEMY_SILENCE_UBER_WARNING="1")

    def retention(*args: str) -> str:
        out = subprocess.run([sys.executable, "-m", "bot", "retention", *args], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        return out.stdout

    assert "1 个对话" in retention("--dry-run") and _senders(tracker_url) == {"web:old", "web:recent"}
    report = retention()
    assert "1 个对话" in report and "1 张" in report
    assert _senders(tracker_url) == {"web:recent"}
    old = svc.get(numbers["web:closed-old"])
    assert old.sender_id.startswith("anon:web:") and old.phone is None and not old.transcript
    assert old.status == STATUS_CLOSED and old.events  # kept for the statistics
    assert not any("13812345678" in (e.note or "") for e in old.events)
    for who in ("web:closed-recent", "web:open-old"):
        kept = svc.get(numbers[who])
        assert kept.sender_id == who and kept.phone == "13812345678" and kept.transcript
    assert "0 个对话" in retention() and "0 张" in retention()  # idempotent
    with Session(svc.store.engine) as s:
        assert s.execute(select(TranscriptMessage.text)).scalars().all()  # the others' transcripts stay
    svc.store.dispose()


def _senders(url: str) -> set:
    from rasa.core.tracker_store import SQLTrackerStore

    engine = create_engine(url, future=True)
    table = SQLTrackerStore.SQLEvent.__table__
    with engine.connect() as conn:
        found = {r[0] for r in conn.execute(select(table.c.sender_id).distinct())}
    engine.dispose()
    return found
