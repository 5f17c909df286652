"""A circuit breaker in front of the work-order database.

When the database is unreachable, each attempt costs up to the connect timeout (5 s) and, in an
action or a tracker save, that is a customer waiting. After one failure the breaker opens: for
``cooldown`` seconds every call fails at once with StoreUnavailable (writes go to the spool, reads
say "try later"); then one call is let through to probe, and its success closes the breaker.
"""
from __future__ import annotations

import threading
import time
from typing import Callable

DEFAULT_COOLDOWN = 30.0


class Breaker:
    def __init__(self, cooldown: float = DEFAULT_COOLDOWN, clock: Callable[[], float] = time.monotonic) -> None:
        self.cooldown = cooldown
        self.clock = clock
        self._open_until = 0.0
        self._probing = False
        self._lock = threading.Lock()
        self.last_error = ""

    @property
    def is_open(self) -> bool:
        return self.clock() < self._open_until

    def allow(self) -> bool:
        """May a call go to the database now? While open, no; after the cooldown, one probe at a time."""
        with self._lock:
            if self._open_until == 0.0:
                return True
            if self.clock() < self._open_until or self._probing:
                return False
            self._probing = True
            return True

    def failed(self, error: str = "") -> None:
        with self._lock:
            self._open_until = self.clock() + self.cooldown
            self._probing = False
            self.last_error = error

    def succeeded(self) -> None:
        with self._lock:
            self._open_until = 0.0
            self._probing = False
