"""The confidence model: the probability that an entry is the right answer, from a few features
of the ranking, so that the engine's thresholds are probabilities and not raw scores.

Two small logistic regressions on the same features: ``top`` estimates P(the top-ranked entry is
right) and decides answer vs. not; ``cand`` estimates P(this candidate is right) for any rank and
re-orders the candidates (and decides which are offered when clarifying). This module gathers the
training rows (``LeaveOneOut``: every question/paraphrase scored against the index without it, and
negatives.yml), fits, stores, loads and applies the model; the engine only scores and decides.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

from bot.kb import kb_cache
from bot.kb.index import Query, QueryBatch, binary
from bot.kb.text import clean

if TYPE_CHECKING:
    from bot.kb.engine import Engine

# For each training query: (its entry, the texts it must not see)
Plan = list[tuple[int, list[int]]]

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


def left_out(plan: Plan, n_docs: int) -> sp.csr_matrix:
    """Query × text matrix with a 1 at each text a leave-one-out query must not see."""
    rows = [r for r, (_e, left) in enumerate(plan) for _ in left]
    cols = [d for _e, left in plan for d in left]
    return sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(plan), n_docs))


class LeaveOneOut:
    """The confidence model's training queries: the questions/paraphrases of the knowledge base,
    each scored by the engine against its index without that text (leave-one-paraphrase-out).

    Each query is scored against every text, so all of them would cost the square of the knowledge
    base. The fit uses at most ``max_queries`` of them (a fixed random sample, every one while the
    knowledge base has fewer): ten logistic-regression coefficients learn as well from 4,000 rows as
    from 40,000, and the cost grows with the knowledge base instead of its square. The trainers'
    report (``loo_answers``) still goes through all of them.
    """

    def __init__(self, engine: "Engine", chunk: int, max_queries: int | None = None, seed: int = 0) -> None:
        self.engine = engine
        self.chunk = chunk
        self.max_queries = max_queries
        self.seed = seed
        self._plan: tuple[np.ndarray, Plan] | None = None
        self._oof: tuple[np.ndarray, dict[str, float]] | None = None

    def positions(self, sampled: bool = True) -> np.ndarray:
        """Which training queries (positions in ``plan()``) the fit uses: all, or the fixed sample."""
        n = len(self.plan()[0])
        if not sampled or self.max_queries is None or n <= self.max_queries:
            return np.arange(n)
        return np.sort(np.random.default_rng(self.seed).choice(n, self.max_queries, replace=False))

    def plan(self) -> tuple[np.ndarray, Plan]:
        """Training queries (question/paraphrase texts) and what each must not see: itself and
        the texts of its entry that normalise to the same string."""
        if self._plan is None:
            e = self.engine
            idx = np.flatnonzero(e.doc_kind == 0)
            same: dict[tuple[int, str], list[int]] = {}
            for d, q in enumerate(e.docs):
                same.setdefault((int(e.doc_owner[d]), q.normalised), []).append(d)
            plan = [(int(e.doc_owner[d]), same[(int(e.doc_owner[d]), e.docs[d].normalised)]) for d in idx]
            self._plan = (idx, plan)
        return self._plan

    def components(self, positions: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray], QueryBatch]:
        """(expected entry per query, raw per-signal scores, query batch) for leave-one-paraphrase-out.

        Each question/paraphrase is scored against the index without it (its text field masked, its
        counts taken out of its entry document); IDF keeps it (a negligible difference). ``positions``
        picks some of the training queries (see chunks).
        """
        e = self.engine
        idx, plan = self.plan()
        idx, plan = idx[positions], [plan[i] for i in positions]
        qb = e._batch([e.docs[i] for i in idx])
        self._oov(qb, plan)
        return e.doc_owner[idx], e._raw(qb, plan), qb

    def chunks(self, sampled: bool = True) -> Iterator[tuple[np.ndarray, np.ndarray, dict[str, np.ndarray], QueryBatch]]:
        """(positions, expected entries, combined scores, query batch) in blocks of ``chunk`` queries:
        the query × text matrices of the whole knowledge base at once are large (thousands squared)
        and slower than blocks that fit in cache. ``sampled``: the fit's sample, else every query."""
        every = self.positions(sampled)
        for start in range(0, len(every), self.chunk):
            positions = every[start:start + self.chunk]
            expected, raw, qb = self.components(positions)
            qb.unlike[:] = self.unlike_oof()[0][positions]
            yield positions, expected, self.engine._combine(raw), qb

    def _oov(self, qb: QueryBatch, plan: Plan) -> None:
        """Unknown-word features as they would be without the left-out texts.

        A left-out paraphrase's own words are in the vocabulary only because of itself; counting
        them as known taught the confidence model that real questions never contain unknown words,
        so every colloquial question with one new word got a near-zero confidence (measured on
        tests/data/kb_eval.tsv: 128 of 517 answerable questions failed with the right entry on top).
        """
        e = self.engine
        select = left_out(plan, len(e.docs))
        left_tok = (select @ binary(e.text_tok)).tocsr()   # in how many left-out texts each word is
        left_gram = (select @ binary(e.text_gram)).tocsr()
        qtok = qb.tok.tocsr()
        # a word is unknown without the left-out texts when all the texts that have it are left out
        gone_tok = qtok.multiply(left_tok).tocoo()
        gone = gone_tok.data >= e.tok_df[gone_tok.col]
        qb.oov_tok += np.bincount(gone_tok.row[gone], minlength=qb.n)
        qgram = qb.gram.tocsr()
        g = qgram.multiply(left_gram).tocoo()   # value = w × (left count), only where both are present
        wq = np.asarray(qgram[g.row, g.col]).ravel()
        lost = (g.data / np.maximum(wq, 1e-12)) >= e.gram_df[g.col]
        n_grams = np.diff(qgram.indptr)
        n_gone = np.bincount(g.row[lost], minlength=qb.n)
        # LOO texts have no unknown grams to start with: the share is the gone ones
        qb.oov_gram_share[:] = np.where(n_grams > 0, n_gone / np.maximum(n_grams, 1), qb.oov_gram_share)
        qb.oov_gram_sq += np.bincount(g.row[lost], weights=wq[lost] ** 2, minlength=qb.n)

    def unlike_oof(self) -> tuple[np.ndarray, dict[str, float]]:
        """The gate's P(not answerable) for every training query from a gate that did not see it:
        (per question/paraphrase in index order, per cleaned negatives.yml question)."""
        if self._oof is None:
            e = self.engine
            p_ans, p_neg = e.gate.out_of_fold_by_kind()
            it = iter(p_ans)
            # refusal texts are not among the gate's examples, so the whole gate scores them fairly
            docs = [e.gate.p_unanswerable(clean(t)) if entry.refuse else float(next(it))
                    for entry in e.entries for t in entry.texts]
            self._oof = (np.asarray(docs), dict(zip(e._gate_negatives, map(float, p_neg))))
        return self._oof


