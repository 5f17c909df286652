"""What the customer sees for each engine outcome — the one place replies are worded.

Each reply is a list of message dicts with the keyword arguments of Rasa SDK's
dispatcher.utter_message (text, buttons, json_message), so the actions stay thin and
every channel (REST, web chat, WeChat) gets the same wording.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List

FEEDBACK_PROMPT = "这个回答对您有帮助吗？"
FEEDBACK_BUTTONS = [
    {"title": "有帮助", "payload": "/feedback_positive"},
    {"title": "没帮助", "payload": "/feedback_negative"},
]
CLARIFY_PROMPT = "您是想问："
MENU_PROMPT = "这方面常见的问题有（点选即可，也可以直接输入您的问题）："
NONE_OF_THESE = {"title": "都不是，转人工", "payload": "/request_human"}
FAIL_INTRO = "抱歉，这个问题我暂时答不上来。"
BLANK_TEXT = "您好像没有输入文字。请用文字描述您想咨询的用电问题，例如：“阶梯电价怎么算”“家里跳闸了怎么办”。"
ERROR_TEXT = (
    "抱歉，系统刚才出了点问题，没能查到答案。请稍后再试，或拨打 95598 供电服务热线（24 小时）。"
)

Message = Dict[str, Any]


def meta(answer: Any) -> Dict[str, Any]:
    """Machine-readable facts about the reply, sent as the custom payload (for evaluation and web chat)."""
    return {"type": "kb_answer", **answer.to_json()}


def answer_text(entry: Any) -> str:
    """The entry's answer with its source, so the customer can see what it rests on."""
    # Rasa's REST channel splits a text at blank lines into separate messages; keep one answer one message.
    body = re.sub(r"\n\s*\n+", "\n", entry.answer.strip())
    return f"{body}\n（依据：{entry.source}）"


RELATED_PROMPT = "相关问题（点选即可查看）："


def related_buttons(answer: Any) -> List[Dict[str, str]]:
    return [{"title": e.question, "payload": e.question} for e in getattr(answer, "related", [])]


def render(answer: Any) -> List[Message]:
    """Messages for an engine result: answer (+ 相关问题) + feedback buttons, clarify buttons, or an apology."""
    info = meta(answer)
    if answer.outcome == "answer" and answer.entry is not None:
        messages = [{"text": answer_text(answer.entry), "json_message": info}]
        related = related_buttons(answer)
        if related:
            messages.append({"text": RELATED_PROMPT, "buttons": related})
        messages.append({"text": FEEDBACK_PROMPT, "buttons": list(FEEDBACK_BUTTONS)})
        return messages
    if answer.outcome == "clarify" and answer.candidates:
        buttons = [{"title": c.entry.question, "payload": c.entry.question} for c in answer.candidates[:4]]
        prompt = MENU_PROMPT if answer.detail == "topic_menu" else CLARIFY_PROMPT  # bot.kb.model.TOPIC_MENU
        return [{"text": prompt, "buttons": buttons + [dict(NONE_OF_THESE)], "json_message": info}]
    # fail: the apology; the action then opens the work order and says what happens next
    return [{"text": FAIL_INTRO, "json_message": info}]


# The customer asked for their own data (bot.kb.personal): say plainly that we cannot see it and
# how to look it up; a person is one button away. No work order unless they ask for one.
PERSONAL_OPENERS = {
    "account": "您家的户号、电表号属于您的账户信息，我这里查不到。",
    "balance": "您家的电费余额、欠费金额属于您的账户信息，我这里查不到。",
    "bill": "您家的电费金额、用电量属于您的账户信息，我这里查不到。",
    "order": "报修和业务办理的进度我这里查不到；在这里登记的工单，输入“我的工单”即可查看。",
    "outage_schedule": "具体到您所在小区、街道的停电安排，我这里查不到。",
    "status": "您账户上的交费、扣费和业务开通情况，我这里查不到。",
    "records": "您问的是您本人的账户记录、办理进度或当地的实时情况，我这里查不到。",
}
PERSONAL_HOW = "您可以在“网上国网”App 里自己查，或拨打 95598 供电服务热线（24 小时）查询。"
PERSONAL_BUTTONS_PROMPT = "具体怎么查，点下面的问题看说明；需要人工帮您查，点“转人工”。"
TO_HUMAN = {"title": "转人工", "payload": "/request_human"}
# what a counter clerk does with a question about the customer's own account (bot/kb/personal.py)
PERSONAL_STAFF_NOTE = ("客户问的是本人账户的数据（户号、余额、账单、工单或所在地的停电安排），知识库里没有：核实身份后用业务系统按户号查询，"
                       "或按下面的条目告诉客户怎么在“网上国网”App、95598 自己查。")


