"""Speed beside a bare Rasa bot (make bench): ours and a bare `rasa init` bot, side by side.

    .venv/bin/python scripts/bench.py [--n1 300] [--n16 300] [--rounds 2] [--scaleout 2] [--json out.json]
                                      [--before DIR]

Both servers are started here, from this project's virtual environment:
- ours: `python -m bot run` (what `make run` starts: action server, Rasa on SQLite, console) in a
  fresh BOT_VAR_DIR, the knowledge-base cache warm (var/bench/kb-cache), the model already trained;
- bare: `rasa init --no-prompt` (made once under var/bench/bare-rasa, never committed), one Sanic
  worker, its in-memory tracker store, no action server;
- with --scaleout N: `python -m bot.scaleout run --rasa-procs N --action-procs N` on scratch
  PostgreSQL databases and Redis (its throughput at concurrency 16 only).

Each target gets, over REST, n1 messages at concurrency 1 and n16 at concurrency 16, the targets
alternating round by round (ours, bare; then bare, ours) so that machine drift cancels. The
messages are a fixed mix per conversation: a greeting, knowledge questions, a clarify, a
feedback click, 转人工 (a work order), thanks and goodbye. Also printed: the answer engine alone
(p50/p95 over tests/data/kb_eval.tsv), every process's RSS, start-up time from the command to
the first answer, and the CPU time one message costs at concurrency 16 (its own processes; the whole
machine less this load generator, databases included) with the throughput that allows at best on
this machine's cores: why a target cannot be met shows there. A benchmark, not a test: it prints figures and asserts nothing. Figures depend on
the machine's load: the load average is printed with them.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

BENCH_DIR = ROOT / "var" / "bench"
# One conversation; every simulated customer repeats it with a new sender id.
MIX = ["你好", "阶梯电价怎么算", "/feedback_positive", "电费", "漏电保护器多久试一次", "新装电表要什么材料",
       "转人工", "停电了怎么办", "谢谢", "再见"]
KNOWLEDGE = {"阶梯电价怎么算", "漏电保护器多久试一次", "新装电表要什么材料", "停电了怎么办"}
CLARIFY = "电费"  # a vague question: 您是想问 with candidate buttons


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: List[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


# --- processes: tree and RSS from /proc -----------------------------------------------------------
def _children(pid: int) -> List[int]:
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.append(int(stat.parent.name))
    return kids


def process_tree(pid: int) -> List[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(_children(p))
    return out


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def machine_busy_seconds() -> float:
    """CPU seconds all cores have spent busy since boot (/proc/stat: everything but idle and iowait)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


def client_seconds() -> float:
    """CPU time of this benchmark process (the load generator), to take out of the machine's."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


def label(cmd: str) -> str:
    for key, name in (("haproxy", "haproxy"), ("bot.action_server", "action server"), ("rasa run", "rasa"),
                      ("bot console", "console"), ("bot.scaleout", "launcher"), ("bot run", "launcher")):
        if key in cmd:
            return name
    return cmd[:40]


# --- targets ---------------------------------------------------------------------------------------
@dataclass
class Target:
    name: str
    url: str
    proc: subprocess.Popen
    started_s: float = 0.0
    cleanup: List = field(default_factory=list)
    c1: List[List[float]] = field(default_factory=list)      # latencies (s) per round
    c16: List[List[float]] = field(default_factory=list)
    c16_rate: List[float] = field(default_factory=list)      # msg/s per round
    cpu_tree: List[float] = field(default_factory=list)      # CPU s per message of its own processes, per c16 round
    cpu_server: List[float] = field(default_factory=list)    # … of the whole machine less the load generator
    errors: int = 0

    cpu_parts: Dict[str, List[float]] = field(default_factory=dict)  # process label → CPU s per message, per round

    def cpu_by_process(self) -> Dict[str, float]:
        parts: Dict[str, float] = {}
        for p in process_tree(self.proc.pid):
            name = label(cmdline(p))
            parts[name] = parts.get(name, 0.0) + cpu_seconds(p)
        return parts

    def cpu(self) -> float:
        return sum(self.cpu_by_process().values())

    def rss(self) -> List[tuple]:
        pids = process_tree(self.proc.pid)
        return [(label(cmdline(p)), rss_mb(p)) for p in pids if rss_mb(p) > 0]

    def stop(self) -> None:
        import signal

        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        for fn in self.cleanup:
            fn()


def base_env() -> Dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(ROOT), SQLALCHEMY_SILENCE_UBER_WARNING="1", TF_CPP_MIN_LOG_LEVEL="2",
                RASA_TELEMETRY_ENABLED="false", LOG_LEVEL="WARNING",
                # one client address sends everything: the per-address and per-customer limits off
                RATE_LIMIT_IP_PER_MINUTE="10000000", RATE_LIMIT_SENDER_PER_MINUTE="100000",
                ORDERS_PER_SENDER_PER_DAY="1000")


def wait_first_answer(url: str, proc: subprocess.Popen, log: Path, timeout: float = 900) -> float:
    """Seconds from now until a REST message gets an answer (the server is then really up)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: server exited; log {log}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            r = requests.post(f"{url}/webhooks/rest/webhook", json={"sender": f"up-{uuid.uuid4().hex[:6]}",
                                                                   "message": "你好"}, timeout=30)
            # A list, even empty: the bare bot often has nothing to say to Chinese, but it ran the turn.
            if r.status_code == 200 and isinstance(r.json(), list):
                return time.monotonic() - started
        except (requests.RequestException, ValueError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} gave no answer within {timeout:.0f} s (log {log})")


