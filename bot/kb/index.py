"""The sparse index of the answer engine: queries as word and character-bigram vectors, and the
fields they are scored against (BM25 over jieba words, TF-IDF cosine over character bigrams)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass
class Query:
    """A text after normalisation, as the index sees it."""

    normalised: str
    tokens: list[str]
    grams: list[str]


class QueryBatch:
    """Some queries as sparse matrices over the engine's word and bigram vocabularies."""

    def __init__(self, tok_vocab: dict[str, int], gram_vocab: dict[str, int], queries: list[Query]) -> None:
        n = len(queries)
        self.n_tok = np.zeros(n)
        self.oov_tok = np.zeros(n)
        self.oov_gram_sq = np.zeros(n)
        self.oov_gram_share = np.zeros(n)
        self.unlike = np.zeros(n)  # set by the engine: the gate's P(not answerable)
        self.tok_ids: list[list[int]] = []
        self.gram_w: list[dict[int, float]] = []
        rows, cols = [], []
        grows, gcols, gvals = [], [], []
        for r, q in enumerate(queries):
            uniq = list(dict.fromkeys(q.tokens))
            ids = [tok_vocab[t] for t in uniq if t in tok_vocab]
            self.n_tok[r] = len(uniq)
            self.oov_tok[r] = len(uniq) - len(ids)
            self.tok_ids.append(ids)
            rows.extend([r] * len(ids))
            cols.extend(ids)
            counts: dict[str, int] = {}
            for g in q.grams:
                counts[g] = counts.get(g, 0) + 1
            weights: dict[int, float] = {}
            oov = 0
            for g, c in counts.items():
                w = 1.0 + math.log(c)  # sublinear tf; the field's idf is applied in Field.score
                j = gram_vocab.get(g)
                if j is None:
                    self.oov_gram_sq[r] += w * w
                    oov += 1
                else:
                    weights[j] = w
            self.oov_gram_share[r] = oov / len(counts) if counts else 0.0
            self.gram_w.append(weights)
            grows.extend([r] * len(weights))
            gcols.extend(weights)
            gvals.extend(weights.values())
        self.n = n
        self._shapes = (len(tok_vocab), len(gram_vocab))
        self._coords = (rows, cols, grows, gcols, gvals)

    @property
    def tok(self) -> sp.csr_matrix:
        """Binary query × word matrix (built on demand: a single question takes the fast path)."""
        rows, cols = self._coords[:2]
        return sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(self.n, self._shapes[0]))

    @property
    def gram(self) -> sp.csr_matrix:
        """Sublinear-tf query × bigram matrix."""
        grows, gcols, gvals = self._coords[2:]
        return sp.csr_matrix((gvals, (grows, gcols)), shape=(self.n, self._shapes[1]))


