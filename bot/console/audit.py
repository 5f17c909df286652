"""Audit lines for access to personal data: exports and full phone numbers shown.

One JSON line per event in var/audit.log (0600), append-only, plus a log line at INFO. An
operator reads it with `tail`/`jq`; `python -m bot retention` never deletes it.
"""
from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

from bot.clock import utcnow
from bot.local_secrets import private_dir

logger = logging.getLogger(__name__)
_lock = threading.Lock()


def audit(var_dir: Path, actor: str, action: str, **detail: Any) -> None:
    """Record that ``actor`` did ``action`` (export, phone_shown …); never raises."""
    line = json.dumps({"at": utcnow().isoformat(timespec="seconds"), "actor": actor, "action": action,
                       **detail}, ensure_ascii=False, default=str)
    logger.info("audit: %s", line)
    try:
        path = private_dir(Path(var_dir)) / "audit.log"
        with _lock:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as fh:
                fh.write(line + "\n")
    except OSError:
        logger.exception("audit line not written: %s", line)


def read(var_dir: Path) -> list[dict]:
    path = Path(var_dir) / "audit.log"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
