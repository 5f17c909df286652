"""A long answer as at most ``max_parts`` messages of at most ``max_bytes`` bytes of UTF-8 each,
cut at line ends (else after a 。；！？ near the end), numbered （1/3） when more than one."""
from __future__ import annotations

from typing import List

TRUNCATED_NOTE = "……（内容较长，未能全部显示。如需完整说明，请输入“转人工”或拨打 95598 供电服务热线。）"


def _nbytes(text: str) -> int:
    return len(text.encode("utf-8"))


def _cut(line: str, budget: int) -> List[str]:
    """A line longer than the budget, cut at characters (after a 。；！？ when one is near the end)."""
    pieces: List[str] = []
    while _nbytes(line) > budget:
        end, size = 0, 0
        for ch in line:
            size += _nbytes(ch)
            if size > budget:
                break
            end += 1
        stop = max(line.rfind(p, 0, end) for p in "。；！？")
        if stop >= end * 2 // 3:  # a sentence end in the last third: cut there
            end = stop + 1
        pieces.append(line[:end])
        line = line[end:]
    return pieces + ([line] if line else [])


def split(text: str, max_bytes: int, max_parts: int) -> List[str]:
    """Parts of at most max_bytes each, cut at line ends, numbered （1/3） when more than one;
    beyond max_parts the last part ends with TRUNCATED_NOTE."""
    text = text.strip()
    if not text:
        return []
    if _nbytes(text) <= max_bytes:
        return [text]
    marker_room = _nbytes("\n（9/9）")
    budget = max_bytes - marker_room
    parts: List[str] = []
    current = ""
    for line in text.split("\n"):
        for piece in _cut(line, budget):
            candidate = f"{current}\n{piece}" if current else piece
            if _nbytes(candidate) <= budget:
                current = candidate
            else:
                if current.strip():
                    parts.append(current.strip())
                current = piece
    if current.strip():
        parts.append(current.strip())
    if len(parts) > max_parts:
        parts = parts[:max_parts]
        lines, room = parts[-1].split("\n"), budget - _nbytes(TRUNCATED_NOTE) - 1
        while len(lines) > 1 and _nbytes("\n".join(lines)) > room:
            lines.pop()  # drop whole lines, so no sentence is cut in half
        last = "\n".join(lines)
        while _nbytes(last) > room:
            last = last[:-1]
        parts[-1] = last.rstrip() + "\n" + TRUNCATED_NOTE
    if len(parts) == 1:
        return parts
    return [f"{p}\n（{i}/{len(parts)}）" for i, p in enumerate(parts, 1)]
