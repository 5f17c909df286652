"""Account-specific questions, place names and the theft guard's lawful questions, on the real KB."""
from __future__ import annotations

import numpy as np
import pytest

from bot import replies
from bot.kb.engine import PERSONAL_REASON, Engine
from bot.kb.loader import load_knowledge
from bot.kb.personal import LOOKUP_HOWTO, personal_lookup
from bot.kb.places import places_in
from bot.kb.scope import out_of_scope
from bot.kb.theft import is_theft_howto


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(load_knowledge())


@pytest.mark.parametrize("question, kind", [
    ("我家户号是多少", "account"),
    ("帮我查一下我家欠了多少电费", "balance"),
    ("上个月用了多少度电", "bill"),
    ("帮我查下这个月电费", "bill"),
    ("我那个报修工单号是多少", "order"),
    ("我们村下周三停电吗", "outage_schedule"),
    ("俺们小区明儿个停电不", "outage_schedule"),
    ("这个月电费扣成功没有", "status"),
    ("帮我查查我家电表表号", "account"),
    ("我家这个月欠不欠费", "balance"),
    ("我们小区抢修到哪一步了", "order"),
    ("4月份用了多少度电", "bill"),
    ("去年全年交了多少电费 你那边能看到吧", "bill"),
    ("我们这片停电了 你能不能看到几点恢复", "outage_schedule"),
    ("表号是多少 我家的", "account"),
])
def test_questions_for_the_customers_own_data_are_recognised(question: str, kind: str):
    assert personal_lookup(question) == kind


@pytest.mark.parametrize("question", [
    "我家户号在哪看", "户号是几位数", "怎么查电费余额", "余额不足会停电吗", "我家电费怎么这么高",
    "我家欠费多久会停电", "我们这里居民电价多少钱一度", "今年还剩多少第一档电量", "申请的过户办到哪一步了",
    "交费成功 没恢复供电", "就欠了几十块钱 一个短信都没有就给我停了", "抢修进度能查吗", "原房主欠电费没交 要我还吗", "能不能查我家户号", "阶梯电价7月用多少度算二档",
])
def test_how_to_rules_and_complaints_are_not_personal_lookups(question: str):
    assert personal_lookup(question) is None


def test_every_lookup_kind_points_at_an_entry_of_the_knowledge_base(engine: Engine):
    assert {k: engine.get(i) is not None for k, i in LOOKUP_HOWTO.items()} == dict.fromkeys(LOOKUP_HOWTO, True)
    from bot.kb.engine import RECORDS_KIND

    assert set(replies.PERSONAL_OPENERS) == set(LOOKUP_HOWTO) | {RECORDS_KIND}


def test_own_data_fails_honestly_with_the_how_to_entry_and_the_how_to_is_answered(engine: Engine):
    own = engine.ask("帮我查一下我家现在电费余额还剩多少")
    assert own.outcome == "fail" and own.reason == f"{PERSONAL_REASON}: balance"
    assert [c.entry.id for c in own.candidates] == [LOOKUP_HOWTO["balance"]]
    how = engine.ask("电费余额在哪看")
    assert how.outcome == "answer" and how.entry.id == LOOKUP_HOWTO["balance"]
    text = replies.personal_data(own)[0]["text"]
    assert text.startswith(replies.PERSONAL_OPENERS["balance"])


def test_a_region_entry_never_answers_for_another_province(engine: Engine):
    assert places_in("广州阶梯电价每档多少度") == {"广州"}
    other = engine.ask("广州阶梯电价每档多少度")
    assert all(c.entry.region is None for c in other.candidates)
    # the national answer first: the tier rules, or the tier overview that links them
    assert other.candidates[0].entry.id in ("tariff.tier_structure", "tariff.overview_tiers")
    own = engine.ask("杭州的阶梯电价每档多少度")
    assert own.candidates[0].entry.id == "tariff.zhejiang_tier_prices"
    assert "杭州" in engine.kb.regions["zhejiang"].places


def test_a_place_of_the_region_gets_its_entry_even_with_a_strong_national_rival(engine: Engine):
    local = engine.ask("我在温州 峰谷电低谷几点开始")
    assert local.outcome == "answer" and local.entry.id == "tariff.zhejiang_tou_prices"
    assert "tariff.tou_hours" in [c.entry.id for c in local.candidates]  # the national rule stays a button
    assert engine.ask("杭州 电费发票怎么开").entry.id == "tariff.invoice"  # a national topic stays national


