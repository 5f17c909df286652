"""The slice of `make soak` that `make test` runs: fuzzing the real servers, a flood of 150 new
senders against the default limits, and the PostgreSQL and SQLite fault injectors.

The full soak (20 conversations, the orders database stopped/restarted/blackholed, 50 SIGKILLs of
the action server, 10,000 fuzz messages) is `make soak`; its figures are in the README.
"""
from __future__ import annotations

import socket
import sqlite3
import sys
from pathlib import Path
from typing import Iterator

import psycopg2
import pytest

from bot.runner import server_commands
from bot.settings import Settings
from fault_proxy import FaultProxy
from fault_sqlite import SqliteFaults
from servers import Servers, start_servers

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import soak  # noqa: E402
import soak_flood  # noqa: E402


def test_random_messages_and_oversized_bodies_never_cause_a_server_error(servers: Servers) -> None:
    figures = soak.fuzz(servers, 200)
    assert figures["server_errors"] == 0, figures
    assert figures["statuses"] == {200: 200}, figures  # every random message answered
    assert figures["still_answering"]
    sizes = figures["sizes"]
    assert sizes["1000 chars"] == 200 and sizes["10000 chars"] == 200  # cut to MESSAGE_MAX_CHARS, answered
    assert sizes["100000 chars"] == 413  # over REQUEST_MAX_BYTES
    assert sizes["1000000 chars"] == 413 and sizes["102400 KB body"] == 413 and sizes["10240 KB body"] == 413


def test_the_fault_proxy_stops_blackholes_and_restarts_the_database() -> None:
    proxy = FaultProxy(("127.0.0.1", 5432))
    dsn = dict(host="127.0.0.1", port=proxy.port, user="postgres", dbname="postgres", connect_timeout=2)
    try:
        try:
            psycopg2.connect(**dsn).close()
        except psycopg2.OperationalError as exc:
            pytest.skip(f"PostgreSQL not reachable: {exc}")
        proxy.down()
        with pytest.raises(psycopg2.OperationalError):
            psycopg2.connect(**dsn)
        proxy.blackhole()
        with pytest.raises(psycopg2.OperationalError, match="timeout"):
            psycopg2.connect(**dsn)
        proxy.up()
        psycopg2.connect(**dsn).close()
    finally:
        proxy.close()


def test_run_binds_the_action_server_to_loopback_and_allows_only_configured_origins() -> None:
    actions, rasa = server_commands(Settings(), "model.tar.gz", "endpoints.yml")
    assert actions[actions.index("--host") + 1] == "127.0.0.1"
    assert "--cors" not in rasa
    _, rasa = server_commands(Settings(cors_origins=("https://www.example.com",)), "m", "e")
    assert rasa[rasa.index("--cors") + 1:] == ["https://www.example.com"]


def test_the_sqlite_faults_lock_and_remove_the_database_and_put_it_back(tmp_path: Path) -> None:
    faults = SqliteFaults(tmp_path / "ordersdb" / "orders.db")
    faults.directory.mkdir()
    with sqlite3.connect(faults.db_file) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("CREATE TABLE t (x INTEGER)")
        conn.execute("INSERT INTO t VALUES (1)")
    try:
        faults.locked()
        other = sqlite3.connect(faults.db_file, timeout=0.2, isolation_level=None)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        assert other.execute("SELECT x FROM t").fetchall() == [(1,)]  # WAL: readers go on
        other.close()
        faults.gone()
        with pytest.raises(sqlite3.OperationalError, match="unable to open"):
            sqlite3.connect(faults.db_file).execute("SELECT 1")
        faults.up()
        with sqlite3.connect(faults.db_file) as conn:
            conn.execute("INSERT INTO t VALUES (2)")
            assert conn.execute("SELECT count(*) FROM t").fetchone() == (2,)
    finally:
        faults.close()


@pytest.fixture(scope="module")
def flood_servers(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    """A server set with the product's default rate limits (the session's servers raise them)."""
    s = start_servers(tmp_path_factory.mktemp("flood"), model_path, product_limits=True)
    yield s
    s.stop()


def test_a_flood_of_new_senders_typing_zhuanrengong_stays_within_the_limits(flood_servers: Servers) -> None:
    senders = 150
    figures = soak_flood.flood(flood_servers, senders, soak.servers_orders_url(flood_servers), threads=6)
    rest, web, limits = figures["rest"], figures["webchat"], figures["limits"]
    assert figures["server_errors"] == 0, figures
    assert rest["orders_created"] <= rest["orders_allowed"], figures
    assert web["orders_created"] <= web["orders_allowed"] == limits["webchat_new_ids_per_ip_per_hour"], figures
    # every request either got its order or was refused politely, and no acknowledged order is lost
    for part in (rest, web):
        refused = part["replies"].get("refused_429", 0) + part["replies"].get("refused_200", 0)
        assert part["replies"].get("order", 0) + refused == senders, figures
        assert part["orders_created"] == part["replies"].get("order", 0), figures
    assert web["replies"]["refused_429"] >= senders - limits["webchat_new_ids_per_ip_per_hour"], figures
    if rest["seconds"] < 60:  # one window: exactly the per-address limit got through
        assert rest["orders_created"] == min(senders, limits["ip_per_minute"]), figures
    assert figures["normal_customer"]["rest"] and figures["normal_customer"]["webchat"], figures
    assert figures["ok"], figures
