"""The set-up script, settings, generated endpoints and the train-only-when-changed check."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot import training
from bot.endpoints import SYNCING_STORE, lock_store_config, tracker_store_config, write_endpoints
from bot.settings import ROOT, Settings


def test_find_python310_returns_a_working_310() -> None:
    out = subprocess.run(["bash", "scripts/find_python310.sh"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    version = subprocess.run([out.stdout.strip(), "--version"], capture_output=True, text=True).stdout
    assert version.startswith("Python 3.10")


def test_find_python310_says_what_to_install_when_there_is_none(tmp_path: Path) -> None:
    # An empty PATH: no python3.10, no pyenv.
    env = {"PATH": str(tmp_path), "HOME": str(tmp_path)}
    out = subprocess.run(["/bin/bash", "scripts/find_python310.sh"], cwd=ROOT, capture_output=True,
                         text=True, env=env)
    if any(Path(p).exists() for p in ("/usr/bin/python3.10", "/usr/local/bin/python3.10")):
        pytest.skip("this machine has a system python3.10, so the failure path cannot be shown")
    assert out.returncode == 1
    assert out.stdout == ""
    assert len(out.stderr.strip().splitlines()) == 1
    assert "Python 3.10" in out.stderr and "install" in out.stderr


def test_setup_is_a_quick_no_op_when_nothing_changed() -> None:
    out = subprocess.run(["bash", "scripts/setup.sh"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    assert "installing" not in out.stdout  # the stamp matched: nothing was reinstalled


def test_settings_default_to_embedded_sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TRACKER_STORE_URL", "ORDERS_DB_URL", "LOCK_STORE_URL", "BOT_VAR_DIR", "RASA_PORT"):
        monkeypatch.delenv(name, raising=False)
    s = Settings()
    assert s.tracker_url == f"sqlite:///{ROOT / 'var' / 'tracker.db'}"
    assert s.rasa_port == 5005
    assert lock_store_config(s.lock_store_url) == {"type": "in_memory"}


def test_settings_follow_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKER_STORE_URL", "postgresql://rasa:pw@db.example:5433/rasa")
    monkeypatch.setenv("LOCK_STORE_URL", "redis://127.0.0.1:6380/2")
    monkeypatch.setenv("RASA_PORT", "6005")
    s = Settings()
    assert s.rasa_port == 6005
    assert tracker_store_config(s.tracker_url) == {
        "type": SYNCING_STORE, "dialect": "postgresql", "db": "rasa", "url": "db.example", "port": 5433,
        "username": "rasa", "password": "pw"}
    assert lock_store_config(s.lock_store_url) == {"type": "bot.lock_store.ServingRedisLockStore", "url": "127.0.0.1",
                                                   "port": 6380, "db": 2}


def test_write_endpoints_points_rasa_at_the_action_server(tmp_path: Path) -> None:
    import yaml

    s = Settings(var_dir=tmp_path, action_port=6123, tracker_store_url="")
    data = yaml.safe_load(write_endpoints(s, tmp_path / "e.yml").read_text())
    assert data["action_endpoint"]["url"] == "http://localhost:6123/webhook"
    assert data["tracker_store"] == {"type": SYNCING_STORE, "dialect": "sqlite", "db": str(tmp_path / "tracker.db")}


def test_training_inputs_include_the_jieba_dictionary(tmp_path: Path) -> None:
    files = training.training_inputs()
    assert ROOT / "config.yml" in files and ROOT / "domain.yml" in files
    assert any(f.parent == ROOT / "knowledge" / "jieba" for f in files)
    assert any(f.parent == ROOT / "data" / "nlu" for f in files)


def test_inputs_hash_changes_when_the_dictionary_changes(tmp_path: Path) -> None:
    (tmp_path / "config.yml").write_text("a")
    (tmp_path / "domain.yml").write_text("b")
    (tmp_path / "knowledge" / "jieba").mkdir(parents=True)
    d = tmp_path / "knowledge" / "jieba" / "userdict.txt"
    d.write_text("峰谷电价 5 n\n")
    before = training.inputs_hash(training.training_inputs(tmp_path), tmp_path)
    assert before == training.inputs_hash(training.training_inputs(tmp_path), tmp_path)
    d.write_text("峰谷电价 5 n\n网上国网 5 nz\n")
    assert training.inputs_hash(training.training_inputs(tmp_path), tmp_path) != before


def test_model_on_disk_is_current_after_make_train(model_path: Path) -> None:
    # make test trains first; a second ensure_model must skip.
    assert training.model_is_current()
    out = subprocess.run([sys.executable, "-c", "from bot.training import ensure_model; ensure_model()"],
                         cwd=ROOT, capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert "跳过训练" in out.stdout


def test_cli_help_lists_the_subcommands() -> None:
    out = subprocess.run([sys.executable, "-m", "bot", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0
    for sub in ("ask", "eval", "run", "train", "story-test"):
        assert sub in out.stdout
