"""Does a question look like anything the knowledge base answers at all?

The ranking compares a question with every entry; a question that shares a topic word with an
entry ("京东买的电热毯几天能到") can rank that entry first with a high score. This gate looks at
the question alone: a logistic regression over character 1–3-grams, trained on every question
and paraphrase of the knowledge base (answerable) against negatives.yml (not answerable: other
services, account lookups, physics homework, chit-chat …). Its probability is a feature of the
engine's confidence model (learned from out-of-fold probabilities, see out_of_fold), and above
GATE_THRESHOLD the engine fails the question even where that model would still offer a choice.
"""
from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

# Chosen by 5-fold cross-validation on the knowledge base itself (2026-11-28, 3,531 paraphrases,
# 328 negatives): at 0.6 about 1 % of held-out paraphrases would be refused. On the benchmark
# tests/data/kb_eval.tsv the gate fails 55 % of the unanswerable questions on its own and
# refuses 0.5 % of the answerable ones.
GATE_THRESHOLD = 0.6


FOLDS = 5


def _vectoriser() -> TfidfVectorizer:
    return TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True)


def _classifier(seed: int) -> LogisticRegression:
    # balanced: the negatives are a tenth of the paraphrases
    return LogisticRegression(C=4.0, max_iter=2000, class_weight="balanced", random_state=seed)


class AnswerableGate:
    """P(the question is not answerable from the knowledge base), from its wording alone."""

    def __init__(self, answerable: list[str], unanswerable: list[str], seed: int = 0) -> None:
        self.enabled = bool(answerable) and bool(unanswerable)
        if not self.enabled:
            return
        self._vec = _vectoriser()
        x = self._vec.fit_transform(answerable + unanswerable)
        y = np.r_[np.zeros(len(answerable)), np.ones(len(unanswerable))]
        self._model = _classifier(seed).fit(x, y)

    def p_unanswerable(self, cleaned: str) -> float:
        """0..1 for a cleaned question; 0 when the gate has nothing to learn from."""
        if not self.enabled or not cleaned:
            return 0.0
        return float(self._model.predict_proba(self._vec.transform([cleaned]))[0, 1])

    def p_many(self, cleaned: list[str]) -> np.ndarray:
        """p_unanswerable for several questions at once."""
        if not self.enabled or not cleaned:
            return np.zeros(len(cleaned))
        return self._model.predict_proba(self._vec.transform(cleaned))[:, 1]

    def refuses(self, cleaned: str) -> bool:
        return self.p_unanswerable(cleaned) >= GATE_THRESHOLD


def out_of_fold(answerable: list[str], unanswerable: list[str], folds: int = FOLDS,
                seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Each text's p_unanswerable from a gate that did not see it (``folds``-fold).

    The confidence model learns how much to trust the gate from the KB's own paraphrases and
    negatives; a gate that had seen them would score them all near 0 or 1 and teach it nothing.
    The n-gram vocabulary and IDF are fitted once on all texts (no labels: half the time, for
    a difference of a few thousandths in the probabilities).
    """
    n_ans = len(answerable)
    p = np.zeros(n_ans + len(unanswerable))
    if not answerable or not unanswerable:
        return p[:n_ans], p[n_ans:]
    x = _vectoriser().fit_transform(answerable + unanswerable)
    y = np.r_[np.zeros(n_ans), np.ones(len(unanswerable))]
    fold = np.random.default_rng(seed).permutation(len(y)) % folds
    for k in range(folds):
        held = fold == k
        p[held] = _classifier(seed).fit(x[~held], y[~held]).predict_proba(x[held])[:, 1]
    return p[:n_ans], p[n_ans:]
