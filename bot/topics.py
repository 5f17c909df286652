"""The topics of the knowledge base, read from knowledge/topics.yml: the one place that names them.

The knowledge base (which ``topic:`` a file may have), the topic menu of the answer engine, the
WeChat welcome, the web chat's topic buttons and the order labels all read this module; the
Rasa training data (domain.yml's greeting buttons, data/nlu) cannot, so tests/test_topics.py
checks that they agree with it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

# The repository's copy, beside domain.yml and data/ that must agree with it (not BOT_KNOWLEDGE_DIR:
# a knowledge base elsewhere still runs with this model's greeting).
TOPICS_FILE = Path(__file__).resolve().parent.parent / "knowledge" / "topics.yml"
_ID = re.compile(r"[a-z][a-z0-9_]*")


class TopicsError(Exception):
    """topics.yml is broken; the message lists every problem, one per line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join([f"{len(self.problems)} problem(s) in topics.yml:", *self.problems]))


@dataclass(frozen=True)
class Topic:
    id: str                      # stored in work orders: never renamed
    label: str                   # what customers and staff read
    menu_words: tuple[str, ...]  # what a customer types to get the topic menu (the label included)


def load_topics(path: Path = TOPICS_FILE) -> tuple[Topic, ...]:
    """The topics in their button order; TopicsError lists every problem at once."""
    where = path.name
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise TopicsError([f"{where}: cannot read ({exc})"]) from exc
    items = data.get("topics") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        raise TopicsError([f"{where}: expected 'topics:' with a list of topics"])
    problems: list[str] = []
    topics: list[Topic] = []
    ids: set[str] = set()
    word_owner: dict[str, str] = {}  # label or menu word → the topic that has it
    for n, item in enumerate(items, 1):
        at = f"{where} topic {n}"
        if not isinstance(item, dict):
            problems.append(f"{at}: expected a mapping with id, label, menu_words")
            continue
        unknown = sorted(set(item) - {"id", "label", "menu_words"})
        if unknown:
            problems.append(f"{at}: unknown field(s) {', '.join(map(str, unknown))}")
        tid, label, words = item.get("id"), item.get("label"), item.get("menu_words", [])
        if not isinstance(tid, str) or not _ID.fullmatch(tid):
            problems.append(f"{at} field id: {tid!r} is not a lower-case name like 'tariff'")
            continue
        at = f"{where} topic {tid}"
        if not isinstance(label, str) or not label.strip():
            problems.append(f"{at} field label: missing")
            continue
        if not isinstance(words, list) or not all(isinstance(w, str) and w.strip() for w in words):
            problems.append(f"{at} field menu_words: expected a list of words")
            words = []
        if tid in ids:
            problems.append(f"{at} field id: repeated")
        ids.add(tid)
        menu = tuple(dict.fromkeys([label.strip()] + [w.strip() for w in words]))
        for word in menu:
            if word_owner.get(word, tid) != tid:
                problems.append(f"{at}: {word!r} also names topic {word_owner[word]}")
            word_owner.setdefault(word, tid)
        topics.append(Topic(tid, label.strip(), menu))
    if problems:
        raise TopicsError(problems)
    return tuple(topics)


TOPICS: tuple[Topic, ...] = load_topics()
TOPIC_IDS: tuple[str, ...] = tuple(t.id for t in TOPICS)
TOPIC_LABELS: dict[str, str] = {t.id: t.label for t in TOPICS}
# Cleaned customer text → topic id (the label and the menu words of every topic).
MENU_WORDS: dict[str, str] = {w: t.id for t in TOPICS for w in t.menu_words}
