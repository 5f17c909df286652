"""Trainers' edits from the conversation review: a customer's words become an entry's wording, or a
whole conversation becomes a Rasa test story.

Files are rewritten with ruamel.yaml's round-trip mode, so comments, order and block scalars stay
as the trainer wrote them. Nothing is written unless the result passes the same checks as the
rest of the project: the knowledge loader (on a scratch copy of knowledge/ holding the new file),
the leakage check against evaluation rows, and Rasa's own story reader for stories.
"""
from __future__ import annotations

import csv
import io
import os
import shutil
import tempfile
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any, Iterable, Sequence

from bot.kb.leakage import NEAR_COPY, _key
from bot.kb.loader import load_knowledge
from bot.kb.model import KnowledgeError

MAX_WORDING_CHARS = 120


class EditRefused(ValueError):
    """The change would break a file or a rule; the message says why, for the trainer."""


def _yaml() -> Any:
    from ruamel.yaml import YAML

    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 4096  # never re-wrap a long answer line
    y.indent(mapping=2, sequence=4, offset=2)
    # `effective: null` stays `null` (ruamel would write an empty value: the same data, a noisier diff)
    y.representer.add_representer(type(None), lambda r, _d: r.represent_scalar("tag:yaml.org,2002:null", "null"))
    return y


def _dump(y: Any, data: Any) -> str:
    buf = io.StringIO()
    y.dump(data, buf)
    return buf.getvalue()


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def evaluation_rows(paths: Iterable[Path]) -> list[str]:
    """Questions of evaluation sets (TSV with a 'question' column) that must stay out of the product."""
    rows: list[str] = []
    for p in paths:
        if not p.exists():
            continue
        with p.open(encoding="utf-8", newline="") as fh:
            rows += [r["question"] for r in csv.DictReader(fh, delimiter="\t") if r.get("question")]
    return rows


def copies_an_evaluation_row(text: str, rows: Sequence[str], threshold: float = NEAR_COPY) -> str | None:
    """The evaluation row ``text`` nearly copies (difflib ratio ≥ threshold), or None."""
    key = _key(text)
    if not key:
        return None
    m = SequenceMatcher(None, autojunk=False)
    m.set_seq2(key)
    for row in rows:
        m.set_seq1(_key(row))
        if m.real_quick_ratio() >= threshold and m.quick_ratio() >= threshold and m.ratio() >= threshold:
            return row
    return None


@dataclass(frozen=True)
class WordingAdded:
    entry_id: str
    file: Path
    text: str


def add_wording(knowledge_dir: Path, entry_id: str, text: str, *, held_out: Sequence[str] = ()) -> WordingAdded:
    """Append ``text`` to the paraphrases of entry ``entry_id`` and write its file, or raise EditRefused."""
    text = " ".join((text or "").split())
    if not text:
        raise EditRefused("新问法是空的。")
    if len(text) > MAX_WORDING_CHARS:
        raise EditRefused(f"新问法太长（{len(text)} 字，最多 {MAX_WORDING_CHARS} 字）：请改写成一句话。")
    row = copies_an_evaluation_row(text, held_out)
    if row is not None:
        raise EditRefused(f"这句几乎照抄了评测集里的问题“{row}”。评测题不能进入知识库，请换一种说法改写。")
    kb = load_knowledge(knowledge_dir)
    entry = kb.get(entry_id)
    if entry is None:
        raise EditRefused(f"知识库里没有条目 {entry_id}。")
    if _key(text) in {_key(t) for t in entry.texts}:
        raise EditRefused(f"条目 {entry_id} 已经有这个问法了。")
    path = Path(knowledge_dir) / Path(entry.file).name
    y = _yaml()
    data = y.load(path.read_text(encoding="utf-8"))
    target = next((e for e in data.get("entries") or [] if str(e.get("id")) == entry_id), None)
    if target is None:
        raise EditRefused(f"在 {path.name} 里找不到条目 {entry_id}。")
    target.setdefault("paraphrases", []).append(text)
    new_text = _dump(y, data)
    _check_knowledge(Path(knowledge_dir), path.name, new_text)
    _atomic_write(path, new_text)
    return WordingAdded(entry_id, path, text)


def _check_knowledge(knowledge_dir: Path, name: str, new_text: str) -> None:
    """Load the knowledge base with the file replaced, in a scratch copy; EditRefused if it breaks."""
    with tempfile.TemporaryDirectory(prefix="kb-check-") as tmp:
        copy = Path(tmp) / "knowledge"
        shutil.copytree(knowledge_dir, copy, ignore=shutil.ignore_patterns(".*", "__pycache__"))
        (copy / name).write_text(new_text, encoding="utf-8")
        try:
            load_knowledge(copy)
        except KnowledgeError as exc:
            problems = str(exc).replace(str(copy), "knowledge")
            raise EditRefused(f"改动后的知识库不合格，没有写入：\n{problems}") from exc


