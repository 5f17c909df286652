"""The action server: Rasa SDK's app, on loopback, answering only callers with the shared token.

The action server runs any action on any tracker it is sent, so a caller that reaches it could
read and change any customer's orders. Rasa 3.6 cannot run actions in-process, so:

- it listens on ACTION_HOST (default 127.0.0.1);
- every POST /webhook must carry ``Authorization: Bearer <token>``, the token being
  ACTION_SERVER_TOKEN or, when that is empty, the one generated in var/secrets/action-token;
  bot/endpoints.py writes the same header into Rasa's endpoints.yml;
- request bodies are capped (SANIC_REQUEST_MAX_SIZE, default 16 MB: trackers are sent whole).

    python -m bot.action_server [--port 5055] [--host 127.0.0.1]
"""
from __future__ import annotations

import argparse
import hmac
import logging
import os
from typing import Optional

from sanic import Sanic, response
from sanic.request import Request

from bot.local_secrets import local_secret
from bot.settings import Settings, load as load_settings

logger = logging.getLogger(__name__)
TOKEN_FILE = "action-token"
DEFAULT_MAX_BODY = 16 * 1024 * 1024


def action_token(settings: Settings) -> str:
    return local_secret(settings.var_dir, TOKEN_FILE, settings.action_server_token)


def auth_header(settings: Settings) -> dict:
    return {"Authorization": f"Bearer {action_token(settings)}"}


def create_app(settings: Settings, actions_package: str = "actions") -> Sanic:
    from rasa_sdk.endpoint import create_app as sdk_app

    app = sdk_app(actions_package, cors_origins=None)  # browsers never call it
    if "SANIC_REQUEST_MAX_SIZE" not in os.environ:
        app.config.REQUEST_MAX_SIZE = DEFAULT_MAX_BODY
    expected = f"Bearer {action_token(settings)}".encode("utf-8")

    @app.on_request
    async def require_token(request: Request) -> Optional[response.HTTPResponse]:
        if request.path == "/health":
            return None
        given = request.headers.get("authorization", "").encode("utf-8", "replace")
        if not hmac.compare_digest(given, expected):
            logger.warning("action server: %s %s refused (no or wrong token) from %s",
                           request.method, request.path, request.ip)
            return response.json({"error": "forbidden"}, status=403)
        return None

    return app


def main(argv: Optional[list] = None) -> int:
    settings = load_settings()
    parser = argparse.ArgumentParser(prog="python -m bot.action_server")
    parser.add_argument("--port", type=int, default=settings.action_port)
    parser.add_argument("--host", default=settings.action_host)
    parser.add_argument("--actions", default="actions")
    args = parser.parse_args(argv)
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(settings, args.actions)
    logger.info("action server on http://%s:%d (token required)", args.host, args.port)
    app.run(args.host, args.port, workers=1, access_log=False, motd=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
