"""Run ``python -m bot …`` with the process's clock moved, for tests: ``run_at.py ISO-INSTANT ARGS…``.

The clock keeps ticking from the given instant (time-machine), and the process's local zone is
UTC, as on our servers; every other part of the process is the real program.
"""
from __future__ import annotations

import runpy
import sys
from datetime import datetime

import time_machine

if __name__ == "__main__":
    at = datetime.fromisoformat(sys.argv[1])
    if at.tzinfo is None:
        sys.exit("run_at.py: give an instant with its offset, e.g. 2026-12-06T20:30:00+00:00")
    time_machine.travel(at, tick=True).start()
    sys.argv = ["bot", *sys.argv[2:]]
    runpy.run_module("bot", run_name="__main__", alter_sys=True)
