"""Where a turn's time goes beside Rasa itself: the same model and the same turns under

- stock `rasa run` with Rasa's in-memory tracker store (what the bare `rasa init` bot of make bench uses),
- stock `rasa run` with Rasa's own SQL tracker store (SQLite),
- `python -m bot run` (ours: channel limits, identity, the live-chat check, the transcript sync),

driven alternately over REST with turns that need no custom action (你好, 谢谢, a button, 再见), so the
action server's hop is left out. A benchmark, not a test: it prints figures.

    .venv/bin/python scripts/bench_store.py [--conversations 40] [--rounds 3]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Dict, List

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

import bench  # noqa: E402

TURNS = ["你好", "谢谢", "/feedback_positive", "再见"]
ENDPOINTS = {
    "Rasa, in-memory tracker store": "tracker_store:\n  type: in_memory\n",
    "Rasa, its SQL tracker store": "tracker_store:\n  type: sql\n  dialect: sqlite\n  db: {dir}/tracker.db\n",
}


def start_stock(workdir: Path, name: str, tracker: str) -> bench.Target:
    (workdir / "credentials.yml").write_text("rest:\n", encoding="utf-8")
    endpoints = workdir / f"ep-{uuid.uuid4().hex[:6]}.yml"
    endpoints.write_text(tracker.format(dir=workdir) + "lock_store:\n  type: in_memory\n", encoding="utf-8")
    port = bench.free_port()
    log = workdir / f"{endpoints.stem}.log"
    proc = subprocess.Popen([sys.executable, "-m", "rasa", "run", "--model", str(ROOT / "models" / "assistant.tar.gz"),
                             "--port", str(port), "--interface", "127.0.0.1", "--credentials",
                             str(workdir / "credentials.yml"), "--endpoints", str(endpoints)],
                            cwd=workdir, env=bench.base_env(), start_new_session=True, stdout=log.open("w"),
                            stderr=subprocess.STDOUT)
    target = bench.Target(name, f"http://127.0.0.1:{port}", proc)
    bench.wait_first_answer(target.url, proc, log)
    return target


def turns(url: str, conversations: int) -> List[float]:
    session, out = requests.Session(), []
    for _ in range(conversations):
        sender = f"store-{uuid.uuid4().hex[:8]}"
        for text in TURNS:
            t = time.perf_counter()
            r = session.post(f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=60)
            if r.status_code == 200:
                out.append(time.perf_counter() - t)
    return out


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench_store.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=40, help="per target and round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    from bot.training import ensure_model

    ensure_model()
    workdir = Path(tempfile.mkdtemp(prefix="bench-store-", dir=bench.BENCH_DIR))
    targets: List[bench.Target] = []
    try:
        for name, tracker in ENDPOINTS.items():
            targets.append(start_stock(workdir, name, tracker))
        targets.append(bench.start_ours(workdir))
        for t in targets:
            turns(t.url, 2)  # warm-up
        results: Dict[str, List[float]] = {t.name: [] for t in targets}
        for rnd in range(args.rounds):
            for t in (targets if rnd % 2 == 0 else targets[::-1]):
                results[t.name].append(statistics.median(turns(t.url, args.conversations)))
    finally:
        for t in targets:
            t.stop()
    print(f"\n## A turn with no custom action, same model (p50 per round, {args.rounds} rounds alternating)\n")
    for name, values in results.items():
        print(f"- {name}: " + ", ".join(f"{v * 1000:.1f} ms" for v in values))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
