"""The answer engine with the knowledge base at 1×, 4× and 10× its size (make bench runs it).

    .venv/bin/python scripts/bench_kb_growth.py [--sizes 1 4 10] [--questions 300]

A k× knowledge base is the real one plus k-1 copies: each copy's ids rewritten (``<id>~2`` …, its
`related` links too) and its paraphrases shuffled between the entries of the same topic, so the
copies are not the same texts in the same places. The loader refuses one wording in two entries,
so the copies are made after loading (the YAML is read k times, so its cost is counted).

For each size, two fresh processes on an empty cache directory of their own:

- cold: the first start after a knowledge-base edit (what `bot train` or the first process does):
  segmentation and the confidence model computed, then stored in the cache;
- warm: every later start on the same knowledge (a restart, the action server beside the console):
  both read back from the cache.

start-up = import + reading the YAML k times + building the engine; then the engine's p50/p95 over
questions of tests/data/kb_eval.tsv (from the warm process). A benchmark, not a test: it prints figures.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import List

ROOT = Path(__file__).resolve().parent.parent
CHILD = r"""
import time, json, sys, random, csv, dataclasses
t0 = time.perf_counter()
sys.path.insert(0, ROOT)
from bot.kb.engine import Engine
from bot.kb.loader import load_knowledge
from bot.kb.model import KnowledgeBase
k, n = int(sys.argv[1]), int(sys.argv[2])
kbs = [load_knowledge(ROOT + "/knowledge") for _ in range(k)]
base = kbs[0]
entries = list(base.entries)
rng = random.Random(17)
for c, kb in enumerate(kbs[1:], start=2):
    suffix = f"~{c}"
    by_topic = {}
    for e in kb.entries:
        by_topic.setdefault(e.topic, []).append(e)
    for topic, group in by_topic.items():
        pool = [p for e in group for p in e.paraphrases]
        rng.shuffle(pool)
        start = 0
        for e in group:
            take = len(e.paraphrases)
            paras = pool[start:start + take]
            start += take
            entries.append(dataclasses.replace(e, id=e.id + suffix, paraphrases=paras,
                                               related=[r + suffix for r in e.related]))
big = dataclasses.replace(base, entries=entries)
engine = Engine(big, cache_dir="default")
startup = time.perf_counter() - t0
with open(ROOT + "/tests/data/kb_eval.tsv", encoding="utf-8") as f:
    qs = [r["question"] for r in csv.DictReader(f, delimiter="\t") if r.get("question")][:n]
for q in qs[:20]:
    engine.ask(q)
times = []
for q in qs:
    t = time.perf_counter(); engine.ask(q); times.append(time.perf_counter() - t)
times.sort()
pct = lambda q: times[min(len(times) - 1, int(q * (len(times) - 1) + 0.5))] * 1000
print(json.dumps({"k": k, "entries": len(entries), "startup_s": startup, "p50_ms": pct(.5), "p95_ms": pct(.95)}))
"""


def measure(k: int, questions: int) -> dict:
    """Cold then warm start on a cache directory of their own; latency from the warm process."""
    with tempfile.TemporaryDirectory(prefix="kb-growth-") as cache:
        env = dict(os.environ, PYTHONPATH=str(ROOT), KB_CACHE_DIR=cache)
        runs = []
        for _ in ("cold", "warm"):
            out = subprocess.run([sys.executable, "-c", f"ROOT = {str(ROOT)!r}\n" + CHILD, str(k), str(questions)],
                                 cwd=ROOT, env=env, capture_output=True, text=True, check=True)
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    cold, warm = runs
    return {**warm, "cold_s": cold["startup_s"], "warm_s": warm["startup_s"]}


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench_kb_growth.py")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 4, 10])
    parser.add_argument("--questions", type=int, default=300)
    args = parser.parse_args(argv)
    rows = [measure(k, args.questions) for k in args.sizes]
    base = rows[0]
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"\n## Answer engine as the knowledge base grows (load average {load})\n")
    print("| size | entries | start-up, cold (after an edit) | start-up, warm (restart) | p50 | p95 | p95 vs 1× |\n"
          "|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['k']}× | {r['entries']} | {r['cold_s']:.1f} s | {r['warm_s']:.1f} s | {r['p50_ms']:.1f} ms "
              f"| {r['p95_ms']:.1f} ms | {r['p95_ms'] / base['p95_ms']:.2f}× |")
    print("\ntarget: start-up at 10× under 20 s (a restart; the cold build is done once per edit, by `bot train`);"
          " latency growing sub-linearly with the size")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
