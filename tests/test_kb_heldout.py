"""The benchmark is held out: no evaluation question nearly copies a knowledge-base text."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.kb import evaluate
from bot.kb.leakage import NEGATIVES, near_copies
from bot.kb.loader import load_knowledge

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def fixture_kb():
    return load_knowledge(DATA / "kb_fixture")


def test_near_copy_of_a_paraphrase_or_negative_is_found_and_new_wording_is_not(fixture_kb):
    entry = fixture_kb.entries[0]
    paraphrase = entry.texts[1]
    negative = fixture_kb.negatives[0]
    found = {c.question: c for c in near_copies([paraphrase + "？", f" {negative} ", "我家楼下那根线一直在冒火花吓死人了"], fixture_kb)}
    assert found[paraphrase + "？"].source == entry.id
    assert found[paraphrase + "？"].ratio == 1.0
    assert found[f" {negative} "].source == NEGATIVES
    assert "我家楼下那根线一直在冒火花吓死人了" not in found


def test_eval_report_lists_rows_that_are_not_held_out(fixture_kb, tmp_path: Path):
    engine = evaluate.Engine(fixture_kb)
    copied = fixture_kb.entries[0].texts[2]
    tsv = tmp_path / "eval.tsv"
    tsv.write_text(f"question\texpected\tnote\n{copied}\t{fixture_kb.entries[0].id}\tcopy\n"
                   f"楼道里的线噼里啪啦响\tNONE\tnew\n", encoding="utf-8")
    m = evaluate.run_file(engine, evaluate.read_eval_file(tsv), 0.0, progress=False)
    assert [c["question"] for c in m["near_copies"]] == [copied]
    assert "NOT HELD OUT: 1 of 2 rows" in evaluate.format_report(m)


def test_the_benchmark_file_is_held_out_from_the_knowledge_base():
    rows = evaluate.read_eval_file(DATA / "kb_eval.tsv")
    copies = near_copies([r.question for r in rows], load_knowledge())
    assert not copies, "kb_eval.tsv rows that copy a KB text (rewrite the row, do not delete the paraphrase):\n" + "\n".join(
        f"  {c.question} ≈ {c.text} ({c.source}, {c.ratio})" for c in copies[:20]
    )
    questions = [r.question for r in rows]
    assert len(questions) == len(set(questions)), "duplicate questions in kb_eval.tsv"
