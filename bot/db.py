"""The SQL database of work orders and console accounts (ORDERS_DB_URL): engine, types,
transactions, schema.

One database, one Alembic tree (``bot/migrations/``, version table ``orders_alembic_version``)
for every table in it, and one transaction runner, so that the work-order store
(bot/orders/store.py) and the console accounts (bot/console/accounts.py) behave alike under
concurrent writers and outages:

- SQLite: every write transaction starts with ``BEGIN IMMEDIATE`` (see ``make_engine``), so
  writers are serialised by the database's write lock; WAL mode lets readers go on.
- PostgreSQL: unique indexes turn a lost race into an IntegrityError, and ``Transactions.run``
  re-runs the transaction from the start, when its lookups see the winner's row.
- An unreachable database (down, refused, timed out) is raised as ``DatabaseUnavailable``
  (or the caller's subclass of it), never as a driver error.
"""
from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import DateTime, create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator

logger = logging.getLogger(__name__)

T = TypeVar("T")

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# Our own version table, so the schema can share a database with Rasa's tracker store or
# anything else that uses Alembic. (Named after the orders, which had it first.)
VERSION_TABLE = "orders_alembic_version"
# pg_advisory_xact_lock key: several processes starting on an empty database migrate one at a time.
_MIGRATION_LOCK_KEY = 7_305_209_114_000_001
# Execution option of the read engine: SQLite then begins with a plain deferred BEGIN.
READ_ONLY = "db_read_only"
# Each SQLite lock wait already lasted busy_timeout; a few of them is the most a customer
# should wait before a request is spooled instead.
_MAX_LOCK_WAITS = 3

# Fixed names so that a migration can refer to every constraint on both backends.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# --- errors ----------------------------------------------------------------------------------
class DatabaseUnavailable(Exception):
    """The database cannot be reached (down, refused, timed out)."""

    def __init__(self, detail: str = "") -> None:
        super().__init__("数据库暂时无法连接，请稍后再试。" + (f"（{detail}）" if detail else ""))
        self.detail = detail


def is_unique_conflict(exc: IntegrityError) -> bool:
    code = getattr(exc.orig, "pgcode", None)
    if code is not None:
        return code == "23505"
    return "UNIQUE constraint failed" in str(exc.orig)


def is_transient(exc: DBAPIError) -> bool:
    """Lock contention that is worth re-running the transaction for."""
    code = getattr(exc.orig, "pgcode", None)
    if code in ("40001", "40P01", "55P03"):  # serialization failure, deadlock, lock not available
        return True
    if type(exc.orig).__module__.startswith("sqlite3"):
        # busy_timeout already waited 15 s; a few more tries beat giving up on a customer.
        msg = str(exc.orig).lower()
        return "locked" in msg or "busy" in msg
    return False


def is_unavailable(exc: Exception) -> bool:
    """The database is away (as opposed to refusing this statement)."""
    return isinstance(exc, (OperationalError, InterfaceError, PoolTimeoutError)) or bool(
        getattr(exc, "connection_invalidated", False))


def short(exc: Exception) -> str:
    """The first line of the driver's message, for logs and the 503 a person reads."""
    orig = getattr(exc, "orig", None) or exc
    return str(orig).strip().splitlines()[0][:200] if str(orig).strip() else type(orig).__name__


def backoff(attempt: int) -> None:
    # Jittered exponential back-off so that racing processes do not collide again in lockstep.
    time.sleep(random.uniform(0, min(0.5, 0.005 * 2 ** attempt)))


