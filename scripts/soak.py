#!/usr/bin/env python3
"""Soak, fuzz and flood the real servers: `make soak` (full) or `--quick` (a small run).

- Soak, on PostgreSQL and on SQLite (``--db``): C concurrent REST conversations (你好 → a question
  → 转人工 → a phone) against the real Rasa + action server while the action server is SIGKILLed
  at random moments and restarted, and the orders database fails on a schedule:
    PostgreSQL  a scratch database behind a fault proxy (tests/fault_proxy.py): stopped (refused),
                restarted, blackholed (connections hang);
    SQLite      a file database (tests/fault_sqlite.py): its directory gone (open fails at once),
                back, its write lock held by another process for longer than busy_timeout.
  Afterwards every acknowledged 转人工 must be stored exactly once, every customer line of its
  conversation must be in its transcript, and the spool must be drained.
- Fuzz: random messages (emoji, control characters, NUL, mixed scripts, HTML) through REST with
  no server error; messages of 1 k to 1 M characters cut or refused with 413; bodies of 64 KB to
  100 MB refused with 413; the server still answering.
- Flood (scripts/soak_flood.py): a server set with the product's default limits; 2,000 new
  senders typing 转人工 over REST and 2,000 over web chat, each from one address; orders created
  must stay within the limits, no server error, and a customer from another address answered.

Prints: requests, errors, orders expected / stored / duplicated / missing, transcript lines
missing, worst turn latency while the database was down, fuzz and flood figures.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import requests  # noqa: E402

from fault_proxy import FaultProxy  # noqa: E402
from fault_sqlite import SqliteFaults  # noqa: E402
from servers import Servers, full_id, start_servers, wait_http  # noqa: E402
from soak_flood import flood  # noqa: E402

QUESTIONS = ["阶梯电价怎么算", "电费怎么交", "峰谷电价是什么", "家里停电了怎么办", "怎么办理新装"]
# (fault, seconds), repeated for the whole soak. SQLite's lock is held past busy_timeout (15 s),
# so writers both wait and, on a second wait, give up to the spool.
SCHEDULES = {
    "postgresql": [("up", 6), ("down", 6), ("up", 6), ("blackhole", 8), ("up", 6)],
    "sqlite": [("up", 6), ("gone", 6), ("up", 6), ("locked", 20), ("up", 6)],
}


# --- fuzz ------------------------------------------------------------------------------------
def random_message(rng: random.Random) -> str:
    pools = [
        "电费停电报修阶梯峰谷户号缴费发票",
        "😀⚡️🔌💡🏠👍🙏",
        "".join(chr(c) for c in range(0, 32)) + "\x7f\u200b\u202e\ufeff",
        "ABCxyz123 !?.,;:'\"",
        "<script>alert(1)</script><b>&amp;</b>",
        "停電費用怎麼計算ελληνικάрусскийالعربية",
        "\x00",
    ]
    n = rng.randint(0, 80)
    return "".join(rng.choice(rng.choice(pools)) for _ in range(n))


def fuzz(servers: Servers, count: int, seed: int = 7) -> Dict[str, Any]:
    rng = random.Random(seed)
    url = f"{servers.url}/webhooks/rest/webhook"
    messages = [random_message(rng) for _ in range(count)]
    statuses: Dict[int, int] = {}

    def one(i: int) -> int:
        try:
            r = requests.post(url, json={"sender": f"fuzz-{i % 200}", "message": messages[i]}, timeout=120)
            return r.status_code
        except requests.RequestException:
            return 0

    with ThreadPoolExecutor(4) as pool:
        for code in pool.map(one, range(count)):
            statuses[code] = statuses.get(code, 0) + 1
    sizes = {}
    for chars in (1_000, 10_000, 100_000):
        try:
            r = requests.post(url, json={"sender": "fuzz-long", "message": "停" * chars}, timeout=120)
            sizes[f"{chars} chars"] = r.status_code
        except requests.RequestException:
            sizes[f"{chars} chars"] = 0
    # 1 M characters are 6 MB of JSON: the server must refuse it from its Content-Length alone.
    sizes["1000000 chars"] = announced_body_status(servers.rasa_port, len(json.dumps({"message": "停" * 1_000_000})))
    for size in (64 * 1024, 1024 * 1024, 10 * 1024 * 1024, 100 * 1024 * 1024):
        sizes[f"{size // 1024} KB body"] = announced_body_status(servers.rasa_port, size)
    alive = requests.post(url, json={"sender": "fuzz-after", "message": "你好"}, timeout=60).status_code
    return {"messages": count, "statuses": statuses,
            "server_errors": sum(n for code, n in statuses.items() if code >= 500 or code == 0),
            "sizes": sizes, "still_answering": alive == 200}


def announced_body_status(port: int, size: int) -> int:
    """Announce a body of ``size`` bytes and read the status: a server that knows its limit answers
    413 from the headers alone; otherwise up to 1 MB of the body is sent and the answer read."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        head = (f"POST /webhooks/rest/webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Content-Length: {size}\r\n\r\n").encode()
        s.sendall(head)
        s.settimeout(5)
        try:
            data = s.recv(200)
        except socket.timeout:
            data = b""
        if not data:
            s.settimeout(60)
            try:
                s.sendall(b"{" * min(size, 1024 * 1024))
                data = s.recv(200)
            except OSError:
                return 0
        try:
            return int(data.decode("latin-1").split()[1])
        except (IndexError, ValueError):
            return 0


# --- soak ------------------------------------------------------------------------------------
class ActionServer:
    """The action server of a Servers pair, which the soak kills and restarts."""

    def __init__(self, servers: Servers) -> None:
        self.servers = servers
        self.lock = threading.Lock()
        self.kills = 0
        self.changes = 0  # odd while killed and not yet answering again

    def kill_and_restart(self) -> None:
        with self.lock:
            self.changes += 1
            proc = self.servers.procs[0]
            try:
                proc.send_signal(signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
            self.kills += 1
            log = (self.servers.workdir / "actions.log").open("a")
            new = subprocess.Popen([sys.executable, "-m", "bot.action_server", "--port",
                                    str(self.servers.action_port)], cwd=ROOT, env=self.servers.env,
                                   stdout=log, stderr=subprocess.STDOUT)
            self.servers.procs[0] = new
            wait_http(f"http://127.0.0.1:{self.servers.action_port}/health", new,
                      self.servers.workdir / "actions.log", 120)
            self.changes += 1


def soak(servers: Servers, proxy: Any, conversations: int, duration: float, kills: int,
         orders_url: str, schedule: List[Tuple[str, float]]) -> Dict[str, Any]:
    """``proxy``: a FaultProxy or SqliteFaults, switched through ``schedule``'s phases by name."""
    stop = threading.Event()
    # Every phase in order: a turn "saw" each phase between its start and its end, so a turn that
    # began before a fault and hung through it counts as a turn while the database was down.
    phases: List[str] = ["up"]
    lock = threading.Lock()
    results: List[Dict[str, Any]] = []
    acknowledged: Dict[str, str] = {}  # sender → status of the 转人工 reply
    url = f"{servers.url}/webhooks/rest/webhook"

    def faults() -> None:
        i = 0
        while not stop.is_set():
            name, secs = schedule[i % len(schedule)]
            getattr(proxy, name)()
            phases.append(name)
            stop.wait(secs)
            i += 1
        proxy.up()
        phases.append("up")

    action = ActionServer(servers)

    def killer() -> None:
        # Every kill waits for the restart (a few seconds), so 50 kills outlast a 2-minute load:
        # the load goes on until the last one (a kill of a server still starting is no kill).
        if kills <= 0:
            return
        gap = duration / kills
        rng = random.Random(11)
        for _ in range(kills):
            time.sleep(rng.uniform(0.3, 1.7) * gap)
            action.kill_and_restart()

    def worker(w: int) -> None:
        n = 0
        rng = random.Random(w)
        while not stop.is_set():
            sender = f"soak-{w}-{n}-{uuid.uuid4().hex[:6]}"
            n += 1
            for text in ("你好", rng.choice(QUESTIONS), "转人工", f"我的电话是1380013{rng.randint(1000, 9999)}"):
                started, first, kill_mark = time.monotonic(), len(phases) - 1, action.changes
                try:
                    r = requests.post(url, json={"sender": sender, "message": text}, timeout=120)
                    code, body = r.status_code, (r.json() if r.status_code == 200 else [])
                except (requests.RequestException, ValueError):
                    code, body = 0, []
                latency = time.monotonic() - started
                with lock:
                    results.append({"code": code, "latency": latency,
                                    "faults": sorted(set(phases[first:]) - {"up"}),
                                    "killed": kill_mark % 2 == 1 or action.changes != kill_mark})
                    if text == "转人工":
                        ticket = next((m["custom"] for m in body if (m.get("custom") or {}).get("type")
                                       == "work_order"), None)
                        if ticket:
                            acknowledged[sender] = ticket["status"]

    killing = threading.Thread(target=killer, daemon=True)
    threads = [threading.Thread(target=faults, daemon=True), killing]
    threads += [threading.Thread(target=worker, args=(w,), daemon=True) for w in range(conversations)]
    load_started = time.monotonic()
    for t in threads:
        t.start()
    time.sleep(duration)
    killing.join(max(600.0, duration * 5))
    stop.set()
    load_seconds = time.monotonic() - load_started
    for t in threads:
        t.join(300)
    proxy.up()

    # Everything spooled reaches the database (the background flusher), then count.
    spool = servers.workdir / "spool"
    deadline = time.monotonic() + 180
    while list(spool.glob("*.json")) and time.monotonic() < deadline:
        time.sleep(1)
    time.sleep(3)  # the last transcript copies
    from bot.orders import OrderService

    svc = OrderService.from_url(orders_url, spool_dir=servers.workdir / "reader-spool")
    senders = sorted({s for s in acknowledged})
    stored = duplicated = missing = 0
    missing_lines = 0
    for sender in senders:
        orders = svc.orders_for(channel="rest", sender_id=full_id(sender))
        if not orders:
            missing += 1
            continue
        stored += 1
        duplicated += len(orders) > 1
        tracker = servers.tracker(sender)
        said = [e.get("text") for e in tracker.get("events", []) if e.get("event") == "user"]
        kept = {m.text for o in orders for m in o.transcript if m.role == "user"}
        missing_lines += sum(1 for t in said if t and t not in kept)
    svc.store.dispose()
    down_latencies = [r["latency"] for r in results if r["faults"]]
    fault_names = sorted({name for r in results for name in r["faults"]})
    return {
        "load_seconds": round(load_seconds),
        "requests": len(results),
        "errors": sum(1 for r in results if r["code"] != 200),
        "orders_expected": len(senders),
        "orders_stored": stored,
        "orders_duplicated": duplicated,
        "orders_missing": missing,
        "spooled_acknowledgements": sum(1 for s in acknowledged.values() if s == "spooled"),
        "transcript_lines_missing": missing_lines,
        "worst_latency_db_down_s": round(max(down_latencies), 2) if down_latencies else None,
        # by the fault a turn lived through (a turn may count under two); "none": no fault at all
        "worst_latency_by_fault_s": {
            **{name: round(max(r["latency"] for r in results if name in r["faults"]), 2) for name in fault_names},
            "none": round(max((r["latency"] for r in results if not r["faults"]), default=0), 2),
            "none_and_no_kill": round(max((r["latency"] for r in results
                                           if not r["faults"] and not r["killed"]), default=0), 2)},
        "worst_latency_s": round(max((r["latency"] for r in results), default=0), 2),
        "action_server_kills": action.kills,
        "spool_left": len(list(spool.glob("*.json"))),
    }


def pg_scratch(name: str) -> str:
    import psycopg2

    conn = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres", connect_timeout=5)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()
    return name


def pg_drop(name: str) -> None:
    import psycopg2

    conn = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres", connect_timeout=5)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()


def run_soak(backend: str, model: Path, args: argparse.Namespace, fuzz_count: int) -> Dict[str, Any]:
    """Start a server set on a scratch orders database of ``backend``, soak it (and fuzz it)."""
    workdir = args.workdir / f"{time.strftime('%Y%m%dT%H%M%S')}-{backend}"
    env = {"ORDERS_BREAKER_SECONDS": "2",
           "RATE_LIMIT_IP_PER_MINUTE": "1000000", "RATE_LIMIT_SENDER_PER_MINUTE": "1000"}
    db = None
    if backend == "postgresql":
        db = pg_scratch(f"soak_{uuid.uuid4().hex[:8]}")
        faults: Any = FaultProxy(("127.0.0.1", 5432))
        env["ORDERS_DB_URL"] = f"postgresql://postgres@{faults.url_host}/{db}"
        reader_url = f"postgresql://postgres@127.0.0.1:5432/{db}"
    else:
        faults = SqliteFaults(workdir / "ordersdb" / "orders.db")
        faults.directory.mkdir(parents=True, exist_ok=True)
        env["ORDERS_DB_URL"] = reader_url = faults.url
    servers = None
    try:
        servers = start_servers(workdir, model, extra_env=env)
        figures = {"soak": soak(servers, faults, args.conversations, args.duration, args.kills,
                                reader_url, SCHEDULES[backend])}
        if fuzz_count:
            figures["fuzz"] = fuzz(servers, fuzz_count)
        return figures
    finally:
        if servers is not None:
            servers.stop()
        faults.close()
        if db is not None:
            pg_drop(db)


def run_flood(model: Path, args: argparse.Namespace) -> Dict[str, Any]:
    """A second server set with the product's default limits, for the flood."""
    workdir = args.workdir / f"{time.strftime('%Y%m%dT%H%M%S')}-flood"
    servers = start_servers(workdir, model, product_limits=True)
    try:
        return flood(servers, args.flood, servers_orders_url(servers), repeat=args.repeat)
    finally:
        servers.stop()


def servers_orders_url(servers: Servers) -> str:
    from bot.settings import Settings

    return Settings(var_dir=servers.workdir, orders_db_url=servers.env.get("ORDERS_DB_URL", "")).orders_url


def soak_ok(s: Dict[str, Any]) -> bool:
    return (s["orders_missing"] == 0 and s["orders_duplicated"] == 0 and s["transcript_lines_missing"] == 0
            and s["spool_left"] == 0)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a small run of every phase")
    ap.add_argument("--db", choices=("both", "postgresql", "sqlite"), default="both",
                    help="the orders database(s) to soak with faults")
    ap.add_argument("--conversations", type=int, default=20)
    ap.add_argument("--duration", type=float, default=120.0, help="seconds of soak load per database")
    ap.add_argument("--kills", type=int, default=50, help="action-server SIGKILLs during each soak")
    ap.add_argument("--fuzz", type=int, default=10_000, help="random messages through REST")
    ap.add_argument("--flood", type=int, default=2_000, help="new senders per channel typing 转人工 (0: skip)")
    ap.add_argument("--repeat", type=int, default=30, help="times one flood sender types 转人工")
    ap.add_argument("--workdir", type=Path, default=ROOT / "var" / "soak")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args(argv)
    if args.quick:
        args.conversations, args.duration, args.kills, args.fuzz, args.flood = 4, 30.0, 3, 300, 150

    from bot.training import ensure_model

    model = ensure_model()
    backends = ["postgresql", "sqlite"] if args.db == "both" else [args.db]
    figures: Dict[str, Any] = {"soak": {}}
    for i, backend in enumerate(backends):
        # Fuzz once, on the first database (PostgreSQL by default: it is the one NUL used to break).
        got = run_soak(backend, model, args, args.fuzz if i == 0 else 0)
        figures["soak"][backend] = got["soak"]
        if "fuzz" in got:
            figures["fuzz"] = got["fuzz"]
        print(f"soak {backend}:", json.dumps(got, ensure_ascii=False), flush=True)
    if args.flood:
        figures["flood"] = run_flood(model, args)
    print(json.dumps(figures, ensure_ascii=False, indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, ensure_ascii=False, indent=1), encoding="utf-8")
    f = figures.get("fuzz", {"server_errors": 0, "still_answering": True})
    ok = (all(soak_ok(s) for s in figures["soak"].values()) and f["server_errors"] == 0 and f["still_answering"]
          and figures.get("flood", {"ok": True})["ok"])
    print("soak: OK" if ok else "soak: FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
