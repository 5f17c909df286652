"""Hot reload: serve questions from an Engine that follows edits to knowledge/.

A trainer saves a YAML file; the first question after the next look at the files (every 2 s)
starts a rebuild in a background thread, and questions are answered from the new knowledge base
as soon as it is built (1–4 s). Until then, the previous engine answers: a customer never waits
for a trainer's edit. A broken save never takes the assistant down: the error is logged and the
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
        background: bool = True,
    ) -> None:
        """``background``: rebuild in a thread of its own (False: the asking thread rebuilds and
        waits, which tests and one-shot commands may prefer)."""
        self.root = Path(root)
        self.signal = signal
        self.interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self.background = background
        self._builder: threading.Thread | None = None
        self._stamp = knowledge_stamp(self.root)
        # the first load must succeed: there is no older engine to fall back on
        self._engine = Engine(load_knowledge(self.root), signal=signal)
        self._last_check = clock()
        self.last_error: KnowledgeError | None = None

    @property
    def engine(self) -> Engine:
        return self._engine

    def maybe_reload(self) -> bool:
        """Rebuild if the files changed since the last look. True when a new engine was swapped in
        by this call (never in the background mode: there the swap comes later, see wait)."""
        now = self._clock()
        if now - self._last_check < self.interval:
            return False
        # one rebuild at a time; the current engine keeps answering meanwhile
        if not self._lock.acquire(blocking=False):
            return False
        changed = False
        try:
            self._last_check = now
            stamp = knowledge_stamp(self.root)
            changed = stamp != self._stamp
            # remember the stamp even if the build fails, so a broken file is reported once, not every 2 s
            self._stamp = stamp
        finally:
            if not changed:  # nothing to build (or the look failed): _rebuild will not release it
                self._lock.release()
        if not changed:
            return False
        if not self.background:
            return self._rebuild()
        self._builder = threading.Thread(target=self._rebuild, name="kb-reload", daemon=True)
        self._builder.start()
        return False

    def wait(self, timeout: float | None = None) -> None:
        """Block until a background rebuild that is under way has finished."""
        builder = self._builder
        if builder is not None:
            builder.join(timeout)

    def _rebuild(self) -> bool:
        """Build the engine of the current files and swap it in; releases the lock taken by maybe_reload."""
        try:
            try:
                engine = Engine(load_knowledge(self.root), signal=self.signal)
            except KnowledgeError as exc:
                self.last_error = exc
                log.warning("knowledge base not reloaded, still serving the previous version:\n%s", exc)
                return False
            except Exception:  # an unexpected failure must not end the old engine's service either
                log.exception("knowledge base not reloaded, still serving the previous version")
                return False
            self._engine = engine
            self.last_error = None
            log.info("knowledge base reloaded: %d entries", len(engine.entries))
            return True
        finally:
            self._lock.release()

    def ask(self, text: str, top_k: int = 3, context: str | None = None) -> Answer:
        """Answer from the current knowledge base (reloading first if it changed); ``context``: the
        entry answered just before (a follow-up keeps its subject, see Engine.ask)."""
        self.maybe_reload()
        return self._engine.ask(text, top_k=top_k, context=context)

    def get(self, entry_id: str) -> Entry | None:
        return self._engine.get(entry_id)
