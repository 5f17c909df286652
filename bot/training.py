"""Train the Rasa model only when its inputs changed.

Rasa's own fingerprint does not cover the jieba dictionary files (only the config's path to
them), so we keep our own hash of every training input next to the model.
"""
from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterable, List

from bot.settings import ROOT

MODEL_DIR = ROOT / "models"
MODEL_NAME = "assistant"
MODEL_PATH = MODEL_DIR / f"{MODEL_NAME}.tar.gz"
STAMP = MODEL_DIR / f"{MODEL_NAME}.inputs.sha256"


def training_inputs(root: Path = ROOT) -> List[Path]:
    """Every file whose change must retrain the model."""
    files: List[Path] = [root / "config.yml", root / "domain.yml"]
    for pattern in ("data/**/*.yml", "knowledge/jieba/*", "bot/nlu/*.py"):
        files.extend(sorted(p for p in root.glob(pattern) if p.is_file()))
    return files


def inputs_hash(files: Iterable[Path], root: Path = ROOT) -> str:
    h = hashlib.sha256()
    for f in files:
        h.update(str(f.relative_to(root)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def model_is_current() -> bool:
    return MODEL_PATH.exists() and STAMP.exists() and STAMP.read_text().strip() == inputs_hash(training_inputs())


def ensure_model(force: bool = False) -> Path:
    """Return the model path, training first if any input changed since the last model."""
    if not force and model_is_current():
        print(f"模型已是最新（{MODEL_PATH.relative_to(ROOT)}），训练数据未变，跳过训练。")
        return MODEL_PATH
    digest = inputs_hash(training_inputs())
    print("训练数据有变化，开始训练 Rasa 模型（约 2–4 分钟）…", flush=True)
    started = time.monotonic()
    cmd = [sys.executable, "-m", "rasa", "train", "--fixed-model-name", MODEL_NAME,
           "--out", str(MODEL_DIR), "--force"]
    subprocess.run(cmd, cwd=ROOT, check=True)
    STAMP.write_text(digest)
    size_mb = MODEL_PATH.stat().st_size / 1e6
    print(f"训练完成：{time.monotonic() - started:.0f} 秒，模型 {MODEL_PATH.relative_to(ROOT)}（{size_mb:.1f} MB）")
    return MODEL_PATH