def start_ours(workdir: Path, root: Path = ROOT, name: str = "ours") -> Target:
    """`python -m bot run` from ``root`` (this checkout, or --before's) in a fresh BOT_VAR_DIR."""
    env = base_env()
    env["PYTHONPATH"] = str(root)
    port = free_port()
    env.update(BOT_VAR_DIR=str(workdir / name), RASA_PORT=str(port), ACTION_PORT=str(free_port()),
               CONSOLE_PORT=str(free_port()), RASA_HOST="127.0.0.1", KB_CACHE_DIR=str(BENCH_DIR / "kb-cache"),
               TRACKER_STORE_URL="", ORDERS_DB_URL="", LOCK_STORE_URL="", REDIS_URL="")
    log = workdir / f"{name}.log"
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=root, env=env, start_new_session=True,
                            stdout=log.open("w"), stderr=subprocess.STDOUT)
    target = Target(name, f"http://127.0.0.1:{port}", proc)
    wait_first_answer(target.url, proc, log)
    target.started_s = time.monotonic() - t0
    return target


def prepare_before(root: Path) -> None:
    """Give another checkout this one's trained model, stamped as current for its own training
    inputs: its `bot run` would otherwise train (minutes, and into this checkout's models/ if that
    folder is a link to it). Both then run the same model; the code around it is what differs."""
    import shutil

    models = root / "models"
    if models.is_symlink():
        models.unlink()
    models.mkdir(exist_ok=True)
    shutil.copy2(ROOT / "models" / "assistant.tar.gz", models / "assistant.tar.gz")
    stamp = subprocess.run([sys.executable, "-c", "from bot.training import inputs_hash, training_inputs; "
                            "print(inputs_hash(training_inputs()))"], cwd=root, env=dict(base_env(), PYTHONPATH=str(root)),
                           capture_output=True, text=True, check=True).stdout.strip()
    (models / "assistant.inputs.sha256").write_text(stamp)


def bare_bot_dir() -> Path:
    """A `rasa init --no-prompt` bot, trained once with this venv's Rasa (var/bench/bare-rasa)."""
    bare = BENCH_DIR / "bare-rasa"
    if not list((bare / "models").glob("*.tar.gz")):
        bare.mkdir(parents=True, exist_ok=True)
        print("bench: making the bare bot (rasa init --no-prompt, trains once, ~1-3 min)…", flush=True)
        subprocess.run([sys.executable, "-m", "rasa", "init", "--no-prompt", "--init-dir", str(bare)],
                       cwd=bare, env=base_env(), check=True, stdout=subprocess.DEVNULL)
    return bare


def start_bare(workdir: Path) -> Target:
    bare = bare_bot_dir()
    model = sorted((bare / "models").glob("*.tar.gz"))[-1]
    port = free_port()
    log = workdir / "bare.log"
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "rasa", "run", "--model", str(model), "--port", str(port),
                             "--interface", "127.0.0.1", "--credentials", str(bare / "credentials.yml"),
                             "--endpoints", str(bare / "endpoints.yml")],
                            cwd=bare, env=base_env(), start_new_session=True, stdout=log.open("w"),
                            stderr=subprocess.STDOUT)
    target = Target("bare", f"http://127.0.0.1:{port}", proc)
    wait_first_answer(target.url, proc, log)
    target.started_s = time.monotonic() - t0
    return target