@pytest.mark.parametrize("question, refused", [
    ("偷电 怎么界定", False),
    ("淘宝上卖的让电表少走字的省电宝 能买吗", False),
    ("网上那种让电表少走的节电器 能买不", False),  # the same question in northern wording
    ("跳过电表 直接接火线", True),
    ("绕过电表接线", True),
    ("邻居绕过电表接线 怎么举报", False),
])
def test_theft_guard_refuses_methods_but_not_questions_about_the_law(question: str, refused: bool):
    assert is_theft_howto(question) is refused


def test_no_paraphrase_is_caught_by_the_account_theft_or_scope_guards(engine: Engine):
    """A paraphrase the guards intercept could never be answered from its entry: either the guard
    is too broad or the paraphrase belongs elsewhere."""
    caught = []
    for entry in engine.entries:
        for text in entry.texts:
            normalised = engine.proc.normalise(text)
            if personal_lookup(text, normalised):
                caught.append(("personal", entry.id, text))
            if not entry.refuse and is_theft_howto(text, normalised):
                caught.append(("theft", entry.id, text))
            if not entry.refuse and out_of_scope(text, normalised):
                caught.append(("out of scope", entry.id, text))
    assert caught == []


@pytest.mark.parametrize("question, kind", [
    ("天然气费在哪交", "another public service"),
    ("水表走得飞快是不是管子漏了", "another public service"),
    ("国网的工资待遇怎么样", "another public service"),
    ("家用储能电池哪个牌子靠谱", "product advice"),
    ("小型发电机多少钱一台", "product advice"),
    ("冰箱不制冷了找谁修", "appliance repair"),
    ("想考个低压电工证 去哪报名", "licence exams"),
    ("特种作业证 难考吗", "licence exams"),
    ("国庆去杭州玩 有什么攻略", "another public service"),
    ("冰箱冷冻室老结霜", "appliance repair"),
])
def test_questions_that_are_not_ours_are_recognised(question: str, kind: str):
    assert out_of_scope(question) == kind


@pytest.mark.parametrize("question", [
    "充电桩电费一度多少钱", "一开空调就跳闸", "热水器漏电了", "冰箱被烧坏了供电公司赔吗", "电工证 家庭装修 需要吗",
    "户名跟身份证上的名字不一样", "暖气片旁边的插座能用电暖器吗", "用电档案里的手机号怎么修改",
    "漏电保护器买哪个牌子的好", "冰箱不制冷 是不是昨天停过电",
])
def test_electricity_questions_near_those_words_stay_ours(question: str):
    assert out_of_scope(question) is None


def test_a_complaint_about_the_meter_never_gets_the_theft_refusal(engine: Engine):
    for question in ("电表走得太快了", "电表好像走得特别快", "电表不走了"):
        ans = engine.ask(question)
        assert not any(c.entry.refuse for c in ans.candidates), question
        assert ans.entry is None or not ans.entry.refuse
    assert engine.ask("怎么让电表走慢").entry.refuse  # the how-to still gets the refusal


def test_the_gate_fails_what_is_worded_like_no_question_of_ours(engine: Engine):
    from bot.kb.engine import GATE_REASON

    delivery = engine.ask("淘宝买的电水壶几天能发货")
    # the gate's probability is also a feature of the confidence model, which may fail it first
    assert delivery.outcome == "fail" and delivery.reason in (GATE_REASON, "no entry is plausible")
    assert delivery.candidates  # the likeliest entries still travel with the work order
    for question in ("电费交错户号了", "网上国网怎么交电费", "我家空开老跳闸怎么办"):
        assert engine.ask(question).reason != GATE_REASON, question


def test_a_question_over_the_gate_threshold_fails_even_when_entries_stay_plausible(engine: Engine, monkeypatch):
    from bot.kb.engine import GATE_REASON

    question = "峰谷电 几点到几点算谷"
    assert engine.ask(question).outcome == "answer"
    # 0.55 leaves the entries plausible to the confidence model (a choice); over the threshold the
    # gate turns that choice into a failure
    monkeypatch.setattr(engine.gate, "p", lambda cleaned, features=None: 0.55)
    # (one plausible entry is not a choice: it is answered, or failed honestly when unlikely)
    assert engine.ask(question).reason != GATE_REASON
    monkeypatch.setattr("bot.kb.engine.GATE_THRESHOLD", 0.5)
    # a question that names electricity meets the gate's stricter threshold (GATE_THRESHOLD_ELECTRIC)
    assert engine.ask(question).reason != GATE_REASON
    monkeypatch.setattr(engine, "gate_threshold_electric", 0.5)
    gated = engine.ask(question)
    assert gated.outcome == "fail" and gated.reason == GATE_REASON and gated.candidates


def test_the_gate_lets_the_knowledge_base_through(engine: Engine):
    from bot.kb.engine import GATE_REASON

    texts = [t for e in engine.entries if not e.refuse for t in e.texts]
    gated = [t for t in texts if engine.ask(t).reason == GATE_REASON]
    # cross-validated, about 1 % of unseen paraphrases would be refused; asked verbatim almost none
    assert len(gated) <= len(texts) // 500, gated


