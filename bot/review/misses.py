"""Unanswered questions, grouped: what customers keep asking that the knowledge base misses.

A *miss* is a customer question that failed, got a choice of questions they did not click, or
whose answer they marked 没帮助. Misses are grouped by the answer engine's own features (the
answerability gate's character n-gram TF-IDF, and the entries the engine ranks for the text) with
average-linkage agglomerative clustering cut at a cosine distance, so no number of groups is fixed
in advance. Each group gets the entries nearest to it and a suggested action for a trainer.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np
import scipy.sparse as sp

from bot.kb.text import clean
from bot.review.conversations import CLARIFIED, FAILED, NOT_HELPFUL, Turn

# Average cosine distance at which two groups stop merging. On the made-up set of known groups
# in tests/test_review.py the partition is the same anywhere from 0.65 to 0.9: the middle.
DISTANCE = 0.75
# A group whose likeliest entry is at least this confident is a wording the entry lacks.
WORDING_CONFIDENCE = 0.35
TEXT_WEIGHT = 0.5
RELATED_SHARE = 0.5  # weight of a candidate's related entries beside the candidate itself  # the wording's share of a miss's features; the rest is where the engine sends it
MAX_MISSES = 4000  # the newest ones; a square distance matrix of this many is 64 MB in float32

NEW_ENTRY, NEW_WORDING, OUT_OF_SCOPE = "new_entry", "new_wording", "out_of_scope"
ACTION_LABELS = {NEW_ENTRY: "新建条目", NEW_WORDING: "给条目加问法", OUT_OF_SCOPE: "不属于服务范围"}


@dataclass(frozen=True)
class Miss:
    text: str
    why: str           # failed | clarified | not_helpful
    sender_id: str
    entry_id: str | None = None  # for 没帮助: the entry that did not help


@dataclass
class Group:
    members: list[Miss]
    representative: str
    nearest: list[tuple[str, str, float]] = field(default_factory=list)  # (entry id, question, confidence)
    action: str = NEW_ENTRY
    action_entry: str | None = None

    @property
    def size(self) -> int:
        return len(self.members)

    @property
    def customers(self) -> int:
        return len({m.sender_id for m in self.members})

    def describe_action(self) -> str:
        label = ACTION_LABELS[self.action]
        return f"{label} {self.action_entry}" if self.action_entry else label


def misses_from_turns(turns: Sequence[Turn]) -> list[Miss]:
    """Failed questions, choices nobody clicked, and answers marked 没帮助 (with their question)."""
    out: list[Miss] = []
    by_sender: dict[str, list[Turn]] = {}
    for t in turns:
        by_sender.setdefault(t.sender_id, []).append(t)
    for sender, seq in by_sender.items():
        last_question: Turn | None = None
        for i, t in enumerate(seq):
            outcome = t.outcome
            if outcome == NOT_HELPFUL and last_question is not None:
                out.append(Miss(last_question.text, NOT_HELPFUL, sender, last_question.entry_id))
                continue
            if not t.is_question or t.clicked:
                continue
            last_question = t
            if outcome == FAILED:
                out.append(Miss(t.text, FAILED, sender))
            elif outcome == CLARIFIED:
                following = seq[i + 1] if i + 1 < len(seq) else None
                if following is None or not following.clicked:
                    out.append(Miss(t.text, CLARIFIED, sender))
    return out[-MAX_MISSES:]


def _features(engine: Any, texts: Sequence[str]) -> sp.csr_matrix:
    """Unit rows: the text's character n-grams (the gate's TF-IDF) beside the engine's candidate
    entries weighted by confidence. Short paraphrases share few n-grams, but the engine sends
    them to the same entries; questions it cannot place are grouped by their wording alone."""
    grams = _unit(engine.gate.vectoriser.transform([clean(t) or t for t in texts]).astype(np.float32))
    ids: dict[str, int] = {}
    rows, cols, vals = [], [], []
    asked: dict[str, Any] = {}  # customers repeat themselves: ask the engine once a distinct text
    for i, text in enumerate(texts):
        if text not in asked:
            asked[text] = engine.ask(text, top_k=3).candidates
        for c in asked[text]:
            w = max(0.0, float(c.confidence))
            # an entry and the entries it links (an overview and its details) are one subject
            for eid, share in ((c.entry.id, 1.0), *((r, RELATED_SHARE) for r in c.entry.related)):
                rows.append(i)
                cols.append(ids.setdefault(eid, len(ids)))
                vals.append(w * share)
    entries = _unit(sp.csr_matrix((vals, (rows, cols)), shape=(len(texts), max(1, len(ids))), dtype=np.float32))
    return _unit(sp.hstack([grams * TEXT_WEIGHT, entries * (1.0 - TEXT_WEIGHT)]).tocsr())


def _unit(x: sp.csr_matrix) -> sp.csr_matrix:
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return (sp.diags(1.0 / norms) @ x).tocsr()


def cluster(x: sp.csr_matrix, distance: float = DISTANCE) -> np.ndarray:
    """Group labels for unit-length rows: average linkage on cosine distance, cut at ``distance``."""
    n = x.shape[0]
    if n == 0:
        return np.zeros(0, dtype=int)
    if n == 1:
        return np.zeros(1, dtype=int)
    from sklearn.cluster import AgglomerativeClustering

    d = 1.0 - (x @ x.T).toarray()
    np.clip(d, 0.0, 2.0, out=d)
    np.fill_diagonal(d, 0.0)
    # scikit-learn 1.1 (Rasa's pin) names the metric "affinity".
    model = AgglomerativeClustering(n_clusters=None, distance_threshold=distance, affinity="precomputed",
                                    linkage="average")
    return model.fit_predict(d)


def group_misses(engine: Any, misses: Sequence[Miss], distance: float = DISTANCE) -> list[Group]:
    """Groups of misses, largest first, each with its nearest entries and a suggested action."""
    if not misses:
        return []
    texts = [m.text for m in misses]
    x = _features(engine, texts)
    labels = cluster(x, distance)
    groups: list[Group] = []
    for label in sorted(set(labels.tolist())):
        idx = np.flatnonzero(labels == label)
        sub = x[idx]
        centre = np.asarray(sub.mean(axis=0)).ravel()
        rep = int(idx[int(np.argmax(sub @ centre))])
        groups.append(_suggest(engine, Group(members=[misses[i] for i in idx], representative=texts[rep])))
    groups.sort(key=lambda g: (-g.size, -g.customers, g.representative))
    return groups


def _suggest(engine: Any, group: Group) -> Group:
    answer = engine.ask(group.representative, top_k=3)
    group.nearest = [(c.entry.id, c.entry.question, round(float(c.confidence), 3)) for c in answer.candidates]
    kind = str(getattr(answer, "kind", "") or "")
    if kind == "out_of_domain" or str(getattr(answer, "reason", "")).startswith("out of domain"):
        group.action = OUT_OF_SCOPE
        return group
    unhelpful = Counter(m.entry_id for m in group.members if m.entry_id)
    if group.nearest and group.nearest[0][2] >= WORDING_CONFIDENCE and not (
            unhelpful and unhelpful.most_common(1)[0][0] == group.nearest[0][0]):
        # the right entry exists and came close: it lacks this wording (unless customers said
        # that very entry did not help them, when its text is what needs work: a new entry)
        group.action, group.action_entry = NEW_WORDING, group.nearest[0][0]
    return group


def format_groups(groups: Iterable[Group], limit: int = 30) -> str:
    lines = []
    for n, g in enumerate(groups, 1):
        if n > limit:
            break
        why = Counter(m.why for m in g.members)
        lines.append(f"{n:>3}. {g.size} 条 · {g.customers} 位客户 · 建议：{g.describe_action()}"
                     f"  （未答上 {why['failed']}，未点选 {why['clarified']}，没帮助 {why['not_helpful']}）")
        lines.append(f"     代表：{g.representative}")
        for text in sorted({m.text for m in g.members} - {g.representative})[:4]:
            lines.append(f"       · {text}")
        if g.nearest:
            near = "；".join(f"{eid}（{conf:.0%}）" for eid, _q, conf in g.nearest)
            lines.append(f"     最近的条目：{near}")
    return "\n".join(lines)


def chart(groups: Sequence[Group], path: Any, top: int = 15) -> None:
    """A horizontal bar chart of the largest groups (PNG)."""
    from bot.review.charts import barh

    shown = list(groups)[:top]
    barh([f"{g.representative[:18]}（{g.describe_action()}）" for g in shown], [g.size for g in shown],
         "未答上的问题：最大的分组", "条数", path)
