"""A yes/no classifier of short questions by their character 1–3-grams.

The answerability gate (answerable.py) and the records detector (records.py) are both this: a
TF-IDF over characters and their pairs and triples (so typos, dialect and unknown words still
share most of their n-grams with what they resemble) and a balanced logistic regression.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

FOLDS = 5


class NgramClassifier:
    """P(yes) for a cleaned question, learned from examples of yes and of no."""

    def __init__(self, yes: list[str], no: list[str], seed: int = 0,
                 vectoriser: TfidfVectorizer | None = None) -> None:
        """``vectoriser``: an already fitted one to share (another classifier's ``vectoriser``):
        one transform of a question then serves both, and it is the costly part (0.7 ms)."""
        self.enabled = bool(yes) and bool(no)
        self._seed = seed
        self.vectoriser = vectoriser
        if not self.enabled:
            return
        self._n_yes = len(yes)
        if vectoriser is None:
            self.vectoriser = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True)
            self._x = self.vectoriser.fit_transform(yes + no)
        else:
            self._x = vectoriser.transform(yes + no)
        self._y = np.r_[np.ones(len(yes)), np.zeros(len(no))]
        self._model = self._classifier().fit(self._x, self._y)

    def _classifier(self) -> LogisticRegression:
        # balanced: the yes examples are a tenth or less of all. liblinear: the same probabilities
        # as lbfgs to 1e-5 and ten times faster on these sparse n-grams (0.02 s a fit), so the
        # engine can fit its classifiers and their folds at every start.
        return LogisticRegression(C=4.0, max_iter=2000, class_weight="balanced", solver="liblinear",
                                  random_state=self._seed)

    def features(self, cleaned: str) -> sp.csr_matrix | None:
        """The question as this classifier's vectoriser sees it (None when there is none)."""
        if self.vectoriser is None or not cleaned:
            return None
        return self.vectoriser.transform([cleaned])

    def p(self, cleaned: str, features: sp.csr_matrix | None = None) -> float:
        """0..1 for a cleaned question (``features``: its ``features()``, if already computed with
        the same vectoriser); 0 when there was nothing to learn from."""
        if not self.enabled or not cleaned:
            return 0.0
        x = self.features(cleaned) if features is None else features
        return float(self._model.predict_proba(x)[0, 1])

    def out_of_fold(self, folds: int = FOLDS) -> tuple[np.ndarray, np.ndarray]:
        """(yes, no) examples' probabilities, each from a classifier that did not see it (the
        vocabulary and IDF are the whole one's: no labels in them). For choosing thresholds, and for
        models that learn how far to trust this one."""
        if not self.enabled:
            return np.zeros(0), np.zeros(0)
        p = np.zeros(len(self._y))
        fold = np.random.default_rng(self._seed).permutation(len(p)) % folds
        for k in range(folds):
            held = fold == k
            p[held] = self._classifier().fit(self._x[~held], self._y[~held]).predict_proba(self._x[held])[:, 1]
        return p[: self._n_yes], p[self._n_yes:]