def personal_data(answer: Any) -> List[Message]:
    """The question needs the customer's own account data, which the knowledge base cannot see."""
    kind = answer.detail or "account"
    opener = PERSONAL_OPENERS.get(kind, PERSONAL_OPENERS["account"])
    buttons = [{"title": c.entry.question, "payload": c.entry.question} for c in answer.candidates[:3]]
    text = f"{opener}\n{PERSONAL_HOW}\n{PERSONAL_BUTTONS_PROMPT}"
    return [{"text": text, "buttons": buttons + [dict(TO_HUMAN)], "json_message": meta(answer)}]


# A line before the out-of-scope reply where the kind (bot/kb/scope.py) has something useful to add.
SCOPE_NOTES = {
    "appliance repair": "电器本身的故障（不制冷、漏水、异响等）请联系厂家售后或维修点。如果是一用这个电器就跳闸、漏电、冒烟，请把情况告诉我。",
    "product advice": "我不推荐具体的品牌和产品。",
    "licence exams": "电工证（特种作业操作证）的培训和考试不由供电公司办理，请咨询当地应急管理部门。",
    "property transfer": "房屋、车辆的过户请咨询当地不动产登记机构或车管所。如果您要把电费户名改到新主人名下，请告诉我“电表过户”。",
    "tax invoices": "自己开具发票是税务上的事，请咨询当地税务部门或拨打 12366 纳税服务热线。如果要的是电费发票，请告诉我“电费发票”。",
    "device specs": "电子设备的电压、电流和功率请看设备铭牌、说明书，或咨询厂家。家里插座的电压不正常，可以告诉我。",
    "building permits": "自建房的审批手续请咨询当地自然资源（规划）部门或乡镇人民政府。新房要通电装表，请告诉我“自建房装电表”。",
}


OUT_OF_SCOPE_STAFF_NOTE = "这个问题不属于供电服务（燃气、自来水、通信、家电维修、产品选购等），请引导客户联系相应单位，不需要转工单。"


def scope_note(detail: str | None) -> List[Message]:
    """The kind-specific line for an out-of-domain decision (``Answer.detail``; none for most kinds)."""
    note = SCOPE_NOTES.get(detail or "")
    return [{"text": note}] if note else []


# Not about electricity service at all: what we do, and where to go for the rest (domain.yml's
# utter_out_of_scope, the same reply as the out_of_scope intent's). No work order.
OUT_OF_SCOPE_RESPONSE = "utter_out_of_scope"


def out_of_domain(answer: Any) -> List[Message]:
    """A polite decline: the kind's note where it has one, then what the assistant helps with."""
    return [*scope_note(answer.detail), {"response": OUT_OF_SCOPE_RESPONSE, "json_message": meta(answer)}]


# --- emergencies and incident reports -----------------------------------------------------------
EMERGENCY_HEAD = {
    "shock": "【紧急】有人触电：先断开电源，不要直接用手拉触电的人；有人受伤或昏迷，立即拨打 120。",
    "fire": "【紧急】电器或线路起火：先断开电源，不要用水扑救；火势大或控制不住，立即拨打 119。",
    "smoke": "【紧急】电器、线路或表箱冒烟、有焦糊味：立即断开电源，远离冒烟处；出现明火拨打 119。",
    "sparks": "【注意安全】插座、开关或电线打火花：先断开电源，不要再用这个插座或电器；冒烟起火拨打 119。",
    "fallen_wire": "【紧急】电线断落或电杆倾倒：不要靠近，更不要触碰，远离断线落地点，并提醒行人绕行。",
    "near_hv": "【紧急】有人在高压线附近作业、钓鱼或放风筝：请立即提醒其远离，不要靠近导线。",
    "leak": "【注意安全】电器漏电、摸着麻手：先断开电源（拉下总开关），断电前不要用手去碰这个电器。",
}
EMERGENCY_CALLS = "紧急电话：受伤 120，起火 119，危及公共安全 110，供电故障和抢修 95598（24 小时）。"
INCIDENT_TEXT = {
    "fault": "收到，您反映的是现场的停电、故障或安全隐患，这需要工作人员到现场处理，我马上为您登记。",
    "complaint": "收到，您反映的问题我们会认真处理，我马上为您登记，由工作人员跟进并回复您。",
}


