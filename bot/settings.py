"""Settings, read once from the environment (see .env.example). Nothing else reads os.environ."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value) if value else default


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def _flag(name: str, default: str = "0") -> bool:
    return (os.environ.get(name, "") or default).strip().lower() in ("1", "true", "yes")


def _list(name: str) -> tuple:
    return tuple(v.strip() for v in os.environ.get(name, "").split(",") if v.strip())


@dataclass(frozen=True)
class Settings:
    """Every knob an operator may turn; defaults are the embedded single-machine setup."""

    root: Path = ROOT
    var_dir: Path = field(default_factory=lambda: _path("BOT_VAR_DIR", ROOT / "var"))
    knowledge_dir: Path = field(default_factory=lambda: _path("BOT_KNOWLEDGE_DIR", ROOT / "knowledge"))
    # The answer engine's fitted confidence model and segmentation (bot/kb/kb_cache.py). Empty:
    # var/kb-cache; "off" computes them at every start.
    kb_cache_dir: str = field(default_factory=lambda: os.environ.get("KB_CACHE_DIR", "").strip())
    # Where the conversation review saves conversations as Rasa test stories (make story-test runs them).
    review_stories_file: Path = field(
        default_factory=lambda: _path("REVIEW_STORIES_FILE", ROOT / "tests" / "test_saved_conversations.yml"))
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
    # The action server runs any action on any tracker it is sent: loopback only unless configured,
    # and every call must carry the shared token (empty: one generated in var/secrets/).
    action_host: str = field(default_factory=lambda: os.environ.get("ACTION_HOST", "") or "127.0.0.1")
    action_server_token: str = field(default_factory=lambda: os.environ.get("ACTION_SERVER_TOKEN", ""))
    action_server_url: str = field(default_factory=lambda: os.environ.get("ACTION_SERVER_URL", ""))
    # Origins allowed to call Rasa from another site's pages (comma-separated). Empty: none (the web
    # chat page is served by Rasa itself, same origin).
    cors_origins: tuple = field(default_factory=lambda: _list("CORS_ORIGINS"))
    # Identity (bot/channels/identity.py). REST_SECRET: when set, /webhooks/rest/webhook needs
    # "Authorization: Bearer <secret>"; when empty it only answers clients on this machine.
    rest_secret: str = field(default_factory=lambda: os.environ.get("REST_SECRET", ""))
    # Key that signs the web chat's id cookie (empty: one generated in var/secrets/).
    webchat_secret: str = field(default_factory=lambda: os.environ.get("WEBCHAT_SECRET", ""))
    webchat_cookie_secure: bool = field(default_factory=lambda: _flag("WEBCHAT_COOKIE_SECURE"))
    # Limits (bot/channels/limits.py): characters of one message read by the NLU, bytes of one
    # request body, requests per minute per customer and per client address, new web chat ids per
    # address per hour, work orders per customer per Beijing day (past it, the latest is added to).
    message_max_chars: int = field(default_factory=lambda: _int("MESSAGE_MAX_CHARS", 1000))
    request_max_bytes: int = field(default_factory=lambda: _int("REQUEST_MAX_BYTES", 64 * 1024))
    rate_sender_per_minute: int = field(default_factory=lambda: _int("RATE_LIMIT_SENDER_PER_MINUTE", 20))
    rate_ip_per_minute: int = field(default_factory=lambda: _int("RATE_LIMIT_IP_PER_MINUTE", 120))
    webchat_new_ids_per_ip_per_hour: int = field(
        default_factory=lambda: _int("WEBCHAT_NEW_IDS_PER_IP_PER_HOUR", 30))
    orders_per_sender_per_day: int = field(default_factory=lambda: _int("ORDERS_PER_SENDER_PER_DAY", 3))
    # Seconds the work-order database is left alone after it failed (the circuit breaker).
    orders_breaker_seconds: float = field(
        default_factory=lambda: float(os.environ.get("ORDERS_BREAKER_SECONDS", "") or 30))
    # Retention (python -m bot retention): conversations and closed orders older than this many
    # days are deleted / anonymised.
    retention_conversation_days: int = field(default_factory=lambda: _int("RETENTION_CONVERSATION_DAYS", 180))
    retention_order_days: int = field(default_factory=lambda: _int("RETENTION_ORDER_DAYS", 365))
    log_level: str = field(default_factory=lambda: os.environ.get("LOG_LEVEL", "INFO").upper())
    # WeChat official account (bot/channels/wechat/). Without token, AppID and AppSecret the
    # channel is off: its webhook answers 503. An EncodingAESKey switches on 安全模式 (AES).
    wechat_token: str = field(default_factory=lambda: os.environ.get("WECHAT_TOKEN", ""))
    wechat_app_id: str = field(default_factory=lambda: os.environ.get("WECHAT_APP_ID", ""))
    wechat_app_secret: str = field(default_factory=lambda: os.environ.get("WECHAT_APP_SECRET", ""))
    wechat_aes_key: str = field(default_factory=lambda: os.environ.get("WECHAT_AES_KEY", ""))
    wechat_api_base: str = field(
        default_factory=lambda: os.environ.get("WECHAT_API_BASE", "") or "https://api.weixin.qq.com")
    # Seconds to wait for an answer before replying "success" and sending it later (WeChat waits 5 s).
    wechat_passive_timeout: float = field(
        default_factory=lambda: float(os.environ.get("WECHAT_PASSIVE_TIMEOUT", "") or 4.0))
    # Shared state of several Rasa processes (WeChat retries, access token, offered buttons).
    # Empty: LOCK_STORE_URL when that is redis://, else in-process memory.
    redis_url: str = field(default_factory=lambda: os.environ.get("REDIS_URL", ""))
    # Staff console (python -m bot console): where it listens and how long a login lasts.
    console_host: str = field(default_factory=lambda: os.environ.get("CONSOLE_HOST", "") or "127.0.0.1")
    console_port: int = field(default_factory=lambda: int(os.environ.get("CONSOLE_PORT", "5010")))
    # A session ends after this many minutes without a request (default 8 hours).
    console_session_idle_minutes: int = field(
        default_factory=lambda: int(os.environ.get("CONSOLE_SESSION_IDLE_MINUTES", "480")))
    # ... and after this many hours whatever the activity (default 12).
    console_session_max_hours: int = field(default_factory=lambda: _int("CONSOLE_SESSION_MAX_HOURS", 12))
    # Rows at most in one CSV export (a larger range must be split).
    export_max_rows: int = field(default_factory=lambda: _int("EXPORT_MAX_ROWS", 5000))
    # Set to 1 when the console is served over HTTPS (behind a proxy): the cookie gets "Secure".
    console_cookie_secure: bool = field(
        default_factory=lambda: os.environ.get("CONSOLE_COOKIE_SECURE", "0").strip().lower() in ("1", "true", "yes"))

    # 在线人工 (bot/livechat/): hours (Beijing time, "08:00-20:00"; "" = never, "00:00-24:00" = always)
    # when 转人工 can reach a person; seconds a customer waits in the queue before a work order is
    # opened instead; seconds after an agent's console last polled that they count as gone.
    livechat_hours: str = field(default_factory=lambda: os.environ.get("LIVECHAT_HOURS", "08:00-20:00"))
    livechat_max_wait_seconds: int = field(default_factory=lambda: _int("LIVECHAT_MAX_WAIT_SECONDS", 300))
    livechat_agent_gone_seconds: int = field(default_factory=lambda: _int("LIVECHAT_AGENT_GONE_SECONDS", 45))
    # How the console reaches Rasa's HTTP API (pause/resume a conversation, record agents' messages).
    # `bot run` starts Rasa with --enable-api and this token (empty: one generated in var/secrets/).
    rasa_url: str = field(default_factory=lambda: os.environ.get("RASA_URL", ""))
    rasa_api_token: str = field(default_factory=lambda: os.environ.get("RASA_API_TOKEN", ""))

    @property
    def action_endpoint(self) -> str:
        return self.action_server_url or f"http://localhost:{self.action_port}/webhook"

    @property
    def rasa_base_url(self) -> str:
        return (self.rasa_url or f"http://127.0.0.1:{self.rasa_port}").rstrip("/")

    @property
    def tracker_url(self) -> str:
        return self.tracker_store_url or f"sqlite:///{self.var_dir / 'tracker.db'}"

    @property
    def shared_redis_url(self) -> str:
        """Redis for state shared between processes: REDIS_URL, else a Redis lock store's URL."""
        if self.redis_url:
            return self.redis_url
        return self.lock_store_url if self.lock_store_url.startswith(("redis://", "rediss://")) else ""

    @property
    def orders_url(self) -> str:
        return self.orders_db_url or f"sqlite:///{self.var_dir / 'orders.db'}"

    def prepared_orders_url(self) -> str:
        """orders_url, with var/ created when it is the embedded default (a fresh checkout has none)."""
        if not self.orders_db_url:
            Path(self.var_dir).mkdir(parents=True, exist_ok=True)
        return self.orders_url


def load() -> Settings:
    """Fresh settings from the current environment."""
    return Settings()
