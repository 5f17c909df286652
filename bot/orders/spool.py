"""A durable local queue for work-order requests made while the database is unreachable.

Each request becomes one JSON file in var/spool/, written atomically (temporary file, fsync,
rename, fsync of the directory), so after a crash a file is either complete or absent. Files
are replayed through the normal store path, oldest first, and deleted only after that commit;
every replay is idempotent (idempotency key, transcript event keys), so a crash between commit
and delete, or two processes flushing the same file, cannot duplicate anything.
"""
from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

SPOOL_VERSION = 1


class Spool:
    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        # Replays that failed for a reason other than an unreachable database (a bug, bad data)
        # are parked here for a person, instead of being retried on every call or deleted.
        self.failed_dir = self.directory / "failed"

    def write(self, kind: str, payload: dict[str, Any]) -> Path:
        """Durably store one request; returns its path. Raises OSError if the disk refuses."""
        self.directory.mkdir(parents=True, exist_ok=True)
        record = {"version": SPOOL_VERSION, "kind": kind, "spooled_at_ns": time.time_ns(),
                  "pid": os.getpid(), "payload": payload}
        # Names sort in write order (nanosecond clock first), which is the replay order.
        name = f"{time.time_ns():020d}-{os.getpid()}-{uuid.uuid4().hex[:12]}.json"
        final = self.directory / name
        tmp = self.directory / f".{name}.tmp"
        data = json.dumps(record, ensure_ascii=False, indent=1).encode("utf-8")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(self.directory)
        return final

    def has_pending(self) -> bool:
        """Cheap check done before every service call: one directory scan, usually empty."""
        try:
            with os.scandir(self.directory) as it:
                return any(e.name.endswith(".json") and not e.name.startswith(".") for e in it)
        except FileNotFoundError:
            return False

    def pending(self) -> Iterator[Path]:
        """Spooled files, oldest first."""
        try:
            names = sorted(n for n in os.listdir(self.directory)
                           if n.endswith(".json") and not n.startswith("."))
        except FileNotFoundError:
            return
        for name in names:
            yield self.directory / name

    @staticmethod
    def load(path: Path) -> dict[str, Any]:
        record = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(record, dict) or "kind" not in record or "payload" not in record:
            raise ValueError(f"{path}: not a spool record")
        return record

    def done(self, path: Path) -> None:
        """Delete a replayed file. Another process may have replayed and deleted it already."""
        try:
            path.unlink()
        except FileNotFoundError:
            return
        _fsync_dir(self.directory)

    def park(self, path: Path, error: str) -> Path | None:
        """Move a file that cannot be replayed to failed/, with the error beside it."""
        self.failed_dir.mkdir(parents=True, exist_ok=True)
        target = self.failed_dir / path.name
        try:
            os.replace(path, target)
        except FileNotFoundError:
            return None
        (self.failed_dir / (path.name + ".error.txt")).write_text(error, encoding="utf-8")
        _fsync_dir(self.directory)
        return target


def _fsync_dir(directory: Path) -> None:
    # The rename/unlink is only durable once the directory entry is on disk.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on directories; the rename is still atomic
    finally:
        os.close(fd)
