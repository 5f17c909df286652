"""Score the service-path benchmark (tests/data/service_paths.tsv) through the real servers.

Each row is sent as the first message of a new conversation over REST; the path it took is read
from the reply and the tracker:
- fault:     the 故障报修 form started (active loop fault_report_form) or a repair order came back;
- complaint: a 投诉 order came back (custom payload work_order, kind complaint);
- general:   a knowledge-base answer or choice (custom payload kb_answer), no form, no order.

    PYTHONPATH=. .venv/bin/python scripts/score_service_paths.py [tests/data/service_paths.tsv]

Starts its own Rasa and action servers on free ports (tests/servers.py) with a scratch var dir.
"""
from __future__ import annotations

import csv
import sys
import tempfile
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def path_taken(messages: list, tracker: dict) -> str:
    customs = [m.get("custom") or {} for m in messages]
    kinds = {c.get("kind") for c in customs if c.get("type") == "work_order"}
    if "complaint" in kinds:
        return "complaint"
    active = (tracker.get("active_loop") or {}).get("name")
    if "repair" in kinds or active == "fault_report_form" or any(c.get("type") == "safety" for c in customs):
        return "fault"
    if any(c.get("type") == "kb_answer" and c.get("outcome") in ("answer", "clarify") for c in customs):
        return "general"
    return "other"


def main(argv: list[str]) -> int:
    from bot.training import ensure_model
    from servers import start_servers

    tsv = Path(argv[1]) if len(argv) > 1 else ROOT / "tests" / "data" / "service_paths.tsv"
    rows = [r for r in csv.DictReader((l for l in tsv.read_text(encoding="utf-8").splitlines()
                                       if not l.startswith("#")), delimiter="\t")]
    servers = start_servers(Path(tempfile.mkdtemp(prefix="service-paths-")), ensure_model())
    right: Counter = Counter()
    total: Counter = Counter()
    try:
        for row in rows:
            who = f"bench-{uuid.uuid4().hex[:8]}"
            messages = servers.say(who, row["text"])
            took = path_taken(messages, servers.tracker(who))
            total[row["expected"]] += 1
            ok = took == row["expected"]
            right[row["expected"]] += ok
            said = " / ".join((m.get("text") or "")[:30].replace("\n", " ") for m in messages if m.get("text"))
            print(f"{'✓' if ok else '✗'}\t{row['expected']}\t{took}\t{row['text']}\t{said[:90]}")
    finally:
        servers.stop()
    for kind in total:
        print(f"{kind}: {right[kind]}/{total[kind]}")
    print(f"all: {sum(right.values())}/{sum(total.values())}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
