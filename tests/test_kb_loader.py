"""The knowledge loader: a valid KB loads; every kind of broken file is refused with file, line, id, field."""
from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from bot.kb.loader import load_knowledge
from bot.kb.model import KnowledgeError

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
    assert "knowledge/outage.yml:1 field topic: 'power' is not one of tariff/outage/business/safety" in msgs


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
