"""bot/turn_replay.py: which messages are looked up, and which stored replies a repeat gets."""
from __future__ import annotations

from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered

from bot.turn_replay import REQUEST_PREFIX, message_id_for, stored_replies


def test_only_a_plausible_request_id_becomes_a_message_id() -> None:
    assert message_id_for("3f2a9c1e-77b0-4c1d-9d1e-0a5b6c7d8e9f") == REQUEST_PREFIX + "3f2a9c1e-77b0-4c1d-9d1e-0a5b6c7d8e9f"
    assert message_id_for("0123456789abcdef") == REQUEST_PREFIX + "0123456789abcdef"
    for bad in (None, "", "short", "x" * 65, "abc def 12345", "<script>1</script>", "id\n12345678", "编号12345678", "12345678\n"):
        assert message_id_for(bad) is None, bad


def test_a_stored_turn_gives_back_the_bot_replies_between_it_and_the_next_message() -> None:
    first, second = REQUEST_PREFIX + "aaaaaaaa", REQUEST_PREFIX + "bbbbbbbb"
    events = [
        UserUttered("阶梯电价怎么算", message_id=first),
        ActionExecuted("action_answer"),
        BotUttered("第一档……", {"buttons": [{"title": "有帮助", "payload": "/feedback_positive"}]}),
        SlotSet("topic", "price"),
        BotUttered(None, {"custom": {"type": "kb_answer"}}),
        ActionExecuted("action_listen"),
        UserUttered("转人工", message_id=second),
        BotUttered("已为您登记"),
    ]
    replies = stored_replies(events, first)
    assert [r["text"] for r in replies] == ["第一档……", None]
    assert replies[0]["buttons"][0]["payload"] == "/feedback_positive"
    assert replies[1]["custom"] == {"type": "kb_answer"}
    assert [r["text"] for r in stored_replies(events, second)] == ["已为您登记"]
    assert stored_replies(events, REQUEST_PREFIX + "cccccccc") is None  # not stored: run the turn


def test_a_stored_turn_with_no_reply_yet_is_still_not_run_again() -> None:
    # A paused conversation (an agent holds it) records the message without answering.
    mid = REQUEST_PREFIX + "dddddddd"
    assert stored_replies([UserUttered("在吗", message_id=mid)], mid) == []
