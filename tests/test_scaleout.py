"""Scale-out through the balancer: python -m bot.scaleout run (what `python -m bot run --rasa-procs 2
--action-procs 2` starts) on PostgreSQL and Redis, driven by concurrent REST customers.

- 20 conversations of 10 turns at once, spread over two Rasa processes: every conversation's
  events are in order in the PostgreSQL tracker store, and every work order holds the complete
  conversation;
- one Rasa process killed mid-run: the other keeps answering; no turn is lost (the issue allows
  the one in flight) and none runs twice.
"""
from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest
import requests

from bot.orders import OrderService, from_rasa_events
from bot.scaleout import backend_problems, haproxy_binary, haproxy_config
from bot.settings import Settings
from conftest import require_redis, scratch_pg_database, service_missing
from servers import free_port, rest_id

ROOT = Path(__file__).resolve().parent.parent
REDIS = "redis://127.0.0.1:6379/0"
# A greeting, knowledge questions, 转人工 (a work order: no staff on duty), then more turns that
# the order must carry, thanks and goodbye.
TURNS = ["你好", "阶梯电价怎么算", "转人工", "电费怎么交", "漏电保护器多久试一次", "新装电表要什么材料",
         "峰谷电价是什么", "停电了怎么办", "谢谢", "再见"]


def pg_url(db: str) -> str:
    return f"postgresql://postgres@127.0.0.1:5432/{db}"


class Cluster:
    def __init__(self, proc: subprocess.Popen, var: Path, env: Dict[str, str]) -> None:
        self.proc, self.var, self.env = proc, var, env
        self.status: Dict[str, Any] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.env['RASA_PORT']}"

    def say(self, sender: str, text: str) -> List[Dict[str, Any]]:
        r = requests.post(f"{self.url}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=120)
        r.raise_for_status()
        return r.json()

    def _rasa_stats(self) -> List[Dict[str, str]]:
        """haproxy's stats rows (CSV) of the Rasa backend: one per process, and the backend's total."""
        text = requests.get(self.status["stats"] + ";csv", timeout=10).text.lstrip("# ")
        return [row for row in csv.DictReader(io.StringIO(text)) if row["pxname"] == "rasa_procs"]

    def served(self) -> Dict[str, int]:
        """Requests each Rasa process has taken."""
        return {row["svname"]: int(row["stot"] or 0) for row in self._rasa_stats() if row["svname"].startswith("rasa")}

    def retries(self) -> Dict[str, int]:
        """haproxy's retries and redispatches to the Rasa processes (for failure messages)."""
        return {f"{row['svname']}:{k}": int(row[k] or 0) for row in self._rasa_stats()
                for k in ("wretr", "wredis") if row[k]}

    def logs(self) -> str:
        return "".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in sorted(self.var.glob("logs/*.log")))


@contextmanager
def start_cluster(model: Path, var: Path) -> Iterator[Cluster]:
    """The launcher on scratch PostgreSQL databases and Redis, its servers on free ports; stopped after."""
    if haproxy_binary() is None:
        service_missing("haproxy is not installed (make setup installs it)")
    require_redis(REDIS)
    with scratch_pg_database("scaleout_tracker") as tracker_db, scratch_pg_database("scaleout_orders") as orders_db:
        env = dict(os.environ, PYTHONPATH=str(ROOT), BOT_VAR_DIR=str(var),
                   TRACKER_STORE_URL=pg_url(tracker_db), ORDERS_DB_URL=pg_url(orders_db), LOCK_STORE_URL=REDIS,
                   RASA_HOST="127.0.0.1", RASA_PORT=str(free_port()), ACTION_PORT=str(free_port()),
                   RATE_LIMIT_IP_PER_MINUTE="100000",
                   # A conversation whose turn died with its process waits for the lock's expiry
                   # (Rasa: 60 s by default); shorter here to keep the test short.
                   TICKET_LOCK_LIFETIME="15", TF_CPP_MIN_LOG_LEVEL="2", RASA_TELEMETRY_ENABLED="false",
                   SQLALCHEMY_SILENCE_UBER_WARNING="1")
        proc = subprocess.Popen([sys.executable, "-m", "bot.scaleout", "run", "--rasa-procs", "2",
                                 "--action-procs", "2", "--no-console", "--logs", str(var / "logs"),
                                 "--model", str(model)],
                                cwd=ROOT, env=env, stdout=(var / "launcher.log").open("w"), stderr=subprocess.STDOUT,
                                start_new_session=True)
        c = Cluster(proc, var, env)
        try:
            deadline = time.monotonic() + 600
            while not (var / "scaleout.json").exists():
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("the scale-out launcher did not start:\n"
                                + (var / "launcher.log").read_text(errors="replace")[-3000:] + c.logs())
                time.sleep(1)
            c.status = json.loads((var / "scaleout.json").read_text())
            yield c
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)  # the launcher stops every server it started
                try:
                    proc.wait(60)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
            survivors = [p for p in c.status.get("rasa", []) + c.status.get("actions", []) + [c.status.get("haproxy")]
                         if p and _alive(p["pid"])]
            for p in survivors:
                os.kill(p["pid"], signal.SIGKILL)
            assert not survivors, f"processes outlived the launcher's SIGTERM: {survivors}"


