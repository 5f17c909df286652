"""The agent's view of a conversation before they took it (bot/console/livechat.py)."""
from __future__ import annotations

from bot.console.livechat import customer_label, history


def test_history_shows_button_presses_by_name_skips_empty_and_agent_messages_and_stops_at_the_accept() -> None:
    events = [
        {"event": "user", "text": "阶梯电价怎么算", "timestamp": 100.0},
        {"event": "bot", "text": "居民阶梯电价……", "timestamp": 101.0},
        {"event": "bot", "text": "", "timestamp": 101.5},  # a custom payload only
        {"event": "user", "text": "/request_human", "timestamp": 102.0,
         "parse_data": {"intent": {"name": "request_human"}}},
        {"event": "bot", "text": "人工客服 张三已接入", "timestamp": 103.0, "metadata": {"livechat": {"agent": "张三"}}},
        {"event": "user", "text": "您好", "timestamp": 104.0},
    ]
    shown = history(events, before=103.5)
    assert [(h["role"], h["text"]) for h in shown] == [
        ("customer", "阶梯电价怎么算"), ("bot", "居民阶梯电价……"), ("customer", "（点选：转人工）")]
    assert shown[0]["at"] == "08:01:40"  # Beijing time
    assert len(history(events, before=None)) == 4


def test_customers_are_told_apart_on_screen_without_showing_their_id() -> None:
    assert customer_label("web:Ab12Cd34Ef56") == "网页客户 #34Ef56"
    assert customer_label("wx:oXyz_123456") == "微信客户 #123456"
    assert "oXyz" not in customer_label("wx:oXyz_123456")
