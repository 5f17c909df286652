"""The knowledge loader: a valid KB loads; every kind of broken file is refused with file, line, id, field."""
from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from bot.clock import beijing_today
from bot.kb.loader import load_knowledge
from bot.kb.model import TOPICS, KnowledgeError

FIXTURE = Path(__file__).parent / "data" / "kb_fixture"


@pytest.fixture()
def kb_dir(tmp_path: Path) -> Path:
    """A writable copy of the fixture KB, named knowledge/ like the real one."""
    root = tmp_path / "knowledge"
    shutil.copytree(FIXTURE, root)
    return root


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"fixture changed? {old!r} not in {path.name}"
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def line_of(path: Path, needle: str, nth: int = 1) -> int:
    """1-based line number of the nth line containing needle."""
    hits = [i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1) if needle in line]
    return hits[nth - 1]


def problems(root: Path) -> list[str]:
    with pytest.raises(KnowledgeError) as info:
        load_knowledge(root)
    return info.value.problems


def test_valid_fixture_loads_with_files_lines_and_dates():
    kb = load_knowledge(FIXTURE)
    assert len(kb.entries) == 16
    assert {e.topic for e in kb.entries} == {"tariff", "outage", "business", "safety"}
    entry = kb.get("tariff.late_fee")
    assert entry is not None
    assert entry.file.endswith("kb_fixture/tariff.yml")
    assert entry.line == line_of(FIXTURE / "tariff.yml", "id: tariff.late_fee")
    assert entry.effective == dt.date(1996, 9, 1)
    assert len(entry.paraphrases) >= 8
    assert kb.get("business.transfer_owner").materials == ["有效身份证明", "房屋产权证明"]
    assert kb.get("safety.theft_refusal").refuse is True
    assert kb.synonym_groups and kb.typos and kb.negatives
    assert kb.warnings == []


def test_region_placeholders_are_filled_from_the_region_file():
    entry = load_knowledge(FIXTURE).get("tariff.henan_tier")
    assert "{{" not in entry.answer
    assert "2160千瓦时" in entry.answer  # plain value
    assert "2161至3120千瓦时" in entry.answer  # {value: ..., source: ...} form
    assert entry.region == "henan"


def test_yaml_syntax_error_names_file_and_line(kb_dir: Path):
    edit(kb_dir / "outage.yml", "    question: 计划停电会提前通知吗？", "    question: [计划停电会提前通知吗？")
    msgs = problems(kb_dir)
    assert any(m.startswith("knowledge/outage.yml:") and "YAML syntax error" in m for m in msgs)
    line = int(next(m for m in msgs if "YAML syntax" in m).split(":")[1].split()[0])
    assert abs(line - line_of(kb_dir / "outage.yml", "question: [计划停电")) <= 2


def test_wrong_top_level_shape(kb_dir: Path):
    (kb_dir / "safety.yml").write_text("- just\n- a list\n", encoding="utf-8")
    assert "knowledge/safety.yml:1 top-level: expected a mapping with 'topic:' and 'entries:'" in problems(kb_dir)


def test_missing_field_names_file_line_entry_and_field(kb_dir: Path):
    path = kb_dir / "tariff.yml"
    entry_line = line_of(path, "id: tariff.late_fee")
    edit(path, "    source: 《电力供应与使用条例》第三十九条（国务院令第196号，1996年，2019年修订）\n", "")
    assert f"knowledge/tariff.yml:{entry_line} entry tariff.late_fee field source: missing" in problems(kb_dir)


def test_empty_answer_and_too_few_paraphrases(kb_dir: Path):
    path = kb_dir / "business.yml"
    edit(path, "      可以向供电企业申请电能表校验，受理后5个工作日内出具检测结果。\n", "")
    edit(path, "      - 怎么检测家里电表准不准\n", "")
    edit(path, "      - 电表校验收费吗\n", "")
    msgs = problems(kb_dir)
    answer_line = line_of(path, "answer: |", 3)
    para_line = line_of(path, "paraphrases:", 3)
    assert f"knowledge/business.yml:{answer_line} entry business.meter_check field answer: empty" in msgs
    assert f"knowledge/business.yml:{para_line} entry business.meter_check field paraphrases: 6 given, at least 8 needed" in msgs