def emergency(answer: Any) -> List[Message]:
    """Safety steps at once (never a list to choose from), the numbers to call, then the entry."""
    head = EMERGENCY_HEAD.get(answer.detail or "", "【紧急】请先确保人身安全。")
    messages: List[Message] = [{"text": f"{head}\n{EMERGENCY_CALLS}\n{answer_text(answer.entry)}", "json_message": meta(answer)}]
    related = related_buttons(answer)
    if related:
        messages.append({"text": RELATED_PROMPT, "buttons": related})
    return messages


def incident_received(answer: Any) -> List[Message]:
    """An incident report or complaint: say we take it (the order follows in the next message)."""
    return [{"text": INCIDENT_TEXT.get(answer.detail or "", INCIDENT_TEXT["fault"]), "json_message": meta(answer)}]


# For a message with no Chinese in it: the knowledge base (and this assistant) answer in Chinese.
LATIN_NOTE_TEXT = ("Sorry, I can only answer questions written in Chinese. Please ask in Chinese, "
                   "or type 转人工 to leave your question for a person. 您好，目前我只能回答中文提问。")


def latin_note() -> List[Message]:
    """Said before the usual fail path when the customer wrote in another script."""
    return [{"text": LATIN_NOTE_TEXT}]


NOT_UNDERSTOOD_TEXT = (
    "抱歉，我没太明白您的意思。请换个说法，说说您遇到的用电问题，例如：“电费怎么突然变高了”“家里停电了”；"
    "也可以输入“转人工”。"
)
NOTHING_TO_DISOWN_TEXT = "好的。请问您想咨询什么用电问题？直接输入问题即可，也可以输入“转人工”。"
QUERY_ERROR_TEXT = "抱歉，系统暂时查不到工单信息，请稍后再试，或拨打 95598 供电服务热线（24 小时）。"


def not_understood(info: Dict[str, Any]) -> List[Message]:
    """First time NLU and the engine both fail: ask again (a second time opens a work order)."""
    return [{"text": NOT_UNDERSTOOD_TEXT, "json_message": info}]


def blank() -> List[Message]:
    return [{"text": BLANK_TEXT}]


# --- work orders (工单) ---------------------------------------------------------------------
# Every work-order reply carries a custom payload {"type": "work_order", ...} so the web chat and
# the WeChat channel can show the number prominently and tests can read it without parsing text.
PHONE_PROMPT = (
    "如方便，请留下您的手机号或固定电话，工作人员会回电联系您（直接回复号码即可；不想留也没关系）。"
)
SPOOLED_TEXT = (
    "您的问题已经记录下来，会转给人工客服处理。系统刚才暂时无法生成工单号，稍后可输入“我的工单”查询；"
    "紧急情况请拨打 95598 供电服务热线（24 小时）。"
)
NO_ORDERS_TEXT = "目前没有查到您的工单。如需人工处理，请输入“转人工”，或拨打 95598 供电服务热线（24 小时）。"
ORDER_NOT_FOUND_TEXT = "没有查到您名下的工单 {order_no}。请核对工单号，或输入“我的工单”查看您的全部工单。"
PHONE_SAVED_TEXT = "已记录您的联系电话 {phone}，工作人员会按这个号码联系您。"
PHONE_NO_ORDER_TEXT = "收到您的电话号码。您目前没有进行中的工单；如需人工回电，请输入“转人工”。"
PHONE_BAD_TEXT = (
    "这个号码格式好像不对。请输入 11 位手机号（如 13812345678）或带区号的固定电话（如 0571-87654321）；"
    "不想留电话也没关系。"
)
REASON_OPENERS = {
    "engine_fail": "抱歉，这个问题我暂时答不上来，已为您转人工处理。",
    "not_helpful": "抱歉没能帮到您，已为您转人工处理。",
    "request_human": "好的，已为您转人工处理。",
    "nlu_fallback": "抱歉，我没能理解您的意思，已为您转人工处理。",
    "error": "抱歉，系统刚才出了点问题，已为您转人工处理。",
    "fault_report": "已为您登记报修。",
    "complaint": "已为您登记投诉。",
}


