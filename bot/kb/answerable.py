"""Does a question look like anything the knowledge base answers at all?

The ranking compares a question with every entry; a question that shares a topic word with an
entry ("京东买的电热毯几天能到") can rank that entry first with a high score. This gate looks at
the question alone: a logistic regression over character 1–3-grams, trained on every question
and paraphrase of the knowledge base (answerable) against negatives.yml (not answerable: other
services, account lookups, physics homework, chit-chat …). Its probability is a feature of the
engine's confidence model (learned from out-of-fold probabilities, see out_of_fold_by_kind), and above
GATE_THRESHOLD the engine fails the question even where that model would still offer a choice.
"""
from __future__ import annotations

import numpy as np

from bot.kb.ngram_classifier import NgramClassifier

# Chosen by 5-fold cross-validation on the knowledge base itself (out_of_fold_by_kind below): at 0.6
# about 1 % of held-out paraphrases are refused and about half of the held-out negatives caught;
# the rest of the gate's work is done through the confidence model, which weighs its probability.
GATE_THRESHOLD = 0.6


class AnswerableGate(NgramClassifier):
    """P(the question is not answerable from the knowledge base), from its wording alone."""

    def __init__(self, answerable: list[str], unanswerable: list[str], seed: int = 0) -> None:
        super().__init__(unanswerable, answerable, seed)

    def p_unanswerable(self, cleaned: str) -> float:
        """0..1 for a cleaned question; 0 when the gate has nothing to learn from."""
        return self.p(cleaned)

    def out_of_fold_by_kind(self) -> tuple[np.ndarray, np.ndarray]:
        """(answerable, unanswerable) examples' p_unanswerable, each from a gate that did not see it.

        The confidence model learns how much to trust the gate from the KB's own paraphrases and
        negatives; the gate scoring its own examples would put them all near 0 or 1 and teach it
        nothing.
        """
        unanswerable, answerable = self.out_of_fold()
        return answerable, unanswerable
