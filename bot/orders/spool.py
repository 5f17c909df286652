"""A durable local queue for work-order requests made while the database is unreachable.

Each request becomes one JSON file in var/spool/, written atomically (temporary file, fsync,
rename, fsync of the directory), so after a crash a file is either complete or absent. Files
are replayed through the normal store path, oldest first, and deleted only after that commit;
every replay is idempotent (idempotency key, transcript event keys), so a crash between commit
and delete cannot duplicate anything. One flusher at a time across processes (an flock on
spool/.flush.lock), so files are applied in the order they were written.

- A full or read-only disk does not lose the request: it is kept in this process's memory
  (at most MAX_MEMORY records) and written out or replayed by the next flush.
- A ``.tmp`` file left by a crash mid-write is deleted once it is older than STALE_TMP seconds.
- The folder is 0700 and the files 0600: they hold transcripts and phone numbers.
"""
from __future__ import annotations

import fcntl
import io
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

SPOOL_VERSION = 1
MAX_MEMORY = 1000
STALE_TMP = 600.0


class Spool:
    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        # Replays that failed for a reason other than an unreachable database (a bug, bad data)
        # are parked here for a person, instead of being retried on every call or deleted.
        self.failed_dir = self.directory / "failed"
        self._memory: list[dict[str, Any]] = []
        self._memory_lock = threading.Lock()

    def write(self, kind: str, payload: dict[str, Any]) -> Path | None:
        """Durably store one request; returns its path, or None if the disk refused and the
        request is kept in memory until a flush can write or replay it."""
        record = {"version": SPOOL_VERSION, "kind": kind, "spooled_at_ns": time.time_ns(),
                  "pid": os.getpid(), "payload": payload}
        try:
            return self._write_record(record)
        except OSError as exc:
            with self._memory_lock:
                if len(self._memory) >= MAX_MEMORY:
                    logger.critical("spool disk refused and memory is full: request lost (%s)", exc)
                    raise
                self._memory.append(record)
            logger.error("spool disk refused a write (%s); request kept in memory for the next flush", exc)
            return None

    def retry_memory(self) -> int:
        """Write requests kept in memory to disk; how many were written."""
        written = 0
        while True:
            with self._memory_lock:
                if not self._memory:
                    return written
                record = self._memory[0]
            try:
                self._write_record(record)
            except OSError:
                return written
            with self._memory_lock:
                self._memory.pop(0)
            written += 1

    def memory_records(self) -> list[dict[str, Any]]:
        with self._memory_lock:
            return list(self._memory)

    def forget(self, record: dict[str, Any]) -> None:
        with self._memory_lock:
            if record in self._memory:
                self._memory.remove(record)

    def _write_record(self, record: dict[str, Any]) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        try:
            os.chmod(self.directory, 0o700)
        except OSError:
            pass
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
        if self._memory:
            return True
        try:
            with os.scandir(self.directory) as it:
                return any(e.name.endswith(".json") and not e.name.startswith(".") for e in it)
        except OSError:  # absent, or not a directory (a refused disk: see write)
            return False

    def holds(self, channel: str, sender_id: str) -> bool:
        """Is a request of this conversation still waiting here (on disk or in memory)?
        Reads the pending files: call it only on the rare path where that matters."""
        def mine(record: dict[str, Any]) -> bool:
            p = record.get("payload") or {}
            return p.get("channel") == channel and p.get("sender_id") == sender_id

        if any(mine(r) for r in self.memory_records()):
            return True
        for path in self.pending():
            try:
                if mine(self.load(path)):
                    return True
            except (OSError, ValueError):  # replayed and deleted meanwhile, or being parked
                continue
        return False

    def pending(self) -> Iterator[Path]:
        """Spooled files, oldest first."""
        try:
            names = sorted(n for n in os.listdir(self.directory)
                           if n.endswith(".json") and not n.startswith("."))
        except OSError:
            return
        for name in names:
            yield self.directory / name

    def flush_lock(self, wait: float = 0.0) -> Any:
        """An exclusive lock on spool/.flush.lock (close it to release), or None if another
        process holds it (for more than ``wait`` seconds)."""
        deadline = time.monotonic() + wait
        while True:
            fh = self._try_flush_lock()
            if fh is not None or time.monotonic() >= deadline:
                return fh
            time.sleep(0.05)

    def _try_flush_lock(self) -> Any:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fh = open(self.directory / ".flush.lock", "a+")  # noqa: SIM115 — returned to the caller
        except OSError:
            # No folder to lock (a refused disk): nothing on disk to keep in order either; the
            # requests kept in memory are this process's own.
            return io.StringIO()
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            return None
        return fh

    def clean_stale_tmp(self, max_age: float = STALE_TMP) -> int:
        """Delete ``.tmp`` files a crashed writer left behind; how many."""
        removed = 0
        now = time.time()
        try:
            entries = list(os.scandir(self.directory))
        except OSError:
            return 0
        for e in entries:
            if e.name.startswith(".") and e.name.endswith(".tmp"):
                try:
                    if now - e.stat().st_mtime > max_age:
                        os.unlink(e.path)
                        removed += 1
                        logger.warning("removed %s, left by an interrupted spool write", e.name)
                except FileNotFoundError:
                    continue
        return removed

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
