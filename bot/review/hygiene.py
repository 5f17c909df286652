"""Knowledge hygiene for trainers: entries due for review, entries no customer reached, and pairs of
entries that overlap so much that customers' questions (or the answers) can hardly tell them apart.

Each finding names the entry's file and line. The loader's own errors (a broken file, a review
date already past) stop the knowledge base from loading at all and are reported by it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Iterable, Sequence

import numpy as np

from bot.kb.model import Entry, KnowledgeBase
from bot.kb.text import clean

DUE_SOON_DAYS = 30
# Cosine similarity of the entries' character n-grams (TF-IDF, as the answer engine's gate sees
# text). On the knowledge base of 2026-12 the wordings of two different needs stay below 0.34
# and the answers of two different procedures below 0.5; the pairs above are worth a look.
WORDING_OVERLAP = 0.35
ANSWER_OVERLAP = 0.6


@dataclass(frozen=True)
class Finding:
    kind: str      # due_soon | unreached | wording_overlap | answer_overlap
    where: str     # file:line
    message: str


def _where(e: Entry) -> str:
    return f"{e.file}:{e.line}"


def due_for_review(kb: KnowledgeBase, today: date, days: int = DUE_SOON_DAYS) -> list[Finding]:
    soon = today + timedelta(days=days)
    return [Finding("due_soon", _where(e), f"{e.id}: 复核日期 {e.review_by.isoformat()}，请在此之前核对依据和数字")
            for e in sorted(kb.entries, key=lambda e: e.review_by) if e.review_by <= soon]


def unreached(kb: KnowledgeBase, reached: Iterable[str], first: date, last: date) -> list[Finding]:
    """Entries no customer question was answered with or offered in [first, last]."""
    seen = set(reached)
    return [Finding("unreached", _where(e), f"{e.id}: {first}–{last} 期间没有客户问到（{e.question}）")
            for e in kb.entries if e.id not in seen and not e.refuse]


def _similar_pairs(docs: Sequence[str], threshold: float) -> list[tuple[int, int, float]]:
    from sklearn.feature_extraction.text import TfidfVectorizer

    if len(docs) < 2:
        return []
    x = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True).fit_transform(docs)
    s = (x @ x.T).toarray()
    i, j = np.nonzero(np.triu(s, k=1) >= threshold)
    return sorted(((int(a), int(b), float(s[a, b])) for a, b in zip(i, j)), key=lambda t: -t[2])


def overlaps(kb: KnowledgeBase) -> list[Finding]:
    entries = list(kb.entries)
    out: list[Finding] = []
    wordings = [" ".join(clean(t) or t for t in e.texts) for e in entries]
    for a, b, sim in _similar_pairs(wordings, WORDING_OVERLAP):
        ea, eb = entries[a], entries[b]
        out.append(Finding("wording_overlap", _where(ea),
                           f"{ea.id} 与 {eb.id}（{_where(eb)}）的问法相似度 {sim:.2f}：合并，或让问法各有侧重"))
    for a, b, sim in _similar_pairs([e.answer for e in entries], ANSWER_OVERLAP):
        ea, eb = entries[a], entries[b]
        out.append(Finding("answer_overlap", _where(ea),
                           f"{ea.id} 与 {eb.id}（{_where(eb)}）的答案相似度 {sim:.2f}：是否重复？"))
    return out


LABELS = {"due_soon": "即将到复核日期", "unreached": "没有客户问到", "wording_overlap": "问法重叠",
          "answer_overlap": "答案重叠"}


def format_findings(findings: Sequence[Finding]) -> str:
    lines = []
    for kind, label in LABELS.items():
        mine = [f for f in findings if f.kind == kind]
        if mine:
            lines.append(f"{label}（{len(mine)}）：")
            lines += [f"  {f.where}: {f.message}" for f in mine]
    return "\n".join(lines) if lines else "知识库整洁：没有需要处理的条目。"
