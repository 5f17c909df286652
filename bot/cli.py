"""``python -m bot <subcommand>``: the command line of 电力服务助手.

Each subcommand is one ``add_<name>(subparsers)`` function that registers its arguments and
its handler; add a new one to SUBCOMMANDS.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bot.kb.loader import DEFAULT_ROOT


def _load_engine(kb: Path, signal: str = "combined"):
    """(engine, seconds) or exit 2 with the knowledge errors on stderr."""
    from bot.kb.engine import Engine
    from bot.kb.loader import load_knowledge
    from bot.kb.model import KnowledgeError

    started = time.perf_counter()
    try:
        engine = Engine(load_knowledge(kb), signal=signal)  # type: ignore[arg-type]
    except KnowledgeError as exc:
        print(f"知识库有错误 / knowledge base is broken:\n{exc}", file=sys.stderr)
        raise SystemExit(2) from exc
    return engine, time.perf_counter() - started


# --- ask --------------------------------------------------------------------------------------
def _answer_json(question: str, ans) -> dict:
    return {"question": question, **ans.to_json(), "answer": ans.entry.answer if ans.entry else None}


def _print_answer(engine, ans) -> None:
    from bot.next_step import plan

    step = plan(ans)  # what the customer's chat does with this decision (bot/next_step.py)
    print(f"outcome: {ans.outcome}   ({ans.reason})")
    print(f"kind: {ans.kind}   next: {step.staff_label}" + ("，登记工单" if step.order else ""))
    if step.staff_note and ans.kind != "no_match":
        print(step.staff_note)
    if ans.entry is not None:
        e = ans.entry
        print(f"[{e.id}] {e.question}")
        print(f"topic: {e.topic}   confidence: {ans.confidence:.2f}   scope: {e.scope}")
        print()
        print(e.answer)
        print()
        for label, value in (("材料", "；".join(e.materials)), ("收费", e.fees), ("时限", e.time_limits), ("渠道", "；".join(e.channels))):
            if value:
                print(f"{label}: {value}")
        print(f"source: {e.source}")
        print(f"effective: {e.effective_text}   review by: {e.review_by.isoformat()}")
        if ans.related:
            print("相关问题 (buttons under the answer):")
            for rel in ans.related:
                print(f"  {rel.id}  {rel.question}")
        elif e.related:
            print("related:")
            for rid in e.related:
                rel = engine.get(rid)
                print(f"  {rid}  {rel.question if rel else '?'}")
    runners = [c for c in ans.candidates if ans.entry is None or c.entry.id != ans.entry.id]
    if runners:
        print("candidates:" if ans.entry is None else "runners-up:")
        for c in runners:
            print(f"  {c.confidence:.2f}  {c.entry.id}  {c.entry.question}")


def cmd_ask(args: argparse.Namespace) -> int:
    engine, _sec = _load_engine(args.kb)
    if args.json:
        for line in sys.stdin:
            question = line.rstrip("\n")
            if not question.strip():
                continue
            ans = engine.ask(question, top_k=args.top_k)
            print(json.dumps(_answer_json(question, ans), ensure_ascii=False), flush=True)
        return 0
    if not args.question:
        print("ask: give a question, or --json to read questions from stdin", file=sys.stderr)
        return 2
    _print_answer(engine, engine.ask(" ".join(args.question), top_k=args.top_k))
    return 0


def add_ask(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ask", help="answer a question from the knowledge base")
    p.add_argument("question", nargs="*", help="the question (quote it)")
    p.add_argument("--json", action="store_true", help="read one question per line from stdin, print JSON lines")
    p.add_argument("--kb", type=Path, default=DEFAULT_ROOT, help="knowledge directory (default: the repo's knowledge/)")
    p.add_argument("--top-k", type=int, default=3, help="candidates to show")
    p.set_defaults(func=cmd_ask)


# --- eval -------------------------------------------------------------------------------------
def cmd_eval(args: argparse.Namespace) -> int:
    from bot.kb import evaluate

    rows = None
    if args.file is not None:
        try:
            rows = evaluate.read_eval_file(args.file)
        except evaluate.EvalFileError as exc:
            print(f"eval: {exc}", file=sys.stderr)
            return 2
    signals = ["bm25", "char", "combined"] if args.signal == "all" else [args.signal]
    reports = []
    for signal in signals:
        engine, seconds = _load_engine(args.kb, signal)
        if rows is None:
            metrics = evaluate.run_leave_one_out(engine, seconds, progress=not args.json)
        else:
            metrics = evaluate.run_file(engine, rows, seconds, progress=not args.json)
        if args.sweep:
            metrics["sweep"] = evaluate.sweep(engine, rows)
        reports.append(metrics)
        if args.chart and signal == signals[-1]:
            evaluate.write_chart(metrics, args.chart)
    if args.json:
        print(json.dumps(reports[0] if len(reports) == 1 else reports, ensure_ascii=False, indent=2))
    else:
        print("\n\n".join(evaluate.format_report(m) + ("\n" + evaluate.format_sweep(m["sweep"]) if "sweep" in m else "") for m in reports))
        if len(reports) > 1:
            print("\nsummary:")
            for m in reports:
                print("  " + evaluate.summary_line(m))
        if args.chart:
            print(f"chart: {args.chart}")
    return 0


def add_eval(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="benchmark the answer engine on a TSV (question, expected, note)")
    p.add_argument("file", nargs="?", type=Path, help="TSV file; without it: leave-one-paraphrase-out on the KB")
    p.add_argument("--signal", choices=["bm25", "char", "combined", "all"], default="combined", help="ranking signal")
    p.add_argument("--chart", type=Path, help="write a PNG bar chart of per-topic rates")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.add_argument("--sweep", action="store_true", help="also show the rates for other answer/clarify thresholds")
    p.add_argument("--kb", type=Path, default=DEFAULT_ROOT, help="knowledge directory (default: the repo's knowledge/)")
    p.set_defaults(func=cmd_eval)


# --- run / train / story-test ----------------------------------------------------------------
def cmd_run(args: argparse.Namespace) -> int:
    from bot.runner import run
    from bot.settings import load

    if args.rasa_procs or args.action_procs:  # several processes behind haproxy (bot/scaleout.py)
        from bot.scaleout import run_scaled

        return run_scaled(load(), args.rasa_procs or 1, args.action_procs or 1)
    return run(load())


def cmd_train(args: argparse.Namespace) -> int:
    from bot.training import ensure_model

    ensure_model(force=args.force)
    # The answer engine's segmentation and confidence model are cached by what they depend on
    # (bot/kb/kb_cache.py): building it here once means the servers that start next read them back
    # instead of fitting (seconds at 1×, the bulk of the start-up as the knowledge base grows).
    engine, seconds = _load_engine(DEFAULT_ROOT)
    print(f"答题引擎已就绪：{len(engine.entries)} 个条目，{seconds:.1f} 秒（置信度模型：{engine.calibration_source}）")
    return 0


def cmd_story_test(_args: argparse.Namespace) -> int:
    from bot.story_test import run_story_tests

    return run_story_tests()


def add_system(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="start the action server, the Rasa server and the staff console (what `make run` does)")
    from bot.scaleout import add_arguments as scaleout_arguments

    scaleout_arguments(p)
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("train", help="train the Rasa model if its inputs changed since the last model")
    p.add_argument("--force", action="store_true", help="train even when nothing changed")
    p.set_defaults(func=cmd_train)
    p = sub.add_parser("story-test", help="run the Rasa test stories in tests/ and fail on any error")
    p.set_defaults(func=cmd_story_test)


def add_orders(sub: argparse._SubParsersAction) -> None:
    from bot.orders.cli import add_orders as register

    register(sub)


from bot.console import cli as console_cli  # noqa: E402 — the staff console's subcommands
from bot.review.cli import add_review  # noqa: E402 — report (分类统计) and misses

from bot.retention import add_retention  # noqa: E402 — delete / anonymise old data

SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    add_system, add_ask, add_eval, add_orders, console_cli.add_console, console_cli.add_users, add_review,
    add_retention]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="电力服务助手 command line")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)
