"""Real faults of a SQLite file database, for the soak (the PostgreSQL ones are in fault_proxy.py).

A file database is not "stopped" or "blackholed" like a server; it fails in its own ways:

  locked  another process holds the write lock (BEGIN EXCLUSIVE): an operator's sqlite3 shell left
          inside a transaction, a bulk import, a stuck migration. Writers wait busy_timeout
          (15 s, bot/db.py) and retry: this is SQLite's "blackhole", a wait rather than a refusal.
  gone    the database's directory is unreachable (a volume unmounted, a share away): its path
          is moved aside and a plain file put in its place, so opening the database fails at once
          ("unable to open database file") and nothing can recreate an empty database there.
          Connections already open keep their file descriptors, as they would on a lazy unmount.
  up      the lock released / the directory back, with whatever was written to it.

The database must live alone in its directory (its -wal and -shm files move with it).
"""
from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Optional


class SqliteFaults:
    def __init__(self, db_file: Path) -> None:
        self.db_file = Path(db_file)
        self.directory = self.db_file.parent
        self.aside = self.directory.with_name(self.directory.name + ".away")
        self.mode = "up"
        self._holder: Optional[sqlite3.Connection] = None

    @property
    def url(self) -> str:
        return f"sqlite:///{self.db_file}"

    def locked(self) -> None:
        """Another connection takes the write lock and keeps it until ``up``."""
        self.up()
        conn = sqlite3.connect(str(self.db_file), timeout=60, isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")  # waits for the writer in progress, then holds the lock
        self._holder = conn
        self.mode = "locked"

    def gone(self) -> None:
        """The directory is unreachable: moved aside, a file in its place."""
        self.up()
        self.directory.rename(self.aside)
        self.directory.write_bytes(b"")
        self.mode = "gone"

    def up(self) -> None:
        if self._holder is not None:
            self._holder.execute("ROLLBACK")
            self._holder.close()
            self._holder = None
        if self.aside.exists():
            if self.directory.is_dir():
                raise RuntimeError(f"{self.directory} was recreated while it was gone: a write went elsewhere")
            self.directory.unlink(missing_ok=True)
            self.aside.rename(self.directory)
        self.mode = "up"

    def close(self) -> None:
        self.up()
