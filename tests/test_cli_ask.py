"""``python -m bot ask`` / ``eval`` as a staff member or a script would run them."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "data" / "kb_fixture"


def run_bot(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )


def test_help_lists_the_subcommands():
    out = run_bot("--help")
    assert out.returncode == 0
    assert "ask" in out.stdout and "eval" in out.stdout


def test_ask_json_prints_one_object_per_question():
    out = run_bot("ask", "--json", "--kb", str(FIXTURE), stdin="电闸跳了\n\n燃气费怎么交\n电价\n")
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(lines) == 3  # the blank line is skipped
    keys = {"question", "outcome", "kind", "detail", "entry_id", "topic", "topic_guess", "confidence", "answer",
            "candidates", "related"}
    assert all(set(obj) == keys for obj in lines)

    first, gas, vague = lines
    assert first["question"] == "电闸跳了"  # not escaped: ensure_ascii=False
    assert "电闸跳了" in out.stdout
    assert (first["outcome"], first["entry_id"], first["topic"]) == ("answer", "outage.breaker_trip", "outage")
    assert first["answer"].startswith("空开跳闸")
    assert 0 <= first["confidence"] <= 1
    assert set(first["candidates"][0]) == {"entry_id", "question", "confidence"}
    assert (gas["outcome"], gas["entry_id"], gas["answer"]) == ("fail", None, None)
    # a one-word question about one subject: the best entry, its neighbours as related questions
    assert vague["kind"] == "answer_with_related" and vague["related"] and 1 <= len(vague["candidates"]) <= 3
    # the same decision as the chat's custom payload and the console's /api/ask (one Answer.to_json)
    from bot import replies
    from bot.kb.engine import Engine
    from bot.kb.loader import load_knowledge

    engine = Engine(load_knowledge(FIXTURE), cache_dir=None)
    for line in lines:
        ans = engine.ask(line["question"])
        chat = replies.meta(ans)
        assert chat.pop("type") == "kb_answer"
        assert {**chat, "question": line["question"], "answer": line["answer"]} == line
        console = ans.to_json(with_entry=True)
        entry = console.pop("entry")
        assert console == chat
        assert entry is None if ans.entry is None else (entry["id"], entry["answer"]) == (ans.entry.id, line["answer"])


def test_ask_human_mode_shows_answer_source_and_related():
    out = run_bot("ask", "--kb", str(FIXTURE), "电表过户要带什么材料")
    assert out.returncode == 0, out.stderr
    assert "outcome: answer" in out.stdout
    assert "[business.transfer_owner]" in out.stdout
    assert "source: 《测试用供电规则》第一条" in out.stdout
    assert "effective: 2024-06-01" in out.stdout
    assert "business.new_install" in out.stdout  # related entry
    assert "材料: 有效身份证明；房屋产权证明" in out.stdout


def test_ask_on_a_broken_kb_exits_2_with_the_problem(tmp_path: Path):
    broken = tmp_path / "knowledge"
    broken.mkdir()
    (broken / "tariff.yml").write_text("topic: tariff\nentries:\n  - id: tariff.x\n", encoding="utf-8")
    out = run_bot("ask", "--kb", str(broken), "电费")
    assert out.returncode == 2
    assert "knowledge/tariff.yml:3 entry tariff.x field question: missing" in out.stderr


def test_eval_cli_prints_report_and_json(tmp_path: Path):
    tsv = tmp_path / "eval.tsv"
    tsv.write_text("question\texpected\tnote\n电闸跳了\toutage.breaker_trip\t\n燃气费怎么交\tNONE\t\n", encoding="utf-8")
    out = run_bot("eval", str(tsv), "--kb", str(FIXTURE))
    assert out.returncode == 0, out.stderr
    assert "top-1 accuracy" in out.stdout and "latency per question" in out.stdout
    out = run_bot("eval", str(tsv), "--kb", str(FIXTURE), "--json")
    metrics = json.loads(out.stdout)
    assert metrics["rows"] == 2 and metrics["top1_accuracy"] == 100.0
    bad = run_bot("eval", str(tmp_path / "missing.tsv"), "--kb", str(FIXTURE))
    assert bad.returncode == 2


def test_ask_tells_staff_what_to_do_with_an_account_question():
    out = run_bot("ask", "帮我查一下我家欠了多少电费")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("outcome: fail   (personal data: balance)")
    assert "业务系统按户号查询" in out.stdout and "tariff.smart_pay_balance" in out.stdout
