"""Run the Rasa test conversations in tests/ and fail on any wrong prediction."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from bot.settings import ROOT
from bot.training import ensure_model


def run_story_tests(out: Path = ROOT / "results" / "stories") -> int:
    """`rasa test core` on tests/test_*.yml; non-zero if any story failed."""
    model = ensure_model()
    stories = sorted(ROOT.glob("tests/test_*.yml"))
    failed_file = out / "failed_test_stories.yml"
    failed_file.unlink(missing_ok=True)
    status = 0
    for story_file in stories:
        cmd = [sys.executable, "-m", "rasa", "test", "core", "--model", str(model), "--stories",
               str(story_file), "--out", str(out), "--fail-on-prediction-errors", "--no-plot"]
        print(f"rasa test core: {story_file.relative_to(ROOT)}", flush=True)
        status |= subprocess.run(cmd, cwd=ROOT).returncode
        # Belt and braces: rasa writes the failed stories even when it exits 0 in some paths.
        if failed_file.exists():
            failed = yaml.safe_load(failed_file.read_text(encoding="utf-8")) or {}
            if failed.get("stories"):
                print(f"失败的测试对话见 {failed_file}", file=sys.stderr)
                status |= 1
    print("测试对话全部通过。" if status == 0 else "有测试对话失败。", flush=True)
    return status