def start_scaleout(workdir: Path, procs: int) -> Target:
    """python -m bot.scaleout run on scratch PostgreSQL databases and Redis; dropped at the end."""
    import psycopg2

    admin = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres", connect_timeout=3)
    admin.autocommit = True
    dbs = [f"bench_{kind}_{uuid.uuid4().hex[:8]}" for kind in ("tracker", "orders")]
    with admin.cursor() as cur:
        for db in dbs:
            cur.execute(f'CREATE DATABASE "{db}"')

    def drop() -> None:
        with admin.cursor() as cur:
            for db in dbs:
                cur.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        admin.close()

    env = base_env()
    port = free_port()
    env.update(BOT_VAR_DIR=str(workdir / "scaleout"), RASA_PORT=str(port), ACTION_PORT=str(free_port()),
               RASA_HOST="127.0.0.1", KB_CACHE_DIR=str(BENCH_DIR / "kb-cache"),
               TRACKER_STORE_URL=f"postgresql://postgres@127.0.0.1:5432/{dbs[0]}",
               ORDERS_DB_URL=f"postgresql://postgres@127.0.0.1:5432/{dbs[1]}",
               LOCK_STORE_URL="redis://127.0.0.1:6379/0", REDIS_URL="")
    log = workdir / "scaleout.log"
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "bot.scaleout", "run", "--rasa-procs", str(procs),
                             "--action-procs", str(procs), "--no-console", "--logs", str(workdir / "scaleout-logs")],
                            cwd=ROOT, env=env, start_new_session=True, stdout=log.open("w"), stderr=subprocess.STDOUT)
    target = Target(f"scale-out ×{procs}", f"http://127.0.0.1:{port}", proc, cleanup=[drop])
    try:
        wait_first_answer(target.url, proc, log)
    except Exception:
        target.stop()
        raise
    target.started_s = time.monotonic() - t0
    return target


# --- load ------------------------------------------------------------------------------------------
def drive(target: Target, total: int, concurrency: int) -> tuple:
    """Send `total` messages with `concurrency` customers, each going through MIX in order.

    Returns (latencies in s, msg/s, errors)."""
    lock = threading.Lock()
    sent = [0]
    latencies: List[float] = []
    errors = [0]

    def customer(_: int) -> None:
        session = requests.Session()
        while True:
            sender = f"bench-{uuid.uuid4().hex[:10]}"
            for text in MIX:
                with lock:
                    if sent[0] >= total:
                        return
                    sent[0] += 1
                t = time.perf_counter()
                try:
                    r = session.post(f"{target.url}/webhooks/rest/webhook", json={"sender": sender, "message": text},
                                     timeout=120)
                    ok = r.status_code == 200
                except requests.RequestException:
                    ok = False
                dt = time.perf_counter() - t
                with lock:
                    if ok:
                        latencies.append(dt)
                    else:
                        errors[0] += 1

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(customer, range(concurrency)))
    wall = time.perf_counter() - t0
    return latencies, len(latencies) / wall, errors[0]


def engine_alone(limit: int) -> List[float]:
    from bot.kb.engine import Engine
    from bot.kb.loader import load_knowledge

    engine = Engine(load_knowledge(ROOT / "knowledge"))
    with (ROOT / "tests" / "data" / "kb_eval.tsv").open(encoding="utf-8") as f:
        questions = [row["question"] for row in csv.DictReader(f, delimiter="\t") if row.get("question")][:limit]
    for q in questions[:20]:
        engine.ask(q)  # warm-up
    times = []
    for q in questions:
        t = time.perf_counter()
        engine.ask(q)
        times.append(time.perf_counter() - t)
    return times


# --- report ----------------------------------------------------------------------------------------
def ms(v: float) -> str:
    return f"{v * 1000:.0f} ms"


def span(values: List[float], fmt) -> str:
    if not values:
        return "—"
    lo, hi = min(values), max(values)
    return fmt(lo) if len(values) == 1 or fmt(lo) == fmt(hi) else f"{fmt(lo)}–{fmt(hi)}"


