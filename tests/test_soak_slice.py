"""The slice of `make soak` that `make test` runs: fuzzing the real servers, and the fault proxy.

The full soak (20 conversations, the orders database stopped/restarted/blackholed, 50 SIGKILLs of
the action server, 10,000 fuzz messages) is `make soak`; its figures are in the README.
"""
from __future__ import annotations

import socket
import sys
from pathlib import Path

import psycopg2
import pytest

from bot.runner import server_commands
from bot.settings import Settings
from fault_proxy import FaultProxy
from servers import Servers

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import soak  # noqa: E402


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
