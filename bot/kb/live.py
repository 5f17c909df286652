"""Hot reload: serve questions from an Engine that follows edits to knowledge/.

A trainer saves a YAML file; within a couple of seconds the next question is answered from the
new knowledge base. A broken save never takes the assistant down: the error is logged and the
previous engine keeps serving until the files are fixed.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from bot.kb.engine import Engine, Signal
from bot.kb.loader import DEFAULT_ROOT, load_knowledge
from bot.kb.model import Answer, Entry, KnowledgeError

log = logging.getLogger(__name__)

CHECK_INTERVAL = 2.0  # seconds between two looks at the files' modification times


def knowledge_stamp(root: Path) -> dict[str, tuple[int, int]]:
    """(mtime_ns, size) of every file the engine depends on: knowledge/**/*.yml and the jieba dictionaries."""
    files = list(root.rglob("*.yml"))
    jieba_dir = root / "jieba"
    if jieba_dir.is_dir():
        files += [p for p in jieba_dir.iterdir() if p.is_file()]
    stamp = {}
    for path in files:
        try:
            st = path.stat()
        except OSError:  # deleted between listing and stat: the next check sees it gone
            continue
        stamp[str(path)] = (st.st_mtime_ns, st.st_size)
    return stamp


class LiveEngine:
    """An Engine that is rebuilt when the knowledge files change (checked at most every 2 s)."""

    def __init__(
        self,
        root: Path = DEFAULT_ROOT,
        signal: Signal = "combined",
        interval: float = CHECK_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.root = Path(root)
        self.signal = signal
        self.interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._stamp = knowledge_stamp(self.root)
        # the first load must succeed: there is no older engine to fall back on
        self._engine = Engine(load_knowledge(self.root), signal=signal)
        self._last_check = clock()
        self.last_error: KnowledgeError | None = None

    @property
    def engine(self) -> Engine:
        return self._engine

    def maybe_reload(self) -> bool:
        """Rebuild if the files changed since the last look; True when a new engine was swapped in."""
        now = self._clock()
        if now - self._last_check < self.interval:
            return False
        # one rebuild at a time; other threads keep answering from the current engine meanwhile
        if not self._lock.acquire(blocking=False):
            return False
        try:
            self._last_check = now
            stamp = knowledge_stamp(self.root)
            if stamp == self._stamp:
                return False
            # remember the stamp even if the build fails, so a broken file is reported once, not every 2 s
            self._stamp = stamp
            try:
                engine = Engine(load_knowledge(self.root), signal=self.signal)
            except KnowledgeError as exc:
                self.last_error = exc
                log.warning("knowledge base not reloaded, still serving the previous version:\n%s", exc)
                return False
            self._engine = engine
            self.last_error = None
            log.info("knowledge base reloaded: %d entries", len(engine.entries))
            return True
        finally:
            self._lock.release()

    def ask(self, text: str, top_k: int = 3) -> Answer:
        """Answer from the current knowledge base (reloading first if it changed)."""
        self.maybe_reload()
        return self._engine.ask(text, top_k=top_k)

    def get(self, entry_id: str) -> Entry | None:
        return self._engine.get(entry_id)
