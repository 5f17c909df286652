"""`python -m bot run` stops all three servers on SIGTERM (systemd, supervisord, kill) and SIGINT."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from servers import free_port

ROOT = Path(__file__).resolve().parent.parent


def _port_free(port: int) -> bool:
    """Nothing accepts connections on the port any more."""
    import socket

    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) != 0


def test_sigterm_stops_all_three_servers_and_frees_their_ports(model_path: Path, tmp_path: Path) -> None:
    # SIGINT (Ctrl-C) takes the same path (KeyboardInterrupt → stop); one start of the three
    # servers costs a minute or more on CI, so only SIGTERM, the one that used to leak, is sent.
    sig = signal.SIGTERM
    ports = {"RASA_PORT": free_port(), "ACTION_PORT": free_port(), "CONSOLE_PORT": free_port()}
    env = dict(os.environ, PYTHONPATH=str(ROOT), BOT_VAR_DIR=str(tmp_path), RASA_HOST="127.0.0.1",
               SQLALCHEMY_SILENCE_UBER_WARNING="1", TF_CPP_MIN_LOG_LEVEL="2", RASA_TELEMETRY_ENABLED="false",
               **{k: str(v) for k, v in ports.items()})
    log = (tmp_path / "run.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 400
        # `bot run` says it has started once all three answer
        while "电力服务助手已启动" not in (tmp_path / "run.log").read_text():
            assert proc.poll() is None, (tmp_path / "run.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "bot run did not come up"
            time.sleep(1)
        assert not any(_port_free(p) for p in ports.values())
        proc.send_signal(sig)
        assert proc.wait(60) == 0
        for name, port in ports.items():
            for _ in range(20):  # a closing socket may linger a moment in the kernel
                if _port_free(port):
                    break
                time.sleep(0.25)
            assert _port_free(port), f"{name} {port} still taken after {signal.Signals(sig).name}"
        # the action server and the console listen on loopback only; endpoints.yml is private
        text = (tmp_path / "run.log").read_text()
        assert "0.0.0.0:" + str(ports["ACTION_PORT"]) not in text
        assert (tmp_path / "endpoints.yml").stat().st_mode & 0o777 == 0o600
        assert tmp_path.stat().st_mode & 0o777 == 0o700
    finally:
        if proc.poll() is None:
            proc.terminate()  # `bot run` stops its servers
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()  # its servers get SIGTERM too (PR_SET_PDEATHSIG)
                proc.wait()