class Field:
    """BM25 (jieba words) and TF-IDF cosine (char bigrams) over one set of documents."""

    def __init__(self, tok_counts: sp.csr_matrix, gram_counts: sp.csr_matrix, k1: float, b: float) -> None:
        self.k1, self.b = k1, b
        n_docs = tok_counts.shape[0]
        self.tok_counts = tok_counts.tocsr()
        self.gram_counts = gram_counts.tocsr()
        df = np.diff(tok_counts.tocsc().indptr).astype(np.float64)
        # df = 0 (a word only in other fields) gets the same idf as an unknown word
        self.tok_idf = np.log1p((n_docs - df + 0.5) / (df + 0.5))
        self.tok_idf_oov = math.log1p((n_docs + 0.5) / 0.5)
        self.lengths = np.asarray(tok_counts.sum(axis=1)).ravel().astype(np.float64)
        self.avgdl = max(float(self.lengths.mean()) if n_docs else 1.0, 1.0)
        coo = self.tok_counts.tocoo()
        denom = coo.data + k1 * (1 - b + b * self.lengths[coo.row] / self.avgdl)
        w = self.tok_idf[coo.col] * coo.data * (k1 + 1) / denom
        self.bm25_T = sp.csr_matrix((w, (coo.col, coo.row)), shape=(tok_counts.shape[1], n_docs))
        gdf = np.diff(gram_counts.tocsc().indptr).astype(np.float64)
        self.gram_idf = np.log((1 + n_docs) / (1 + gdf)) + 1
        self.gram_idf_oov = math.log(1 + n_docs) + 1
        g = self.gram_counts.tocoo()
        gw = (1 + np.log(g.data)) * self.gram_idf[g.col]
        self.norm_sq = np.bincount(g.row, weights=gw * gw, minlength=n_docs)
        norm = np.sqrt(self.norm_sq)
        norm[norm == 0] = 1.0
        self.char_T = sp.csr_matrix((gw / norm[g.row], (g.col, g.row)), shape=(gram_counts.shape[1], n_docs))

    def score(self, qb: QueryBatch) -> tuple[np.ndarray, np.ndarray]:
        """(BM25 / the query's ideal BM25, char cosine) per query × document."""
        if qb.n == 1:
            return self._score_one(qb)
        # the ideal is every query word matched once, unknown words included: an off-topic word lowers the score
        ideal = qb.tok @ self.tok_idf + qb.oov_tok * self.tok_idf_oov
        bm25 = (qb.tok @ self.bm25_T).toarray() / np.maximum(ideal, 1e-9)[:, None]
        qw = qb.gram.multiply(self.gram_idf[None, :]).tocsr()
        qnorm = np.sqrt(np.asarray(qw.multiply(qw).sum(axis=1)).ravel() + qb.oov_gram_sq * self.gram_idf_oov ** 2)
        char = (qw @ self.char_T).toarray() / np.maximum(qnorm, 1e-9)[:, None]
        return bm25, char

    def _score_one(self, qb: QueryBatch) -> tuple[np.ndarray, np.ndarray]:
        """score() for one question without building sparse matrices (scipy's overhead is most of
        the cost at this size): gather the postings of the question's words and bigrams."""
        n_docs = self.bm25_T.shape[1]
        ids = qb.tok_ids[0]
        ideal = float(self.tok_idf[ids].sum()) + qb.oov_tok[0] * self.tok_idf_oov if ids else qb.oov_tok[0] * self.tok_idf_oov
        bm25 = gather(self.bm25_T, ids, None, n_docs) / max(ideal, 1e-9)
        gw = qb.gram_w[0]
        gids = list(gw)
        weights = np.fromiter(gw.values(), dtype=np.float64, count=len(gw)) * self.gram_idf[gids] if gids else np.zeros(0)
        qnorm = math.sqrt(float((weights * weights).sum()) + qb.oov_gram_sq[0] * self.gram_idf_oov ** 2)
        char = gather(self.char_T, gids, weights, n_docs) / max(qnorm, 1e-9)
        return bm25[None, :], char[None, :]

    def score_without(self, docs: np.ndarray, minus_tok: sp.csr_matrix, minus_gram: sp.csr_matrix,
                      qb: QueryBatch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Leave-one-out, one row per query: (BM25, char cosine, words matched) of document docs[r]
        for query r, with the counts minus_*[r] taken out of that document."""
        k1, b = self.k1, self.b
        tok = positive(self.tok_counts[docs] - minus_tok)
        length = self.lengths[docs] - np.asarray(minus_tok.sum(axis=1)).ravel()
        coo = tok.tocoo()
        w = self.tok_idf[coo.col] * coo.data * (k1 + 1) / (coo.data + k1 * (1 - b + b * length[coo.row] / self.avgdl))
        qtok = qb.tok
        weights = sp.csr_matrix((w, (coo.row, coo.col)), shape=tok.shape)
        ideal = qtok @ self.tok_idf + qb.oov_tok * self.tok_idf_oov
        s = np.asarray(qtok.multiply(weights).sum(axis=1)).ravel()
        bm25 = np.where(ideal > 0, s / np.maximum(ideal, 1e-12), 0.0)
        matched = np.asarray(qtok.multiply(binary(tok)).sum(axis=1)).ravel()
        gram = positive(self.gram_counts[docs] - minus_gram).tocoo()
        gw = sp.csr_matrix(((1 + np.log(gram.data)) * self.gram_idf[gram.col], (gram.row, gram.col)), shape=gram.shape)
        nsq = np.asarray(gw.multiply(gw).sum(axis=1)).ravel()
        qw = qb.gram.multiply(self.gram_idf[None, :]).tocsr()
        qsq = np.asarray(qw.multiply(qw).sum(axis=1)).ravel() + qb.oov_gram_sq * self.gram_idf_oov ** 2
        dot = np.asarray(qw.multiply(gw).sum(axis=1)).ravel()
        ok = (nsq > 1e-12) & (qsq > 0)
        char = np.where(ok, dot / np.sqrt(np.where(ok, nsq * qsq, 1.0)), 0.0)
        return bm25, char, matched


def binary(m: sp.csr_matrix) -> sp.csr_matrix:
    out = m.copy()
    out.data[:] = 1.0
    return out


def positive(m: sp.csr_matrix) -> sp.csr_matrix:
    """Only the positive entries of m (counts after a subtraction)."""
    m = m.tocsr()
    m.data[m.data < 1e-9] = 0.0
    m.eliminate_zeros()
    return m


def doc_freq(m: sp.csr_matrix) -> np.ndarray:
    """Document frequency of each column."""
    return np.asarray((m > 0).sum(axis=0)).ravel()


def gather(m: sp.csr_matrix, rows: list[int], weights: np.ndarray | None, width: int) -> np.ndarray:
    """Σ_i weights[i] · m[rows[i]] as a dense vector (sum of postings lists)."""
    if not rows:
        return np.zeros(width)
    parts = [(m.indptr[r], m.indptr[r + 1]) for r in rows]
    idx = np.concatenate([m.indices[a:b] for a, b in parts])
    vals = np.concatenate([m.data[a:b] * (1.0 if weights is None else weights[i]) for i, (a, b) in enumerate(parts)])
    return np.bincount(idx, weights=vals, minlength=width)