def test_bad_id_format_and_wrong_topic(kb_dir: Path):
    edit(kb_dir / "safety.yml", "id: safety.ebike_charging", "id: Safety.E-Bike")
    edit(kb_dir / "outage.yml", "topic: outage", "topic: power")
    msgs = problems(kb_dir)
    line = line_of(kb_dir / "safety.yml", "id: Safety.E-Bike")
    assert any(m.startswith(f"knowledge/safety.yml:{line} entry Safety.E-Bike field id:") for m in msgs)
    assert f"knowledge/outage.yml:1 field topic: 'power' is not one of {'/'.join(TOPICS)}" in msgs  # knowledge/topics.yml


def test_duplicate_id_is_reported_at_both_places(kb_dir: Path):
    edit(kb_dir / "business.yml", "id: business.meter_check", "id: business.transfer_owner")
    msgs = problems(kb_dir)
    first = line_of(kb_dir / "business.yml", "id: business.transfer_owner", 1)
    second = line_of(kb_dir / "business.yml", "id: business.transfer_owner", 2)
    assert (
        f"knowledge/business.yml:{first} entry business.transfer_owner field id: duplicate id, also at knowledge/business.yml:{second}"
        in msgs
    )
    assert (
        f"knowledge/business.yml:{second} entry business.transfer_owner field id: duplicate id, also at knowledge/business.yml:{first}"
        in msgs
    )


def test_paraphrase_in_two_entries_names_both_ids(kb_dir: Path):
    # same text up to punctuation, case and full-width characters
    edit(kb_dir / "outage.yml", "      - 停电了找谁\n", "      - ＡＢ电费怎么交！\n")
    edit(kb_dir / "tariff.yml", "      - 怎么交电费\n", "      - ab电费怎么交\n")
    msgs = problems(kb_dir)
    out_line = line_of(kb_dir / "outage.yml", "ＡＢ电费怎么交")
    tar_line = line_of(kb_dir / "tariff.yml", "ab电费怎么交")
    assert any(m.startswith(f"knowledge/outage.yml:{out_line} entry outage.report_fault field paraphrases:") and "tariff.pay_channels" in m for m in msgs)
    assert any(m.startswith(f"knowledge/tariff.yml:{tar_line} entry tariff.pay_channels field paraphrases:") and "outage.report_fault" in m for m in msgs)


def test_unknown_related_id(kb_dir: Path):
    path = kb_dir / "safety.yml"
    edit(path, "related: [safety.theft_refusal]", "related: [safety.theft_refusal, safety.no_such_entry]")
    line = line_of(path, "safety.no_such_entry")
    assert f"knowledge/safety.yml:{line} entry safety.theft_law field related: 'safety.no_such_entry' does not exist" in problems(kb_dir)


def test_region_scope_without_region_file(kb_dir: Path):
    path = kb_dir / "tariff.yml"
    edit(path, "scope: region:henan", "scope: region:hubei")
    line = line_of(path, "scope: region:hubei")
    assert f"knowledge/tariff.yml:{line} entry tariff.henan_tier field scope: region file knowledge/regions/hubei.yml does not exist" in problems(kb_dir)


def test_placeholder_key_missing_in_region_file(kb_dir: Path):
    path = kb_dir / "tariff.yml"
    edit(path, "{{region.henan.tier1_annual}}", "{{region.henan.tier9_annual}}")
    line = line_of(path, "answer: |", 5)
    msgs = problems(kb_dir)
    assert (
        f"knowledge/tariff.yml:{line} entry tariff.henan_tier field answer: placeholder {{{{region.henan.tier9_annual}}}}: "
        "key 'tier9_annual' not in knowledge/regions/henan.yml" in msgs
    )


