"""Benchmark the answer engine on a TSV of questions (or leave-one-paraphrase-out on the KB).

The TSV has a header ``question<TAB>expected<TAB>note``; expected is an entry id, several
acceptable ids separated by ``|``, or ``NONE`` for a question that must not be answered.
"""
from __future__ import annotations

import csv
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.kb.engine import Engine
from bot.kb.leakage import NEAR_COPY, near_copies
from bot.kb.model import Answer

NONE = "NONE"


class EvalFileError(Exception):
    """The evaluation file cannot be used (missing, wrong header, wrong columns)."""


@dataclass
class EvalRow:
    question: str
    expected: frozenset[str]  # empty = NONE (must not be answered)
    note: str = ""
    line: int = 0

    @property
    def answerable(self) -> bool:
        return bool(self.expected)


def read_eval_file(path: Path) -> list[EvalRow]:
    """Parse the TSV; raise EvalFileError naming the line of the first malformed row."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalFileError(f"{path}: cannot read ({exc})") from exc
    lines = text.splitlines()
    if not lines or [c.strip().lower() for c in lines[0].split("\t")[:2]] != ["question", "expected"]:
        raise EvalFileError(f"{path}:1 header must be 'question<TAB>expected<TAB>note'")
    rows = []
    for n, cols in enumerate(csv.reader(lines[1:], delimiter="\t", quoting=csv.QUOTE_NONE), start=2):
        if not cols or not "".join(cols).strip() or cols[0].startswith("#"):
            continue
        if len(cols) < 2 or not cols[0].strip() or not cols[1].strip():
            raise EvalFileError(f"{path}:{n} expected 'question<TAB>expected[<TAB>note]', got {cols!r}")
        exp = cols[1].strip()
        ids = frozenset() if exp.upper() == NONE else frozenset(x.strip() for x in exp.split("|") if x.strip())
        rows.append(EvalRow(cols[0].strip(), ids, cols[2].strip() if len(cols) > 2 else "", n))
    if not rows:
        raise EvalFileError(f"{path}: no questions")
    return rows


def _top_id(ans: Answer) -> str | None:
    if ans.entry is not None:
        return ans.entry.id
    return ans.candidates[0].entry.id if ans.candidates else None


def _pct(n: int, d: int) -> float:
    return round(100.0 * n / d, 2) if d else 0.0


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, int(round(q / 100.0 * len(ordered) + 0.5)) - 1))
    return ordered[k]


def compute_metrics(engine: Engine, results: list[tuple[EvalRow, Answer, float]], load_seconds: float) -> dict[str, Any]:
    """All figures of the report from (row, answer, seconds) triples."""
    rows = len(results)
    answerable = [r for r in results if r[0].answerable]
    unanswerable = [r for r in results if not r[0].answerable]
    top1 = top3 = answered_ok = clarify = clarify_hit = wrong_answerable = wrong_none = failed_none = 0
    per_topic: dict[str, Counter] = {}
    confused: Counter = Counter()
    example: dict[tuple[str, str], str] = {}
    unknown_ids = sorted({i for r, _a, _t in results for i in r.expected if engine.get(i) is None})
    for row, ans, _sec in results:
        got = _top_id(ans)
        cand_ids = [c.entry.id for c in ans.candidates[:3]]
        if ans.entry is not None and ans.entry.id not in cand_ids:
            cand_ids = [ans.entry.id, *cand_ids][:3]
        if ans.outcome == "clarify":
            clarify += 1
        if row.answerable:
            first = sorted(row.expected)[0]
            entry = engine.get(first)
            topic = entry.topic if entry else "unknown"
            stats = per_topic.setdefault(topic, Counter())
            stats["rows"] += 1
            ok1 = got in row.expected
            top1 += ok1
            stats["top1"] += ok1
            top3 += any(c in row.expected for c in cand_ids)
            if ans.outcome == "answer":
                if got in row.expected:
                    answered_ok += 1
                else:
                    wrong_answerable += 1
                    stats["wrong"] += 1
            if ans.outcome == "clarify" and any(c in row.expected for c in cand_ids):
                clarify_hit += 1
            if not ok1:
                key = ("|".join(sorted(row.expected)), got or "(nothing)")
                confused[key] += 1
                example.setdefault(key, row.question)
        else:
            stats = per_topic.setdefault("NONE", Counter())
            stats["rows"] += 1
            if ans.outcome == "fail":
                failed_none += 1
            if ans.outcome == "answer":
                wrong_none += 1
                stats["wrong"] += 1
                key = (NONE, got or "(nothing)")
                confused[key] += 1
                example.setdefault(key, row.question)
    latencies = [t * 1000 for _r, _a, t in results if t >= 0]
    n_ans = len(answerable)
    clarify_answerable = sum(1 for r, a, _t in answerable if a.outcome == "clarify")
    return {
        "signal": engine.signal,
        "rows": rows,
        "answerable": n_ans,
        "unanswerable": len(unanswerable),
        "top1_accuracy": _pct(top1, n_ans),
        "top3_accuracy": _pct(top3, n_ans),
        "answered_correctly": _pct(answered_ok, n_ans),
        "clarify_rate": _pct(clarify, rows),
        "clarify_contains_expected": _pct(clarify_hit, clarify_answerable),
        "wrong_answer_rate_all": _pct(wrong_answerable + wrong_none, rows),
        "wrong_answer_rate_answerable": _pct(wrong_answerable, n_ans),
        "unanswerable_failed": _pct(failed_none, len(unanswerable)),
        "unanswerable_answered": _pct(wrong_none, len(unanswerable)),
        "per_topic": {
            t: {"rows": c["rows"], "top1": _pct(c["top1"], c["rows"]) if t != "NONE" else None, "wrong_answer": _pct(c["wrong"], c["rows"])}
            for t, c in sorted(per_topic.items())
        },
        "confused": [
            {"expected": k[0], "got": k[1], "count": n, "example": example[k]} for k, n in confused.most_common(10)
        ],
        "latency_ms": {
            "p50": round(_percentile(latencies, 50), 3),
            "p95": round(_percentile(latencies, 95), 3),
            "p99": round(_percentile(latencies, 99), 3),
            "max": round(max(latencies), 3) if latencies else 0.0,
        },
        # load_seconds covers reading the YAML, the index and the confidence model; shown apart
        "load_index_seconds": round(max(0.0, load_seconds - getattr(engine, "calibration_seconds", 0.0)), 3),
        "calibration_seconds": round(getattr(engine, "calibration_seconds", 0.0), 3),
        "calibration_source": getattr(engine, "calibration_source", "fitted"),
        "unknown_expected_ids": unknown_ids,
    }


def run_file(engine: Engine, rows: list[EvalRow], load_seconds: float, progress: bool = True,
             check_copies: bool = True) -> dict[str, Any]:
    """Ask every question through ``engine.ask`` (what customers get), timing each; with
    ``check_copies`` also list the rows that are not held out (leakage.near_copies, ~5 s)."""
    from tqdm import tqdm

    results = []
    for row in tqdm(rows, desc="eval", unit="q", file=sys.stderr, disable=not progress):
        started = time.perf_counter()
        ans = engine.ask(row.question)
        results.append((row, ans, time.perf_counter() - started))
    metrics = compute_metrics(engine, results, load_seconds)
    if not check_copies:
        return metrics
    copies = near_copies([r.question for r in rows], engine.kb)
    metrics["near_copies"] = [
        {"question": c.question, "copies": c.text, "source": c.source, "ratio": c.ratio} for c in copies
    ]
    return metrics


def run_leave_one_out(engine: Engine, load_seconds: float, progress: bool = True) -> dict[str, Any]:
    """No eval file: each paraphrase against the index without it, plus negatives.yml as NONE rows.

    Optimistic: the confidence model was fitted on these same rows (8 coefficients, so only a little).
    """
    from tqdm import tqdm

    results: list[tuple[EvalRow, Answer, float]] = []
    for text, eid, ans in engine.loo_answers():
        results.append((EvalRow(text, frozenset([eid]), "loo"), ans, -1.0))
    for q in tqdm(engine.kb.negatives, desc="negatives", unit="q", file=sys.stderr, disable=not progress):
        started = time.perf_counter()
        ans = engine.ask(q)
        results.append((EvalRow(q, frozenset(), "negatives.yml"), ans, time.perf_counter() - started))
    metrics = compute_metrics(engine, results, load_seconds)
    metrics["mode"] = "leave-one-paraphrase-out (+ negatives.yml, in-sample)"
    return metrics


SWEEP_ANSWER = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
SWEEP_CLARIFY = (0.1, 0.2, 0.3, 0.4, 0.5)


def sweep(engine: Engine, rows: list[EvalRow] | None) -> list[dict[str, Any]]:
    """Key rates for other answer/clarify thresholds (rows None: leave-one-out), to choose the constants."""
    saved = engine.answer_threshold, engine.clarify_threshold
    out = []
    try:
        for a in SWEEP_ANSWER:
            for c in SWEEP_CLARIFY:
                engine.answer_threshold, engine.clarify_threshold = a, c
                if rows is None:
                    m = run_leave_one_out(engine, 0.0, progress=False)
                else:
                    m = run_file(engine, rows, 0.0, progress=False, check_copies=False)
                out.append({"answer_threshold": a, "clarify_threshold": c, **{k: m[k] for k in (
                    "answered_correctly", "wrong_answer_rate_all", "wrong_answer_rate_answerable", "clarify_rate",
                    "clarify_contains_expected", "unanswerable_failed")}})
    finally:
        engine.answer_threshold, engine.clarify_threshold = saved
    return out


def format_sweep(points: list[dict[str, Any]]) -> str:
    lines = ["threshold sweep (answer / clarify): answered-ok  wrong(all)  wrong(answerable)  clarify (right among buttons)  NONE failed"]
    for p in points:
        lines.append(
            f"  {p['answer_threshold']:.2f} / {p['clarify_threshold']:.2f}:  {p['answered_correctly']:6.2f}  {p['wrong_answer_rate_all']:6.2f}"
            f"  {p['wrong_answer_rate_answerable']:6.2f}  {p['clarify_rate']:6.2f} ({p['clarify_contains_expected']:6.2f})  {p['unanswerable_failed']:6.2f}"
        )
    return "\n".join(lines)


def format_report(m: dict[str, Any]) -> str:
    """Human-readable report."""
    lines = []
    if m.get("mode"):
        lines.append(f"mode: {m['mode']}")
    lines += [
        f"signal: {m['signal']}",
        f"rows: {m['rows']}   answerable: {m['answerable']}   unanswerable: {m['unanswerable']}",
        f"top-1 accuracy:               {m['top1_accuracy']:6.2f} %  (answerable rows)",
        f"top-3 accuracy:               {m['top3_accuracy']:6.2f} %",
        f"answered correctly:           {m['answered_correctly']:6.2f} %  (answer outcome, right entry, answerable rows)",
        f"clarify rate:                 {m['clarify_rate']:6.2f} %  (all rows; right entry among buttons: {m['clarify_contains_expected']:.2f} %)",
        f"WRONG ANSWER rate:            {m['wrong_answer_rate_all']:6.2f} %  (all rows)   {m['wrong_answer_rate_answerable']:.2f} % (answerable rows)",
        f"unanswerable correctly failed:{m['unanswerable_failed']:6.2f} %  (answered: {m['unanswerable_answered']:.2f} %)",
        "per topic:",
    ]
    for t, s in m["per_topic"].items():
        top1 = "   -  " if s["top1"] is None else f"{s['top1']:6.2f}"
        lines.append(f"  {t:10s} rows {s['rows']:5d}   top-1 {top1} %   wrong answer {s['wrong_answer']:6.2f} %")
    lines.append("most confused (expected -> got, count, example):")
    for c in m["confused"]:
        lines.append(f"  {c['expected']} -> {c['got']}  x{c['count']}  「{c['example']}」")
    lat = m["latency_ms"]
    lines.append(f"latency per question: p50 {lat['p50']:.2f} ms   p95 {lat['p95']:.2f} ms   p99 {lat['p99']:.2f} ms   max {lat['max']:.2f} ms")
    lines.append(f"load + index: {m['load_index_seconds']:.2f} s   confidence model + gate: {m['calibration_seconds']:.2f} s"
                 f" ({'model read from var/kb-cache' if m['calibration_source'] == 'cache' else 'fitted; KB_CACHE_DIR keeps the model for the next start'})")
    if "near_copies" in m:
        copies = m["near_copies"]
        if copies:
            lines.append(f"NOT HELD OUT: {len(copies)} of {m['rows']} rows nearly copy a knowledge-base text"
                         f" (similarity ≥ {NEAR_COPY}); the figures overstate how strangers' wording does")
        else:
            lines.append(f"held out: none of the {m['rows']} rows nearly copies a knowledge-base text (similarity ≥ {NEAR_COPY})")
        for c in copies[:5]:
            lines.append(f"  「{c['question']}」 ≈ 「{c['copies']}」 ({c['source']}, {c['ratio']:.2f})")
    if m["unknown_expected_ids"]:
        lines.append("expected ids not in the knowledge base: " + ", ".join(m["unknown_expected_ids"]))
    return "\n".join(lines)


def write_chart(m: dict[str, Any], path: Path) -> None:
    """PNG bar chart of per-topic top-1 and wrong-answer rates."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import font_manager

    cjk = [f.name for f in font_manager.fontManager.ttflist if any(k in f.name for k in ("CJK", "WenQuanYi", "SimHei", "Hei", "Song", "Noto Sans SC"))]
    if cjk:
        plt.rcParams["font.sans-serif"] = [cjk[0], *plt.rcParams["font.sans-serif"]]
    zh = bool(cjk)
    topics = list(m["per_topic"])
    # for the unanswerable rows the bar that matters is how many were failed (handed to a person)
    top1 = [m["unanswerable_failed"] if t == "NONE" else (m["per_topic"][t]["top1"] or 0.0) for t in topics]
    wrong = [m["per_topic"][t]["wrong_answer"] for t in topics]
    labels = [("无法回答（应转人工）" if zh else "unanswerable") if t == "NONE" else t for t in topics]
    fig, ax = plt.subplots(figsize=(max(6, 1.4 * len(topics)), 4.2))
    xs = range(len(topics))
    colors = ["tab:green" if t == "NONE" else "tab:blue" for t in topics]
    bars = ax.bar([x - 0.2 for x in xs], top1, width=0.4, color=colors,
                  label="首位正确率 / 正确转人工率 %" if zh else "top-1 % (unanswerable: correctly failed %)")
    ax.bar([x + 0.2 for x in xs], wrong, width=0.4, color="tab:red", label="错答率 wrong answer %" if zh else "wrong answer %")
    ax.bar_label(bars, fmt="%.1f", fontsize=8)
    ax.set_xticks(list(xs))
    ax.set_xticklabels(labels)
    ax.set_ylim(0, 118)
    ax.set_title(f"{'按主题' if zh else 'per topic'} — signal {m['signal']}, {m['rows']} rows")
    ax.legend(loc="upper center", ncol=2, fontsize=8, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def summary_line(m: dict[str, Any]) -> str:
    """One line for comparing signals."""
    return (
        f"{m['signal']:9s} top1 {m['top1_accuracy']:6.2f}  top3 {m['top3_accuracy']:6.2f}  answered-ok {m['answered_correctly']:6.2f}"
        f"  clarify {m['clarify_rate']:6.2f}  wrong(all) {m['wrong_answer_rate_all']:5.2f}  NONE-failed {m['unanswerable_failed']:6.2f}"
        f"  p95 {m['latency_ms']['p95']:.2f} ms"
    )

