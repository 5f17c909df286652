"""The answer engine on the fixture KB: ranking, normalisation, outcomes, theft guard, speed, hot reload."""
from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from bot.kb import evaluate
from bot.kb.engine import MAX_CLARIFY, Engine
from bot.kb.live import LiveEngine
from bot.kb.loader import load_knowledge
from bot.kb.scope import is_other_service
from bot.kb.text import clean
from bot.kb.theft import is_theft_howto

FIXTURE = Path(__file__).parent / "data" / "kb_fixture"


@pytest.fixture(scope="module")
def kb():
    return load_knowledge(FIXTURE)


@pytest.fixture(scope="module")
def engine(kb) -> Engine:
    return Engine(kb)


def test_paraphrase_like_question_is_answered_with_its_entry(engine: Engine):
    ans = engine.ask("阶梯电价是怎么算的")
    assert ans.outcome == "answer"
    assert ans.entry.id == "tariff.tier_structure"
    assert 0.0 <= ans.confidence <= 1.0
    assert ans.candidates[0].entry.id == "tariff.tier_structure"


def test_vague_question_about_one_subject_is_answered_with_related_questions(engine: Engine):
    # "电价" matches neighbouring tariff entries (linked by related): a counter clerk answers the
    # broad question with the best of them and mentions the others, instead of a list to click
    ans = engine.ask("电价")
    assert ans.kind == "answer_with_related" and ans.outcome == "answer"
    assert ans.entry.topic == "tariff"
    assert ans.related and ans.entry.id not in {e.id for e in ans.related}
    assert len(ans.candidates) <= MAX_CLARIFY
    assert [c.confidence for c in ans.candidates[1:]] == sorted((c.confidence for c in ans.candidates[1:]), reverse=True)


@pytest.mark.parametrize("question", ["燃气费怎么交", "今天天气怎么样", "帮我订一张去北京的机票"])
def test_out_of_domain_question_fails(engine: Engine, question: str):
    ans = engine.ask(question)
    assert ans.outcome == "fail"
    assert ans.entry is None


def test_synonym_matches_entry_written_with_the_canonical_word(engine: Engine, kb):
    entry = kb.get("outage.breaker_trip")
    assert not any("电闸" in t for t in entry.texts)  # the entry only says 空开
    ans = engine.ask("电闸跳了")
    assert ans.outcome == "answer"
    assert ans.entry.id == "outage.breaker_trip"


def test_traditional_characters_are_converted(engine: Engine):
    assert clean("停電了怎麼辦？") == "停电了怎么办"
    ans = engine.ask("停電了怎麼辦")
    assert ans.outcome != "fail"
    assert ans.candidates[0].entry.id == "outage.report_fault"
    assert engine.proc.normalise("停電了怎麼辦") == engine.proc.normalise("停电了怎么办")


def test_typo_map_is_applied(engine: Engine, kb):
    assert not any("接替" in t for e in kb.entries for t in e.texts)
    assert "阶梯电价" in engine.proc.normalise("接替电价怎么算")
    ans = engine.ask("接替电价怎么算")
    assert ans.outcome == "answer"
    assert ans.entry.id == "tariff.tier_structure"


def test_full_width_emoji_and_html_are_cleaned(engine: Engine):
    assert clean("<p>空开&nbsp;老跳😀😀！！ＡＢＣ</p>") == "空开 老跳 abc"
    ans = engine.ask("<p>家里<b>空开</b>老是跳😭😭怎么办？？</p>")
    assert ans.outcome == "answer"
    assert ans.entry.id == "outage.breaker_trip"


@pytest.mark.parametrize("question", ["", "   ", "！？。…", "😀😀😀", "<br/><br/>", "12345"])
def test_empty_or_garbage_input_fails(engine: Engine, question: str):
    ans = engine.ask(question)
    assert ans.outcome == "fail"


def test_very_long_input_does_not_crash_and_is_cut_before_ranking(engine: Engine):
    # what bounds the cost is the cut to 300 characters before ranking (checked below), not a clock
    long_text = "我家空开老是跳闸，" + "啊" * 10_000 + "<div>" * 2000 + "😀" * 3000
    ans = engine.ask(long_text)
    assert ans.outcome in ("answer", "clarify", "fail")
    assert len(engine.proc.normalise(long_text)) <= 300


@pytest.mark.parametrize(
    "question",
    ["怎么让电表倒转", "有没有办法让电表走慢一点", "教我绕过电表用电", "电表上放磁铁能少走吗", "怎么偷电不被发现", "如何窃电"],
)
def test_theft_how_to_returns_the_refusal_entry(engine: Engine, question: str):
    assert is_theft_howto(clean(question))
    ans = engine.ask(question)
    assert ans.outcome == "answer"
    assert ans.entry.id == "safety.theft_refusal"
    assert ans.entry.refuse


def test_refusal_entry_is_never_offered_as_a_clarify_choice(kb):
    engine = Engine(kb)
    engine.answer_threshold = 1.01  # nothing is confident enough: "电表" must become a choice
    engine.broad_min = engine.broad_single_min = 1.01  # … and not an answer with related questions
    ans = engine.ask("电表")
    # a choice, or (one plausible entry is no choice) an honest failure: never the refusal offered
    assert ans.kind in ("clarify", "no_match")
    assert ans.candidates and all(not c.entry.refuse for c in ans.candidates)


@pytest.mark.parametrize("question", ["偷电犯法吗", "窃电怎么处罚", "偷电被抓了罚多少"])
def test_question_about_the_law_on_theft_is_a_normal_question(engine: Engine, question: str):
    assert not is_theft_howto(clean(question))
    ans = engine.ask(question)
    assert ans.entry is None or not ans.entry.refuse
    assert ans.candidates[0].entry.id == "safety.theft_law"


