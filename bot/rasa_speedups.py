"""Two costs of Rasa 3.6 itself that a turn pays, removed without changing what Rasa does.

- Every reply of the action server is checked by ``jsonschema.validate``, which checks the
  schema itself against the meta-schema and builds a new validator on every call (most of the
  action hop's time in the profile). Here the validator is built once; the same errors are raised.
- The embedded SQLite tracker store opens a new connection per query (SQLAlchemy 1.4 uses a
  NullPool for SQLite files) in rollback-journal mode with a full fsync per commit. Here it keeps
  its connections, in WAL mode with synchronous=NORMAL: a commit survives a crash of the process;
  a power cut may lose the last commits, never corrupt the file (the SQLite documentation's promise
  for WAL + NORMAL). PostgreSQL is left as Rasa configures it.

Installed by the tracker store (bot/orders/tracker_sync.py), the part of ours every Rasa process loads.
"""
from __future__ import annotations

import threading
from typing import Any, Dict

import sqlalchemy as sa
from sqlalchemy.pool import QueuePool

_installed = False
_install_lock = threading.Lock()


def install() -> None:
    """Build the action-reply validator once (idempotent)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        from rasa.core.actions.action import RemoteAction

        RemoteAction._validate_action_result = _validate_action_result  # type: ignore[assignment]
        _installed = True


_validator: Any = None


def _validate_action_result(self: Any, result: Dict[str, Any]) -> bool:
    """RemoteAction._validate_action_result with the validator built once (same errors, same message)."""
    from jsonschema import ValidationError
    from jsonschema.exceptions import best_match
    from rasa.shared.constants import DOCS_BASE_URL

    global _validator
    if _validator is None:
        from jsonschema.validators import validator_for

        spec = self.action_response_format_spec()
        cls = validator_for(spec)
        cls.check_schema(spec)
        _validator = cls(spec)
    error = best_match(_validator.iter_errors(result))  # what jsonschema.validate raises
    if error is None:
        return True
    assert isinstance(error, ValidationError)
    error.message += (
        ". Failed to validate Action server response from API, "
        "make sure your response from the Action endpoint is valid. "
        f"For more information about the format visit {DOCS_BASE_URL}/custom-actions"
    )
    raise error


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    try:
        cur.execute("PRAGMA journal_mode = WAL").fetchall()
        cur.execute("PRAGMA synchronous = NORMAL")
        # The console and `python -m bot review` read the same file; a writer waits, never fails.
        cur.execute("PRAGMA busy_timeout = 15000")
    finally:
        cur.close()


def pooled_sqlite_engine(url: Any) -> sa.engine.Engine:
    """An engine for the tracker store's SQLite file that keeps its connections, in WAL mode."""
    engine = sa.create_engine(url, poolclass=QueuePool, pool_size=4, max_overflow=4,
                              connect_args={"check_same_thread": False})
    sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine
