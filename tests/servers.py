"""Start the real Rasa server and action server on free ports, for end-to-end tests."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

import requests

from wechat_fake import FakeWeChatApi, WeChatAccount

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited ({proc.returncode}); log:\n{log.read_text()[-4000:]}")
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"{url} did not come up in {timeout}s; log:\n{log.read_text()[-4000:]}")


@dataclass
class Servers:
    """A running pair: Rasa on rasa_port, the action server on action_port, logs in workdir."""

    rasa_port: int
    action_port: int
    workdir: Path
    procs: List[subprocess.Popen]
    env: Dict[str, str]
    # The WeChat channel's made-up official account and the fake WeChat API it talks to.
    wechat: Optional[WeChatAccount] = None
    wechat_api: Optional[FakeWeChatApi] = None
    rasa_cmd: Optional[List[str]] = None

    def stop_rasa(self) -> None:
        """Stop the Rasa process (SIGKILL: a crash, not a tidy shutdown)."""
        self.procs[1].kill()
        self.procs[1].wait(30)

    def start_rasa(self, timeout: float = 300) -> None:
        """Start Rasa again on the same port, tracker store and model, and wait until it answers."""
        log = self.workdir / "rasa.log"
        out = log.open("a")
        self.procs[1] = subprocess.Popen(self.rasa_cmd, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        wait_http(f"{self.url}/", self.procs[1], log, timeout)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    def say(self, sender: str, message: Any, timeout: float = 60) -> List[Dict[str, Any]]:
        """Send one customer message over the REST channel and return the bot's messages.

        The conversation's sender id is ``rest_id(sender)`` ("rest:" + sender)."""
        r = requests.post(f"{self.url}/webhooks/rest/webhook",
                          json={"sender": sender, "message": message}, timeout=timeout)
        r.raise_for_status()
        return r.json()

    def tracker(self, sender: str) -> Dict[str, Any]:
        """The tracker of a REST sender ("t1") or of a full sender id ("wx:…", "web:…")."""
        return requests.get(f"{self.url}/conversations/{full_id(sender)}/tracker", timeout=30).json()

    def logs(self) -> str:
        return "".join(p.read_text(errors="replace") for p in sorted(self.workdir.glob("*.log")))

    def stop(self) -> None:
        if self.wechat_api is not None:
            self.wechat_api.stop()
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()


def rest_id(sender: str) -> str:
    """The Rasa sender id of a REST client's sender (bot/channels/identity.py)."""
    return "rest:" + sender


def action_headers(var_dir: Path) -> Dict[str, str]:
    """The token header that the action server of this BOT_VAR_DIR requires (bot/action_server.py)."""
    sys.path.insert(0, str(ROOT))
    from bot.action_server import auth_header
    from bot.settings import Settings

    return auth_header(Settings(var_dir=Path(var_dir)))


def full_id(sender: str) -> str:
    return sender if sender.startswith(("rest:", "wx:", "web:")) else rest_id(sender)


# The limits a flood meets in production (bot/settings.py); the test servers raise the first three.
LIMIT_VARS = ("RATE_LIMIT_IP_PER_MINUTE", "RATE_LIMIT_SENDER_PER_MINUTE", "WEBCHAT_NEW_IDS_PER_IP_PER_HOUR",
              "ORDERS_PER_SENDER_PER_DAY")


def start_servers(workdir: Path, model: Path, extra_env: Optional[Dict[str, str]] = None,
                  tracker_db: Optional[str] = None, product_limits: bool = False) -> Servers:
    """Start action server then Rasa (REST channel, SQLite tracker store in workdir, API on for trackers).

    ``product_limits``: the rate limits and order cap are the product's defaults (for a flood),
    not the raised ones the test session needs."""
    workdir.mkdir(parents=True, exist_ok=True)
    rasa_port, action_port = free_port(), free_port()
    # The WeChat channel (safe mode) talks to a fake WeChat API in this process; extra_env may override.
    wechat = WeChatAccount.generate()
    wechat_api = FakeWeChatApi(wechat.app_id, wechat.app_secret).start()
    env = dict(os.environ, PYTHONPATH=str(ROOT), SQLALCHEMY_SILENCE_UBER_WARNING="1",
               TF_CPP_MIN_LOG_LEVEL="2", RASA_TELEMETRY_ENABLED="false",
               BOT_VAR_DIR=str(workdir), ACTION_PORT=str(action_port), RASA_PORT=str(rasa_port))
    env["SANIC_REQUEST_MAX_SIZE"] = str(1024 * 1024)  # as `bot run` sets it (bot/runner.py)
    # Every test client is 127.0.0.1: the session's tests together would pass the per-address and
    # per-sender limits (tests/test_channel_identity.py tests those on their own).
    env.update(RATE_LIMIT_IP_PER_MINUTE="1000000", RATE_LIMIT_SENDER_PER_MINUTE="10000",
               WEBCHAT_NEW_IDS_PER_IP_PER_HOUR="100000")
    if product_limits:
        for name in LIMIT_VARS:
            env.pop(name, None)
    # 在线人工 at any hour of the test run; no agent is on duty unless a test marks one 在线.
    env.update(LIVECHAT_HOURS="00:00-24:00")
    env.update(wechat.env(wechat_api.url))
    env.update(extra_env or {})
    sys.path.insert(0, str(ROOT))
    from bot.endpoints import write_endpoints
    from bot.settings import Settings

    settings = Settings(var_dir=workdir, action_port=action_port,
                        tracker_store_url=tracker_db or f"sqlite:///{workdir / 'tracker.db'}")
    endpoints = write_endpoints(settings, workdir / "endpoints.yml")

    procs: List[subprocess.Popen] = []
    alog = (workdir / "actions.log").open("w")
    procs.append(subprocess.Popen(
        [sys.executable, "-m", "bot.action_server", "--port", str(action_port)],
        cwd=ROOT, env=env, stdout=alog, stderr=subprocess.STDOUT))
    wait_http(f"http://127.0.0.1:{action_port}/health", procs[0], workdir / "actions.log", 90)
    rasa_cmd = [sys.executable, "-m", "rasa", "run", "--model", str(model), "--endpoints", str(endpoints),
                "--credentials", str(ROOT / "credentials.yml"), "--port", str(rasa_port),
                "--interface", "127.0.0.1", "--enable-api"]
    rlog = (workdir / "rasa.log").open("w")
    procs.append(subprocess.Popen(rasa_cmd, cwd=ROOT, env=env, stdout=rlog, stderr=subprocess.STDOUT))
    servers = Servers(rasa_port, action_port, workdir, procs, env, wechat, wechat_api, rasa_cmd)
    try:
        wait_http(f"{servers.url}/", procs[1], workdir / "rasa.log", 300)
    except Exception:
        servers.stop()
        raise
    return servers


def texts(messages: List[Dict[str, Any]]) -> str:
    return "\n".join(m.get("text", "") for m in messages)


def custom(messages: List[Dict[str, Any]]) -> Dict[str, Any]:
    """The first custom payload among the bot's messages (the answer's metadata)."""
    for m in messages:
        if "custom" in m:
            return m["custom"]
    return {}
