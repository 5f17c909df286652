"""Several Rasa and action-server processes behind haproxy, on PostgreSQL and Redis.

    python -m bot run --rasa-procs 2 --action-procs 2     # one machine, N + M processes
    python -m bot.scaleout rasa                           # one Rasa process (a container, deploy/)

`make run` (bot/runner.py) stays the embedded default: one Rasa process, one action server, SQLite
and an in-memory lock store. Several Rasa processes must share every conversation, so this needs,
from the settings (.env.example):

- TRACKER_STORE_URL and ORDERS_DB_URL: PostgreSQL (SQLite cannot be shared safely);
- LOCK_STORE_URL: redis:// (one turn of a conversation at a time across processes); WeChat's
  shared state uses REDIS_URL, else the same Redis.

haproxy (Debian's package, installed by `make setup`) listens on RASA_HOST:RASA_PORT for the
customers and on 127.0.0.1:ACTION_PORT for Rasa's action calls, configured from
deploy/haproxy.cfg.tmpl; the processes themselves listen on free loopback ports. The staff console
runs once, on CONSOLE_PORT, as with `make run`. Ctrl-C or SIGTERM stops everything.
"""
from __future__ import annotations

import argparse
import dataclasses
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from string import Template
from typing import Any, Callable, Dict, List, Optional, Sequence

from bot.livechat.rasa_api import api_token
from bot.settings import ROOT, Settings, load as load_settings

TEMPLATE = ROOT / "deploy" / "haproxy.cfg.tmpl"
HAPROXY_CANDIDATES = ("haproxy", "/usr/sbin/haproxy")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def backend_problems(settings: Settings) -> List[str]:
    """What is missing for several Rasa processes to share conversations (empty: nothing)."""
    problems = []
    for name, url in (("TRACKER_STORE_URL", settings.tracker_store_url), ("ORDERS_DB_URL", settings.orders_db_url)):
        if not url.startswith(("postgresql://", "postgresql+psycopg2://", "postgres://")):
            problems.append(f"{name} must be a PostgreSQL URL (postgresql://user:pass@host:5432/db), "
                            f"not {url or 'the embedded SQLite file'}")
    if not settings.lock_store_url.startswith(("redis://", "rediss://")):
        problems.append("LOCK_STORE_URL must be a Redis URL (redis://host:6379/0): without it two processes "
                        "could take turns of the same conversation at once")
    if not _loopback(settings.rasa_host) and not settings.rest_secret:
        # Behind haproxy every request comes from loopback, and the REST channel without a secret
        # answers loopback clients: it would answer the whole network.
        problems.append("RASA_HOST is not loopback and REST_SECRET is empty: behind the balancer every REST "
                        "client would look local. Set REST_SECRET, or RASA_HOST=127.0.0.1")
    return problems


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def haproxy_binary() -> Optional[str]:
    for name in HAPROXY_CANDIDATES:
        found = shutil.which(name) or (name if os.access(name, os.X_OK) else None)
        if found:
            return found
    return None


def haproxy_config(rasa_bind: str, actions_bind: str, rasa_ports: Sequence[int], action_ports: Sequence[int],
                   stats_bind: str = "127.0.0.1:0", template: Path = TEMPLATE) -> str:
    """deploy/haproxy.cfg.tmpl with the listening addresses and one `server` line per process."""
    def servers(prefix: str, ports: Sequence[int]) -> str:
        return "\n".join(f"    server {prefix}{i + 1} 127.0.0.1:{port} check" for i, port in enumerate(ports))

    return Template(template.read_text(encoding="utf-8")).substitute(
        rasa_bind=rasa_bind, actions_bind=actions_bind, stats_bind=stats_bind,
        rasa_servers=servers("rasa", rasa_ports), action_servers=servers("actions", action_ports))


