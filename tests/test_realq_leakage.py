"""The real-message development set (../shared/realq/dev.tsv) is for measuring only: no row of it,
and no near copy, may be in knowledge/, data/ or tests/data/ (see bot/kb/leakage.py)."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.kb.leakage import product_texts, realq_leaks, realq_questions

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT.parent / "shared" / "realq" / "dev.tsv"


def test_no_real_question_of_the_dev_set_is_copied_into_the_product():
    if not DEV.is_file():
        pytest.skip(f"{DEV} is not here (it lives beside the checkout in ../shared)")
    rows = realq_questions(DEV)
    assert len(rows) > 100
    leaks = realq_leaks(rows, product_texts(ROOT))
    assert not leaks, "\n".join(
        f"{x.file}: '{x.text}' copies {x.row_id} '{x.question}' (similarity {x.ratio}); write your own wording"
        for x in leaks)


def test_the_check_catches_a_copy_a_near_copy_and_a_passage(tmp_path: Path):
    dev = tmp_path / "dev.tsv"
    dev.write_text("id\ttopic\tquestion\texpect\n"
                   "d1\ttariff\t宁夏农村居民生活用电一度多少钱\tanswer\n"
                   "d2\toutage\t我们这条街从前天晚上开始一直没有电到现在也没人来修真是急死人了\thandoff\n"
                   "d3\tood\t周末去哪里钓鱼比较好\tdecline\n", encoding="utf-8")
    (tmp_path / "knowledge").mkdir()
    (tmp_path / "knowledge" / "tariff.yml").write_text(
        "entries:\n  - id: t.x\n    paraphrases:\n      - 宁夏农村居民生活用电一度多少钱呢\n      - 峰谷电几点开始\n", encoding="utf-8")
    (tmp_path / "data" / "nlu").mkdir(parents=True)
    (tmp_path / "data" / "nlu" / "x.yml").write_text(
        'nlu:\n- intent: report\n  examples: |\n    - 从前天晚上开始一直没有电到现在也没人来修\n    - 家里跳闸了\n', encoding="utf-8")
    leaks = realq_leaks(realq_questions(dev), product_texts(tmp_path))
    assert {(x.row_id, x.file) for x in leaks} == {("d1", "knowledge/tariff.yml"), ("d2", "data/nlu/x.yml")}
