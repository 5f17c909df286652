"""The confidence model: the probability that an entry is the right answer, from a few features
of the ranking, so that the engine's thresholds are probabilities and not raw scores.

Two small logistic regressions on the same features: ``top`` estimates P(the top-ranked entry is
right) and decides answer vs. not; ``cand`` estimates P(this candidate is right) for any rank and
re-orders the candidates (and decides which are offered when clarifying). The engine gathers the
training rows (leave-one-paraphrase-out queries and negatives.yml); this module fits, stores,
loads and applies the model.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from bot.kb import kb_cache

# "unlike": the answerability gate's P(not answerable) for the question (answerable.py)
FEATURES = ("score", "margin", "text", "entry", "answer", "log_tokens", "matched", "oov_tokens", "oov_grams", "unlike")


@dataclass
class ConfidenceModel:
    scaler: tuple[np.ndarray, np.ndarray]           # (mean, scale) of each feature
    models: dict[str, tuple[np.ndarray, float]]     # "top" / "cand" → (coefficients, intercept)
    training_size: dict[str, int] = field(default_factory=dict)

    @classmethod
    def untrained(cls) -> "ConfidenceModel":
        """Nothing to learn from (an empty knowledge base): every probability stays near 0."""
        return cls((np.zeros(len(FEATURES)), np.ones(len(FEATURES))),
                   {"top": (np.zeros(len(FEATURES)), -5.0), "cand": (np.zeros(len(FEATURES)), -5.0)})

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, w: np.ndarray, seed: int = 0) -> "ConfidenceModel":
        """Fit on queries × pool × FEATURES (``x``), which candidates are right (``y``, queries × pool)
        and each query's weight (``w``); deterministic (lbfgs, fixed seed, fixed data order)."""
        flat = x.reshape(-1, len(FEATURES))
        mean, scale = flat.mean(axis=0), flat.std(axis=0)
        scale[scale < 1e-9] = 1.0
        model = cls((mean, scale), {})
        z = (x - mean) / scale
        model.models["cand"] = _fit(z.reshape(-1, len(FEATURES)), y.reshape(-1), np.repeat(w, x.shape[1]), seed)
        # the top model sees the candidate that the cand model puts first (what ask() answers with)
        first = model.prob("cand", z).argmax(axis=1)
        rows = np.arange(len(first))
        model.models["top"] = _fit(z[rows, first], y[rows, first], w, seed)
        model.training_size = {"queries": int(len(w)), "top1_right": int(y[rows, first].sum())}
        return model

    @classmethod
    def load(cls, cache_dir: Path | None, key: str) -> "ConfidenceModel | None":
        """The model stored under this key (kb_cache), or None."""
        cached = kb_cache.load(cache_dir, key)
        if cached is None:
            return None
        return cls(cached["scaler"], cached["models"], cached["training_size"])

    def save(self, cache_dir: Path | None, key: str) -> None:
        kb_cache.save(cache_dir, key, self.scaler, self.models, self.training_size)

    def prob(self, name: str, z: np.ndarray) -> np.ndarray:
        coef, intercept = self.models[name]
        return 1.0 / (1.0 + np.exp(-(z @ coef + intercept)))

    def rerank(self, feats: np.ndarray, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Re-order each query's candidate pool by the cand model (it sees more than the raw score:
        margin, word coverage …; +3 points top-1 in leave-one-out); the new first gets the top model's
        probability. Returns (entry order, confidences), both queries × pool."""
        mean, scale = self.scaler
        z = (feats - mean) / scale
        conf = self.prob("cand", z)
        perm = np.argsort(-conf, axis=1, kind="stable")
        rows = np.arange(len(order))[:, None]
        order, conf, z = order[rows, perm], conf[rows, perm], z[rows, perm]
        conf[:, 0] = self.prob("top", z[:, 0])
        return order, conf

    def coefficients(self) -> dict[str, dict[str, float]]:
        """Standardised coefficients of both models, for reports and tests."""
        return {
            name: {**dict(zip(FEATURES, map(float, coef))), "intercept": intercept}
            for name, (coef, intercept) in self.models.items()
        }


def _fit(x: np.ndarray, y: np.ndarray, w: np.ndarray, seed: int) -> tuple[np.ndarray, float]:
    """Logistic regression → (coefficients, intercept); a constant when only one class is present."""
    if len(set(y.tolist())) < 2:
        # degenerate KB (e.g. one entry): nothing to learn, stay cautious
        return np.zeros(x.shape[1]), (-5.0 if not y.any() else 0.0)
    model = LogisticRegression(C=1.0, max_iter=2000, random_state=seed)
    model.fit(x, y.astype(int), sample_weight=w)
    return model.coef_[0].copy(), float(model.intercept_[0])
