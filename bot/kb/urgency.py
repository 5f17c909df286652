"""Messages that are not FAQ look-ups: emergencies and reports of something happening at a place.

An emergency (someone shocked, an electrical fire, smoke or sparks from wiring or a meter box, a
wire on the ground, a person near a high-voltage line) is answered at once with the safety steps
and the numbers to call, whatever its punctuation or length, and never as a list of buttons.

An incident report ("我们这片停电两天了没人来修", "小区门口电线杆歪了", "变压器噪音吵得睡不着",
a complaint about staff) tells us about a place or asks us to act: it gets a work order through the
故障报修 / 投诉 conversations, never "您是想问：". A question ABOUT such things ("停电一般多久恢复",
"经常停电怎么投诉", "电线掉地上怎么办") stays a knowledge-base question.

Both are decided by rules on the cleaned question (fast, explainable, testable); trainers extend
the word lists below. Every list is written from what people report, not from any benchmark row.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from bot.kb.text import to_simplified


def _prep(text: str) -> str:
    """The message as typed, in one form: NFKC (full-width → half-width), simplified, no spaces.
    Punctuation stays: "了!" and "了。" are how a report reads, and clean() removes them."""
    t = unicodedata.normalize("NFKC", (text or "")[:2000]).lower()
    return re.sub(r"\s+", "", to_simplified(t))

# --- emergencies ------------------------------------------------------------------------------
# each kind: (pattern, the safety entries that answer it, best first)
_WIRING = (r"(?:插座|插头|插排|插线板|排插|开关|电线|电缆|线路|电闸|闸刀|空开|电表|电能表|表箱|电表箱|配电箱|配电柜|变压器|电箱"
           r"|电器|家电|电视|冰箱|空调|热水器|电热水器|微波炉|电饭煲|充电器|电动车|电瓶车|电池|电瓶|灯|电暖器|取暖器|电热毯|线)")
_PERSON = r"(?:人|孩子|小孩|老人|我|他|她|同事|工人|家人|邻居|老婆|老公|儿子|女儿|爸|妈)"
EMERGENCY_KINDS: dict[str, tuple[re.Pattern[str], tuple[str, ...]]] = {
    "shock": (re.compile(
        rf"触电|电击|被电[到住打伤击倒了]|电[到伤死倒]了?{_PERSON}|{_PERSON}.{{0,2}}(?:被电|电[到伤倒]了)"
        r"|电晕|被电晕|电打了?一?下|电麻了|麻了一下|麻手|手麻了"), (
        "safety.shock_first_aid", "safety.shock_no_bare_hands", "safety.high_voltage_shock_rescue",
        "safety.shock_cpr", "safety.shock_feel_fine_see_doctor")),
    "fire": (re.compile(
        rf"(?<![打点不])(?:着火|起火|失火|火灾|烧起来|燃起来|冒火(?![花星])|起明火|窜火|冒出火苗|火苗)"
        rf"|{_WIRING}.{{0,6}}(?:烧着了|烧起来)"), (
        "safety.electrical_fire", "safety.no_water_on_electrical_fire", "safety.appliance_smoke_smell")),
    "smoke": (re.compile(r"冒烟|冒黑烟|冒白烟|烟雾|焦糊味|烧焦味|糊味|焦味|塑料味|烧焦|发烫冒烟"), (
        "safety.appliance_smoke_smell", "safety.electrical_fire")),
    "sparks": (re.compile(
        rf"(?:{_WIRING}).{{0,8}}(?:火花|打火|冒火|跳火|噼啪|啪啪响|滋滋|吱吱|放电)|(?:火花|打火|跳火).{{0,6}}{_WIRING}"), (
        "safety.socket_sparks", "safety.ageing_wiring", "safety.power_strip_overload", "safety.electrical_fire")),
    "fallen_wire": (re.compile(
        r"(?<![充数耳])(?:电线|电缆|高压线|导线|电线杆|电杆|线杆|电力杆)[^，。？?！!,]{0,6}"
        r"(?:断了|断裂|掉|落地|掉地|拖地|垂到地|垂下|耷拉|倒了|倒在|倒地|歪了|倾斜|砸|压在|挂在地)"
        r"|(?:掉|落|垂)[^，。？?！!,]{0,4}(?:电线|高压线|导线)"), (
        "safety.fallen_wire", "safety.step_voltage", "safety.tree_touching_lines")),
    "near_hv": (re.compile(
        r"(?:高压线|高压电线|电力线|输电线|变压器|电塔|铁塔)[^，。？?！!]{0,8}"
        r"(?:钓鱼|垂钓|放风筝|爬|攀|施工|吊车|挖机|玩耍|玩|靠近|底下有人|下面有人)"
        r"|(?:钓鱼|垂钓|放风筝|爬|攀)[^，。？?！!]{0,8}(?:高压线|高压电线|电力线|电塔|铁塔|变压器)"), (
        "safety.fishing_under_lines", "safety.kite_near_lines", "safety.construction_near_lines",
        "safety.climbing_poles")),
    "leak": (re.compile(rf"{_WIRING}.{{0,6}}漏电(?!开关|保护|断路)|漏电(?!开关|保护|断路).{{0,6}}{_WIRING}|外壳.{{0,4}}有电|摸着?.{{0,3}}(?:麻|电人)"), (
        "safety.bathroom_water_heater", "safety.grounding", "outage.rcd_tripped")),
}
# not an emergency: asking about rules, prices, theory or the past ("触电赔偿", "漏电保护器怎么选",
# "电线老化有哪些迹象", "充电桩着火险") — these are ranked as usual
_NOT_EMERGENCY = re.compile(
    r"赔偿|赔多少|保险|责任|起诉|法院|判|罚|多少钱|价格|电费|电价|费用|原理|是什么意思|什么原理|考试|题"
    r"|漏电保护器|漏保|剩余电流|防止|预防|避免|如何防|怎么防|注意什么|注意哪些|注意事项|有哪些迹象|为什么|为啥|原因|原理"
    r"|安全距离|多远|几米|多少米|保护区")
# … unless it is plainly happening now
_HAPPENING = re.compile(r"了[!！。]?$|了[，,]|正在|现在|刚才|刚刚|突然|快来|救命|怎么办|咋办|怎么处理|着了|断了|倒了|掉地|在转|还在")


# the gravest first: a wire on the ground that sparks is a fallen wire
_PRIORITY = ("shock", "fallen_wire", "near_hv", "fire", "smoke", "sparks", "leak")
ALL_SAFETY_ENTRIES = tuple(dict.fromkeys(i for _p, ids in EMERGENCY_KINDS.values() for i in ids))


@dataclass(frozen=True)
class Emergency:
    kind: str
    entries: tuple[str, ...]


def emergency(text: str) -> Emergency | None:
    """The emergency a message (as typed) describes, or None."""
    t = _prep(text)
    for kind in _PRIORITY:
        pattern, entries = EMERGENCY_KINDS[kind]
        if not pattern.search(t):
            continue
        if _NOT_EMERGENCY.search(t) and not _HAPPENING.search(t):
            continue
        return Emergency(kind, entries)
    return None


# --- incident reports and complaints ----------------------------------------------------------
# Something is happening (or has gone on) at a place and the customer wants it dealt with.
_PLACE = (r"(?:我们|我家|俺家|俺们|咱们|咱家|这片|这一片|这边|我们这|本村|我村|全村|村里|村子|小区|楼道|单元|门口|楼下|路边|路口|人行道|马路"
          r"|街道|镇|乡|村民|社区|片区|业主|住户|居民楼|家门口|家里)")
_DURATION = (r"(?:(?:[一二两三四五六七八九十几半多数\d]+|好几|十几|二十多|三十多)(?:个)?(?:小时|钟头|天|日|晚上?|个月|月|周|星期|礼拜|年)(?:了|之久|以上|多)?"
             r"|一整晚|一整天|整整|至今|到现在|直到现在|一直到现在|从.{1,10}(?:开始|至今|到现在))")
_NOBODY = r"(?:没有?人(?:来|管|修|处理|解决|理|过来)|没人管|无人管|不给修|不来修|不处理|拒不|推诿|踢皮球|打了.{0,6}(?:电话|95598).{0,6}(?:没|不))"
_REPEAT = r"(?:天天|每天|年年|经常|总是|老是|动不动|三天两头|隔三差五|一停就是|又停电|又停了|一逢|一到|一下雨就|多次|几次|好几次|反复)"
_POWER_OFF = r"(?:停电|没电|断电|没有电|不来电|还没来电|停了|跳闸|电压.{0,4}(?:低|高|不稳)|灯.{0,2}暗|转不动|带不动)"
_HAZARD = (r"(?:电线杆|电杆|线杆|杆子|电线|电缆|变压器|配电房|配电箱|电表箱|表箱|高压线)[^，。？?！!]{0,10}"
           r"(?:倾斜|歪|断|倒|裸露|掉|垂|低|噪音|噪声|嗡嗡|响|辐射|漏油|冒烟|火花|隐患|危险|砸)")
_NOISE = r"(?:噪音|噪声|嗡嗡|扰民|吵得|睡不着|无法入睡|难以入睡|辐射)"
_DAMAGE = r"(?:烧了|烧坏|烧毁|损坏|坏了|都烧)"
_COMPLAINT = (r"(?:投诉|举报|离谱|坑人|太坑|乱收|不合理|态度(?:差|恶劣|不好)|不作为|乱收费|刁难|索要|吃拿卡要|拖着不办|不给办|不给装|不予|拒绝(?:安装|办理|供电|接电)"
              r"|不执行|恳请|请求|盼望|希望.{0,6}(?:尽快|早日|及时|解决|处理)|请.{0,6}(?:过问|管管|处理|解决|帮忙解决)|快来|管管|太难|受不了|苦不堪言|折磨|痛苦)")
_QUESTION = re.compile(
    r"怎么|怎样|如何|咋|吗[？?!！。]?$|吗[？?]|么[？?]?$|什么|为什么|为啥|多久|多长时间|多少|哪里|哪儿|找谁|向谁|向哪|是否|能否|可以|能不能|有没有|该不该|要不要"
    r"|规定|标准|一般|流程|手续|怎么办")
# … and a plain request for information, however long the story before it: "… 供电公司赔不赔",
# "… 要怎么报、准备啥", "… 还能打哪个电话" are questions for the knowledge base
_ASKS = re.compile(
    r"想知道|想问|请问|问一下|问下|要怎么|该怎么|怎么(?:报|赔|算|办理|申请|索赔|找|处理才|按)|能不能|可不可以|行不行|赔不赔|给不给|管不管|能.{0,6}吗"
    r"|找谁|找哪|哪个部门|还能打|还能找|打哪个|有没有.{0,8}(?:标准|规定|缓冲|办法)|按啥|按什么|什么标准|多长时间|多久|几点|要准备|准备啥|准备什么"
    r"|是不是|就行[?？]?$|算不算|合不合理|正常吗|违法吗|怎么回事|咋回事|啥情况|是什么情况|什么原因|为什么会")
# first-person statements that the question is not a question but a report
_REPORT_VOICE = re.compile(r"[!！]|了[。，,!！]|已经|已达|至今|到现在|一直|竟|居然|反映|我们.{0,6}(?:多次|找|打电话|反映)|三天过去|没人"
                           r"|本人|发生.{0,8}(?:停电|事件|故障)|导致|致使|造成.{0,6}(?:损失|影响|不便)")
# a doubt inside a report ("不知道是不是发电机出了故障") asks nothing of us
_HEDGE = re.compile(r"(?:也|都|并|还)?不(?:知道?|清楚|晓得)(?:是不是|是否|为什么|为啥|怎么回事)")


@dataclass(frozen=True)
class Incident:
    kind: str   # "fault" (power off, hazard, damage at a place) or "complaint" (service, staff, noise)
    why: str


INCIDENT_SCORE = 5        # an incident report on its own
EMERGENCY_REPORT_SCORE = 3  # an emergency that is also a report (it gets the safety steps AND an order)
_OUTDOOR = ("fallen_wire", "near_hv")


def incident(text: str, threshold: int = INCIDENT_SCORE) -> Incident | None:
    """An incident report or complaint about a place in a message (as typed), or None for a question."""
    t = _prep(text)
    question = bool(_QUESTION.search(t))
    voice = bool(_REPORT_VOICE.search(t))
    placed = bool(re.search(_PLACE, t))
    long_ = len(t) >= 30
    score = 0
    why = []
    for name, pat, w in (("duration", _DURATION, 2), ("nobody", _NOBODY, 3), ("repeat", _REPEAT, 1),
                         ("hazard", _HAZARD, 2), ("noise", _NOISE, 2), ("damage", _DAMAGE, 1),
                         ("complaint", _COMPLAINT, 2)):
        if re.search(pat, t):
            score += w
            why.append(name)
    power_off = bool(re.search(_POWER_OFF, t))
    if power_off:
        score += 1
        why.append("power off")
    if placed:
        score += 1
        why.append("place")
    if voice:
        score += 2
        why.append("report voice")
    if long_:
        score += 1
        why.append("long")
    if question and not voice:
        score -= 3
    if _ASKS.search(_HEDGE.sub("", t)):
        score -= 6
    # a short question is a question even with report words ("经常停电要怎么投诉")
    if question and not long_:
        score -= 2
    if score < threshold or not (power_off or "hazard" in why or "noise" in why or "complaint" in why or "damage" in why):
        return None
    complaint = ("complaint" in why or "noise" in why) and not ("hazard" in why or power_off)
    return Incident("complaint" if complaint else "fault", ", ".join(why))


def emergency_report(text: str, found: Emergency) -> Incident | None:
    """The emergency is happening at a place and someone must go there (a pole about to fall, a
    person fishing under a line): the safety steps come with an urgent order."""
    hit = incident(text, EMERGENCY_REPORT_SCORE)
    if hit is not None:
        return hit
    t = _prep(text)
    if found.kind in _OUTDOOR and not _QUESTION.search(t):
        return Incident("fault", f"{found.kind}, reported")
    return None
