"""A TCP proxy in front of a real server (PostgreSQL) that can be stopped, restarted and blackholed.

Fault injection without touching the shared database server: the order database's URL points at
the proxy, and the soak switches it between

  up         every connection is forwarded
  down       the port refuses connections (a stopped database); open connections are cut
  blackhole  connections are accepted and nothing ever comes back (a dead network path)
"""
from __future__ import annotations

import select
import socket
import threading
import time
from typing import List, Optional, Tuple


class FaultProxy:
    def __init__(self, target: Tuple[str, int], port: int = 0) -> None:
        self.target = target
        self.mode = "up"
        self._listener: Optional[socket.socket] = None
        self._conns: List[socket.socket] = []
        self._lock = threading.Lock()
        self.port = port
        self._open_listener()

    @property
    def url_host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _open_listener(self) -> None:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        self.port = s.getsockname()[1]
        s.listen(128)
        self._listener = s
        threading.Thread(target=self._accept, args=(s,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            with self._lock:
                self._conns.append(client)
            if self.mode == "blackhole":
                continue  # accepted, never answered
            threading.Thread(target=self._pipe, args=(client,), daemon=True).start()

    def _pipe(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            client.close()
            return
        with self._lock:
            self._conns.append(upstream)
        socks = [client, upstream]
        try:
            while self.mode != "down":
                if self.mode == "blackhole":  # nothing moves either way
                    time.sleep(0.2)
                    continue
                ready, _, _ = select.select(socks, [], [], 0.5)
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return
                    (upstream if s is client else client).sendall(data)
        except (OSError, ValueError):  # cut by down(): the sockets are closed under us
            pass
        finally:
            for s in socks:
                try:
                    s.close()
                except OSError:
                    pass

    def _cut_all(self) -> None:
        with self._lock:
            conns, self._conns = self._conns, []
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                c.close()
            except OSError:
                pass

    def down(self) -> None:
        """A stopped database: refused connections, open ones cut."""
        self.mode = "down"
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        self._cut_all()

    def blackhole(self) -> None:
        """Connections hang: accepted, never answered; open ones stop moving."""
        self.mode = "blackhole"
        if self._listener is None:
            self._open_listener()

    def up(self) -> None:
        """The database is back (restarted): old connections are gone, new ones work."""
        if self.mode == "blackhole":
            self._cut_all()
        self.mode = "up"
        if self._listener is None:
            self._open_listener()

    def close(self) -> None:
        self.down()