def rasa_command(model: str, endpoints: str, port: int, host: str, cors: Sequence[str] = (),
                 api_token: str = "") -> List[str]:
    cmd = [sys.executable, "-m", "rasa", "run", "--model", model, "--endpoints", endpoints,
           "--credentials", str(ROOT / "credentials.yml"), "--port", str(port), "--interface", host]
    if api_token:  # the console's 在线人工 pauses and resumes conversations through Rasa's HTTP API
        cmd += ["--enable-api", f"--auth-token={api_token}"]  # a token may begin with "-" (runner.py)
    return cmd + (["--cors", *cors] if cors else [])


def action_command(port: int, host: str = "127.0.0.1") -> List[str]:
    return [sys.executable, "-m", "bot.action_server", "--port", str(port), "--host", host]


@dataclasses.dataclass
class Plan:
    """Every process of a scaled-out run, with its ports: what `run_scaled` starts, in order."""

    settings: Settings
    rasa_ports: List[int]
    action_ports: List[int]
    haproxy_cfg: Path
    endpoints: Path
    stats_port: int

    @property
    def rasa_url(self) -> str:
        host = "127.0.0.1" if self.settings.rasa_host in ("0.0.0.0", "::", "") else self.settings.rasa_host
        return f"http://{host}:{self.settings.rasa_port}"


def plan(settings: Settings, rasa_procs: int, action_procs: int) -> Plan:
    """Choose ports and write haproxy.cfg and endpoints.yml under BOT_VAR_DIR."""
    from bot.endpoints import write_endpoints

    var = Path(settings.var_dir)
    var.mkdir(parents=True, exist_ok=True)
    rasa_ports = [free_port() for _ in range(rasa_procs)]
    action_ports = [free_port() for _ in range(action_procs)]
    # Rasa calls the action servers through haproxy, which listens on ACTION_PORT.
    through = dataclasses.replace(settings, action_server_url=f"http://127.0.0.1:{settings.action_port}/webhook")
    endpoints = write_endpoints(through, var / "endpoints.yml")
    stats_port = free_port()
    cfg = var / "haproxy.cfg"
    cfg.write_text(haproxy_config(f"{settings.rasa_host}:{settings.rasa_port}", f"127.0.0.1:{settings.action_port}",
                                  rasa_ports, action_ports, f"127.0.0.1:{stats_port}"), encoding="utf-8")
    return Plan(through, rasa_ports, action_ports, cfg, endpoints, stats_port)


def write_status(p: Plan, rasa: List[subprocess.Popen], actions: List[subprocess.Popen],
                 haproxy: subprocess.Popen, console: Optional[subprocess.Popen]) -> Path:
    """scaleout.json in BOT_VAR_DIR: every process's port and pid, and haproxy's stats page."""
    path = Path(p.settings.var_dir) / "scaleout.json"
    status = {
        "balancer": p.rasa_url, "stats": f"http://127.0.0.1:{p.stats_port}/stats",
        "haproxy": {"pid": haproxy.pid, "config": str(p.haproxy_cfg)},
        "rasa": [{"name": f"rasa{i + 1}", "port": port, "pid": r.pid}
                 for i, (port, r) in enumerate(zip(p.rasa_ports, rasa))],
        "actions": [{"name": f"actions{i + 1}", "port": port, "pid": a.pid}
                    for i, (port, a) in enumerate(zip(p.action_ports, actions))],
        "console": {"pid": console.pid, "port": p.settings.console_port} if console else None,
    }
    path.write_text(json.dumps(status, indent=2), encoding="utf-8")
    return path


class Stop(Exception):
    """SIGTERM arrived."""


def _on_sigterm(_signum: int, _frame: object) -> None:
    raise Stop()


def _die_with_parent() -> None:
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _spawn(cmd: List[str], env: Dict[str, str], log: Optional[Path]) -> subprocess.Popen:
    out = log.open("ab") if log else None
    return subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True, stdout=out,
                            stderr=subprocess.STDOUT if out else None,
                            preexec_fn=_die_with_parent if sys.platform == "linux" else None)