# --- types -----------------------------------------------------------------------------------
class UTCDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out, on every backend.

    PostgreSQL stores timestamptz. SQLite has no time-zone type, so we store the UTC wall time
    in SQLAlchemy's fixed-width text format, which keeps ``<`` comparisons (overdue) correct.
    A naive datetime is refused: guessing its zone is how due times end up 8 hours off.
    """

    impl = DateTime
    cache_ok = True

    def __init__(self) -> None:
        super().__init__(timezone=True)

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: work-order times must be timezone-aware")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


# --- engine ----------------------------------------------------------------------------------
def json_dumps(value: Any) -> str:
    # Readable Chinese in the JSON columns for anyone querying the database by hand.
    return json.dumps(value, ensure_ascii=False)


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    # Take transaction control away from pysqlite (it would defer BEGIN until the first write,
    # after our reads) so that the "begin" hook below decides how each transaction starts.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    try:
        cur.execute("PRAGMA busy_timeout = 15000")
        cur.execute("PRAGMA foreign_keys = ON")
        # WAL: readers (staff listing orders) do not block the writer, and vice versa.
        cur.execute("PRAGMA journal_mode = WAL").fetchall()
    finally:
        cur.close()


def _sqlite_on_begin(conn: Any) -> None:
    # IMMEDIATE takes the database write lock at BEGIN, before the first read: a transaction
    # that reads the day counter or looks for an open order cannot interleave with another
    # process doing the same. Read-only work (the read engine) uses a plain deferred BEGIN.
    mode = "DEFERRED" if conn.get_execution_options().get(READ_ONLY) else "IMMEDIATE"
    conn.exec_driver_sql(f"BEGIN {mode}")


def make_engine(url: str) -> Engine:
    """A SQLAlchemy 2.0-style engine configured for concurrent writers."""
    u = make_url(url)
    backend = u.get_backend_name()
    kwargs: dict[str, Any] = {"future": True, "json_serializer": json_dumps}
    if backend == "sqlite":
        kwargs["connect_args"] = {"timeout": 15}
        engine = create_engine(u, **kwargs)
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    if backend == "postgresql" and "connect_timeout" not in u.query:
        # Fail fast when the server is away, so the customer's request is spooled promptly.
        kwargs["connect_args"] = {"connect_timeout": 5}
    kwargs["pool_pre_ping"] = True  # survive a database restart between requests
    return create_engine(u, **kwargs)


# --- schema ----------------------------------------------------------------------------------
def alembic_config(url: str | None = None) -> Any:
    """An Alembic Config for our migrations that does not need alembic.ini or the cwd."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def schema_head() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(conn: Any) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()


def upgrade_to_head(engine: Engine) -> bool:
    """Run the migrations up to head if needed; True if anything ran. Safe to race."""
    from alembic import command

    head = schema_head()
    with engine.execution_options(**{READ_ONLY: True}).connect() as conn:
        if current_revision(conn) == head:
            return False
    cfg = alembic_config()
    with engine.begin() as conn:  # SQLite: BEGIN IMMEDIATE — the other processes wait here
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK_KEY})
        if current_revision(conn) == head:  # another process migrated while we waited
            return False
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    return True


# Alembic's migration context is process-global: one migration at a time per process, whichever
# store asks (the request path, the background spool flusher, the console, another database).
_MIGRATION_LOCK = threading.RLock()


# --- transactions ----------------------------------------------------------------------------
class Transactions:
    """Runs short transactions on one database: migrates it to head first (lazily, once, so a
    store can be built while the database is down), re-runs a transaction that lost a race or
    waited on a lock, and raises ``unavailable`` (a DatabaseUnavailable) when the database is away.
    """

    def __init__(self, engine: Engine, *, max_attempts: int = 12,
                 unavailable: type[DatabaseUnavailable] = DatabaseUnavailable) -> None:
        self.engine = engine
        self.read_engine = engine.execution_options(**{READ_ONLY: True})
        self.max_attempts = max_attempts
        self.unavailable = unavailable
        self._schema_ready = False

    def ensure_schema(self) -> None:
        """Migrate to head once per runner."""
        if self._schema_ready:
            return
        with _MIGRATION_LOCK:
            if self._schema_ready:
                return
            for attempt in range(1, self.max_attempts + 1):
                try:
                    if upgrade_to_head(self.engine):
                        logger.info("database schema migrated to %s", schema_head())
                    break
                except DBAPIError as exc:
                    if is_transient(exc) and attempt < self.max_attempts:
                        backoff(attempt)
                        continue
                    if is_unavailable(exc):
                        raise self.unavailable(short(exc)) from exc
                    raise
                except PoolTimeoutError as exc:
                    raise self.unavailable(short(exc)) from exc
            self._schema_ready = True

    def run(self, work: Callable[[Session], T], *, read_only: bool = False) -> T:
        """Run ``work`` in one transaction, re-running it on a lost race; see the module doc."""
        self.ensure_schema()
        bind = self.read_engine if read_only else self.engine
        attempt = 0
        lock_waits = 0
        while True:
            attempt += 1
            try:
                with Session(bind, future=True, expire_on_commit=False) as session:
                    with session.begin():
                        return work(session)
            except IntegrityError as exc:
                # A concurrent writer inserted the same key first. Re-running is correct when
                # every write path starts by looking up what the winner has now committed.
                if not is_unique_conflict(exc) or attempt >= self.max_attempts:
                    raise
                logger.debug("unique conflict, re-running (attempt %d): %s", attempt, exc.orig)
            except DBAPIError as exc:
                if is_transient(exc) and attempt < self.max_attempts and lock_waits < _MAX_LOCK_WAITS:
                    lock_waits += 1
                    logger.debug("transient lock error, re-running (attempt %d): %s", attempt, exc.orig)
                elif is_unavailable(exc):
                    raise self.unavailable(short(exc)) from exc
                else:
                    raise
            except PoolTimeoutError as exc:
                raise self.unavailable(short(exc)) from exc
            backoff(attempt)
