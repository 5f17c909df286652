"""在线人工 latency and capacity (issue 15), on a real stack started here (`python -m bot run` on
spare ports, a scratch var dir): web chat customers (the page's own endpoints: webhook + long poll)
and agents (the console's own endpoints: state poll every second, as the page does).

For each number of simultaneous chats it measures, per message:
- agent → customer: the agent's POST /api/live/<id>/send until the customer's long poll returns it;
- customer → agent: the customer's POST webhook until the agent's once-a-second poll shows it
  (so it includes up to one second of the page's polling interval).

"Chats one console handles" is the largest level whose p95 of both stays within --target seconds
with no errors. Prints a table; --json writes the figures.

    .venv/bin/python scripts/bench_livechat.py --levels 5,10,20,40 --rounds 5
"""
from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import requests

ROOT = Path(__file__).resolve().parent.parent
CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')
PASSWORD = "bench-pass-2026"


def p(values: List[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


class Stack:
    def __init__(self, var: Path, rasa_port: int, console_port: int, action_port: int) -> None:
        self.var = var
        self.rasa = f"http://127.0.0.1:{rasa_port}"
        self.console = f"http://127.0.0.1:{console_port}"
        self.env = dict(os.environ, PYTHONPATH=str(ROOT), BOT_VAR_DIR=str(var), RASA_PORT=str(rasa_port),
                        CONSOLE_PORT=str(console_port), ACTION_PORT=str(action_port), LIVECHAT_HOURS="00:00-24:00",
                        LIVECHAT_MAX_WAIT_SECONDS="3600", LIVECHAT_AGENT_GONE_SECONDS="120",
                        RATE_LIMIT_IP_PER_MINUTE="1000000", RATE_LIMIT_SENDER_PER_MINUTE="100000",
                        WEBCHAT_NEW_IDS_PER_IP_PER_HOUR="1000000", LOG_LEVEL="WARNING",
                        SQLALCHEMY_SILENCE_UBER_WARNING="1", TF_CPP_MIN_LOG_LEVEL="2")
        self.proc: Optional[subprocess.Popen] = None

    def start(self) -> None:
        log = (self.var / "bot-run.log").open("w")
        self.proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=ROOT, env=self.env,
                                     stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"bot run exited; see {self.var / 'bot-run.log'}")
            try:  # bot run starts the three servers at once: wait for Rasa and the console
                if requests.get(self.rasa + "/", timeout=1).ok and requests.get(self.console + "/health", timeout=1).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(1)
        raise SystemExit("the stack did not come up in 10 minutes")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(60)

    def add_agent(self, name: str) -> requests.Session:
        subprocess.run([sys.executable, "-m", "bot", "users", "add", name, "--role", "staff", "--password-stdin"],
                       cwd=ROOT, env=self.env, input=PASSWORD + "\n", text=True, capture_output=True, check=False)
        s = requests.Session()
        token = CSRF_RE.search(s.get(self.console + "/login", timeout=30).text).group(1)
        r = s.post(self.console + "/login", data={"csrf": token, "username": name, "password": PASSWORD},
                   allow_redirects=False, timeout=30)
        if r.status_code != 303:
            raise SystemExit(f"login failed for {name}: {r.status_code}")
        s.headers["X-CSRF-Token"] = CSRF_RE.search(s.get(self.console + "/live", timeout=30).text).group(1)
        s.post(self.console + "/api/live/status", json={"status": "online"}, timeout=30).raise_for_status()
        return s


class Chat:
    """One customer (a web chat session) and the agent session that holds their chat."""

    def __init__(self, stack: Stack, agent: requests.Session, tag: str) -> None:
        self.stack, self.agent, self.tag = stack, agent, tag
        self.customer = requests.Session()
        self.chat_id = 0
        self.cursor = -1
        self.after = 0
        self.to_customer: List[float] = []
        self.to_agent: List[float] = []
        self.errors = 0
        self.stop = threading.Event()
        self.pending_out: Dict[str, float] = {}
        self.pending_in: Dict[str, float] = {}
        self.lock = threading.Lock()

    def open(self) -> None:
        r = self.customer.post(self.stack.rasa + "/webhooks/webchat/webhook", json={"message": "/request_human"},
                               timeout=120)
        r.raise_for_status()
        chat = next(m["custom"]["chat"] for m in r.json() if (m.get("custom") or {}).get("type") == "live_chat")
        self.chat_id = int(chat)
        a = self.agent.post(f"{self.stack.console}/api/live/{self.chat_id}/accept", json={}, timeout=60)
        a.raise_for_status()
        body = self.customer.get(self.stack.rasa + "/webhooks/webchat/live", params={"after": -1, "wait": 0},
                                 timeout=30).json()
        self.cursor = body["cursor"]
        state = self.agent.get(f"{self.stack.console}/api/live/state", params={"chat": self.chat_id}, timeout=30).json()
        self.after = max([m["id"] for m in state["chat"]["messages"]] + [0])

    def customer_poll(self) -> None:
        while not self.stop.is_set():
            try:
                body = self.customer.get(self.stack.rasa + "/webhooks/webchat/live",
                                         params={"after": self.cursor, "wait": 20}, timeout=40).json()
            except (requests.RequestException, ValueError):
                self.errors += 1
                time.sleep(0.5)
                continue
            now = time.monotonic()
            self.cursor = body.get("cursor", self.cursor)
            for m in body.get("messages") or []:
                with self.lock:
                    t0 = self.pending_out.pop(m.get("text", ""), None)
                if t0 is not None:
                    self.to_customer.append(now - t0)

    def agent_poll(self) -> None:
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                state = self.agent.get(f"{self.stack.console}/api/live/state",
                                       params={"chat": self.chat_id, "after": self.after}, timeout=30).json()
            except (requests.RequestException, ValueError):
                self.errors += 1
                state = {}
            now = time.monotonic()
            for m in (state.get("chat") or {}).get("messages") or []:
                self.after = max(self.after, m["id"])
                with self.lock:
                    t0 = self.pending_in.pop(m.get("text", ""), None)
                if t0 is not None:
                    self.to_agent.append(now - t0)
            self.stop.wait(max(0.0, 1.0 - (time.monotonic() - started)))  # the page polls once a second

    def exchange(self, i: int) -> None:
        out = f"客服回复 {self.tag}-{i}"
        with self.lock:
            self.pending_out[out] = time.monotonic()
        try:
            self.agent.post(f"{self.stack.console}/api/live/{self.chat_id}/send", json={"text": out},
                            timeout=60).raise_for_status()
        except requests.RequestException:
            self.errors += 1
        text = f"客户消息 {self.tag}-{i}"
        with self.lock:
            self.pending_in[text] = time.monotonic()
        try:
            self.customer.post(self.stack.rasa + "/webhooks/webchat/webhook", json={"message": text},
                               timeout=60).raise_for_status()
        except requests.RequestException:
            self.errors += 1

    def end(self) -> None:
        self.stop.set()
        try:
            self.agent.post(f"{self.stack.console}/api/live/{self.chat_id}/end", json={}, timeout=60)
        except requests.RequestException:
            pass


def run_level(stack: Stack, agents: List[requests.Session], n: int, rounds: int, gap: float) -> Dict[str, Any]:
    chats = [Chat(stack, agents[i % len(agents)], f"{n}-{i}") for i in range(n)]
    for c in chats:
        c.open()
    threads = [threading.Thread(target=f, daemon=True) for c in chats for f in (c.customer_poll, c.agent_poll)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    for i in range(rounds):
        senders = [threading.Thread(target=c.exchange, args=(i,)) for c in chats]
        for t in senders:
            t.start()
        for t in senders:
            t.join()
        time.sleep(gap)
    time.sleep(3)  # the last messages arrive
    lost_out = sum(len(c.pending_out) for c in chats)
    lost_in = sum(len(c.pending_in) for c in chats)
    for c in chats:
        c.end()
    to_c = [x for c in chats for x in c.to_customer]
    to_a = [x for c in chats for x in c.to_agent]
    return {"chats": n, "messages_each_way": n * rounds,
            "agent_to_customer_p50": p(to_c, 0.5), "agent_to_customer_p95": p(to_c, 0.95),
            "customer_to_agent_p50": p(to_a, 0.5), "customer_to_agent_p95": p(to_a, 0.95),
            "undelivered": lost_out + lost_in, "errors": sum(c.errors for c in chats)}


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--levels", default="5,10,20,40", help="simultaneous chats, comma-separated")
    ap.add_argument("--rounds", type=int, default=5, help="messages each way per chat and level")
    ap.add_argument("--gap", type=float, default=2.0, help="seconds between rounds")
    ap.add_argument("--per-agent", type=int, default=5, help="chats one agent holds")
    ap.add_argument("--target", type=float, default=2.0, help="p95 seconds a level must stay within")
    ap.add_argument("--ports", default="5205,5210,5255", help="rasa,console,action ports of the stack")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    levels = [int(x) for x in args.levels.split(",") if x.strip()]
    rasa_port, console_port, action_port = (int(x) for x in args.ports.split(","))
    with tempfile.TemporaryDirectory(prefix="bench-live-") as tmp:
        stack = Stack(Path(tmp), rasa_port, console_port, action_port)
        print(f"starting the assistant (bot run) on ports {args.ports} …", flush=True)
        stack.start()
        try:
            agents = [stack.add_agent(f"bench{i}") for i in range(max(1, -(-max(levels) // args.per_agent)))]
            load = os.getloadavg()[0]
            print(f"{len(agents)} agents on duty; load average {load:.1f} on {os.cpu_count()} cores\n")
            print(f"{'chats':>6} {'msgs':>6} {'agent→cust p50':>15} {'p95':>7} {'cust→agent p50':>15} {'p95':>7}"
                  f" {'lost':>5} {'errors':>6}")
            results = []
            for n in levels:
                r = run_level(stack, agents[: max(1, -(-n // args.per_agent))], n, args.rounds, args.gap)
                results.append(r)
                print(f"{r['chats']:>6} {r['messages_each_way']:>6} {r['agent_to_customer_p50']:>14.3f}s"
                      f" {r['agent_to_customer_p95']:>6.3f}s {r['customer_to_agent_p50']:>14.3f}s"
                      f" {r['customer_to_agent_p95']:>6.3f}s {r['undelivered']:>5} {r['errors']:>6}", flush=True)
            ok = [r["chats"] for r in results if r["errors"] == 0 and r["undelivered"] == 0
                  and r["agent_to_customer_p95"] <= args.target and r["customer_to_agent_p95"] <= args.target]
            print(f"\nchats one console handles at once within p95 {args.target:.1f} s: "
                  f"{max(ok) if ok else 'none of the levels'} (levels tried: {levels})")
            if args.json:
                args.json.write_text(json.dumps({"levels": results, "max_chats": max(ok) if ok else 0,
                                                 "load": load}, ensure_ascii=False, indent=2))
        finally:
            stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
