"""Benchmark the WeChat channel: concurrent customers in safe mode against the real servers.

    .venv/bin/python scripts/bench_wechat.py [--users 20] [--rounds 10] [--passive-timeout 4]
    (make bench runs it with the defaults)

Starts the real Rasa server and action server (tests/servers.py, a temporary directory, a fake
WeChat API in this process), then every simulated customer sends --rounds messages, one after
another, waiting for each answer like a person would. The mix is realistic: knowledge questions
from tests/data/kb_eval.tsv, digit replies to the offered choices, greetings, thanks, work-order
queries and the odd 转人工. Reply time = from the POST until the customer has the answer: the
passive reply, or the customer-service message that follows a "success". A benchmark, not a test:
it prints figures and asserts nothing.
"""
from __future__ import annotations

import argparse
import csv
import random
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from tqdm import tqdm  # noqa: E402

from servers import start_servers  # noqa: E402
from wechat_fake import FakeWeChatApi, WeChatClient  # noqa: E402

SMALL_TALK = ["你好", "谢谢", "我的工单进度怎么样了", "你是机器人吗"]


@dataclass
class Sample:
    seconds: float
    mode: str  # "passive" | "async" | "lost" | "error"


def questions() -> List[str]:
    with (ROOT / "tests" / "data" / "kb_eval.tsv").open(encoding="utf-8") as f:
        return [row["question"] for row in csv.DictReader(f, delimiter="\t") if row.get("question")]


def next_message(rng: random.Random, pool: List[str], offered_choices: bool) -> str:
    roll = rng.random()
    if offered_choices and roll < 0.25:
        return rng.choice(["1", "2"])  # 有帮助 / 没帮助, or a clarify choice
    if roll < 0.33:
        return rng.choice(SMALL_TALK)
    if roll < 0.35:
        return "转人工"
    return rng.choice(pool)


def one_message(client: WeChatClient, api: FakeWeChatApi, openid: str, text: str, wait: float) -> Sample:
    before = len(api.sends_for(openid))
    started = time.monotonic()
    try:
        passive = client.reply_text(client.post(client.text_xml(openid, text), timeout=wait))
    except Exception:  # noqa: BLE001 — counted, the run goes on
        return Sample(time.monotonic() - started, "error")
    if passive is not None:
        return Sample(time.monotonic() - started, "passive")
    sends = api.wait_for(openid, before + 1, timeout=wait)
    if len(sends) <= before:
        return Sample(time.monotonic() - started, "lost")
    return Sample(api.sends_for(openid)[before].at - started, "async")


def percentile(values: List[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def report(samples: List[Sample], wall: float, users: int, rounds: int, passive_timeout: float) -> str:
    done = [s.seconds for s in samples if s.mode in ("passive", "async")]
    counts = {m: sum(s.mode == m for s in samples) for m in ("passive", "async", "lost", "error")}
    lines = [f"WeChat channel, safe mode, passive timeout {passive_timeout:g} s: {users} concurrent customers "
             f"× {rounds} rounds = {len(samples)} messages in {wall:.1f} s ({len(samples) / wall:.1f} msg/s)"]
    if done:
        lines.append("reply time (s): p50 {:.2f}  p95 {:.2f}  p99 {:.2f}  max {:.2f}  mean {:.2f}".format(
            percentile(done, 50), percentile(done, 95), percentile(done, 99), max(done), statistics.mean(done)))
    for mode in ("passive", "async"):
        times = [s.seconds for s in samples if s.mode == mode]
        share = f"{counts[mode]} ({100 * counts[mode] / len(samples):.0f}%)"
        extra = f"  p50 {percentile(times, 50):.2f}  p95 {percentile(times, 95):.2f}" if times else ""
        lines.append(f"  {mode:8s} {share}{extra}")
    lines.append(f"  not delivered {counts['lost']}, HTTP errors {counts['error']}")
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=20, help="concurrent customers (default 20)")
    parser.add_argument("--rounds", type=int, default=10, help="messages per customer (default 10)")
    parser.add_argument("--passive-timeout", type=float, default=4.0,
                        help="WECHAT_PASSIVE_TIMEOUT for the server (default 4; lower it to see the async path)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    from bot.training import ensure_model

    model = ensure_model()
    pool = questions()
    with tempfile.TemporaryDirectory(prefix="bench-wechat-") as tmp:
        print("starting Rasa and the action server …", flush=True)
        servers = start_servers(Path(tmp), model,
                                extra_env={"WECHAT_PASSIVE_TIMEOUT": str(args.passive_timeout)})
        try:
            assert servers.wechat is not None and servers.wechat_api is not None
            api = servers.wechat_api
            client = WeChatClient(f"{servers.url}/webhooks/wechat/webhook", servers.wechat, safe=True)
            client.say("oWarmUp", "阶梯电价怎么算", api)  # first turn loads lazily; not measured
            samples: List[Sample] = []
            lock = threading.Lock()
            bar = tqdm(total=args.users * args.rounds, unit="msg", desc="WeChat messages")

            def customer(i: int) -> None:
                rng = random.Random(args.seed * 1000 + i)
                offered = False
                for _ in range(args.rounds):
                    text = next_message(rng, pool, offered)
                    sample = one_message(client, api, f"oBench{i:03d}", text, wait=60)
                    offered = text not in ("1", "2") and sample.mode in ("passive", "async")
                    with lock:
                        samples.append(sample)
                    bar.update()

            started = time.monotonic()
            with ThreadPoolExecutor(args.users) as executor:
                list(executor.map(customer, range(args.users)))
            wall = time.monotonic() - started
            bar.close()
            print(report(samples, wall, args.users, args.rounds, args.passive_timeout))
        finally:
            servers.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
