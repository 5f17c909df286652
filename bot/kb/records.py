"""Does a question ask for the customer's own records or a live status?

personal.py recognises the common wordings with rules ("我家户号是多少", "上个月用了多少度"). Customers
find many more ("上礼拜交的过户材料 审核通过没有", "下午报修的 工单有人接了没"), and those used to end
as a generic failure and a work order. This detector learns the kind from the examples in
negatives.yml (``account_questions:``) against every question and paraphrase of the knowledge base
and the other negatives: a logistic regression over character 1–3-grams, like the gate. Above
RECORDS_THRESHOLD the engine gives the honest "我这里查不到您的账户" reply with the entries that say
how to look it up, instead of an answer, a choice or a work order.
"""
from __future__ import annotations

import scipy.sparse as sp

from bot.kb.ngram_classifier import NgramClassifier

# Chosen by 5-fold cross-validation on the knowledge base (`RecordsDetector.out_of_fold`): at 0.6 it
# recognises about half of the unseen account questions and takes about 0.1 % of the paraphrases
# for one; 0.5 takes twice as many. A question it takes still gets its likeliest entries as buttons.
RECORDS_THRESHOLD = 0.6


class RecordsDetector(NgramClassifier):
    """P(the question asks for the customer's own records or a live status), from its wording.

    Learned from ``records`` (yes) against ``others`` (no); ``out_of_fold`` gives (records, others).
    """

    def asks_for_records(self, cleaned: str, features: sp.csr_matrix | None = None) -> bool:
        """``features``: the question's ``features()``, when already computed with this vectoriser."""
        return self.p(cleaned, features) >= RECORDS_THRESHOLD
