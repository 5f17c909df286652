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
