"""Where a turn's time goes: py-spy on our Rasa process and action server under REST load.

    .venv/bin/python scripts/profile_turn.py [--messages 200] [--py-spy /path/to/py-spy]

Starts ours as scripts/bench.py does (`python -m bot run`, fresh SQLite var/), sends the bench's
message mix at concurrency 1 while py-spy samples the Rasa process and the action server (raw
collapsed stacks in var/bench/profile-*.txt, open them with any flame-graph viewer), then prints
the share of busy samples by part of the turn. py-spy is not a project requirement: install it
apart, e.g. `pip install --target /tmp/pyspy py-spy` and pass --py-spy /tmp/pyspy/bin/py-spy.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Dict, List, Optional

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

import bench  # noqa: E402

# First matching rule wins, looked for from the innermost frame outwards: a part of the turn,
# recognised by a function name or file in its stack.
PARTS = [
    ("transcript sync (tracker_sync → orders)", ("tracker_sync.py",)),
    ("SQL tracker store (Rasa's save/retrieve)", ("tracker_store.py",)),
    ("action-server hop (Rasa side: HTTP call)", ("rasa/core/actions/action.py", "rasa/utils/endpoints.py")),
    ("NLU (tokenizer, featurizers, DIET)", ("rasa/nlu/", "jieba")),
    ("policies (TED, rules, memoization)", ("rasa/core/policies/",)),
    ("answer engine (bot.kb)", ("bot/kb/",)),
    ("work orders (bot.orders)", ("bot/orders/",)),
    ("our channels (limits, identity)", ("bot/channels/",)),
    ("Rasa SDK / actions", ("rasa_sdk/", "/actions/")),
    ("TensorFlow", ("tensorflow/",)),
    ("Sanic / asyncio / HTTP", ("sanic/", "asyncio/", "aiohttp/", "httptools", "uvloop")),
]


def part_of(stack: str) -> str:
    frames = stack.split(";")
    for frame in reversed(frames):
        for name, keys in PARTS:
            if any(k in frame for k in keys):
                return name
    return "other"


def summarise(raw: Path) -> Dict[str, int]:
    counts: Counter = Counter()
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, n = line.rpartition(" ")
        if n.isdigit():
            counts[part_of(stack)] += int(n)
    return dict(counts)


def innermost_parts(raw: Path) -> Dict[str, int]:
    """Like summarise, but outermost match first: which of our layers a sample sits under."""
    counts: Counter = Counter()
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        frames = stack.split(";")
        found = "other"
        for name, keys in PARTS[:3]:
            if any(k in f for f in frames for k in keys):
                found = name
                break
        counts[found] += int(n)
    return dict(counts)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/profile_turn.py")
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--py-spy", default=shutil.which("py-spy") or "/tmp/pyspy/bin/py-spy")
    args = parser.parse_args(argv)
    bench.BENCH_DIR.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="profile-", dir=bench.BENCH_DIR))
    ours = bench.start_ours(workdir)
    spies = []
    try:
        bench.drive(ours, len(bench.MIX) * 2, 1)  # warm-up
        pids = {bench.label(bench.cmdline(p)): p for p in bench.process_tree(ours.proc.pid)}
        for name in ("rasa", "action server"):
            out = bench.BENCH_DIR / f"profile-{name.replace(' ', '-')}.txt"
            spies.append((name, out, subprocess.Popen(
                [args.py_spy, "record", "--pid", str(pids[name]), "--format", "raw", "--output", str(out),
                 "--rate", "200", "--nonblocking"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)))
        time.sleep(2)
        lat, rate, errors = bench.drive(ours, args.messages, args.concurrency)
    finally:
        for _, _, spy in spies:
            spy.send_signal(2)  # SIGINT: py-spy writes its file and exits
        for _, _, spy in spies:
            spy.wait(60)
        ours.stop()
    print(f"\n{len(lat)} turns at concurrency {args.concurrency}: p50 {bench.percentile(lat, .5) * 1000:.0f} ms, "
          f"p95 {bench.percentile(lat, .95) * 1000:.0f} ms, {rate:.1f} msg/s, errors {errors}")
    for name, out, _ in spies:
        if not out.exists():
            print(f"{name}: py-spy wrote nothing (ptrace refused?)")
            continue
        for title, counts in (("innermost part", summarise(out)), ("under our layers", innermost_parts(out))):
            total = sum(counts.values()) or 1
            print(f"\n{name} — busy samples by {title} ({total} samples, {out.relative_to(ROOT)}):")
            for part, n in sorted(counts.items(), key=lambda kv: -kv[1]):
                print(f"  {n / total:6.1%}  {part}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