def order_opened(reason: str, status: str, order_no: str | None, due_text: str | None,
                 ask_phone: bool) -> List[Message]:
    """Tell the customer what happened to their request: a number only when it is stored."""
    opener = REASON_OPENERS.get(reason, REASON_OPENERS["request_human"])
    payload = {"type": "work_order", "status": status, "order_no": order_no, "due": due_text,
               "reason": reason}
    if status == "spooled" or not order_no:
        return [{"text": SPOOLED_TEXT, "json_message": payload}]
    if status == "appended":
        text = (f"您的问题已补充到工单 {order_no}，工作人员会一并处理，预计 {due_text} 前答复（北京时间）。")
    else:
        text = (f"{opener}\n工单号：{order_no}\n工作人员会在 {due_text} 前答复您（北京时间）。"
                "紧急情况请拨打 95598 供电服务热线（24 小时）。")
    messages: List[Message] = [{"text": text, "json_message": payload}]
    if ask_phone:
        messages.append({"text": PHONE_PROMPT})
    return messages


ORDERS_SHOWN = 5  # "我的工单" lists this many, newest first


def orders_list_head(total: int) -> str:
    """The line above the customer's orders ("我的工单")."""
    return f"您共有 {total} 张工单" + (f"，以下是最近 {ORDERS_SHOWN} 张：" if total > ORDERS_SHOWN else "：")


def order_status(order_no: str, status: str, *, received_at: str | None, due_at: str | None,
                 latest_note: str) -> str:
    """One order as the customer is told it: the received time once it is done, else the due time
    (both already Beijing-time text); the latest note a person wrote, if any."""
    lines = [f"工单号：{order_no}", f"当前状态：{status}"]
    if received_at:
        lines.append(f"受理时间：{received_at}")
    else:
        lines.append(f"预计答复时间：{due_at} 前（北京时间）")
    if latest_note:
        lines.append(f"最新进展：{latest_note}")
    return "\n".join(lines)

# --- 在线人工 (bot/livechat/) ------------------------------------------------------------------
LEAVE_MESSAGE_BUTTON = {"title": "留言/转工单", "payload": "/leave_message"}
RATING_BUTTONS = [{"title": r, "payload": '/rate_service{"rating":"%s"}' % r} for r in ("满意", "基本满意", "不满意")]
LIVE_RATING_PROMPT = "本次人工服务已结束，感谢您的耐心。请为本次服务评价（点选或回复序号）："
LIVE_RATED_TEXT = "感谢您的评价！如还有其他用电问题，可以直接问我。"
LIVE_NOT_RATED_TEXT = "收到，谢谢您的反馈。如还有其他用电问题，可以直接问我。"
LIVE_HELD_TEXT = "人工客服{agent}正在为您服务，请直接输入您的问题。"
LIVE_JOINED_TEXT = "人工客服{agent}已接入，正在为您服务。"
LIVE_TRANSFERRED_TEXT = "已为您转接到人工客服{agent}，请稍候。"
LIVE_DROPPED_TEXT = ("抱歉，人工客服的连接中断了，已为您重新排队，您前面还有 {ahead} 位。"
                     "等待期间我可以继续回答您的问题。")
LIVE_TIMEOUT_TEXT = "抱歉，人工客服暂时都不能接入。"
LIVE_LEFT_TEXT = "好的，已为您取消排队。"


def _hours_text(hours: str) -> str:
    return f"在线人工服务时间：每天 {hours}（北京时间）" if hours else "暂不提供在线人工服务"


def live_queued(ahead: int, max_wait_minutes: int, median_wait_minutes: float | None,
                chat_id: int) -> List[Message]:
    """The customer joined the queue: their place, an honest estimate, and the way out."""
    if ahead == 0:
        place = "您是下一位，客服空闲后马上为您接入"
    else:
        place = f"您前面还有 {ahead} 位客户"
    if median_wait_minutes is not None:
        place += f"；最近接入的客户一般等待约 {max(1, round(median_wait_minutes))} 分钟"
    text = (f"正在为您转接人工客服，{place}。\n"
            f"等待期间您可以继续向我提问；不想等待可以点“留言/转工单”。"
            f"如 {max_wait_minutes} 分钟内没有客服接入，我会自动为您登记工单，工作人员按工单回复您。")
    return [{"text": text, "buttons": [LEAVE_MESSAGE_BUTTON]},
            {"json_message": {"type": "live_chat", "state": "waiting", "ahead": ahead, "chat": chat_id}}]


def live_no_agent(hours: str, within_hours: bool) -> List[Message]:
    """Nobody can take the chat now: said before the work order's own message."""
    why = "现在没有人工客服在线" if within_hours else "现在不在在线人工服务时间内"
    return [{"text": f"{why}（{_hours_text(hours)}），下面为您登记工单。"}]


def live_rating() -> List[Message]:
    return [{"text": LIVE_RATING_PROMPT, "buttons": RATING_BUTTONS},
            {"json_message": {"type": "live_chat", "state": "ended"}}]