def run_scaled(settings: Settings, rasa_procs: int, action_procs: int, *, console: bool = True,
               logs: Optional[Path] = None, on_ready: Optional[Callable[..., Any]] = None,
               model: Optional[Path] = None) -> int:
    """Start M action servers, N Rasa processes, haproxy (and the console); wait; stop all.

    ``logs``: a folder for one log file per process (default: this terminal). ``on_ready`` is
    called with the Plan and the processes once every process answers. ``model``: serve this
    model file (default: models/, trained first if its inputs changed, as `make run` does).
    """
    from bot.runner import console_command, port_in_use, server_env, stop_all, wait_until_up
    from bot.training import ensure_model

    if rasa_procs < 1 or action_procs < 1:
        print("--rasa-procs and --action-procs must be at least 1.", file=sys.stderr)
        return 2
    problems = backend_problems(settings)
    haproxy = haproxy_binary()
    if haproxy is None:
        problems.append("haproxy is not installed: run `make setup` (it installs Debian's haproxy) "
                        "or `apt-get install haproxy`")
    if problems:
        print("Cannot start several processes:\n  - " + "\n  - ".join(problems), file=sys.stderr)
        return 1
    busy = [p for p in (settings.rasa_port, settings.action_port) + ((settings.console_port,) if console else ())
            if port_in_use(p)]
    if busy:
        print(f"端口 {busy} 已被占用。请先停止占用它们的程序，或设置 RASA_PORT / ACTION_PORT / CONSOLE_PORT。",
              file=sys.stderr)
        return 1
    os.umask(0o077)
    model = str(model or ensure_model())
    p = plan(settings, rasa_procs, action_procs)
    if logs:
        logs.mkdir(parents=True, exist_ok=True)
    env = server_env(p.settings)
    env["ACTION_SERVER_URL"] = p.settings.action_server_url
    rasa_env = dict(env, SANIC_PROXIES_COUNT="1")  # the customer's address from haproxy's X-Forwarded-For

    def log(name: str) -> Optional[Path]:
        return logs / f"{name}.log" if logs else None

    procs: List[subprocess.Popen] = []
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        actions = [_spawn(action_command(port), env, log(f"actions{i + 1}")) for i, port in enumerate(p.action_ports)]
        procs += actions
        # The first Rasa process creates the tracker store's tables; the others start once it is up.
        rasa = [_spawn(rasa_command(model, str(p.endpoints), p.rasa_ports[0], "127.0.0.1", settings.cors_origins, api_token(settings)),
                       rasa_env, log("rasa1"))]
        procs += rasa
        balancer = _spawn([haproxy, "-W", "-db", "-f", str(p.haproxy_cfg)], env, log("haproxy"))
        procs.append(balancer)
        console_proc = None
        if not all(wait_until_up(f"http://127.0.0.1:{port}/health", a, 120) for a, port in zip(actions, p.action_ports)):
            raise RuntimeError("an action server did not start")
        if not wait_for_tracker_tables(settings.tracker_url, rasa[0], 600):
            raise RuntimeError("the first Rasa process did not create the tracker store's tables")
        for i, port in enumerate(p.rasa_ports[1:], start=2):
            rasa.append(_spawn(rasa_command(model, str(p.endpoints), port, "127.0.0.1", settings.cors_origins, api_token(settings)),
                               rasa_env, log(f"rasa{i}")))
            procs.append(rasa[-1])
        if not all(wait_until_up(f"http://127.0.0.1:{port}/", r, 600) for r, port in zip(rasa, p.rasa_ports)):
            raise RuntimeError("a Rasa process did not start")
        if console:
            console_proc = _spawn(console_command(settings), env, log("console"))
            procs.append(console_proc)
            if not wait_until_up(f"http://127.0.0.1:{settings.console_port}/health", console_proc, 120):
                raise RuntimeError("the console did not start")
        if not wait_until_up(p.rasa_url + "/", balancer, 30):
            raise RuntimeError("haproxy does not answer")
        write_status(p, rasa, actions, balancer, console_proc)
        print(f"\n电力服务助手已启动：{rasa_procs} 个 Rasa 进程、{action_procs} 个动作服务器，haproxy 在 {p.rasa_url}/ 前面分流。\n"
              f"  网页聊天：{p.rasa_url}/webhooks/webchat/   haproxy 配置：{p.haproxy_cfg}\n  按 Ctrl-C 停止。\n",
              flush=True)
        if on_ready is not None:
            return int(on_ready(p, procs) or 0)
        # A Rasa or action process that dies is taken out by haproxy; the others go on serving. The
        # run ends when haproxy or the console dies, or when no Rasa or no action process is left.
        while (balancer.poll() is None and (console_proc is None or console_proc.poll() is None)
               and any(r.poll() is None for r in rasa) and any(a.poll() is None for a in actions)):
            time.sleep(0.5)
        print("haproxy、工作台或全部 Rasa/动作进程已退出，正在停止其他服务。", file=sys.stderr)
        return 1
    except RuntimeError as exc:
        print(f"启动失败：{exc}。请查看日志{f'（{logs}）' if logs else ''}。", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, Stop):
        print("\n正在停止……", flush=True)
        return 0
    finally:
        stop_all(procs, previous)