def fit_confidence(engine: "Engine", loo: LeaveOneOut, negative_queries: list[Query], negative_texts: list[str],
                   *, pool: int, negative_share: float, seed: int) -> ConfidenceModel:
    """Fit the confidence model on leave-one-paraphrase-out queries (right or wrong top-1) and on
    negatives.yml (always wrong); ``pool``: candidates per query."""
    xs, ys, ws = [], [], []
    n_queries = 0
    if engine.entries:
        for _rows, expected, comb, qb in loo.chunks():
            order = np.argsort(-comb["score"], axis=1, kind="stable")[:, :pool]
            xs.append(engine._features(comb, qb, order))
            ys.append(order == expected[:, None])
            ws.append(np.ones(len(expected)))
            n_queries += len(expected)
    negatives = negative_queries
    if negatives and engine.entries:
        qb = engine._batch(negatives)
        qb.unlike[:] = [loo.unlike_oof()[1][clean(t)] for t in negative_texts]
        comb = engine._combine(engine._raw(qb))
        order = np.argsort(-comb["score"], axis=1, kind="stable")[:, :pool]
        xs.append(engine._features(comb, qb, order))
        ys.append(np.zeros(order.shape, dtype=bool))
        # negatives.yml is short next to the paraphrases; weight it to negative_share of the questions
        weight = max(1.0, negative_share / (1 - negative_share) * n_queries / len(negatives))
        ws.append(np.full(len(negatives), weight))
    if not xs:
        return ConfidenceModel.untrained()
    # queries × pool × features, queries × pool, queries
    return ConfidenceModel.fit(np.concatenate(xs), np.concatenate(ys), np.concatenate(ws), seed=seed)
