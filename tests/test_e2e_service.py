"""故障报修, 投诉 and 停电公告 end to end: the real Rasa server, action server and order database."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Dict, List

import pytest

from bot.clock import BEIJING, beijing_now, format_beijing
from bot.orders import OrderService
from bot.orders.notices import NoticeBoard, NoticeError, parse_csv
from bot.orders.store import OrderStore
from servers import Servers, rest_id, texts

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def orders(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> OrderService:
    """The same order database the action server writes (BOT_VAR_DIR/orders.db)."""
    return OrderService.from_url(f"sqlite:///{servers.workdir / 'orders.db'}",
                                 spool_dir=tmp_path_factory.mktemp("service-reader-spool"))


def sender(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:8]}"


def work_order(messages: List[Dict[str, Any]]) -> Dict[str, Any]:
    for m in messages:
        if (m.get("custom") or {}).get("type") == "work_order":
            return m["custom"]
    return {}


def order_message(messages: List[Dict[str, Any]]) -> str:
    """The text sent with the work-order payload (REST delivers the text, then the payload)."""
    for i, m in enumerate(messages):
        if (m.get("custom") or {}).get("type") == "work_order":
            return m.get("text") or (messages[i - 1].get("text", "") if i else "")
    return ""


def test_a_hazard_report_gets_safety_first_and_an_urgent_repair_order_at_once_completed_by_address_and_phone(
        servers: Servers, orders: OrderService, kb_engine: Any) -> None:
    who = sender("fault")
    first = servers.say(who, "我家门口电线杆被车撞歪了 电线都快掉地上了")
    # danger first: the safety entry's own steps (the knowledge base is their single source)
    fallen = kb_engine.get("safety.fallen_wire")
    assert fallen.answer.strip().splitlines()[0] in texts(first)
    assert texts(first).index(fallen.answer.strip().splitlines()[0]) < texts(first).index("工单号")
    # no self-check can help: the urgent repair order is stored now, its number told in this reply
    opened = work_order(first)
    assert opened["kind"] == "repair" and opened["status"] == "stored" and opened["priority"] == "urgent"
    assert opened["order_no"] in texts(first) and "地址" in texts(first)
    # an unrelated question is answered and the form asks again
    between = servers.say(who, "阶梯电价怎么算")
    assert any((m.get("custom") or {}).get("type") == "kb_answer" for m in between)
    assert texts(between).rstrip().endswith(texts(first).rstrip().splitlines()[-1])  # the address again
    # the address and the phone in one message, out of order
    done = servers.say(who, "地址是城东区幸福路12号幸福小区3栋 电话 138 1234 5678")
    order = work_order(done)
    assert order["kind"] == "repair" and order["priority"] == "urgent"
    assert (order["status"], order["order_no"]) == ("appended", opened["order_no"])
    text = texts(done)
    # one message: number, next step, commitment
    msg = order_message(done)
    assert order["order_no"] in msg and "13812345678" in msg and "城区抢修人员承诺 45 分钟内" in msg and "预计" in msg
    view = orders.get(order["order_no"])
    assert (view.kind, view.priority, view.reason, view.phone) == ("repair", "urgent", "fault_report", "13812345678")
    assert view.details["address"].startswith("城东区幸福路12号") and view.details["area"] == "城区"
    assert view.details["hazard"] is True
    # the due time is the 城区 arrival commitment: 45 minutes after the order, clock time
    assert view.due_at - view.created_at == timedelta(minutes=45)
    said = [m.text for m in view.transcript]
    assert said[0] == "我家门口电线杆被车撞歪了 电线都快掉地上了" and "阶梯电价怎么算" in said
    assert any(order["order_no"] in t for t in said) or "登记" in text
    # a repeat report in the same conversation adds to the open repair order
    again = servers.say(who, "现在电线冒火花了")
    assert work_order(again).get("order_no") == order["order_no"] and work_order(again)["status"] == "appended"


def test_a_power_cut_asks_the_self_check_and_a_tripped_breaker_gets_self_help_and_can_stop(
        servers: Servers, orders: OrderService) -> None:
    who = sender("breaker")
    first = servers.say(who, "家里没电了")
    assert "邻居家有电吗" in texts(first)
    tripped = servers.say(who, "总开关跳了")
    assert "总空开跳闸" in texts(tripped) and "登记报修" in texts(tripped)
    solved = servers.say(who, "已经来电了，不用报修")
    assert "来电了就好" in texts(solved)
    assert orders.orders_for(channel="rest", sender_id=rest_id(who)) == []


def test_a_report_can_be_stopped_with_suan_le_and_the_check_skipped(servers: Servers, orders: OrderService) -> None:
    who = sender("stop")
    servers.say(who, "我家停电了")
    skipped = servers.say(who, "跳过，直接报修")
    assert "详细地址" in texts(skipped)
    stopped = servers.say(who, "算了")
    assert "已取消" in texts(stopped)
    assert orders.orders_for(channel="rest", sender_id=rest_id(who)) == []


def test_a_bad_phone_is_refused_and_the_village_gets_the_rural_commitment(servers: Servers, orders: OrderService) -> None:
    who = sender("rural")
    first = servers.say(who, "我们村停电好几天了")    # an area outage: no self-check, the order at once
    assert "邻居家有电吗" not in texts(first) and work_order(first)["order_no"] in texts(first)
    asked = servers.say(who, "城关镇张家村三组")
    assert "电话" in texts(asked)
    # the address is on the order before the phone comes, with the village's commitment
    view = orders.get(work_order(first)["order_no"])
    assert view.details["address"] == "城关镇张家村三组" and view.details["area"] == "农村"
    bad = servers.say(who, "12345")
    assert "号码好像不对" in texts(bad)
    done = servers.say(who, "13900001111")
    order = work_order(done)
    assert order["kind"] == "repair" and order["priority"] == "normal" and order["area"] == "农村"
    assert order["order_no"] == work_order(first)["order_no"] and "工单号" in texts(done)
    view = orders.get(order["order_no"])
    assert view.due_at - view.created_at == timedelta(minutes=90)


def test_a_complaint_opens_a_complaint_order_with_its_time_limit(servers: Servers, orders: OrderService) -> None:
    who = sender("complaint")
    said = servers.say(who, "我要投诉你们供电所的抄表员 态度太差了")
    order = work_order(said)
    assert order["kind"] == "complaint" and order["status"] == "stored"
    assert "1 个工作日" in texts(said) and "7 个工作日" in texts(said)
    view = orders.get(order["order_no"])
    assert view.kind == "complaint" and view.details["contact_due"]
    servers.say(who, "13812345678")
    assert orders.get(order["order_no"]).phone == "13812345678"


def test_praise_is_recorded_and_thanked_without_a_callback(servers: Servers, orders: OrderService) -> None:
    who = sender("praise")
    said = servers.say(who, "表扬一下你们的抢修师傅 半夜冒雨来修")
    assert "谢谢" in texts(said) and "联系您" not in texts(said)
    [view] = orders.orders_for(channel="rest", sender_id=rest_id(who))
    assert (view.kind, view.reason) == ("feedback", "praise")


def test_a_notice_import_with_a_bad_row_stores_nothing_and_a_good_one_answers_the_bot(
        servers: Servers, tmp_path: Path) -> None:
    board = NoticeBoard(OrderStore.from_url(f"sqlite:///{servers.workdir / 'orders.db'}"))
    tomorrow = (beijing_now() + timedelta(days=1)).strftime("%Y-%m-%d")
    village = f"测{uuid.uuid4().hex[:4]}村"
    good = f"{village}、李家村,{tomorrow} 08:00,{tomorrow} 18:00,计划检修,10kV线路检修,城关供电所停电公告第12号\n"
    bad = f"幸福小区,{tomorrow} 09:00,{tomorrow} 07:00,计划检修,更换变压器,城关供电所停电公告第13号\n"
    before = len(board.current_and_upcoming())
    with pytest.raises(NoticeError, match="第 3 行"):
        parse_csv(("区域,开始时间,结束时间,类型,原因,来源\n" + good + bad).encode("utf-8-sig"))
    assert len(board.current_and_upcoming()) == before  # nothing of that file was stored
    board.import_all(parse_csv("区域,开始时间,结束时间,类型,原因,来源\n" + good), by="测试员")
    answer = servers.say(sender("notice"), f"{village}明天停电吗")
    assert "10kV线路检修" in texts(answer) and "18:00" in texts(answer) and "恢复供电" in texts(answer)
    # no notice for that place: said so, and 报修 is offered
    none = servers.say(sender("nonotice"), "王家庄明天停电吗")
    assert "没有查到" in texts(none) and any(b.get("payload") == "/report_fault"
                                           for m in none for b in m.get("buttons", []))
    # without a place the bot asks for one, and answers once it has it
    who = sender("noplace")
    asked = servers.say(who, "我们村明天停电吗")
    assert "哪个村" in texts(asked)
    told = servers.say(who, village)
    assert "10kV线路检修" in texts(told)


def test_a_fault_report_through_wechat_with_numbered_choices(servers: Servers, orders: OrderService) -> None:
    import secrets

    from wechat_fake import WeChatClient

    wechat = WeChatClient(f"{servers.url}/webhooks/wechat/webhook", servers.wechat, safe=True)
    who = "oSVC" + secrets.token_hex(6)
    asked = wechat.say(who, "家里没电了", servers.wechat_api)
    # the self-check's buttons are numbered lines in WeChat; "6" is 跳过，直接报修
    assert "邻居家有电吗" in asked and "6. 跳过，直接报修" in asked
    address = wechat.say(who, "6", servers.wechat_api)
    assert "详细地址" in address
    wechat.say(who, "城关镇张家村三组", servers.wechat_api)
    done = wechat.say(who, "13900002222", servers.wechat_api)
    assert "工单号：GD" in done and "农村抢修人员承诺 90 分钟内" in done
    [view] = orders.orders_for(channel="wechat", sender_id=f"wx:{who}")
    assert (view.kind, view.phone, view.details["self_check"]) == ("repair", "13900002222", "skip")
    assert view.transcript[0].text == "家里没电了"


def test_stopping_after_the_order_was_opened_keeps_it_for_staff_and_says_so(
        servers: Servers, orders: OrderService) -> None:
    who = sender("stopafter")
    first = servers.say(who, "我们小区整栋楼都停电了")
    number = work_order(first)["order_no"]
    assert number in texts(first)
    stopped = servers.say(who, "算了")
    # not "没有登记": the order exists, and a person checks it before it is closed
    assert number in texts(stopped) and "没有登记" not in texts(stopped)
    view = orders.get(number)
    assert view.status == "待处理" and any("不用报修" in (e.note or "") for e in view.events)
