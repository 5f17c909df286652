"""Trainers' edits from the review: YAML round-trip keeps comments and order; a broken result or a
copied evaluation row is refused and nothing is written; a conversation becomes a test story."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from bot.kb.loader import load_knowledge
from bot.review.editing import EditRefused, add_wording, save_story, story_steps

FIXTURE = Path(__file__).parent / "data" / "kb_fixture"


@pytest.fixture
def kdir(tmp_path: Path) -> Path:
    d = tmp_path / "knowledge"
    shutil.copytree(FIXTURE, d)
    f = d / "business.yml"
    # a trainer's comment, a quoted string and a block answer must all survive the rewrite
    f.write_text("# 业务办理 — 训练员的注释\n" + f.read_text(encoding="utf-8").replace(
        "  - id: business.transfer_owner\n", "  # 过户：最常见的业务\n  - id: business.transfer_owner\n"), encoding="utf-8")
    return d


def test_a_wording_is_added_with_comments_and_layout_kept(kdir: Path) -> None:
    before = (kdir / "business.yml").read_text(encoding="utf-8")
    added = add_wording(kdir, "business.transfer_owner", "  老房子的电表 换户主 咋弄  ")
    after = (kdir / "business.yml").read_text(encoding="utf-8")
    assert added.text == "老房子的电表 换户主 咋弄"
    assert "# 业务办理 — 训练员的注释" in after and "  # 过户：最常见的业务" in after
    assert "answer: |\n      过户需带身份证和房产证明" in after  # block scalar kept as written
    # only the new line was added; every other line is unchanged
    assert [line for line in after.splitlines() if line not in before.splitlines()] == ["      - 老房子的电表 换户主 咋弄"]
    entry = load_knowledge(kdir).get("business.transfer_owner")
    assert "老房子的电表 换户主 咋弄" in entry.paraphrases


def test_a_wording_that_would_break_the_knowledge_base_is_not_written(kdir: Path) -> None:
    other = yaml.safe_load((kdir / "business.yml").read_text(encoding="utf-8"))["entries"]
    taken = next(e for e in other if e["id"] != "business.transfer_owner")["paraphrases"][0]
    before = (kdir / "business.yml").read_text(encoding="utf-8")
    with pytest.raises(EditRefused, match="不合格"):
        add_wording(kdir, "business.transfer_owner", taken)  # one text never belongs to two entries
    assert (kdir / "business.yml").read_text(encoding="utf-8") == before
    assert not list(kdir.glob(".*.tmp"))


def test_an_evaluation_row_is_refused(kdir: Path) -> None:
    held_out = ["房子卖了以后电费户名要怎么改过来"]
    with pytest.raises(EditRefused, match="评测集"):
        add_wording(kdir, "business.transfer_owner", "房子卖了以后，电费户名要怎么改过来？", held_out=held_out)
    with pytest.raises(EditRefused, match="没有条目"):
        add_wording(kdir, "business.no_such_entry", "随便一句")
    with pytest.raises(EditRefused, match="空"):
        add_wording(kdir, "business.transfer_owner", "   ")


EVENTS = [
    {"event": "action", "name": "action_session_start"},
    {"event": "action", "name": "action_listen"},
    {"event": "user", "text": "你好", "parse_data": {"intent": {"name": "greet", "confidence": 0.99}}},
    {"event": "action", "name": "utter_greet"},
    {"event": "bot", "text": "您好！"},
    {"event": "action", "name": "action_listen"},
    {"event": "user", "text": "电费怎么交", "parse_data": {"intent": {"name": "ask_question", "confidence": 0.9}}},
    {"event": "action", "name": "action_answer_question"},
    {"event": "action", "name": "action_listen"},
    {"event": "user", "text": "/feedback_negative", "parse_data": {"intent": {"name": "feedback_negative"}}},
    {"event": "action", "name": "action_feedback_negative"},
]


def test_a_conversation_becomes_a_valid_test_story(tmp_path: Path) -> None:
    assert story_steps(EVENTS) == [
        {"user": "你好", "intent": "greet"}, {"action": "utter_greet"},
        {"user": "电费怎么交", "intent": "ask_question"}, {"action": "action_answer_question"},
        {"intent": "feedback_negative"}, {"action": "action_feedback_negative"},
    ]
    path = tmp_path / "tests" / "test_saved_conversations.yml"
    assert save_story(path, "来自对话 rest:abc", EVENTS) == 6
    assert save_story(path, "来自对话 rest:def", EVENTS[:5]) == 2
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert [s["story"] for s in data["stories"]] == ["来自对话 rest:abc", "来自对话 rest:def"]
    with pytest.raises(EditRefused, match="已经存在"):
        save_story(path, "来自对话 rest:abc", EVENTS)
    with pytest.raises(EditRefused, match="没有客户消息"):
        save_story(path, "空的", EVENTS[:2])


def test_the_round_trip_leaves_every_topic_file_of_the_real_knowledge_byte_for_byte() -> None:
    """What the review writes is the trainer's file plus one line, never a reformatted file."""
    from bot.review.editing import _dump, _yaml

    root = Path(__file__).resolve().parent.parent / "knowledge"
    for path in sorted(root.glob("*.yml")):
        if path.name in ("negatives.yml", "synonyms.yml"):
            continue  # the review never writes these (negatives.yml holds emoji ruamel would escape)
        text = path.read_text(encoding="utf-8")
        y = _yaml()
        assert _dump(y, y.load(text)) == text, path.name