def test_dates_must_be_dates(kb_dir: Path):
    path = kb_dir / "outage.yml"
    edit(path, "effective: 2024-06-01", "effective: next summer")
    line = line_of(path, "effective: next summer")
    assert f"knowledge/outage.yml:{line} entry outage.restore_after_payment field effective: 'next summer' is not a date (YYYY-MM-DD)" in problems(kb_dir)


def test_every_problem_is_listed_at_once(kb_dir: Path):
    edit(kb_dir / "tariff.yml", "    source: 《电力供应与使用条例》第三十九条（国务院令第196号，1996年，2019年修订）\n", "")
    edit(kb_dir / "outage.yml", "effective: 2024-06-01", "effective: soon")
    edit(kb_dir / "safety.yml", "related: [safety.ebike_charging]", "related: [safety.nope]")
    msgs = problems(kb_dir)
    assert len(msgs) == 3
    assert {m.split(":")[0] for m in msgs} == {"knowledge/tariff.yml", "knowledge/outage.yml", "knowledge/safety.yml"}


def test_review_by_in_the_past_is_a_warning_not_an_error(kb_dir: Path):
    path = kb_dir / "tariff.yml"
    edit(path, "review_by: 2099-06-30", "review_by: 2013-01-01")
    kb = load_knowledge(kb_dir)
    line = line_of(path, "review_by: 2013-01-01")
    assert kb.warnings == [f"knowledge/tariff.yml:{line} entry tariff.tier_structure field review_by: 2013-01-01 is in the past, review the entry"]


def test_synonym_word_in_two_groups_is_refused(kb_dir: Path):
    edit(kb_dir / "synonyms.yml", "  - [停电, 断电, 没电了]", "  - [停电, 断电, 没电了, 电闸]")
    msgs = problems(kb_dir)
    assert any(m.startswith("knowledge/synonyms.yml:") and "'电闸' is also in the group" in m for m in msgs)


def test_account_questions_are_negatives_too_and_a_broken_one_is_refused_with_its_line(kb_dir: Path):
    path = kb_dir / "negatives.yml"
    path.write_text(path.read_text(encoding="utf-8") + "account_questions:\n  - 我家户号是多少\n  - 上个月电费多少钱\n",
                    encoding="utf-8")
    kb = load_knowledge(kb_dir)
    assert kb.account_questions == ["我家户号是多少", "上个月电费多少钱"]
    assert set(kb.account_questions) <= set(kb.negatives) and "燃气费在哪里交" in kb.negatives
    path.write_text(path.read_text(encoding="utf-8") + "  - {a: 1}\n", encoding="utf-8")
    found = problems(kb_dir)
    assert f"knowledge/negatives.yml:{line_of(path, '{a: 1}')} field account_questions: item 3 is not a question text" in found


# -- citations (issue 19): a source names a document, its date and, for a law, an article ----------
LATE_FEE_SOURCE = "    source: 《电力供应与使用条例》第三十九条（国务院令第196号，1996年，2019年修订）\n"


def source_problems(kb_dir: Path, new_source: str) -> tuple[int, list[str]]:
    path = kb_dir / "tariff.yml"
    edit(path, LATE_FEE_SOURCE, f"    source: {new_source}\n")
    return line_of(path, f"source: {new_source}"), problems(kb_dir)


def test_our_own_note_is_never_a_source(kb_dir: Path):
    line, msgs = source_problems(kb_dir, "《电力供应与使用条例》第三十九条（国务院令第196号，1996年）；安全用电常识（本项目参考资料 policy-facts 第8节）")
    assert [m for m in msgs if m.startswith(f"knowledge/tariff.yml:{line} entry tariff.late_fee field source: '安全用电常识")]
    assert "our own note" in msgs[0] and len(msgs) == 1