def wait_for_tracker_tables(url: str, proc: subprocess.Popen, timeout: float) -> bool:
    """Wait until Rasa's SQLTrackerStore has created its `events` table (it does so before
    loading the model), so that the other processes do not race to create it."""
    from sqlalchemy import create_engine, inspect

    engine = create_engine(url, pool_pre_ping=True)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return False
            try:
                if inspect(engine).has_table("events"):
                    return True
            except Exception:  # noqa: BLE001 — the database may not exist yet (Rasa creates it)
                pass
            time.sleep(0.5)
        return False
    finally:
        engine.dispose()


def serve_rasa(settings: Settings) -> int:
    """One Rasa process in a container (deploy/): endpoints.yml from the settings, then exec rasa.

    The tracker store, lock store and action server URLs come from the environment (the
    Kubernetes ConfigMap and Secret); the model is the one baked into the image."""
    from bot.endpoints import write_endpoints
    from bot.training import MODEL_PATH

    endpoints = write_endpoints(settings, Path(settings.var_dir) / "endpoints.yml")
    cmd = rasa_command(str(MODEL_PATH), str(endpoints), settings.rasa_port, settings.rasa_host,
                       settings.cors_origins, api_token(settings))
    os.execv(cmd[0], cmd)
    return 1  # not reached


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options `python -m bot run` takes for a scaled-out start."""
    p.add_argument("--rasa-procs", type=int, default=0, metavar="N",
                   help="N Rasa processes behind haproxy (needs PostgreSQL and Redis in the settings)")
    p.add_argument("--action-procs", type=int, default=0, metavar="M",
                   help="M action servers behind haproxy (default 1 when --rasa-procs is given)")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.scaleout")
    sub = parser.add_subparsers(dest="what", required=True)
    run = sub.add_parser("run", help="N Rasa + M action servers behind haproxy, and the console")
    add_arguments(run)
    run.add_argument("--logs", type=Path, help="a folder for one log per process (default: this terminal)")
    run.add_argument("--no-console", action="store_true")
    run.add_argument("--model", type=Path, help="a trained model file (default: models/, retrained if stale)")
    sub.add_parser("rasa", help="one Rasa process from the settings (containers)")
    args = parser.parse_args(argv)
    settings = load_settings()
    if args.what == "rasa":
        return serve_rasa(settings)
    return run_scaled(settings, args.rasa_procs or 2, args.action_procs or 1, console=not args.no_console,
                      logs=args.logs, model=args.model)


if __name__ == "__main__":
    raise SystemExit(main())
