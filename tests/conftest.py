"""Shared fixtures for the real parts: a trained model and a running Rasa + action server pair."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Iterator

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
