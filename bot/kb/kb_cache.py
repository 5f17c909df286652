"""Keep what is slow to rebuild between runs, keyed by everything it was computed from.

Two things are kept in var/kb-cache (KB_CACHE_DIR):

- the fitted confidence model (leave-one-paraphrase-out over every text, then two logistic
  regressions): it depends only on the tokenised knowledge base, negatives.yml, the ranking
  parameters and the code of bot/kb/;
- the jieba segmentation of every knowledge-base text, keyed by the dictionaries, synonyms,
  typos and the code: a trainer's edit re-segments only the texts that changed.

A process that starts on unchanged knowledge (a restart, the action server next to the console,
`bot eval` twice, a hot reload after a one-line edit) reads them back. Any change to what they
depend on gives a new key, and they are computed again.
"""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

# Every module of the package: a module that moves or a new one needs no update here.
_PACKAGE = Path(__file__).parent
KEEP = 8  # newest cache files kept per directory (one per knowledge-base version)


def default_dir() -> Path | None:
    """var/kb-cache under the bot's var directory; KB_CACHE_DIR moves it, KB_CACHE_DIR=off turns caching off."""
    from bot.settings import load

    settings = load()
    value = settings.kb_cache_dir
    if value.lower() in ("off", "0", "none", "false"):
        return None
    return Path(value) if value else Path(settings.var_dir) / "kb-cache"


@functools.lru_cache(maxsize=1)
def _code_digest() -> bytes:
    """The code of bot/kb/, read once per process (it does not change under a running server)."""
    h = hashlib.sha256()
    for path in sorted(_PACKAGE.glob("*.py")):
        h.update(path.name.encode("utf-8") + b"\0" + path.read_bytes())
    return h.digest()


def key(parts: list[Any]) -> str:
    """sha256 over the code of bot/kb/ and the given JSON-able inputs."""
    h = hashlib.sha256(_code_digest())
    h.update(json.dumps(parts, ensure_ascii=False, sort_keys=True, default=str).encode("utf-8"))
    return h.hexdigest()


def _read(directory: Path | None, kind: str, cache_key: str) -> dict[str, Any] | None:
    """The stored JSON object of this kind and key, or None (off, missing, unreadable, other key)."""
    if directory is None:
        return None
    try:
        data = json.loads((Path(directory) / f"{kind}-{cache_key[:32]}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("key") == cache_key else None


def _write(directory: Path | None, kind: str, cache_key: str, data: dict[str, Any]) -> None:
    """Write atomically (several processes may start at once) and keep the KEEP newest of the kind;
    a read-only disk only costs speed at the next start."""
    if directory is None:
        return
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{kind}-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"key": cache_key, **data}, fh, ensure_ascii=False)
        os.replace(tmp, directory / f"{kind}-{cache_key[:32]}.json")
        files = sorted(directory.glob(f"{kind}-*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in files[KEEP:]:
            old.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("cannot write the %s cache in %s (%s)", kind, directory, exc)


def load(directory: Path | None, cache_key: str) -> dict[str, Any] | None:
    """The stored confidence model for this key, or None."""
    data = _read(directory, "calibration", cache_key)
    if data is None:
        return None
    try:
        return {
            "scaler": (np.asarray(data["mean"], dtype=float), np.asarray(data["scale"], dtype=float)),
            "models": {k: (np.asarray(v["coef"], dtype=float), float(v["intercept"])) for k, v in data["models"].items()},
            "training_size": data.get("training_size", {}),
        }
    except (KeyError, TypeError, ValueError, AttributeError):
        log.warning("calibration cache in %s is malformed; fitting again", directory)
        return None


def save(directory: Path | None, cache_key: str, scaler: tuple[np.ndarray, np.ndarray],
         models: dict[str, tuple[np.ndarray, float]], training_size: dict[str, int]) -> None:
    _write(directory, "calibration", cache_key, {
        "mean": scaler[0].tolist(),
        "scale": scaler[1].tolist(),
        "models": {k: {"coef": c.tolist(), "intercept": i} for k, (c, i) in models.items()},
        "training_size": training_size,
    })


def load_tokens(directory: Path | None, cache_key: str) -> dict[str, list[str]]:
    """Normalised text → its tokens, as stored for this segmentation key ({} when none)."""
    tokens = (_read(directory, "tokens", cache_key) or {}).get("tokens")
    return {k: v for k, v in tokens.items() if isinstance(v, list)} if isinstance(tokens, dict) else {}


def save_tokens(directory: Path | None, cache_key: str, tokens: dict[str, list[str]]) -> None:
    _write(directory, "tokens", cache_key, {"tokens": tokens})
