"""What the customer reads in the service conversations (故障报修, 投诉/建议/表扬, 停电公告).

Each function returns the keyword arguments of dispatcher.utter_message (text, buttons,
json_message), like bot/replies.py does for answers, so every channel gets the same wording.
Work-order messages carry the custom payload {"type": "work_order", ...} that the web chat and
WeChat channels already show prominently, with the order's kind.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List

from bot.clock import format_beijing
from bot.orders.vocabulary import KIND_LABELS

Message = Dict[str, Any]
HOTLINE = "95598 供电服务热线（24 小时）"

# --- 故障报修 -------------------------------------------------------------------------------------
HAZARD_INTRO = "这是危险情况，请先保证安全："
# the form's questions (actions/service_forms.py: action_ask_<slot>)
ASK = {
    "fault_check": {
        "text": ("为了更快处理，先帮您排查一下（不想排查，点“跳过，直接报修”）：\n"
                 "邻居家有电吗？您家配电箱里的总开关（空开、漏电保护器）跳下来了吗？"
                 "用的是先交费后用电（智能交费）的话，余额是不是用完了？"),
        "buttons": [{"title": t, "payload": t} for t in (
            "邻居家也没电", "只有我家没电，开关没跳", "总开关跳了", "只有部分房间没电", "可能是余额用完了",
            "跳过，直接报修")],
    },
    "fault_go_on": {
        "text": "按上面的方法试过后还是没电，或者不方便自己处理，我可以直接为您登记报修。",
        "buttons": [{"title": "还是没电，要报修", "payload": "还是要报修"},
                    {"title": "已经来电了，不用报修", "payload": "已经来电了，不用报修"}],
    },
    "fault_address": {
        "text": ("请告诉我故障的详细地址，例如“XX区XX路18号XX小区3栋2单元”或“XX镇XX村3组”，"
                 "有门牌号、楼栋号或附近的标志性建筑更好找。"),
    },
    "fault_phone": {
        "text": "请留一个抢修人员能打通的电话（11 位手机号，或带区号的固定电话），他们出发前会先联系您。",
    },
    "notice_place": {"text": "请问是哪个村、小区、街道或路段？告诉我地名，我帮您查停电公告。"},
}
CHECK_AGAIN = "没太明白，请点一个选项，或者直接说“跳过”。"
GO_ON_AGAIN = "请告诉我：还需要报修吗？（回复“要报修”或“不用了”）"
NOT_REPORTED = "好的，来电了就好。之后再停电或发现危险，随时告诉我，我来为您登记抢修。"
# said before the form asks for the address again (utter_ask_fault_address in domain.yml)
ADDRESS_PROBLEMS = {
    "empty": "没有收到地址。",
    "short": "地址太简单了，抢修人员不好找。",
    "vague": "需要具体的地址才能派人。",
    "long": "地址太长了，请只写地址本身（80 个字以内），情况可以另外说。",
}
PHONE_BAD = ("这个号码好像不对，请输入 11 位手机号（如 13812345678）或带区号的固定电话"
             "（如 0371-87654321）。抢修人员需要能联系到您，也可以留家人的电话。")
AREA_WORDS = {"城区": "城区", "农村": "农村", "特殊边远": "特殊边远地区"}


def hazard(entry: Any) -> List[Message]:
    """The safety steps of the knowledge-base entry (the single source of that text), then what we do."""
    body = re.sub(r"\n\s*\n+", "\n", entry.answer.strip())
    return [{"text": f"{HAZARD_INTRO}\n{body}\n（依据：{entry.source}）",
             "json_message": {"type": "safety", "entry_id": entry.id}}]


def self_help(entry: Any | None) -> List[Message]:
    """The knowledge-base steps for a tripped breaker, a dead circuit or an empty balance (the form
    then offers to report anyway: utter_ask_fault_go_on)."""
    if entry is None:
        return []
    body = re.sub(r"\n\s*\n+", "\n", entry.answer.strip())
    return [{"text": f"{body}\n（依据：{entry.source}）", "json_message": {"type": "self_help", "entry_id": entry.id}}]


def repair_opened(*, status: str, order_no: str | None, urgent: bool) -> List[Message]:
    """The repair order opened on the report itself: its number now; the address and phone the
    form asks next send the crew (action_ask_fault_address follows this message)."""
    payload = {"type": "work_order", "kind": "repair", "kind_label": KIND_LABELS["repair"],
               "status": status, "order_no": order_no, "due": None, "reason": "fault_report",
               "priority": "urgent" if urgent else "normal", "area": None}
    if not order_no:
        return [{"text": ("您的报修已经记录下来，会转给抢修人员；系统刚才暂时无法生成工单号，稍后输入“我的工单”可查询。"
                          f"情况紧急请同时拨打 {HOTLINE}。"), "json_message": payload}]
    head = "已为您登记紧急抢修" if urgent else "已为您登记故障报修"
    if status == "appended":
        head = "已把这次报告补充到您的抢修工单"
    return [{"text": f"{head}，工单号：{order_no}。抢修人员按地址出发，到达时限按地址所在区域计算。",
             "json_message": payload}]


# 算了 before any order was stored (action_cancel_fault_report)
CANCELLED = f"好的，这次报修已取消，没有登记。之后还是没电或发现危险，随时告诉我，或拨打 {HOTLINE}。"
CANCELLED_AFTER_ORDER = ("好的，不再问了。刚才登记的工单 {order_no} 会由工作人员核实：情况已经排除的会直接办结。"
                         f"如果还有危险或一直没来电，随时告诉我，或拨打 {HOTLINE}。")


def repair_order(*, status: str, order_no: str | None, due_at: Any, area: str, urgent: bool,
                 address: str, phone: str, commitment: str, completed: bool = False) -> List[Message]:
    """The one message with the number, what happens next and the arrival commitment
    (``completed``: the order was opened on the report and now has its address and phone)."""
    due = format_beijing(due_at, "%m月%d日 %H:%M") if due_at else None
    payload = {"type": "work_order", "kind": "repair", "kind_label": KIND_LABELS["repair"],
               "status": status, "order_no": order_no, "due": format_beijing(due_at) if due_at else None,
               "reason": "fault_report", "priority": "urgent" if urgent else "normal", "area": area}
    if status == "spooled" or not order_no:
        return [{"text": ("您的报修已经记录下来，会立即转给抢修人员；系统刚才暂时无法生成工单号，稍后输入“我的工单”可查询。"
                          f"情况紧急请同时拨打 {HOTLINE}。"), "json_message": payload}]
    if status == "appended" and not completed:
        text = (f"已把新情况补充到您的抢修工单 {order_no}，抢修人员会一并处理，"
                f"预计 {due} 前到达现场（北京时间）。")
        if urgent:
            text += "已按紧急抢修处理，到达前请远离危险点。"
        return [{"text": text, "json_message": payload}]
    lines = [("地址和电话已补充到您的抢修工单。" if completed else "已为您登记紧急抢修。" if urgent else "已为您登记故障报修。"),
             f"工单号：{order_no}",
             f"地址：{address}",
             f"接下来：抢修人员会先打电话 {phone} 与您联系，然后赶到现场。",
             f"时限：{AREA_WORDS.get(area, area)}抢修人员承诺 {commitment}内到达现场，"
             f"预计 {due} 前到达（北京时间）。"]
    if urgent:
        lines.append("到达前请远离危险点，提醒行人和孩子不要靠近。")
    lines.append("输入“我的工单”可以查看进度；有新情况直接告诉我。")
    return [{"text": "\n".join(lines), "json_message": payload}]


# --- 投诉 / 建议 / 表扬 ------------------------------------------------------------------------------
COMPLAINT_DETAILS = ("您可以继续补充：事情经过、时间、地点、涉及的人员或供电所，我都会记在这张工单上。"
                     "也请留一个联系电话（直接回复号码即可）。")


def complaint_order(*, status: str, order_no: str | None, due_at: Any, contact_due_at: Any,
                    answer_limit: str, contact_limit: str) -> List[Message]:
    payload = {"type": "work_order", "kind": "complaint", "kind_label": KIND_LABELS["complaint"],
               "status": status, "order_no": order_no, "due": format_beijing(due_at) if due_at else None,
               "reason": "complaint"}
    if status == "spooled" or not order_no:
        return [{"text": ("您的投诉已经记录下来，会转给专人处理；系统刚才暂时无法生成工单号，稍后输入“我的工单”可查询。"
                          f"也可以拨打 {HOTLINE}。"), "json_message": payload}]
    if status == "appended":
        return [{"text": f"已把您说的情况补充到投诉工单 {order_no}，会一并处理。", "json_message": payload}]
    lines = ["您的投诉已受理，我们会认真核实处理。", f"工单号：{order_no}"]
    if contact_due_at:
        lines.append(f"时限：{contact_limit}内（{format_beijing(contact_due_at)} 前）专人与您联系，"
                     f"{answer_limit}内（{format_beijing(due_at)} 前）答复处理意见（北京时间）。")
    else:
        lines.append(f"时限：{answer_limit}内（{format_beijing(due_at)} 前）答复处理意见（北京时间）。")
    lines.append(COMPLAINT_DETAILS)
    return [{"text": "\n".join(lines), "json_message": payload}]


def feedback_recorded(*, reason: str, status: str, order_no: str | None) -> List[Message]:
    payload = {"type": "work_order", "kind": "feedback", "kind_label": KIND_LABELS["feedback"],
               "status": status, "order_no": order_no, "due": None, "reason": reason}
    if reason == "praise":
        text = "谢谢您的表扬和认可！我们会把您的话转告给相关的工作人员。"
    else:
        text = "谢谢您的建议！已经记录下来，会转给相关部门参考改进。"
    if order_no:
        text += f"（记录编号：{order_no}）"
    return [{"text": text, "json_message": payload}]


# --- 停电公告 -----------------------------------------------------------------------------------
PLACE_AGAIN = "没有认出地名。请告诉我村、小区、街道或路段的名字，例如“幸福小区”“张家村”。"
REPORT_BUTTON = {"title": "现在停电了，我要报修", "payload": "/report_fault"}
APP_HINT = "停电信息也可以在“网上国网”App 查看。"


def _when(at: Any) -> str:
    return format_beijing(at, "%m月%d日 %H:%M")


def notices_found(place: str, notices: List[Any], window_text: str) -> List[Message]:
    parts = [f"查到「{place}」{window_text}的停电公告：" if window_text else f"查到「{place}」的停电公告："]
    for n in notices[:3]:
        lines = [f"· {n.kind}：{_when(n.starts_at)} 至 {_when(n.ends_at)}（北京时间）",
                 f"  范围：{'、'.join(n.places)}"]
        if n.reason:
            lines.append(f"  原因：{n.reason}")
        lines.append(f"  预计 {_when(n.ends_at)} 前恢复供电，提前完成会提前送电。")
        parts.append("\n".join(lines))
    parts.append(f"停电期间请关闭大功率电器；到时间还没来电，告诉我“报修”。")
    payload = {"type": "outage_notice", "place": place,
               "notices": [{"id": n.id, "starts_at": format_beijing(n.starts_at),
                            "ends_at": format_beijing(n.ends_at), "kind": n.kind} for n in notices[:3]]}
    return [{"text": "\n".join(parts), "json_message": payload}]


def no_notice(place: str, window_text: str) -> List[Message]:
    text = (f"目前没有查到「{place}」{window_text + '的' if window_text else ''}停电公告。\n"
            f"如果现在已经停电了，可能是突发故障：点“我要报修”，我来为您登记抢修。{APP_HINT}")
    return [{"text": text, "buttons": [dict(REPORT_BUTTON)],
             "json_message": {"type": "outage_notice", "place": place, "notices": []}}]