def test_gate_probabilities_for_training_come_from_gates_that_did_not_see_the_text():
    from bot.kb.answerable import AnswerableGate

    kb = load_knowledge()
    answerable = [t for e in kb.entries if not e.refuse for t in e.texts]
    negatives = list(kb.negatives)
    gate = AnswerableGate(answerable, negatives)
    p_ans, p_neg = gate.out_of_fold_by_kind()
    assert p_ans.shape == (len(answerable),) and p_neg.shape == (len(negatives),)
    seen = np.array([gate.p_unanswerable(t) for t in negatives])
    # a gate scoring its own examples is far surer than one meeting them for the first time
    assert seen.mean() - p_neg.mean() > 0.1
    # … and still tells the two kinds apart on unseen texts
    assert p_neg.mean() - p_ans.mean() > 0.3


def test_the_gate_probability_lowers_the_confidence_it_is_given_to(engine: Engine, monkeypatch):
    coefs = engine.confidence_model()
    assert coefs["top"]["unlike"] < 0 and coefs["cand"]["unlike"] < 0
    question = "峰谷电 几点到几点算谷"
    before = engine.ask(question)
    monkeypatch.setattr(engine.gate, "p", lambda cleaned, features=None: 0.55)  # below the hard gate
    after = engine.ask(question)
    assert after.reason != "not like any question the knowledge base answers"
    assert after.confidence < before.confidence


def test_a_province_is_never_the_answer_for_a_customer_who_names_no_place(engine: Engine):
    placed = engine.ask("杭州的阶梯电价每档多少度")
    assert placed.outcome == "answer" and placed.entry.region == "zhejiang"
    for question in ("阶梯电价每档多少度 一度多少钱", "居民用电 分档 每档几度 单价多少", "峰谷电价 几点到几点 多少钱一度",
                     "峰谷电 低谷是几点", "分时电价 高峰几点 低谷几点", "合表用户电价多少"):
        ans = engine.ask(question)
        assert ans.entry is None or not ans.entry.region, (question, ans.entry.id)
        if ans.outcome == "clarify":  # … national entries are offered, first
            regional = [bool(c.entry.region) for c in ans.candidates]
            assert not regional[0] and regional == sorted(regional), (question, [c.entry.id for c in ans.candidates])


def test_every_text_of_a_regional_entry_names_one_of_its_places(engine: Engine):
    # otherwise the entry could never be answered from that text (see knowledge/README.md, places)
    from bot.kb.text import clean

    regional = [e for e in engine.entries if e.region]
    assert regional
    for entry in regional:
        own = set(engine.kb.regions[entry.region].places)
        for text in entry.texts:
            assert places_in(clean(text), engine._places) & own, (entry.id, text)


def test_account_questions_no_rule_knows_get_the_honest_reply_with_their_likeliest_entries(engine: Engine):
    from bot.kb.engine import RECORDS_KIND

    # wordings that personal.py's rules do not know, written for this test
    for question in ("我的增容申请批下来没有", "早上报的抢修 师傅出发了没有 帮我问问"):
        assert personal_lookup(question) is None, question
        ans = engine.ask(question)
        assert ans.outcome == "fail" and ans.reason == f"{PERSONAL_REASON}: {RECORDS_KIND}", (question, ans.reason)
        assert ans.candidates and not any(c.entry.refuse for c in ans.candidates)
        message = replies.personal_data(ans)[0]
        assert message["text"].startswith(replies.PERSONAL_OPENERS[RECORDS_KIND])
        assert message["buttons"][0]["title"] == ans.candidates[0].entry.question
        assert message["buttons"][-1] == replies.TO_HUMAN
    # asking how or where is for the knowledge base, however much it sounds like "my records"
    for question in ("我家户号在哪查", "我家电费余额 去哪能看到"):
        assert not engine.ask(question).reason.startswith(PERSONAL_REASON), question


def test_the_records_detector_is_learned_from_the_account_questions_of_negatives_yml():
    from bot.kb.records import RecordsDetector

    kb = load_knowledge()
    assert len(kb.account_questions) >= 100 and set(kb.account_questions) <= set(kb.negatives)
    paraphrases = [t for e in kb.entries if not e.refuse for t in e.texts]
    detector = RecordsDetector(kb.account_questions, paraphrases)
    p_records, p_paraphrases = detector.out_of_fold()
    # unseen: most account questions score higher than almost every paraphrase
    assert np.median(p_records) > np.quantile(p_paraphrases, 0.99)
    assert not RecordsDetector([], paraphrases).asks_for_records("我家户号是多少")