@pytest.fixture(scope="module")
def cluster(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with start_cluster(model_path, tmp_path_factory.mktemp("scaleout")) as c:
        yield c


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def tracker_events(url: str, sender_id: str) -> List[Dict[str, Any]]:
    """A conversation's events as Rasa's SQLTrackerStore stored them, in insertion order."""
    import psycopg2

    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT data FROM events WHERE sender_id = %s ORDER BY id", (sender_id,))
        return [json.loads(row[0]) for row in cur.fetchall()]


def user_texts(events: List[Dict[str, Any]]) -> List[str]:
    return [e.get("text") for e in events if e["event"] == "user"]


def converse(cluster: Cluster, sender: str, turns: List[str]) -> List[Optional[str]]:
    """Say every turn in order; a turn whose request failed is None (and is not retried)."""
    said: List[Optional[str]] = []
    for text in turns:
        try:
            cluster.say(sender, text)
            said.append(text)
        except requests.RequestException:
            said.append(None)
    return said


def test_the_launcher_refuses_sqlite_and_an_in_memory_lock_store() -> None:
    problems = " ".join(backend_problems(Settings(tracker_store_url="", orders_db_url="sqlite:///x.db",
                                                  lock_store_url="")))
    assert "TRACKER_STORE_URL" in problems and "ORDERS_DB_URL" in problems and "LOCK_STORE_URL" in problems
    ok = Settings(tracker_store_url="postgresql://a@h/t", orders_db_url="postgresql://a@h/o",
                  lock_store_url="redis://h:6379/0", rasa_host="127.0.0.1")
    assert backend_problems(ok) == []


def test_the_generated_haproxy_config_is_valid_for_haproxy(tmp_path: Path) -> None:
    binary = haproxy_binary()
    if binary is None:
        service_missing("haproxy is not installed (make setup installs it)")
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(haproxy_config("127.0.0.1:7000", "127.0.0.1:7001", [7101, 7102], [7201, 7202], "127.0.0.1:7002"))
    check = subprocess.run([binary, "-c", "-f", str(cfg)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_twenty_concurrent_conversations_stay_ordered_and_complete(cluster: Cluster) -> None:
    run = uuid.uuid4().hex[:6]
    senders = [f"so-{run}-{i}" for i in range(20)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(lambda s: converse(cluster, s, TURNS), senders))
    failed = {s: r for s, r in zip(senders, results) if None in r}
    assert not failed, f"turns failed with every process up: {failed}\n{cluster.logs()}"

    served = cluster.served()
    assert len(served) == 2 and all(n > 0 for n in served.values()), f"not spread over both processes: {served}"

    orders = OrderService.from_url(cluster.env["ORDERS_DB_URL"], spool_dir=cluster.var / "reader-spool")
    for s in senders:
        events = tracker_events(cluster.env["TRACKER_STORE_URL"], rest_id(s))
        assert user_texts(events) == TURNS, s
        # Each turn's events: the user's message, then the bot's, before the next message.
        stamps = [e["timestamp"] for e in events]
        assert stamps == sorted(stamps), s
        (order,) = orders.orders_for(channel="rest", sender_id=rest_id(s))
        stored = [(m.role, m.text, m.buttons, m.chosen_button) for m in order.transcript]
        expected = [(m.role, m.text, m.buttons, m.chosen_button) for m in from_rasa_events(events)]
        assert stored == expected, f"{s}: the order's transcript is not the whole conversation"
        assert [m[1] for m in stored if m[0] == "user"] == TURNS


def test_killing_one_rasa_process_loses_no_turn_and_runs_none_twice(cluster: Cluster) -> None:
    run = uuid.uuid4().hex[:6]
    senders = [f"kill-{run}-{i}" for i in range(8)]
    victim = cluster.status["rasa"][0]

    def conversation(sender: str) -> List[Optional[str]]:
        first = converse(cluster, sender, TURNS[:4])
        return first + converse(cluster, sender, TURNS[4:])

    with ThreadPoolExecutor(max_workers=len(senders)) as pool:
        futures = [pool.submit(conversation, s) for s in senders]
        time.sleep(0.5)
        os.kill(victim["pid"], signal.SIGKILL)
        results = [f.result() for f in futures]

    assert not _alive(victim["pid"])
    assert cluster.say(f"after-{run}", "你好"), "the other process must keep answering"
    assert cluster.proc.poll() is None, "one Rasa process gone must not stop the launcher"
    problems = []
    for s, said in zip(senders, results):
        assert said[-1] is not None, f"{s}: the conversation never recovered: {said}"
        lost = [t for t in TURNS if t not in said]
        stored = user_texts(tracker_events(cluster.env["TRACKER_STORE_URL"], rest_id(s)))
        # The issue allows the turn in flight to be lost; none is: haproxy sends a request that the
        # dead process closed unanswered (in flight, or still in its accept queue) to the other
        # process, which answers a turn the dead one had already stored from the tracker store
        # (bot/turn_replay.py). So every turn is stored exactly once, in order.
        if lost or stored != TURNS:
            problems.append((s, said, stored))
    retried = cluster.retries()
    assert not problems, f"turns lost or run twice (haproxy retries: {retried}): {problems}\n{cluster.logs()}"
