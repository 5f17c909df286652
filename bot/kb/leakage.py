"""Is an evaluation question held out? Find rows that nearly copy a knowledge-base text.

An evaluation row that is (almost) one of an entry's paraphrases, or one of negatives.yml's
questions, measures recall of the training data, not how the engine does on a stranger's
wording. ``bot eval`` reports such rows and the test suite keeps tests/data/kb_eval.tsv free
of them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Iterable

from bot.kb.model import KnowledgeBase

# 0.8 of difflib's ratio: "移表怎么申请" vs "移表 申请" (0.80) counts as a copy; two different
# wordings of one need ("电表不走了" / "电表停了不转") stay well below it.
NEAR_COPY = 0.8
NEGATIVES = "negatives.yml"

_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)


def _key(text: str) -> str:
    return _NOISE.sub("", text).lower()


@dataclass(frozen=True)
class NearCopy:
    question: str
    text: str        # the knowledge-base text it copies
    source: str      # entry id, or "negatives.yml"
    ratio: float


def near_copies(questions: Iterable[str], kb: KnowledgeBase, threshold: float = NEAR_COPY) -> list[NearCopy]:
    """Each question whose most similar KB text (question, paraphrase or negative) has ratio ≥ threshold."""
    pool = [(_key(t), t, e.id) for e in kb.entries for t in e.texts]
    pool += [(_key(t), t, NEGATIVES) for t in kb.negatives]
    pool = [p for p in pool if p[0]]
    found = []
    for q in questions:
        key = _key(q)
        if not key:
            continue
        matcher = SequenceMatcher(None, autojunk=False)
        matcher.set_seq2(key)  # seq2 is the one difflib caches
        best: tuple[float, str, str] | None = None
        for other, text, source in pool:
            matcher.set_seq1(other)
            # the cheap upper bounds first: most pairs are ruled out by length or letters alone
            if matcher.real_quick_ratio() < threshold or matcher.quick_ratio() < threshold:
                continue
            r = matcher.ratio()
            if r >= threshold and (best is None or r > best[0]):
                best = (r, text, source)
        if best is not None:
            found.append(NearCopy(q, best[1], best[2], round(best[0], 3)))
    return found


# --- the real-message development set stays out of the product -----------------------------------
# ../shared/realq/dev.tsv holds real customer messages for measuring (make eval-real). A row of it,
# or a near copy, in knowledge/, data/ or tests/data/ would make that measurement flatter us: the
# test suite fails on one (tests/test_realq_leakage.py).
PRODUCT_DIRS = ("knowledge", "data", "tests/data")
SHORT_NEAR_COPY = 0.9  # for texts of fewer than 8 characters
PRODUCT_SUFFIXES = (".yml", ".yaml", ".tsv", ".txt", ".json", ".md", ".csv")
_MARKUP = re.compile(r"\[([^\]]+)\]\([^)]*\)|\[([^\]]+)\]\{[^}]*\}")  # NLU entity annotations


def realq_questions(path) -> list[tuple[str, str]]:
    """(id, question) of every row of a realq TSV (header: id, topic, question, …)."""
    from pathlib import Path

    lines = Path(path).read_text(encoding="utf-8").splitlines()
    if not lines:
        return []
    head = lines[0].split("\t")
    qi, ii = head.index("question"), head.index("id")
    rows = [line.split("\t") for line in lines[1:] if line.strip()]
    return [(r[ii], r[qi]) for r in rows if len(r) > qi and r[qi].strip()]


def product_texts(root, dirs: Iterable[str] = PRODUCT_DIRS) -> list[tuple[str, str]]:
    """(file, text) for every line-sized text in the product's data files: YAML scalars (NLU example
    blocks split into lines, annotations removed), TSV cells, other lines."""
    from pathlib import Path

    import yaml

    root = Path(root)
    out: list[tuple[str, str]] = []

    def add(rel: str, text: str) -> None:
        for line in str(text).splitlines():
            line = _MARKUP.sub(lambda m: m.group(1) or m.group(2), line.strip().lstrip("-").strip())
            if len(_key(line)) >= 4:
                out.append((rel, line))

    def walk(rel: str, node) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(rel, k)
                walk(rel, v)
        elif isinstance(node, list):
            for v in node:
                walk(rel, v)
        elif isinstance(node, str):
            add(rel, node)

    for d in dirs:
        base = root / d
        if not base.is_dir():
            continue
        for f in sorted(base.rglob("*")):
            if not f.is_file() or f.suffix not in PRODUCT_SUFFIXES:
                continue
            rel = str(f.relative_to(root))
            text = f.read_text(encoding="utf-8", errors="replace")
            if f.suffix in (".yml", ".yaml"):
                try:
                    walk(rel, yaml.safe_load(text))
                    continue
                except yaml.YAMLError:
                    pass
            for line in text.splitlines():
                for cell in line.split("\t"):
                    add(rel, cell)
    return out


@dataclass(frozen=True)
class Leak:
    row_id: str
    question: str
    file: str
    text: str
    ratio: float


def _bigrams(key: str) -> set[str]:
    return {key[i:i + 2] for i in range(len(key) - 1)} or {key}


def realq_leaks(rows: list[tuple[str, str]], texts: list[tuple[str, str]],
                threshold: float = NEAR_COPY) -> list[Leak]:
    """Product texts that copy a realq row: difflib ratio ≥ threshold (≥ SHORT_NEAR_COPY when one of
    them is shorter than 8 characters), or the row (≥ 8 characters) making up most of the text, or a
    text of ≥ 12 characters inside a long row (a passage cut from a post).
    An inverted index of character bigrams keeps this to the pairs that share enough of them."""
    keyed = [(f, t, _key(t)) for f, t in texts]
    index: dict[str, list[int]] = {}
    for n, (_f, _t, k) in enumerate(keyed):
        for g in _bigrams(k):
            index.setdefault(g, []).append(n)
    leaks = []
    for rid, question in rows:
        qk = _key(question)
        if len(qk) < 4:
            continue
        grams = _bigrams(qk)
        counts: dict[int, int] = {}
        for g in grams:
            for n in index.get(g, ()):
                counts[n] = counts.get(n, 0) + 1
        matcher = SequenceMatcher(None, autojunk=False)
        matcher.set_seq2(qk)
        best: Leak | None = None
        for n, shared in counts.items():
            f, t, k = keyed[n]
            # the row inside a text that is little more than the row, or a passage of a long post
            contained = (len(qk) >= 8 and qk in k and len(qk) >= 0.8 * len(k)) or (len(k) >= 12 and k in qk)
            if not contained and shared < 0.5 * min(len(grams), len(_bigrams(k))):
                continue
            matcher.set_seq1(k)
            r = 1.0 if contained else matcher.ratio()
            # two short texts ("光伏补贴" / "光伏电费补贴") share most letters without one copying the other
            need = threshold if min(len(qk), len(k)) >= 8 else max(threshold, SHORT_NEAR_COPY)
            if r >= need and (best is None or r > best.ratio):
                best = Leak(rid, question, f, t, round(r, 3))
        if best is not None:
            leaks.append(best)
    return leaks
