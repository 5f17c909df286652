"""The action server: Rasa SDK's app, on loopback, answering only callers with the shared token.

The action server runs any action on any tracker it is sent, so a caller that reaches it could
read and change any customer's orders. Rasa 3.6 cannot run actions in-process, so:

- it listens on ACTION_HOST (default 127.0.0.1);
- every POST /webhook must carry ``Authorization: Bearer <token>``, the token being
  ACTION_SERVER_TOKEN or, when that is empty, the one generated in var/secrets/action-token;
  bot/endpoints.py writes the same header into Rasa's endpoints.yml;
- request bodies are capped (SANIC_REQUEST_MAX_SIZE, default 16 MB: trackers are sent whole);
- each action runs in a worker thread, off the event loop (see create_app).

    python -m bot.action_server [--port 5055] [--host 127.0.0.1]
"""
from __future__ import annotations

import argparse
import asyncio
import hmac
import json
import logging
import os
import zlib
from concurrent.futures import ThreadPoolExecutor
from typing import Optional

from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import log_privacy
from bot.local_secrets import local_secret
from bot.settings import Settings, load as load_settings

logger = logging.getLogger(__name__)
TOKEN_FILE = "action-token"
DEFAULT_MAX_BODY = 16 * 1024 * 1024


def action_token(settings: Settings) -> str:
    return local_secret(settings.var_dir, TOKEN_FILE, settings.action_server_token)


def auth_header(settings: Settings) -> dict:
    return {"Authorization": f"Bearer {action_token(settings)}"}


def create_app(settings: Settings, actions_package: str = "actions", workers: int = 8) -> Sanic:
    """Rasa SDK's webhook, with the token check, and each action run in a worker thread.

    The actions call the answer engine and the order database synchronously; in a worker thread
    a slow or dead database delays only that customer's action, never the event loop that
    serves everyone else (Rasa SDK would run them on the loop itself).
    """
    from rasa_sdk import utils
    from rasa_sdk.executor import ActionExecutor
    from rasa_sdk.interfaces import ActionExecutionRejection, ActionNotFoundException

    app = Sanic("dianli_actions", configure_logging=False)
    if "SANIC_REQUEST_MAX_SIZE" not in os.environ:
        app.config.REQUEST_MAX_SIZE = DEFAULT_MAX_BODY
    executor = ActionExecutor()
    executor.register_package(actions_package)
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="action")
    expected = f"Bearer {action_token(settings)}".encode("utf-8")

    @app.on_request
    async def require_token(request: Request) -> Optional[HTTPResponse]:
        if request.path == "/health":
            return None
        given = request.headers.get("authorization", "").encode("utf-8", "replace")
        if not hmac.compare_digest(given, expected):
            logger.warning("action server: %s %s refused (no or wrong token) from %s",
                           request.method, request.path, request.ip)
            return response.json({"error": "forbidden"}, status=403)
        return None

    @app.get("/health")
    async def health(_request: Request) -> HTTPResponse:
        return response.json({"status": "ok"})

    @app.get("/actions")
    async def actions(_request: Request) -> HTTPResponse:
        return response.json([{"name": k} for k in executor.actions])

    @app.post("/webhook")
    async def webhook(request: Request) -> HTTPResponse:
        if request.headers.get("Content-Encoding") == "deflate":
            action_call = json.loads(zlib.decompress(request.body))
        else:
            action_call = request.json
        if not isinstance(action_call, dict):
            return response.json({"error": "Invalid body request"}, status=400)
        utils.check_version_compatibility(action_call.get("version"))
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(pool, lambda: asyncio.run(executor.run(action_call)))
        except ActionExecutionRejection as e:
            return response.json({"error": e.message, "action_name": e.action_name}, status=400)
        except ActionNotFoundException as e:
            logger.error(e)
            return response.json({"error": e.message, "action_name": e.action_name}, status=404)
        return response.json(result)

    @app.exception(Exception)
    async def failed(request: Request, exception: Exception) -> HTTPResponse:
        # Never echo the request back: it holds the customer's whole conversation.
        logger.error("action server: %s failed", request.path, exc_info=exception)
        return response.json({"error": type(exception).__name__}, status=500)

    return app


def main(argv: Optional[list] = None) -> int:
    settings = load_settings()
    parser = argparse.ArgumentParser(prog="python -m bot.action_server")
    parser.add_argument("--port", type=int, default=settings.action_port)
    parser.add_argument("--host", default=settings.action_host)
    parser.add_argument("--actions", default="actions")
    args = parser.parse_args(argv)
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log_privacy.install()
    os.umask(0o077)  # var/ files 0600, folders 0700: they hold conversations and phones
    app = create_app(settings, args.actions)
    logger.info("action server on http://%s:%d (token required)", args.host, args.port)
    app.run(args.host, args.port, workers=1, access_log=False, motd=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
