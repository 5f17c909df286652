"""Live-chat service hours: "08:00-20:00" in Beijing time, every day."""
from __future__ import annotations

import re
from datetime import datetime
from typing import Optional, Tuple

from bot.clock import to_beijing, utcnow

_SPEC = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-–~]\s*(\d{1,2}):(\d{2})\s*$")


def parse(spec: str) -> Optional[Tuple[int, int]]:
    """Minutes after midnight (start, end); None for "" (no live chat). ValueError if malformed."""
    if not (spec or "").strip():
        return None
    m = _SPEC.match(spec)
    if not m:
        raise ValueError(f"LIVECHAT_HOURS 格式应为 08:00-20:00，而不是 {spec!r}")
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if not (0 <= start < 24 * 60 and 0 < end <= 24 * 60 and start < end and m1 < 60 and m2 < 60):
        raise ValueError(f"LIVECHAT_HOURS 时间无效：{spec!r}")
    return start, end


def open_at(spec: str, at: Optional[datetime] = None) -> bool:
    """Is live chat open at ``at`` (aware; default now)? A malformed setting counts as closed."""
    try:
        window = parse(spec)
    except ValueError:
        return False
    if window is None:
        return False
    local = to_beijing(at or utcnow())
    minute = local.hour * 60 + local.minute
    return window[0] <= minute < window[1]
