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


def test_a_draft_entry_starts_from_the_question_and_is_not_loaded(kdir: Path) -> None:
    from bot.review.editing import start_draft

    before = len(load_knowledge(kdir).entries)
    path = start_draft(kdir, "business", "老宅子的电线想整体换新找谁", wordings=["旧房电线改造谁来做"],
                       topics=["business", "tariff"])
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    entry = data["entries"][0]
    assert data["topic"] == "business" and entry["question"] == "老宅子的电线想整体换新找谁"
    assert entry["paraphrases"] == ["老宅子的电线想整体换新找谁", "旧房电线改造谁来做"]
    assert entry["answer"] == "" and entry["source"] == ""
    assert "草稿" in path.read_text(encoding="utf-8").splitlines()[0]
    assert len(load_knowledge(kdir).entries) == before  # drafts/ is not read by the loader
    with pytest.raises(EditRefused, match="已经有了"):
        start_draft(kdir, "business", "老宅子的电线想整体换新找谁")
    with pytest.raises(EditRefused, match="主题"):
        start_draft(kdir, "nonsense", "随便", topics=["business"])


def test_an_nlu_example_is_appended_to_its_intent_and_checked_by_rasa(tmp_path: Path) -> None:
    from bot.review.editing import add_nlu_example

    nlu = tmp_path / "nlu"
    nlu.mkdir()
    (nlu / "greetings.yml").write_text('version: "3.1"\n# 问候\nnlu:\n  - intent: greet\n    examples: |\n'
                                       '      - 你好\n      - 在吗\n', encoding="utf-8")
    path = add_nlu_example(nlu, "greet", "哈喽哈喽")
    text = path.read_text(encoding="utf-8")
    assert "# 问候" in text and "      - 在吗\n      - 哈喽哈喽\n" in text
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

    examples = [m.get("text") for m in RasaYAMLReader().reads(text).training_examples]
    assert examples == ["你好", "在吗", "哈喽哈喽"]
    with pytest.raises(EditRefused, match="已经有"):
        add_nlu_example(nlu, "greet", "哈喽哈喽")
    with pytest.raises(EditRefused, match="没有意图"):
        add_nlu_example(nlu, "no_such_intent", "随便")
