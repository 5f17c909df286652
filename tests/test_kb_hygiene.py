"""Knowledge hygiene (python -m bot kb-check, part of make validate): due dates, unreached entries
and overlapping entries, each named with its file and line."""
from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from bot.kb.loader import load_knowledge
from bot.review.hygiene import due_for_review, format_findings, overlaps, unreached

FIXTURE = Path(__file__).parent / "data" / "kb_fixture"


@pytest.fixture
def kdir(tmp_path: Path) -> Path:
    d = tmp_path / "knowledge"
    shutil.copytree(FIXTURE, d)
    return d


def test_entries_due_within_30_days_are_listed_with_file_and_line(kdir: Path) -> None:
    text = (kdir / "outage.yml").read_text(encoding="utf-8")
    (kdir / "outage.yml").write_text(text.replace("review_by: 2099-06-30", "review_by: 2027-01-02", 1), encoding="utf-8")
    kb = load_knowledge(kdir)
    due = due_for_review(kb, date(2026, 12, 7))
    first_outage = next(e for e in kb.entries if e.file.endswith("outage.yml"))
    assert [(f.where, f.message.split(":")[0]) for f in due] == [(f"{first_outage.file}:{first_outage.line}", first_outage.id)]
    assert "2027-01-02" in due[0].message
    assert due_for_review(kb, date(2026, 11, 1)) == []


def test_a_copied_entry_is_reported_as_overlapping(kdir: Path) -> None:
    kb = load_knowledge(kdir)
    assert [f for f in overlaps(kb) if f.kind == "answer_overlap"] == []
    # a trainer pastes an entry's answer into another one
    tariff = (kdir / "tariff.yml").read_text(encoding="utf-8")
    first, second = [e for e in load_knowledge(kdir).entries if e.file.endswith("tariff.yml")][:2]
    tariff = tariff.replace(second.answer.strip().splitlines()[0], first.answer.strip().splitlines()[0], 1)
    (kdir / "tariff.yml").write_text(tariff, encoding="utf-8")
    found = [f for f in overlaps(load_knowledge(kdir)) if f.kind == "answer_overlap"]
    assert any(first.id in f.message and second.id in f.message for f in found)
    assert "答案重叠" in format_findings(found)


def test_unreached_entries_are_the_ones_no_question_reached(kdir: Path) -> None:
    kb = load_knowledge(kdir)
    ids = [e.id for e in kb.entries if not e.refuse]
    found = unreached(kb, ids[1:], date(2026, 12, 1), date(2026, 12, 7))
    assert [f.message.split(":")[0] for f in found] == [ids[0]]
