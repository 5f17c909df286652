"""Data classes of the knowledge base and of the answer engine's results."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from bot.topics import TOPIC_IDS as TOPICS  # knowledge/topics.yml


class KnowledgeError(Exception):
    """A knowledge file is broken; the message lists every problem, one per line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        head = f"{len(self.problems)} problem(s) in the knowledge base:"
        super().__init__("\n".join([head, *self.problems]))


@dataclass
class Entry:
    """One question of the knowledge base with its answer (see knowledge/README.md)."""

    id: str
    topic: str
    question: str
    paraphrases: list[str]
    answer: str
    source: str
    effective: dt.date | None  # None: the source says 生效日期待核 (never a guessed date)
    review_by: dt.date
    related: list[str]
    scope: str
    file: str
    line: int
    keywords: list[str] = field(default_factory=list)
    materials: list[str] = field(default_factory=list)
    fees: str | None = None
    time_limits: str | None = None
    channels: list[str] = field(default_factory=list)
    refuse: bool = False
    # line of each field, so later tools (console, reports) can point a trainer at it
    field_lines: dict[str, int] = field(default_factory=dict, repr=False)

    @property
    def effective_text(self) -> str:
        """The effective date as shown to staff: YYYY-MM-DD, or 待核 when the source has none."""
        return self.effective.isoformat() if self.effective else "待核"

    @property
    def region(self) -> str | None:
        """Region name for ``scope: region:<name>`` entries, else None."""
        return self.scope.split(":", 1)[1] if self.scope.startswith("region:") else None

    @property
    def is_overview(self) -> bool:
        """An overview (概述) entry answers a broad question about a subject ("电价收费标准是什么")
        and links the detailed entries; its id is ``<topic>.overview_<subject>``."""
        return self.id.split(".", 1)[-1].startswith("overview")

    @property
    def texts(self) -> list[str]:
        """The texts a customer question is matched against: question first, then paraphrases."""
        return [self.question, *self.paraphrases]

    def to_json(self) -> dict[str, Any]:
        """What staff see of the entry (the console's /api/ask)."""
        return {
            "id": self.id, "topic": self.topic, "question": self.question, "answer": self.answer,
            "source": self.source, "effective": self.effective.isoformat() if self.effective else None,
            "review_by": self.review_by.isoformat(), "related": self.related, "materials": self.materials,
            "fees": self.fees, "time_limits": self.time_limits, "channels": self.channels,
        }


@dataclass
class Region:
    """Parameters of one region (knowledge/regions/<name>.yml)."""

    name: str
    file: str
    params: dict[str, object]

    @property
    def places(self) -> list[str]:
        """The province and city names this region covers (``places:`` in its file)."""
        value = self.params.get("places")
        return [str(p) for p in value] if isinstance(value, list) else []


@dataclass
class KnowledgeBase:
    """Everything loaded from knowledge/: entries, regions, synonyms, typos, negatives."""

    root: Path
    entries: list[Entry]
    regions: dict[str, Region] = field(default_factory=dict)
    synonym_groups: list[list[str]] = field(default_factory=list)
    typos: dict[str, str] = field(default_factory=dict)
    negatives: list[str] = field(default_factory=list)  # all of negatives.yml, account questions included
    account_questions: list[str] = field(default_factory=list)  # those that ask for the customer's own records
    warnings: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    digest: str = ""  # sha256 over all loaded files: cache key for anything derived from the KB

    def __post_init__(self) -> None:
        self.by_id: dict[str, Entry] = {e.id: e for e in self.entries}

    def get(self, entry_id: str) -> Entry | None:
        return self.by_id.get(entry_id)


Outcome = Literal["answer", "clarify", "fail"]
# What the engine decided, typed; bot/next_step.py turns a kind into what happens next (the reply,
# a work order, a form) for the actions, the console and `bot ask` alike. ``outcome`` stays the
# coarse answer / clarify / fail that the benchmarks count; ``reason`` is for logs only.
Kind = Literal["answer", "answer_with_related", "clarify", "emergency", "incident_report", "personal_data",
               "out_of_domain", "no_match"]
KINDS: tuple[str, ...] = ("answer", "answer_with_related", "clarify", "emergency", "incident_report",
                          "personal_data", "out_of_domain", "no_match")
TOPIC_MENU = "topic_menu"  # Answer.detail of a clarify that lists a topic's first entries (a greeting button)
_OUTCOME_OF: dict[str, str] = {"answer": "answer", "answer_with_related": "answer", "emergency": "answer",
                               "clarify": "clarify"}


@dataclass
class Candidate:
    """A ranked entry: raw combined score and calibrated probability that it is the right answer."""

    entry: Entry
    score: float
    confidence: float


@dataclass
class Answer:
    """What the engine decided for one question."""

    outcome: Outcome
    entry: Entry | None
    confidence: float
    candidates: list[Candidate]
    reason: str
    kind: Kind | None = None          # None: derived from outcome (answer / clarify / no_match)
    related: list[Entry] = field(default_factory=list)  # 相关问题 buttons under an answer
    detail: str | None = None         # sub-kind: personal data's kind, out of domain's, emergency's; TOPIC_MENU
    order: str | None = None          # "fault" / "complaint": the message needs a work order of that kind

    def __post_init__(self) -> None:
        if self.kind is None:
            self.kind = {"answer": "answer", "clarify": "clarify"}.get(self.outcome, "no_match")  # type: ignore[assignment]
        if self.kind not in KINDS:
            raise ValueError(f"unknown answer kind {self.kind!r}; expected one of {KINDS}")
        expected = _OUTCOME_OF.get(self.kind, "fail")
        if self.outcome != expected:
            raise ValueError(f"kind {self.kind} goes with outcome {expected!r}, not {self.outcome!r}")

    def to_json(self, with_entry: bool = False) -> dict[str, Any]:
        """The decision as JSON, one shape for the chat's custom payload (replies.meta), `bot ask
        --json` and the console's /api/ask. ``with_entry``: the answered entry in full, as "entry"."""
        entry = self.entry
        best = entry or (self.candidates[0].entry if self.candidates else None)
        data: dict[str, Any] = {
            "outcome": self.outcome,
            "kind": self.kind,
            "detail": self.detail,
            "related": [e.id for e in self.related],
            "entry_id": entry.id if entry else None,
            "topic": entry.topic if entry else None,
            # The likeliest topic even when nothing was answered: it routes a work order (its SLA).
            "topic_guess": best.topic if best else None,
            "confidence": round(float(self.confidence), 4),
            "candidates": [
                {"entry_id": c.entry.id, "question": c.entry.question, "confidence": round(float(c.confidence), 4)}
                for c in self.candidates
            ],
        }
        if with_entry:
            data["entry"] = entry.to_json() if entry else None
        return data
