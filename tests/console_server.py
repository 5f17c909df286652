"""Start the staff console (python -m bot console) on a free port, for HTTP and browser tests.

Pointed at a var dir (BOT_VAR_DIR) — and so at the same work-order database as an action server
started with that var dir — or at an explicit ORDERS_DB_URL in ``env``.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Dict, Optional

import requests

from servers import ROOT, free_port, wait_http

CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Console:
    port: int
    proc: subprocess.Popen
    env: Dict[str, str]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
        """``python -m bot …`` against the console's database."""
        return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, env=self.env, input=stdin,
                              capture_output=True, text=True, timeout=120)

    def add_user(self, name: str, role: str, password: str) -> None:
        out = self.cli("users", "add", name, "--role", role, "--password-stdin", stdin=password + "\n")
        if out.returncode != 0 and "已存在" not in out.stderr:
            raise RuntimeError(f"users add failed: {out.stdout}{out.stderr}")

    def login(self, name: str, password: str) -> requests.Session:
        """A requests session logged in through the real form (CSRF cookie and field included)."""
        s = requests.Session()
        page = s.get(f"{self.url}/login", timeout=30)
        token = CSRF_RE.search(page.text).group(1)
        r = s.post(f"{self.url}/login", data={"csrf": token, "username": name, "password": password},
                   allow_redirects=False, timeout=30)
        if r.status_code != 303:
            raise RuntimeError(f"login failed for {name}: HTTP {r.status_code}")
        return s

    def logs(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def csrf_of(html: str) -> Optional[str]:
    m = CSRF_RE.search(html)
    return m.group(1) if m else None


def start_console(workdir: Path, env: Optional[Dict[str, str]] = None, extra: Optional[Dict[str, str]] = None,
                  clock_at: Optional[datetime] = None) -> Console:
    """The console on a free port; with ``clock_at``, its clock starts there (tests/run_at.py)."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    full = dict(os.environ if env is None else env)
    full.update(PYTHONPATH=str(ROOT), SQLALCHEMY_SILENCE_UBER_WARNING="1", BOT_VAR_DIR=full.get("BOT_VAR_DIR", str(workdir)),
                CONSOLE_PORT=str(port), CONSOLE_HOST="127.0.0.1")
    full.update(extra or {})
    log = workdir / f"console-{port}.log"
    with log.open("w") as out:
        cmd = [sys.executable, "-m", "bot", "console"]
        if clock_at is not None:
            cmd = [sys.executable, str(ROOT / "tests" / "run_at.py"), clock_at.isoformat(), "console"]
        proc = subprocess.Popen(cmd, cwd=ROOT, env=full,
                                stdout=out, stderr=subprocess.STDOUT)
    console = Console(port, proc, full, log)
    try:
        wait_http(f"{console.url}/health", proc, log, 120)
    except Exception:
        console.stop()
        raise
    return console
