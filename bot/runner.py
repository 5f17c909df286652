"""Start the action server, the Rasa server and the staff console together.

Ctrl-C (SIGINT) or SIGTERM (systemd, supervisord, `kill`) stops all three. The action server and
the console listen on loopback (ACTION_HOST, CONSOLE_HOST); only Rasa faces customers (RASA_HOST).
Every server caps request bodies (SANIC_REQUEST_MAX_SIZE); CORS allows only CORS_ORIGINS.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from typing import Any, List, Optional

from bot.settings import ROOT, Settings
from bot.endpoints import write_endpoints
from bot.livechat.rasa_api import api_token
from bot.training import ensure_model


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def fetch(url: str, timeout: float = 1.0) -> Optional[str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 (localhost only)
            return r.read().decode("utf-8", "replace")
    except OSError:
        return None


def wait_until_up(url: str, proc: subprocess.Popen, timeout: float = 180) -> bool:
    """Poll url until it answers, the process dies, or the timeout passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if fetch(url) is not None:
            return True
        time.sleep(0.5)
    return False


RASA_MAX_BODY = 1024 * 1024  # the channels cap their own bodies lower (REQUEST_MAX_BYTES)


def server_commands(settings: Settings, model: str, endpoints: str) -> List[List[str]]:
    py = sys.executable
    actions = [py, "-m", "bot.action_server", "--port", str(settings.action_port),
               "--host", settings.action_host]
    rasa = [py, "-m", "rasa", "run", "--model", model, "--endpoints", endpoints,
            "--credentials", str(ROOT / "credentials.yml"), "--port", str(settings.rasa_port),
            "--interface", settings.rasa_host,  # log level: LOG_LEVEL in the environment
            # 在线人工: the console pauses/resumes conversations and records agents' messages through
            # Rasa's HTTP API; every call needs this token (var/secrets/rasa-api-token or RASA_API_TOKEN).
            # one argument "--auth-token=…": a token_urlsafe token may begin with "-", which argparse
            # would take for an option (rasa run then refused to start, 1 fresh var/ in 64)
            "--enable-api", f"--auth-token={api_token(settings)}"]
    if settings.cors_origins:
        rasa += ["--cors", *settings.cors_origins]
    return [actions, rasa]


def server_env(settings: Settings) -> dict:
    """The environment of the three servers: body limit, log level, nothing else changed."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), SQLALCHEMY_SILENCE_UBER_WARNING="1",
               LOG_LEVEL=settings.log_level)
    env.setdefault("SANIC_REQUEST_MAX_SIZE", str(RASA_MAX_BODY))
    return env


def _die_with_parent() -> None:
    """In the child, before exec (Linux): SIGTERM when `bot run` itself dies, even by SIGKILL,
    so no server is left holding its port."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class Stop(Exception):
    """SIGTERM arrived: leave the wait loop and stop the servers."""


def _on_sigterm(_signum: int, _frame: object) -> None:
    raise Stop()


def console_command(settings: Settings) -> List[str]:
    """The staff console (python -m bot console), the third process of `make run`."""
    return [sys.executable, "-m", "bot", "console", "--host", settings.console_host,
            "--port", str(settings.console_port)]


def run(settings: Settings) -> int:
    """The `make run` entry point. Returns the exit status."""
    rasa_url = f"http://localhost:{settings.rasa_port}"
    if port_in_use(settings.rasa_port):
        if (fetch(rasa_url + "/") or "").startswith("Hello from Rasa"):
            print(f"电力服务助手已经在运行：{rasa_url}（无需再次启动；要重启请先在原终端按 Ctrl-C）。\n"
                  f"  网页聊天：{rasa_url}/webhooks/webchat/   工作台：http://localhost:{settings.console_port}/")
            return 0
        print(f"端口 {settings.rasa_port} 已被其他程序占用。请先停止它，或设置 RASA_PORT=其他端口 后再运行。")
        return 1
    if port_in_use(settings.action_port):
        print(f"端口 {settings.action_port}（动作服务器）已被占用。请先停止占用它的程序，或设置 ACTION_PORT。")
        return 1
    if port_in_use(settings.console_port):
        print(f"端口 {settings.console_port}（工作台）已被占用。请先停止占用它的程序，或设置 CONSOLE_PORT。")
        return 1

    # var/ holds conversations, phones and keys: files 0600, folders 0700 (children inherit the umask).
    os.umask(0o077)
    model = ensure_model()
    endpoints = write_endpoints(settings, settings.var_dir / "endpoints.yml")
    # `rasa run` has no --log-level option; Rasa (and our console) read LOG_LEVEL from the environment.
    env = server_env(settings)
    procs: List[subprocess.Popen] = []
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        for cmd in server_commands(settings, str(model), str(endpoints)) + [console_command(settings)]:
            # Own process group, so Ctrl-C here is handled once, by us, in order.
            procs.append(subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True,
                                          preexec_fn=_die_with_parent if sys.platform == "linux" else None))
        console_url = f"http://localhost:{settings.console_port}"
        actions_ok = wait_until_up(f"http://localhost:{settings.action_port}/health", procs[0], 60)
        rasa_ok = actions_ok and wait_until_up(rasa_url + "/", procs[1], 300)
        console_ok = rasa_ok and wait_until_up(console_url + "/health", procs[2], 120)
        if not console_ok:
            print("启动失败：请查看上面的日志。", file=sys.stderr)
            return 1
        print(
            "\n电力服务助手已启动。\n"
            f"  网页聊天（客户）：{rasa_url}/webhooks/webchat/\n"
            f"  工作台（柜台人员）：{console_url}/   "
            "（账号：.venv/bin/python -m bot users add 姓名 --role staff）\n"
            f"  REST 接口：curl -s {rasa_url}/webhooks/rest/webhook "
            "-d '{\"sender\":\"t1\",\"message\":\"你好\"}'\n"
            f"  动作服务器：http://localhost:{settings.action_port}/health\n"
            "  按 Ctrl-C 停止。\n",
            flush=True,
        )
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
        print("有一个服务意外退出，正在停止其他服务。", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, Stop):
        print("\n正在停止……", flush=True)
        return 0
    finally:
        stop_all(procs, previous)


def stop_all(procs: List[subprocess.Popen], previous_sigterm: Any) -> None:
    """Stop every process on the way out, then restore the signal handlers. A second
    SIGTERM/SIGINT while stopping must not leave servers behind, so both are ignored meanwhile."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        stop(procs)
    finally:
        signal.signal(signal.SIGTERM, previous_sigterm)
        signal.signal(signal.SIGINT, signal.default_int_handler)


def stop(procs: List[subprocess.Popen], timeout: float = 15) -> None:
    """SIGTERM each process group, then SIGKILL what is left."""
    for p in reversed(procs):
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + timeout
    for p in procs:
        try:
            p.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
