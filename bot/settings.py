"""Settings, read once from the environment (see .env.example). Nothing else reads os.environ."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value) if value else default


@dataclass(frozen=True)
class Settings:
    """Every knob an operator may turn; defaults are the embedded single-machine setup."""

    root: Path = ROOT
    var_dir: Path = field(default_factory=lambda: _path("BOT_VAR_DIR", ROOT / "var"))
    knowledge_dir: Path = field(default_factory=lambda: _path("BOT_KNOWLEDGE_DIR", ROOT / "knowledge"))
    # SQLAlchemy URLs. Empty means the embedded SQLite files under var/.
    tracker_store_url: str = field(default_factory=lambda: os.environ.get("TRACKER_STORE_URL", ""))
    orders_db_url: str = field(default_factory=lambda: os.environ.get("ORDERS_DB_URL", ""))
    # The work-order SLA table (due time by reason and topic); see bot/orders/sla.yml.
    orders_sla_file: Path = field(
        default_factory=lambda: _path("ORDERS_SLA_FILE", ROOT / "bot" / "orders" / "sla.yml"))
    # redis://host:port/db for the lock store; empty means Rasa's in-memory lock store.
    lock_store_url: str = field(default_factory=lambda: os.environ.get("LOCK_STORE_URL", ""))
    rasa_host: str = field(default_factory=lambda: os.environ.get("RASA_HOST", "0.0.0.0"))
    rasa_port: int = field(default_factory=lambda: int(os.environ.get("RASA_PORT", "5005")))
    action_port: int = field(default_factory=lambda: int(os.environ.get("ACTION_PORT", "5055")))
    action_server_url: str = field(default_factory=lambda: os.environ.get("ACTION_SERVER_URL", ""))
    log_level: str = field(default_factory=lambda: os.environ.get("LOG_LEVEL", "INFO").upper())

    @property
    def action_endpoint(self) -> str:
        return self.action_server_url or f"http://localhost:{self.action_port}/webhook"

    @property
    def tracker_url(self) -> str:
        return self.tracker_store_url or f"sqlite:///{self.var_dir / 'tracker.db'}"

    @property
    def orders_url(self) -> str:
        return self.orders_db_url or f"sqlite:///{self.var_dir / 'orders.db'}"


def load() -> Settings:
    """Fresh settings from the current environment."""
    return Settings()