def test_a_citation_names_a_document_and_its_date(kb_dir: Path):
    line, msgs = source_problems(kb_dir, "《电力供应与使用条例》第三十九条（国务院令第196号，1996年）；电费常识；国网某县供电公司交费提示")
    assert msgs == [f"knowledge/tariff.yml:{line} entry tariff.late_fee field source: '电费常识' names no document: "
                    "give its title in 《》 (or the notice's kind), its issuer and date",
                    f"knowledge/tariff.yml:{line} entry tariff.late_fee field source: '国网某县供电公司交费提示' does not say "
                    "when the document was issued (a number or a year, or 日期待核)"]


def test_a_law_needs_an_article_or_says_its_text_was_not_read(kb_dir: Path):
    line, msgs = source_problems(kb_dir, "《电力供应与使用条例》（国务院令第196号，1996年）")
    assert len(msgs) == 1 and msgs[0].startswith(f"knowledge/tariff.yml:{line} entry tariff.late_fee field source:")
    assert "is a law or regulation: name the article (第…条)" in msgs[0]


def test_a_citation_marked_unread_must_be_reviewed_within_a_year(kb_dir: Path):
    path = kb_dir / "tariff.yml"
    line, msgs = source_problems(kb_dir, "《供电营业规则》（国家发展和改革委员会令2024年第14号，1996年；条文待核）")
    review_line = line + 2
    assert len(msgs) == 1 and msgs[0].startswith(f"knowledge/tariff.yml:{review_line} entry tariff.late_fee field review_by: the source is marked 待核")
    soon = (beijing_today() + dt.timedelta(days=200)).isoformat()
    text = path.read_text(encoding="utf-8").splitlines(keepends=True)
    assert text[review_line - 1] == "    review_by: 2099-06-30\n"
    text[review_line - 1] = f"    review_by: {soon}\n"
    path.write_text("".join(text), encoding="utf-8")
    assert load_knowledge(kb_dir).get("tariff.late_fee").review_by.isoformat() == soon


def test_the_1996_business_rules_are_no_source(kb_dir: Path):
    line, msgs = source_problems(kb_dir, "1996年《供电营业规则》第九十八条（电力工业部令第8号，1996年）")
    assert len(msgs) == 1 and msgs[0].startswith(f"knowledge/tariff.yml:{line} entry tariff.late_fee field source:")
    assert "cites the 1996 供电营业规则, replaced on 2024-06-01" in msgs[0]


def test_effective_is_a_date_the_source_names(kb_dir: Path):
    path = kb_dir / "tariff.yml"
    edit(path, "effective: 1996-09-01", "effective: 2023-08-08")
    line = line_of(path, "effective: 2023-08-08")
    assert problems(kb_dir) == [f"knowledge/tariff.yml:{line} entry tariff.late_fee field effective: 2023-08-08 is not a date "
                                "the source names: add the document's date (e.g. 2024年6月1日施行) to the source, or correct effective"]


def test_an_unknown_effective_date_is_null_and_said_so_in_the_source(kb_dir: Path):
    path = kb_dir / "tariff.yml"
    edit(path, "effective: 1996-09-01", "effective: null")
    assert f"knowledge/tariff.yml:{line_of(path, 'effective: null')} entry tariff.late_fee field effective: missing" in problems(kb_dir)
    edit(path, "（国务院令第196号，1996年，2019年修订）", "（国务院令第196号，1996年；生效日期待核）")
    edit(path, "review_by: 2099-06-30\n    related: [tariff.pay_channels]",
         f"review_by: {(beijing_today() + dt.timedelta(days=30)).isoformat()}\n    related: [tariff.pay_channels]")
    entry = load_knowledge(kb_dir).get("tariff.late_fee")
    assert entry.effective is None and entry.effective_text == "待核"


def test_review_by_comes_after_effective(kb_dir: Path):
    path = kb_dir / "tariff.yml"
    edit(path, "review_by: 2099-06-30\n    related: [tariff.pay_channels]", "review_by: 1990-01-01\n    related: [tariff.pay_channels]")
    line = line_of(path, "review_by: 1990-01-01")
    assert f"knowledge/tariff.yml:{line} entry tariff.late_fee field review_by: 1990-01-01 is not after effective 1996-09-01" in problems(kb_dir)


