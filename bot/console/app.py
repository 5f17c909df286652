"""The staff console's Sanic app: ``create_app(settings)`` and ``serve(settings)``.

One process, one worker: a counter's worth of staff is a light load, and the answer engine
(a few MB, 2-3 s to build) is loaded once per process, before the first request is served.
Work orders and accounts live in the same database as the action server's (ORDERS_DB_URL).
"""
from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from sanic import Sanic

from bot.console import views
from bot.console.accounts import AccountStore
from bot.console.auth import LoginThrottle
from bot.settings import Settings

logger = logging.getLogger(__name__)


def create_app(settings: Settings, *, accounts: AccountStore | None = None, orders: Any = None,
               engine: Any = None, name: str = "dianli_console") -> Sanic:
    """The app. ``accounts``/``orders``/``engine`` default to the ones the settings describe."""
    from bot.orders.service import OrderService

    app = Sanic(name)
    app.config.REQUEST_MAX_SIZE = 1_000_000  # forms only; nothing big is ever posted here
    app.config.KEEP_ALIVE_TIMEOUT = 15
    app.ctx.settings = settings
    app.ctx.accounts = accounts or AccountStore.from_settings(settings)
    app.ctx.orders = orders or OrderService.from_settings(settings)
    app.ctx.kb = engine
    app.ctx.idle = timedelta(minutes=max(1, settings.console_session_idle_minutes))
    app.ctx.accounts.max_session_age = timedelta(hours=max(1, settings.console_session_max_hours))
    app.ctx.throttle = LoginThrottle()
    # Password checks (scrypt, 16 MiB and ~50 ms each) get their own two threads: a burst of
    # guesses queues there instead of taking the threads every page's database call needs.
    app.ctx.login_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="login")
    app.ctx.live_desk = live_desk(settings, app.ctx.orders.store)
    views.register(app)

    @app.middleware("response")
    async def secure_cookies(request: Any, response: Any) -> None:
        # Reached over HTTPS (directly, or through a proxy Sanic is told to trust): Secure cookies
        # even if CONSOLE_COOKIE_SECURE was not set.
        if request.scheme == "https":
            for cookie in response.cookies.values():
                cookie["secure"] = True

    @app.listener("before_server_start")
    async def load(app: Sanic, _loop: Any) -> None:
        loop = asyncio.get_running_loop()
        # Create the account tables (and migrate the work-order schema) before the first login.
        await loop.run_in_executor(None, app.ctx.accounts.ensure_schema)
        try:
            await loop.run_in_executor(None, app.ctx.orders.store.ensure_schema)
        except Exception:  # noqa: BLE001 — the queue says so per request; login and search still work
            logger.exception("work-order database not reachable at start-up")
        if app.ctx.kb is None:
            from bot.kb.live import LiveEngine

            app.ctx.kb = await loop.run_in_executor(None, LiveEngine, settings.knowledge_dir)
            logger.info("console: knowledge base loaded (%d entries)", len(app.ctx.kb.engine.entries))

    return app


def live_desk(settings: Settings, store: Any) -> Any:
    """在线人工's desk: the live-chat tables beside the orders, Rasa's API, WeChat's 客服消息 API."""
    from bot.livechat.desk import LiveDesk
    from bot.livechat.rasa_api import RasaApi
    from bot.orders.livechat import LiveChatStore

    wechat_send = None
    if settings.wechat_app_id and settings.wechat_app_secret:
        from bot.channels.common.store import open_store
        from bot.channels.wechat.api import WeChatApi

        api = WeChatApi(open_store(settings.shared_redis_url), settings.wechat_api_base,
                        settings.wechat_app_id, settings.wechat_app_secret)
        wechat_send = api.send_text
    return LiveDesk(LiveChatStore(store), RasaApi.from_settings(settings), settings, wechat_send=wechat_send)


def serve(settings: Settings, host: str | None = None, port: int | None = None) -> int:
    host = host or settings.console_host
    port = port or settings.console_port
    # Our own loggers only: Sanic configures its own, and Alembic's INFO chatter is not for staff.
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    bot_logger = logging.getLogger("bot")
    bot_logger.addHandler(handler)
    bot_logger.setLevel(settings.log_level)
    bot_logger.propagate = False
    logging.getLogger("alembic").setLevel(logging.WARNING)
    from bot import log_privacy

    log_privacy.install()
    import os

    os.umask(0o077)  # var/ files 0600, folders 0700
    app = create_app(settings)
    shown = "localhost" if host in ("0.0.0.0", "::") else host
    print(f"工作台：http://{shown}:{port}/  （按 Ctrl-C 停止；账号：python -m bot users add 姓名 --role staff）",
          flush=True)
    app.run(host=host, port=port, workers=1, access_log=False, motd=False)
    return 0
