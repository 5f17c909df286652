"""Shared fixtures for the real parts: a trained model and a running Rasa + action server pair."""
from __future__ import annotations

import os
import sys
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from servers import Servers, start_servers  # noqa: E402


@pytest.fixture(scope="session")
def model_path() -> Path:
    from bot.training import ensure_model

    return ensure_model()


@pytest.fixture(scope="session")
def servers(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    """One real Rasa server and action server for the whole test session."""
    s = start_servers(tmp_path_factory.mktemp("servers"), model_path)
    yield s
    s.stop()


def require_services() -> bool:
    """In CI (.ci/run sets REQUIRE_SERVICES=1) a missing PostgreSQL/Redis is a failure, not a skip."""
    return os.environ.get("REQUIRE_SERVICES") == "1"


def service_missing(message: str) -> None:
    """A local service a test needs is absent: fail in CI, else skip with the reason shown."""
    if require_services():
        pytest.fail(f"{message} (REQUIRE_SERVICES=1)")
    pytest.skip(message)


PG_ADMIN = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "postgres"}


def pg_admin() -> Any:
    """An autocommit connection to the local PostgreSQL's maintenance database."""
    try:
        import psycopg2

        conn = psycopg2.connect(connect_timeout=3, **PG_ADMIN)
    except Exception as exc:  # noqa: BLE001
        service_missing(f"PostgreSQL not reachable on 127.0.0.1:5432: {exc}")
    conn.autocommit = True
    return conn


@contextmanager
def scratch_pg_database(prefix: str, *, create: bool = True) -> Iterator[str]:
    """The name of a throw-away PostgreSQL database (created unless ``create`` is False), dropped after."""
    admin = pg_admin()
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        if create:
            with admin.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{name}"')
        yield name
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def require_redis(url: str) -> None:
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except Exception as exc:  # noqa: BLE001
        service_missing(f"Redis at {url} unreachable: {exc}")


# --- staff console and browser (issue 5) -----------------------------------------------------
CHROMIUM = Path("/usr/bin/chromium")  # Debian's package; Playwright never downloads a browser here
SCREENSHOTS = ROOT / "artifacts" / "screenshots"


@pytest.fixture(scope="session")
def console(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> Iterator["Console"]:
    """The staff console on the action server's work-order database (same BOT_VAR_DIR / ORDERS_DB_URL)."""
    from console_server import start_console

    c = start_console(tmp_path_factory.mktemp("console"), env=servers.env)
    yield c
    c.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Chromium from /usr/bin/chromium driven by Playwright; skipped (failed in CI) when absent."""
    reason = ""
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is not installed (apt-get install -y chromium)"
    else:
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            reason = "the playwright Python package is not installed in .venv"
    if reason:
        service_missing(f"browser tests need a browser: {reason}")
    pw = sync_playwright().start()
    b = pw.chromium.launch(executable_path=str(CHROMIUM))
    yield b
    b.close()
    pw.stop()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """artifacts/screenshots/ (git-ignored); the README's copies live in docs/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture(scope="session")
def kb_engine():
    """The answer engine on the repo's knowledge/ (the same one the actions and the console use)."""
    from webchat_flow import load_engine

    return load_engine()


@pytest.fixture(scope="session")
def answer_question(kb_engine, servers: Servers) -> dict:
    """A tariff question the bot answers outright (picked with the engine, checked over REST)."""
    from webchat_flow import pick_answer_question

    return pick_answer_question(kb_engine, servers)


@pytest.fixture(scope="session")
def clarify_question(kb_engine, servers: Servers) -> dict:
    """A vague question the bot answers with "您是想问：" and candidate buttons."""
    from webchat_flow import pick_clarify_question

    return pick_clarify_question(kb_engine, servers)


@pytest.fixture(scope="session")
def webchat_order(browser, servers: Servers, answer_question: dict, screenshots: Path) -> Iterator[dict]:
    """One web chat conversation ending in a work order (answer → 没帮助), shared by the web chat
    and console browser tests."""
    from webchat_flow import chat_until_work_order

    flow = chat_until_work_order(browser, servers, answer_question["question"], screenshots)
    yield flow
    flow["context"].close()


def run_async(coro: Any) -> Any:
    """asyncio.run in a worker thread: Playwright's sync API (the browser tests) keeps an event
    loop running in the main thread for the session, and asyncio.run refuses to nest in it."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


# --- markers: unit | integration | browser, and slow -----------------------------------------------
# Set here from what a test uses, so no test file has to remember: `make test-fast` runs the unit
# tests (no trained model, no servers, no browser) in under a minute; `make test` runs everything.
_INTEGRATION_FIXTURES = {"servers", "console", "model_path", "pg_database", "pg_admin", "answer_question",
                         "clarify_question", "webchat_order", "standalone"}
_PROCESS_CALLS = ("start_servers(", "start_console(", "subprocess.", "scratch_pg_database(", "psycopg2")


def _module_starts_processes(module: Any, cache: dict = {}) -> bool:  # noqa: B006 — a per-run cache
    path = getattr(module, "__file__", None)
    if path not in cache:
        source = Path(path).read_text(encoding="utf-8") if path else ""
        cache[path] = any(call in source for call in _PROCESS_CALLS)
    return cache[path]


def pytest_configure(config: pytest.Config) -> None:
    for line in ("unit: fast, in-process, no model, servers, database server or browser",
                 "integration: real servers, a trained model, PostgreSQL/Redis or subprocesses",
                 "browser: drives Debian's chromium through Playwright",
                 "slow: a browser test or one that starts its own servers"):
        config.addinivalue_line("markers", line)


def pytest_collection_modifyitems(config: pytest.Config, items: list) -> None:
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if "browser" in fixtures:
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.slow)
        elif fixtures & _INTEGRATION_FIXTURES or "postgresql" in item.name or _module_starts_processes(item.module):
            item.add_marker(pytest.mark.integration)
            if fixtures & {"servers", "model_path", "console"}:
                item.add_marker(pytest.mark.slow)
        else:
            item.add_marker(pytest.mark.unit)
