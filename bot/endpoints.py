"""Rasa endpoints (tracker store, lock store, action server) built from Settings."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict

import yaml
from sqlalchemy.engine import make_url

from bot.settings import Settings


SYNCING_STORE = "bot.orders.tracker_sync.OrderSyncingTrackerStore"


def tracker_store_config(url: str) -> Dict[str, Any]:
    """Rasa's SQLTrackerStore settings for a SQLAlchemy URL (sqlite or postgresql)."""
    u = make_url(url)
    dialect = u.get_backend_name()
    # Rasa's SQLTrackerStore, subclassed so each turn is also copied into an open work order.
    config: Dict[str, Any] = {"type": SYNCING_STORE, "dialect": dialect, "db": u.database}
    if dialect != "sqlite":
        config.update({"url": u.host, "port": u.port, "username": u.username, "password": u.password})
    return {k: v for k, v in config.items() if v is not None}


def lock_store_config(url: str) -> Dict[str, Any]:
    """In-memory for one process; Redis when several Rasa processes share conversations."""
    if not url:
        return {"type": "in_memory"}
    u = make_url(url)
    # Rasa's RedisLockStore, fixed so a turn whose ticket expired while waiting is served (lock_store.py)
    config = {"type": "bot.lock_store.ServingRedisLockStore", "url": u.host, "port": u.port or 6379,
              "db": int(u.database or 0), "password": u.password}
    return {k: v for k, v in config.items() if v is not None}


def write_endpoints(settings: Settings, path: Path) -> Path:
    """Write an endpoints.yml for `rasa run` and return its path."""
    from bot.action_server import auth_header
    from bot.local_secrets import private_dir

    private_dir(settings.var_dir)
    data = {
        # The action server refuses calls without its token (bot/action_server.py).
        "action_endpoint": {"url": settings.action_endpoint, "headers": auth_header(settings)},
        "tracker_store": tracker_store_config(settings.tracker_url),
        "lock_store": lock_store_config(settings.lock_store_url),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    # The file holds the action server's token (and database passwords): owner only.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    os.chmod(path, 0o600)
    return path
