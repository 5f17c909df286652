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
# 328 negatives): at 0.6 about 1 % of held-out paraphrases would be refused. With 622 negatives
# (same day, out_of_fold below) 0.7 % are refused and 55 % of the held-out negatives caught; the
# rest of the gate's work is done through the confidence model, which weighs its probability.
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
        self._seed = seed
        if not self.enabled:
            return
        self._n_answerable = len(answerable)
        self._vec = _vectoriser()
        self._x = self._vec.fit_transform(answerable + unanswerable)
        self._y = np.r_[np.zeros(len(answerable)), np.ones(len(unanswerable))]
        self._model = _classifier(seed).fit(self._x, self._y)

    def p_unanswerable(self, cleaned: str) -> float:
        """0..1 for a cleaned question; 0 when the gate has nothing to learn from."""
        if not self.enabled or not cleaned:
            return 0.0
        return float(self._model.predict_proba(self._vec.transform([cleaned]))[0, 1])

    def refuses(self, cleaned: str) -> bool:
        return self.p_unanswerable(cleaned) >= GATE_THRESHOLD

    def out_of_fold(self, folds: int = FOLDS) -> tuple[np.ndarray, np.ndarray]:
        """(answerable, unanswerable) examples' p_unanswerable, each from a gate that did not see it.

        The confidence model learns how much to trust the gate from the KB's own paraphrases and
        negatives; the gate scoring its own examples would put them all near 0 or 1 and teach it
        nothing. The n-gram vocabulary and IDF are the whole gate's (no labels in them), and each
        fold's regression starts from the whole gate's weights: the same optimum, reached in a
        third of the iterations.
        """
        if not self.enabled:
            return np.zeros(0), np.zeros(0)
        p = np.zeros(len(self._y))
        fold = np.random.default_rng(self._seed).permutation(len(p)) % folds
        for k in range(folds):
            held = fold == k
            model = _classifier(self._seed)
            model.set_params(warm_start=True)
            model.coef_, model.intercept_ = self._model.coef_.copy(), self._model.intercept_.copy()
            model.fit(self._x[~held], self._y[~held])
            p[held] = model.predict_proba(self._x[held])[:, 1]
        return p[: self._n_answerable], p[self._n_answerable:]