@pytest.mark.parametrize("question", ["邻居偷我家电怎么办", "电表走得快怎么办", "怎么举报偷电"])
def test_victims_and_reporters_are_not_treated_as_thieves(question: str):
    assert not is_theft_howto(clean(question))


def test_get_returns_entries_by_id(engine: Engine):
    assert engine.get("business.meter_check").question == "觉得电表走得快可以申请校验吗？"
    assert engine.get("nope.nothing") is None


def test_confidence_is_deterministic(kb):
    a, b = Engine(kb), Engine(kb)
    assert a.confidence_model() == b.confidence_model()
    assert a.ask("电费").confidence == b.ask("电费").confidence


@pytest.mark.parametrize("signal", ["bm25", "char"])
def test_each_signal_alone_still_ranks(kb, signal: str):
    ans = Engine(kb, signal=signal).ask("电闸跳了推不上去")
    assert ans.candidates[0].entry.id == "outage.breaker_trip"


def test_leave_one_out_evaluation_reports_the_figures(engine: Engine):
    m = evaluate.run_leave_one_out(engine, 0.0, progress=False)
    assert m["rows"] == sum(len(e.texts) for e in engine.entries) + len(engine.kb.negatives)
    assert m["top1_accuracy"] > 80
    assert m["unanswerable_failed"] > 90
    assert set(m["per_topic"]) == {"tariff", "outage", "business", "safety", "NONE"}


def test_eval_file_metrics_count_wrong_answers(engine: Engine, tmp_path: Path):
    tsv = tmp_path / "eval.tsv"
    tsv.write_text(
        "question\texpected\tnote\n"
        "电闸跳了\toutage.breaker_trip\tsynonym\n"
        "电闸跳了推不上去\ttariff.late_fee\tdeliberately wrong expectation\n"
        "燃气费怎么交\tNONE\tgas\n"
        "阶梯电价怎么算\ttariff.tier_structure|tariff.henan_tier\ttwo acceptable\n",
        encoding="utf-8",
    )
    m = evaluate.run_file(engine, evaluate.read_eval_file(tsv), 0.0, progress=False)
    assert (m["rows"], m["answerable"], m["unanswerable"]) == (4, 3, 1)
    assert m["top1_accuracy"] == pytest.approx(66.67)
    assert m["wrong_answer_rate_all"] == 25.0
    assert m["unanswerable_failed"] == 100.0
    assert m["confused"][0]["expected"] == "tariff.late_fee"
    assert m["latency_ms"]["p95"] > 0
    chart = tmp_path / "chart.png"
    evaluate.write_chart(m, chart)
    assert chart.read_bytes()[:4] == b"\x89PNG"


def test_bad_eval_file_is_refused(tmp_path: Path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("q,expected\nfoo,bar\n", encoding="utf-8")
    with pytest.raises(evaluate.EvalFileError):
        evaluate.read_eval_file(bad)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("background", [False, True], ids=["in-thread", "background"])
def test_live_engine_reloads_changed_files_and_keeps_serving_a_broken_save(tmp_path: Path, caplog, background: bool):
    root = tmp_path / "knowledge"
    shutil.copytree(FIXTURE, root)
    clock = FakeClock()
    live = LiveEngine(root, clock=clock, background=background)
    assert live.ask("电闸跳了").entry.answer.startswith("空开跳闸多因过载或短路")

    path = root / "outage.yml"
    path.write_text(path.read_text(encoding="utf-8").replace("空开跳闸多因过载或短路。", "新的答案：空开跳闸多因过载或短路。"), encoding="utf-8")
    clock.now += 1.0  # not yet 2 s: no look at the files
    assert live.ask("电闸跳了").entry.answer.startswith("空开跳闸多因")
    clock.now += 1.5
    first = live.ask("电闸跳了")
    if background:
        # the question that noticed the change is answered at once, from the engine it found
        assert first.entry.answer.startswith("空开跳闸多因")
        live.wait(timeout=60)
        first = live.ask("电闸跳了")
    assert first.entry.answer.startswith("新的答案")

    path.write_text(path.read_text(encoding="utf-8").replace("    source: 国家电网供电服务\"十项承诺\"（2023年）\n", "", 1), encoding="utf-8")
    clock.now += 3
    with caplog.at_level(logging.WARNING, logger="bot.kb.live"):
        live.ask("电闸跳了")
        live.wait(timeout=60)
        ans = live.ask("电闸跳了")
    assert ans.entry.answer.startswith("新的答案")  # the previous engine still serves
    assert any("field source: missing" in r.getMessage() for r in caplog.records)
    assert live.last_error is not None


def test_single_question_fast_path_scores_like_the_batch_path(engine: Engine):
    import numpy as np

    for text in ["电闸跳了推不上去", "燃气费怎么交", "阶梯电价 分档 河南"]:
        q = engine._query(text)
        one = engine._raw(engine._batch([q]))
        two = engine._raw(engine._batch([q, q]))  # n > 1 takes the sparse-matrix path
        for key in one:
            assert np.allclose(one[key][0], two[key][0]), key


@pytest.mark.parametrize("question", ["燃气费怎么交", "话费怎么充值", "有线电视费怎么交", "物业费不交会怎么样"])
def test_another_public_service_is_out_of_domain(engine: Engine, question: str):
    assert is_other_service(clean(question))
    ans = engine.ask(question)
    assert ans.outcome == "fail" and ans.reason.startswith("out of domain")


@pytest.mark.parametrize("question", ["停电了宽带也断了", "燃气热水器漏电", "电费和水费一起交"])
def test_an_electricity_question_naming_another_service_stays_ours(question: str):
    assert not is_other_service(clean(question))