def test_a_national_entry_gives_no_provincial_figure(kb_dir: Path):
    path = kb_dir / "tariff.yml"
    edit(path, "具体比例见合同，可咨询95598。", "具体比例见合同，可咨询95598。例如陕西的口径：线上每户每月不超过60次。")
    line = line_of(path, "answer: |", 3)
    msgs = problems(kb_dir)
    assert len(msgs) == 1 and msgs[0].startswith(f"knowledge/tariff.yml:{line} entry tariff.late_fee field answer: '例如陕西的口径")
    assert "gives a figure for 陕西: a national entry has no provincial figure" in msgs[0]
    # a place without a figure, or a figure without a place, is fine
    edit(path, "例如陕西的口径：线上每户每月不超过60次。", "陕西、河南的客户同样可以在网上国网App交费。逾期30日以上可能停电。")
    load_knowledge(kb_dir)


def test_a_rule_that_differs_by_province_sends_the_customer_to_the_local_figure(kb_dir: Path):
    path = kb_dir / "tariff.yml"
    edit(path, "具体比例见合同，可咨询95598。", "具体比例由各省规定，可咨询95598。")
    line = line_of(path, "answer: |", 3)
    assert problems(kb_dir) == [f"knowledge/tariff.yml:{line} entry tariff.late_fee field answer: says the rule differs by place: "
                                "add '以当地供电公司公布为准'"]
    edit(path, "具体比例由各省规定，可咨询95598。", "具体比例由各省规定，以当地供电公司公布为准。")
    load_knowledge(kb_dir)


def test_a_region_entry_has_the_region_files_effective_date(kb_dir: Path):
    region = kb_dir / "regions" / "henan.yml"
    edit(region, "date: 2024-01-01\n", "date: 2024-01-01\neffective: 2023-01-01\n")
    path = kb_dir / "tariff.yml"
    line = line_of(path, "effective: 2024-01-01")
    assert problems(kb_dir) == [f"knowledge/tariff.yml:{line} entry tariff.henan_tier field effective: must agree with "
                                "knowledge/regions/henan.yml (effective: 2023-01-01)"]


def test_the_real_knowledge_base_follows_the_citation_rules():
    kb = load_knowledge()
    assert not any("policy-facts" in e.source or "1996年《供电营业规则》" in e.source for e in kb.entries)


REFERENCE = Path(__file__).parents[1] / "knowledge" / "reference"
# the title a citation uses → the text in knowledge/reference/ it is checked against
READ_TEXTS = {"《中华人民共和国电力法》": "电力法", "《电力法》": "电力法", "《电力供应与使用条例》": "电力供应与使用条例",
              "《电力设施保护条例》": "电力设施保护条例", "《中华人民共和国民法典》": "民法典合同编", "《民法典》": "民法典合同编",
              "《河南省供用电条例》": "河南省供用电条例", "《上海市供用电条例》": "上海市供用电条例"}


def test_every_article_cited_from_a_text_we_hold_exists_in_it():
    import re

    from bot.kb.loader import ARTICLE_RE, split_citations

    articles = {name: set(re.findall(r"^(第[零一二三四五六七八九十百千]+条)", (REFERENCE / f"{name}.md").read_text(encoding="utf-8"), re.M))
                for name in set(READ_TEXTS.values())}
    checked, missing = 0, []
    for entry in load_knowledge().entries:
        for part in split_citations(entry.source):
            head = part.split("（")[0]
            for title, name in READ_TEXTS.items():
                if head.startswith(title):
                    for article in ARTICLE_RE.findall(head):
                        checked += 1
                        if article not in articles[name]:
                            missing.append(f"{entry.file}:{entry.line} {entry.id}: {title}{article}")
    assert checked > 150 and missing == []
