"""Rasa tracker events → the conversation a work order carries."""
from __future__ import annotations

from datetime import datetime, timezone

from bot.orders.transcript import Msg, format_line, from_rasa_events

FEEDBACK_BUTTONS = [{"title": "有帮助", "payload": "/feedback_positive"},
                    {"title": "没帮助", "payload": "/feedback_negative"}]
T0 = datetime(2026, 11, 22, 6, 5, 3, tzinfo=timezone.utc).timestamp()  # 14:05:03 Beijing


def _events() -> list[dict]:
    return [
        # An earlier session: not part of this conversation.
        {"event": "action", "name": "action_session_start", "timestamp": T0 - 900},
        {"event": "session_started", "timestamp": T0 - 900},
        {"event": "user", "text": "昨天的问题", "timestamp": T0 - 800},
        {"event": "bot", "text": "昨天的回答", "timestamp": T0 - 799, "data": {}},
        # The current session.
        {"event": "action", "name": "action_session_start", "timestamp": T0 - 1},
        {"event": "session_started", "timestamp": T0 - 1},
        {"event": "action", "name": "action_listen", "timestamp": T0 - 1},
        {"event": "user", "text": "峰谷电价怎么算", "timestamp": T0,
         "parse_data": {"intent": {"name": "ask_question"}}},
        {"event": "slot", "name": "last_outcome", "value": "answer", "timestamp": T0 + 0.5},
        {"event": "bot", "text": "居民峰谷电价按时段计价……", "timestamp": T0 + 1,
         "data": {"buttons": None, "custom": None}},
        {"event": "bot", "text": None, "timestamp": T0 + 1.2,
         "data": {"custom": {"type": "kb_answer", "outcome": "answer"}}},
        {"event": "bot", "text": "这个回答有帮助吗？", "timestamp": T0 + 1.5,
         "data": {"buttons": FEEDBACK_BUTTONS}},
        {"event": "bot", "text": "", "timestamp": T0 + 1.6, "data": {"custom": {"meta": 1}}},
        {"event": "user", "text": "/feedback_negative", "timestamp": T0 + 6},
        {"event": "bot", "text": "请问是下面哪个问题？", "timestamp": T0 + 7,
         "data": {"buttons": [{"title": "峰谷时段怎么划分？", "payload": "峰谷时段怎么划分？"}]}},
        {"event": "user", "text": "/feedback_negative", "timestamp": T0 + 9},  # not offered this time
    ]


def test_keeps_only_user_and_bot_messages_of_the_current_session_in_order() -> None:
    msgs = from_rasa_events(_events())
    assert [(m.role, m.text) for m in msgs] == [
        ("user", "峰谷电价怎么算"),
        ("bot", "居民峰谷电价按时段计价……"),
        ("bot", "这个回答有帮助吗？"),
        ("user", "/feedback_negative"),
        ("bot", "请问是下面哪个问题？"),
        ("user", "/feedback_negative"),
    ]
    assert msgs[0].at == datetime(2026, 11, 22, 6, 5, 3, tzinfo=timezone.utc)
    assert [m.at for m in msgs] == sorted(m.at for m in msgs)


def test_bot_messages_keep_their_buttons_and_a_click_records_the_button_title() -> None:
    msgs = from_rasa_events(_events())
    assert msgs[2].buttons == ("有帮助", "没帮助")
    assert msgs[3].chosen_button == "没帮助"
    assert msgs[5].chosen_button is None  # the latest bot message did not offer that payload
    assert format_line(msgs[2]) == "[11-22 14:05:04] 助手：这个回答有帮助吗？ [按钮: 有帮助 | 没帮助]"
    assert format_line(msgs[3]) == "[11-22 14:05:09] 客户点击：没帮助"
    assert format_line(msgs[0]) == "[11-22 14:05:03] 客户：峰谷电价怎么算"


def test_custom_only_bot_messages_are_skipped() -> None:
    assert all(m.text for m in from_rasa_events(_events()))


def test_a_clarify_button_whose_payload_is_the_question_is_recognised() -> None:
    events = [
        {"event": "bot", "text": "请问是下面哪个问题？", "timestamp": T0,
         "data": {"buttons": [{"title": "峰谷时段怎么划分？", "payload": "峰谷时段怎么划分？"}]}},
        {"event": "user", "text": "峰谷时段怎么划分？", "timestamp": T0 + 3},
    ]
    assert from_rasa_events(events)[1].chosen_button == "峰谷时段怎么划分？"


def test_without_session_started_the_whole_tracker_counts() -> None:
    assert len(from_rasa_events(_events()[2:4])) == 2


def test_event_keys_are_stable_across_syncs_and_distinct_within_one() -> None:
    first, again = from_rasa_events(_events()), from_rasa_events(_events() + [
        {"event": "user", "text": "还在吗", "timestamp": T0 + 30}])
    assert [m.event_key for m in first] == [m.event_key for m in again[:-1]]
    assert len({m.event_key for m in again}) == len(again)


def test_messages_survive_the_spool_round_trip() -> None:
    for m in from_rasa_events(_events()):
        assert Msg.from_dict(m.to_dict()) == m
