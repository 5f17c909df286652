"""The conversation a work order carries: Rasa tracker events → ordered messages.

A staff member reading an order must see what the customer saw: every user and bot message of
the current session, when it was sent, which buttons were offered and which one was clicked.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable

from bot.clock import to_beijing, utcnow

ROLE_LABELS = {"user": "客户", "bot": "助手"}


@dataclass(frozen=True)
class Msg:
    """One message of the conversation; ``at`` is the message's own (aware, UTC) timestamp."""

    role: str  # "user" | "bot"
    text: str
    at: datetime
    buttons: tuple[str, ...] = ()       # bot: titles of the buttons shown
    chosen_button: str | None = None    # user: the title of the button this message clicked
    event_key: str = ""                 # stable identity, so re-syncing never duplicates

    def __post_init__(self) -> None:
        if self.role not in ROLE_LABELS:
            raise ValueError(f"role must be 'user' or 'bot', not {self.role!r}")
        if self.at.tzinfo is None:
            raise ValueError("naive datetime: message times must be timezone-aware")
        if not self.event_key:
            object.__setattr__(self, "event_key", event_key(self.at.timestamp(), self.role, self.text))

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (the spool file)."""
        return {"role": self.role, "text": self.text, "at": self.at.isoformat(),
                "buttons": list(self.buttons), "chosen_button": self.chosen_button,
                "event_key": self.event_key}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Msg":
        return cls(role=d["role"], text=d["text"], at=datetime.fromisoformat(d["at"]),
                   buttons=tuple(d.get("buttons") or ()), chosen_button=d.get("chosen_button"),
                   event_key=d.get("event_key") or "")


def event_key(timestamp: float | None, role: str, text: str, fallback: str = "") -> str:
    """Rasa event timestamp + role + text hash: the same event always gets the same key.

    Without a timestamp (never seen from Rasa, but events can be hand-made) the position in the
    session stands in, which is still stable across re-syncs of the same session.
    """
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]
    stamp = f"{timestamp:.6f}" if timestamp is not None else f"n{fallback}"
    return f"{stamp}|{role}|{digest}"


def _timestamp(event: dict[str, Any]) -> float | None:
    ts = event.get("timestamp")
    return float(ts) if isinstance(ts, (int, float)) and not isinstance(ts, bool) else None


def _button_list(event: dict[str, Any]) -> list[dict[str, Any]]:
    data = event.get("data") or {}
    buttons = data.get("buttons") if isinstance(data, dict) else None
    return [b for b in (buttons or []) if isinstance(b, dict)]


def from_rasa_events(events: Iterable[dict[str, Any]]) -> list[Msg]:
    """User and bot messages of the CURRENT session, in order, with their timestamps.

    - Only events after the last ``session_started`` count (Rasa's own notion of a conversation).
    - Bot messages keep the titles of their buttons; custom-only messages (no text, no buttons —
      e.g. our json_message metadata) are skipped, they are not something the customer read.
    - A user message whose text equals the payload of a button in the latest bot message before
      it records that button's title as ``chosen_button`` (so ``/feedback_negative`` reads 没帮助).
    """
    events = list(events)
    start = 0
    for i, ev in enumerate(events):
        if isinstance(ev, dict) and ev.get("event") == "session_started":
            start = i + 1
    messages: list[Msg] = []
    last_bot_buttons: list[dict[str, Any]] = []
    for position, ev in enumerate(events[start:]):
        if not isinstance(ev, dict):
            continue
        kind = ev.get("event")
        if kind not in ("user", "bot"):
            continue
        text = ev.get("text") or ""
        ts = _timestamp(ev)
        at = datetime.fromtimestamp(ts, timezone.utc) if ts is not None else _fallback_time(messages)
        key = event_key(ts, kind, text, fallback=str(position))
        if kind == "bot":
            buttons = _button_list(ev)
            if not text.strip() and not buttons:
                continue
            last_bot_buttons = buttons
            titles = tuple(str(b.get("title") or b.get("payload") or "") for b in buttons)
            messages.append(Msg("bot", text, at, buttons=titles, event_key=key))
        else:
            if not text.strip():
                continue
            chosen = next((str(b.get("title") or b.get("payload")) for b in last_bot_buttons
                           if str(b.get("payload", "")).strip() == text.strip()), None)
            messages.append(Msg("user", text, at, chosen_button=chosen, event_key=key))
    return messages


def _fallback_time(messages: list[Msg]) -> datetime:
    # Keep the order readable: a message without a timestamp is shown at its predecessor's time.
    return messages[-1].at if messages else utcnow()


def format_line(msg: Msg) -> str:
    """One readable transcript line (Beijing time), as staff see it in ``orders show``.

    [11-22 14:05:03] 客户：…
    [11-22 14:05:04] 助手：… [按钮: 有帮助 | 没帮助]
    [11-22 14:05:09] 客户点击：没帮助
    """
    stamp = to_beijing(msg.at).strftime("%m-%d %H:%M:%S")
    if msg.role == "user" and msg.chosen_button:
        return f"[{stamp}] 客户点击：{msg.chosen_button}"
    line = f"[{stamp}] {ROLE_LABELS[msg.role]}：{msg.text}"
    if msg.buttons:
        line += f" [按钮: {' | '.join(msg.buttons)}]"
    return line