# --- test stories ------------------------------------------------------------------------------
def story_steps(events: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rasa test-story steps for a tracker's events: each user message with its intent, and each
    action the bot took (not action_listen), as it actually happened."""
    steps: list[dict[str, Any]] = []
    for e in events:
        kind = e.get("event")
        if kind == "user":
            text = str(e.get("text") or "").strip()
            intent = ((e.get("parse_data") or {}).get("intent") or {}).get("name")
            if not text or not intent:
                continue
            if text.startswith("/"):  # a button payload: the intent itself
                steps.append({"intent": intent})
            else:
                steps.append({"user": text, "intent": intent})
        elif kind == "action" and e.get("name") and e.get("name") not in ("action_listen", "action_session_start"):
            steps.append({"action": e["name"]})
        elif kind == "active_loop":
            steps.append({"active_loop": e.get("name")})
    return steps


def save_story(path: Path, name: str, events: Sequence[dict[str, Any]]) -> int:
    """Append the conversation as a test story to ``path`` (created when missing); returns its steps."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    steps = story_steps(events)
    if not any("intent" in s for s in steps):
        raise EditRefused("这段对话里没有客户消息，不能存为测试故事。")
    y = _yaml()
    if path.exists():
        data = y.load(path.read_text(encoding="utf-8")) or CommentedMap()
    else:
        data = CommentedMap()
        data["version"] = "3.1"
    stories = data.setdefault("stories", CommentedSeq())
    if any(str(s.get("story")) == name for s in stories):
        raise EditRefused(f"测试故事“{name}”已经存在。")
    story = CommentedMap()
    story["story"] = name
    story["steps"] = CommentedSeq(CommentedMap(s) for s in steps)
    stories.append(story)
    new_text = _dump(y, data)
    _check_story_file(new_text)
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(path, new_text)
    return len(steps)


def _check_story_file(text: str) -> None:
    from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader

    try:
        steps = YAMLStoryReader().read_from_string(text)
    except Exception as exc:  # noqa: BLE001 — Rasa raises several kinds for a bad file
        raise EditRefused(f"生成的测试故事不合格，没有写入：{exc}") from exc
    if not steps:
        raise EditRefused("生成的测试故事是空的，没有写入。")


# --- draft entries and NLU examples ----------------------------------------------------------------
def _slug(text: str) -> str:
    import hashlib

    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:8]


def start_draft(knowledge_dir: Path, topic: str, text: str, *, wordings: Sequence[str] = (), note: str = "",
                topics: Sequence[str] = ()) -> Path:
    """A draft entry under knowledge/drafts/ (the loader does not read it) with the customer's
    question and wordings, and empty answer and source fields for the trainer to fill and move."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    text = " ".join((text or "").split())
    if not text or len(text) > MAX_WORDING_CHARS:
        raise EditRefused(f"草稿的问题应为 1–{MAX_WORDING_CHARS} 个字。")
    if topics and topic not in topics:
        raise EditRefused(f"主题应为：{'、'.join(topics)}。")
    drafts = Path(knowledge_dir) / "drafts"
    drafts.mkdir(exist_ok=True)
    path = drafts / f"{topic}.draft_{_slug(text)}.yml"
    if path.exists():
        raise EditRefused(f"这个问题的草稿已经有了：knowledge/drafts/{path.name}")
    entry = CommentedMap()
    entry["id"] = f"{topic}.draft_{_slug(text)}"
    entry["question"] = text
    entry["paraphrases"] = CommentedSeq(dict.fromkeys([text, *(" ".join(w.split()) for w in wordings if w.strip())]))
    entry["answer"] = ""
    entry["source"] = ""
    entry["effective"] = None
    entry["review_by"] = None
    entry["related"] = CommentedSeq()
    entry["scope"] = "national"
    data = CommentedMap()
    data["topic"] = topic
    data["entries"] = CommentedSeq([entry])
    data.yaml_set_start_comment(
        "草稿（不会被加载）：写好 answer 和 source（规则名称、发布机关、文号或日期、条款），补 effective、review_by、\n"
        f"related 和至少 3 个问法，然后把这个条目移到 knowledge/{topic}.yml。{note}")
    _atomic_write(path, _dump(_yaml(), data))
    return path


def add_nlu_example(data_dir: Path, intent: str, text: str) -> Path:
    """Append ``text`` to the examples of ``intent`` in data/nlu/, checked by Rasa's own reader."""
    from ruamel.yaml.scalarstring import LiteralScalarString

    text = " ".join((text or "").split())
    if not text or len(text) > MAX_WORDING_CHARS:
        raise EditRefused(f"NLU 例句应为 1–{MAX_WORDING_CHARS} 个字。")
    y = _yaml()
    for path in sorted(Path(data_dir).glob("*.yml")):
        data = y.load(path.read_text(encoding="utf-8"))
        for block in (data or {}).get("nlu") or []:
            if str(block.get("intent")) != intent:
                continue
            examples = str(block.get("examples") or "")
            if any(line.strip()[2:].strip() == text for line in examples.splitlines() if line.strip().startswith("- ")):
                raise EditRefused(f"意图 {intent} 已经有这个例句了。")
            block["examples"] = LiteralScalarString(examples.rstrip("\n") + f"\n- {text}\n")
            new_text = _dump(y, data)
            _check_nlu_file(new_text)
            _atomic_write(path, new_text)
            return path
    raise EditRefused(f"data/nlu/ 里没有意图 {intent}。")


def _check_nlu_file(text: str) -> None:
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

    try:
        RasaYAMLReader().reads(text)
    except Exception as exc:  # noqa: BLE001
        raise EditRefused(f"改动后的 NLU 文件不合格，没有写入：{exc}") from exc