def report(ours: Target, bare: Target, extra: List[Target], engine: List[float], load: str,
           before: Optional[Target] = None) -> Dict:
    rows = []
    before_cells = []

    def row(name: str, f_ours, f_bare, fmt, higher_better: bool = False, merged: bool = True) -> None:
        a, b = f_ours(ours), f_bare(bare) if bare else None
        ratio = (a / b) if (a and b) else None
        rows.append((name, fmt(a) if a is not None else "—", fmt(b) if b is not None else "—",
                     f"{ratio:.2f}×" if ratio else "—"))
        if before is not None:
            c = f_ours(before)
            before_cells.append(f"{fmt(c)} ({c / b:.2f}×)" if (c and b) else "—")

    def pooled(rounds: List[List[float]]) -> List[float]:
        return [v for r in rounds for v in r]

    for q, name in ((0.5, "p50"), (0.95, "p95"), (0.99, "p99")):
        row(f"concurrency 1, {name}", lambda t, q=q: percentile(pooled(t.c1), q),
            lambda t, q=q: percentile(pooled(t.c1), q), ms)
    row("concurrency 16, throughput", lambda t: statistics.median(t.c16_rate) if t.c16_rate else None,
        lambda t: statistics.median(t.c16_rate) if t.c16_rate else None, lambda v: f"{v:.1f} msg/s")
    for q, name in ((0.5, "p50"), (0.95, "p95")):
        row(f"concurrency 16, {name}", lambda t, q=q: percentile(pooled(t.c16), q),
            lambda t, q=q: percentile(pooled(t.c16), q), ms)
    row("CPU per message (its processes)", lambda t: statistics.median(t.cpu_tree) if t.cpu_tree else None,
        lambda t: statistics.median(t.cpu_tree) if t.cpu_tree else None, ms)
    row("start-up to first answer", lambda t: t.started_s, lambda t: t.started_s, lambda v: f"{v:.1f} s")
    row("RSS, all processes", lambda t: sum(m for _, m in t.rss()), lambda t: sum(m for _, m in t.rss()),
        lambda v: f"{v:.0f} MB")

    width = max(len(r[0]) for r in rows) + 2
    print(f"\n## Ours vs a bare `rasa init` bot ({len(ours.c1)} rounds, alternating; load average {load})\n")
    if before is None:
        print(f"| {'':{width}}| ours | bare Rasa | ratio |\n|{'-' * (width + 1)}|---|---|---|")
        for r in rows:
            print(f"| {r[0]:{width}}| {r[1]} | {r[2]} | {r[3]} |")
    else:
        print(f"| {'':{width}}| before (ratio) | ours | bare Rasa | ratio |\n|{'-' * (width + 1)}|---|---|---|---|")
        for r, c in zip(rows, before_cells):
            print(f"| {r[0]:{width}}| {c} | {r[1]} | {r[2]} | {r[3]} |")
        print(f"before: {before.name}; per round c1 p50 " + ", ".join(span([percentile(r, .5)], ms) for r in before.c1)
              + " | c16 " + ", ".join(f"{v:.1f}" for v in before.c16_rate) + f" msg/s; errors {before.errors}")
    print("\nper round: ours c1 p50 " + ", ".join(span([percentile(r, .5)], ms) for r in ours.c1)
          + " | bare c1 p50 " + ", ".join(span([percentile(r, .5)], ms) for r in bare.c1)
          + " | ours c16 " + ", ".join(f"{v:.1f}" for v in ours.c16_rate)
          + " | bare c16 " + ", ".join(f"{v:.1f}" for v in bare.c16_rate) + " msg/s")
    print(f"errors: ours {ours.errors}, bare {bare.errors}")
    ratio = {r[0]: r[3] for r in rows}
    print("targets (issue 17): c1 p50 and p95 ≤ 1.20× bare: " + ratio["concurrency 1, p50"] + ", "
          + ratio["concurrency 1, p95"] + "; c16 throughput ≥ 1.00× bare: " + ratio["concurrency 16, throughput"]
          + "; scale-out ×2 ≥ 60 msg/s (below)")
    print(f"\nanswer engine alone ({len(engine)} questions of tests/data/kb_eval.tsv): "
          f"p50 {percentile(engine, .5) * 1000:.1f} ms, p95 {percentile(engine, .95) * 1000:.1f} ms")
    print("\nRSS by process:")
    for t in [ours, bare] + ([before] if before else []) + extra:
        print(f"  {t.name}: " + ", ".join(f"{n} {m:.0f} MB" for n, m in t.rss()))
    cores = os.cpu_count() or 1
    print(f"\nCPU per message at concurrency 16, the whole machine less the load generator (includes the "
          f"databases; {cores} cores), and the throughput it allows at best ({cores} cores / CPU per message):")
    for t in [ours, bare] + ([before] if before else []) + extra:
        if t.cpu_server:
            per = statistics.median(t.cpu_server)
            own = ", ".join(f"{name} {statistics.median(v) * 1000:.1f} ms" for name, v in t.cpu_parts.items())
            print(f"  {t.name}: {per * 1000:.1f} ms → at most {cores / per:.0f} msg/s (its processes: {own})")
    for t in extra:
        print(f"\n{t.name} (haproxy, PostgreSQL, Redis): concurrency 16 throughput "
              f"{span(t.c16_rate, lambda v: f'{v:.1f} msg/s')}, p50 {ms(percentile(pooled(t.c16), .5))}, "
              f"p95 {ms(percentile(pooled(t.c16), .95))}, errors {t.errors}, start-up {t.started_s:.1f} s")
    return {"load": load, "rows": rows,
            "engine_ms": {"p50": percentile(engine, .5) * 1000, "p95": percentile(engine, .95) * 1000},
            "rss": {t.name: t.rss() for t in [ours, bare] + extra},
            "scaleout": {t.name: {"msg_s": t.c16_rate, "p50_ms": percentile(pooled(t.c16), .5) * 1000}
                         for t in extra},
            "cpu_per_message_ms": {t.name: {"own": [v * 1000 for v in t.cpu_tree], "machine": [v * 1000 for v in t.cpu_server]}
                                   for t in [ours, bare] + extra}}


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--n1", type=int, default=300, help="messages at concurrency 1, per target and round")
    parser.add_argument("--n16", type=int, default=300, help="messages at concurrency 16, per target and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--scaleout", type=int, default=2, metavar="N",
                        help="also N Rasa + N action processes behind haproxy (0: skip)")
    parser.add_argument("--engine-questions", type=int, default=500)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--before", type=Path, metavar="DIR",
                        help="also run `python -m bot run` from another checkout (e.g. `git archive` of an older "
                             "commit; it is given this checkout's model), alternating with ours: a before/after in one run")
    args = parser.parse_args(argv)

    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="bench-", dir=BENCH_DIR))
    targets: List[Target] = []
    try:
        # Start-ups one at a time, so each is timed on an otherwise idle pair of cores; the model
        # trained first (make bench depends on make train), so that start-up is a warm start.
        from bot.training import ensure_model

        ensure_model()
        bare_bot_dir()
        ours = start_ours(workdir)
        targets.append(ours)
        bare = start_bare(workdir)
        targets.append(bare)
        before = None
        if args.before:
            prepare_before(args.before.resolve())
            before = start_ours(workdir, args.before.resolve(), f"before ({args.before.name})")
            targets.append(before)
        extra = []
        if args.scaleout:
            extra.append(start_scaleout(workdir, args.scaleout))
            targets.append(extra[-1])
        print(f"bench: started (ours {ours.started_s:.1f} s, bare {bare.started_s:.1f} s"
              + "".join(f", {t.name} {t.started_s:.1f} s" for t in extra) + ")", flush=True)
        for t in targets:  # warm-up: one conversation each
            drive(t, len(MIX), 1)
        for rnd in range(args.rounds):
            pair = [ours, bare] + ([before] if before else [])
            order = pair if rnd % 2 == 0 else pair[::-1]
            for t in order + extra:
                if t in pair:
                    lat, _, err = drive(t, args.n1, 1)
                    t.c1.append(lat)
                    t.errors += err
                before_parts, before_machine, before_client = t.cpu_by_process(), machine_busy_seconds(), client_seconds()
                lat, rate, err = drive(t, args.n16, 16)
                if lat:
                    after_parts = t.cpu_by_process()
                    for name, used in after_parts.items():
                        t.cpu_parts.setdefault(name, []).append((used - before_parts.get(name, 0.0)) / len(lat))
                    t.cpu_tree.append((sum(after_parts.values()) - sum(before_parts.values())) / len(lat))
                    t.cpu_server.append(((machine_busy_seconds() - before_machine)
                                         - (client_seconds() - before_client)) / len(lat))
                t.c16.append(lat)
                t.c16_rate.append(rate)
                t.errors += err
                print(f"bench: round {rnd + 1} {t.name}: c16 {rate:.1f} msg/s", flush=True)
        engine = engine_alone(args.engine_questions)
        load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
        figures = report(ours, bare, extra, engine, load, before)
        if args.json:
            args.json.write_text(json.dumps(figures, ensure_ascii=False, indent=2), encoding="utf-8")
    finally:
        for t in targets:
            t.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
