"""Questions that are not ours to answer, recognised before any ranking.

Each kind gets the out-of-scope reply (what the assistant can help with) and no work order:
there is nothing for a power-company agent to do about a gas bill, a washing machine that
leaks or which brand of charging point to buy.
"""
from __future__ import annotations

import re
from typing import Iterator

# Other public services people confuse with the power company, and the rest of daily life. A
# question about one of them that names nothing electrical is out of our domain.
_OTHER_SERVICE = re.compile(
    r"燃气|天然气|煤气|液化气|瓦斯|停气|气费|水费|自来水|停水|来水|水表|暖气|供暖|采暖|热力|话费|流量|停机|宽带|网费|断网|wifi"
    r"|有线电视|物业费|停车费|社保|医保|低保|公积金|个税|户口|身份证|驾照|违章|快递|外卖|天气|下雨|股票|股价|基金|房贷|信用卡"
    r"|汽油|油价|待遇|工资|招聘|校招|社招|笔试|面试|编制|旅游|旅行|景点|攻略|机票|酒店|火车票|高铁票"
    r"|房产证|交房|封顶|贷款|还款|借款|银行卡",
    re.IGNORECASE)
# 过户 alone is not ours: a house or a car changes hands at the registry; the electricity account's
# 过户 names the account (户名, 电表, 电费 — all matched by _ELECTRIC)
_ELECTRIC = re.compile(r"电|跳闸|空开|漏保|光伏|户号|户名|插座|插头|开关|线路|变压器|闸|匝|表|地线|接地|雷|取暖|网上国网|代办|委托|经办")
# Selling a house or a car: the transfer is the registry's (不动产登记, 车管所), not ours.
# … unless the old owner's arrears come with it ("二手房有欠费，过户会不会算到我头上")
_ARREARS = re.compile(r"欠费|欠款|交费|缴费|原房主|前房主|上家|上一任")
_PROPERTY = re.compile(r"房子卖了|卖房|买房|房屋过户|房子过户|房产过户|过户费|二手房|车主|车辆|二手车|机动车|契税")
# Issuing invoices as a business is a tax matter; the electricity bill's invoice is ours (电费 …).
_TAX = re.compile(r"(?:个体户|个体工商户|商家|商户|开票人|税控|税号|给客户|给顾客).{0,10}(?:开|开具|申领)?(?:电子|增值税|专用|普通)?发票"
                  r"|发票.{0,6}(?:税率|税点|抵扣|报税|认证)")
_TAX_OURS = re.compile(r"电费|电价|供电|电力公司|国网|网上国网|95598")
# The voltage or power of a gadget is on its label, not a supply question ("监控电压多少伏正常").
_DEVICE = re.compile(r"(?:监控|摄像头|路由器|光猫|电脑|笔记本|手机|平板|充电宝|音箱|音响|对讲机|无人机|机顶盒|显示器)"
                     r".{0,6}(?:电压|电流|几伏|多少伏|伏数|功率|适配器)")
_SUPPLY = re.compile(r"插座|供电|停电|跳闸|电费|电表|入户|家里电压|度电|几度|一度|费电|耗电|用电量")
# A building permit for a self-built house is the planning office's; power for it is ours.
_PERMIT = re.compile(r"(?:自建房|盖房|建房|宅基地|翻建|翻盖|加盖).{0,8}(?:申请手续|审批|批准|规划许可|手续|要批)")
_POWER_WORDS = re.compile(r"电|表|报装|装表")
# Words with 电 or 表 that are not about electricity supply (电视费 is a cable-TV question).
_NOT_ELECTRIC = re.compile(r"电视|电话|电影|电脑|电竞|电子|水表|燃气表|气表|手表|表格")

# Which product to buy or what a machine costs: we sell electricity, not equipment. A question
# about the electricity price of something (一度多少钱, 电费) is ours.
_PRODUCT = re.compile(
    r"哪个牌子|什么牌子|啥牌子|哪个品牌|什么品牌|哪款|哪家的好|哪家好|买哪个|买什么样的|推荐一?[款个下]"
    r"|(?:多少钱|几个钱|什么价)一台|一台(?:要)?多少钱")
# … and choosing breakers, sockets or wire for a home is a safety question the knowledge base answers
_ELECTRICITY_PRICE = re.compile(r"电费|电价|一度|每度|度电|千瓦时|服务费|安装费|报装|空开|漏保|漏电保护|断路器|开关|插座|电线|线径|平方")

# An appliance that needs a repairman rather than the power company (a trip or a shock is ours).
_APPLIANCE = r"(?:洗衣机|冰箱|空调|电视机?|热水器|微波炉|电饭煲|油烟机|燃气灶|洗碗机|扫地机)"
_REPAIR = re.compile(rf"{_APPLIANCE}.{{0,8}}(?:怎么修(?!改|该)|咋修|维修|修理|售后|不制冷|不制热|漏水|结冰|结霜|不脱水|不加热|不出水|不转|噪音|异响|缺氟)")
_SUPPLY_FAULT = re.compile(r"跳闸|跳了|漏电|电压|停电|停过电|断电|来电|没电|着火|冒烟|触电|电到|麻手|烧了|烧坏|赔")

# Electrician licence exams are run by the work-safety authorities, not by the power company.
_EXAM = re.compile(r"(?:电工|高压|低压|特种作业)证.{0,6}(?:怎么考|考试|报名|培训|题库|难不难|好考|难考)"
                   r"|(?:考|报考|考取|考个|拿个)(?:低压|高压)?电工证")


def out_of_scope(*texts: str) -> str | None:
    """Why a (cleaned) question is not ours — a short English label — or None.

    Several forms of one question may be given (as typed, normalised): a kind counts when one
    form shows it and no form says anything that makes the question ours ("装电表需要身份证" is
    about a meter even after 装电表 is normalised to 新装).
    """
    forms = [t.replace(" ", "") for t in texts if t]

    def any_(pattern: re.Pattern[str], strip: re.Pattern[str] | None = None) -> bool:
        return any(pattern.search(strip.sub("", t) if strip else t) for t in forms)

    if any_(_PROPERTY) and not any_(_ELECTRIC, _NOT_ELECTRIC) and not any_(_ARREARS):
        return "property transfer"
    if any_(_TAX) and not any_(_TAX_OURS):
        return "tax invoices"
    if any_(_DEVICE) and not any_(_SUPPLY):
        return "device specs"
    if any_(_PERMIT) and not any_(_POWER_WORDS):
        return "building permits"
    if any_(_OTHER_SERVICE) and not any_(_ELECTRIC, _NOT_ELECTRIC):
        return "another public service"
    if any_(_PRODUCT) and not any_(_ELECTRICITY_PRICE):
        return "product advice"
    if any_(_REPAIR) and not any_(_SUPPLY_FAULT):
        return "appliance repair"
    if any_(_EXAM):
        return "licence exams"
    return None


def is_other_service(text: str) -> bool:
    """True for a question about another utility or service that mentions nothing electrical."""
    return out_of_scope(text) == "another public service"


# --- is the message about electricity service at all? ------------------------------------------
# Used when the knowledge base has nothing for a message: a question about electricity service we
# could not answer goes to a person (a work order); a message about anything else (loans, phones,
# food, chit-chat) gets the polite out-of-domain reply and no order.
_SERVICE_WORDS = re.compile(
    r"电|跳闸|空开|漏保|闸|光伏|户号|户名|过户|更名|销户|增容|减容|暂停用电|报装|装表|抄表|表计|电表|阶梯|峰谷|谷段|峰段|分时"
    r"|千瓦|度数|一度|每度|几度|多少度|变压器|配电|线路|电线|插座|插头|开关|地线|接地|95598|12398|网上国网|南网在线|国网|南网"
    r"|营业厅|供电|停电|来电|抢修|报修|检修|窃电|偷电|违约用电|充电桩|并网|上网电价|基本电费|力调|功率因数"
    r"|交费|缴费|账单|预付费|费控|余额不足|欠费停|复电|送电|合表|一户多人口|低保户|五保户"
    r"|灯|表|千伏|\d+v|伏|负荷|容量|停了|来电|高压|线|雷|闪电|太阳能|热水器|取暖|油汀|空调|冰箱|家电|电器|漏宝|户号|新装|报装"
    r"|electric|power|meter|charging|tier|outage|voltage|solar|grid|kwh")
# compounds with 电 or 表 that name something else (a phone's battery, a pressure cooker, a course)
_NOT_SERVICE = re.compile(
    r"电脑|电话|电视剧|电视台|电影|电子|电竞|电商|电源键|电压力锅|电饭|电动牙刷|电风扇(?=.{0,4}(?:哪个|牌子))|电信|电邮|电台|电玩|电梯"
    r"|电力大学|电气工程|电力电子|电子信息|电工证|手机.{0,8}(?:充电|漏电|电池|电量|没电)|(?:充电|电池|电量).{0,8}手机|充电宝|电动汽车保险"
    r"|手表|水表|气表|燃气表|表格|表情|表白|表演|表达|表妹|表哥|表姐|表弟|发表|代表|外表|报表|表扬")


def _service_forms(texts: tuple[str, ...]) -> Iterator[str]:
    """Each form of the message without spaces and without the compounds that mean something else."""
    return (_NOT_SERVICE.sub("", t.replace(" ", "")) for t in texts if t)


def about_electricity(*texts: str) -> bool:
    """True when a form of the message names anything of electricity service (电费, 跳闸, 户号,
    阶梯, 95598 …) outside compounds that mean something else (电脑, 电话, 手机充电, 水表 …)."""
    return any(_SERVICE_WORDS.search(t) for t in _service_forms(texts))


# The price of grid electricity per kWh, the question customers ask most ("一度电多少钱", "电价几毛一度",
# "居民电费单价是多少"). It is worded like many questions the knowledge base does not answer ("水费多少钱
# 一吨", "储能电池多少钱一度"), so the answerability gate (answerable.py) alone under-rates it.
_PRICE_OF = re.compile(r"电价|电费单价|电费标准|电费.{0,4}(?:一度|每度)|(?:一度|每度)电|用电.{0,4}(?:一度|每度)")
# "多少度" asks an amount of energy ("开一小时耗多少度电"), not a price
_PRICE_ASK = re.compile(r"多少钱|多少(?!度)|几毛|几块|几角|几分钱|什么价|单价|价格|价钱|贵不贵|怎么收")
_PRICE_NOT_GRID = re.compile(r"电池|储能|充电桩|充电站|充电费|上网电价|光伏|卖电|售电|发电")


def asks_electricity_price(*texts: str) -> bool:
    """True when the message asks what grid electricity costs per unit (not a bill, not a battery)."""
    return any(_PRICE_OF.search(t) and _PRICE_ASK.search(t) and not _PRICE_NOT_GRID.search(t)
               for t in _service_forms(texts))


def names_something_else(*texts: str) -> bool:
    """True when the message's only electric-looking words are compounds that mean something else
    (电源键, 电脑, 手机充电): then even a fair match with an entry is a coincidence of characters."""
    return (any(_NOT_SERVICE.search(t.replace(" ", "")) for t in texts if t)
            and not about_electricity(*texts))


# What a complaint, a suggestion or praise is about when it names nothing electrical: our staff,
# our service, our company. A message with neither ("帮我定个闹钟" that the NLU took for a
# complaint) is not an order for staff.
_ABOUT_US = re.compile(r"服务|态度|工作人员|员工|师傅|客服|营业厅|供电所|抄表|收费|乱收|刁难|推诿|效率|办事|不作为|投诉|举报|差评"
                       r"|表扬|感谢|谢谢|建议|意见|你们|贵公司|公司|领导|经理|机器人|小助手|回答|答复")


def about_our_service(text: str) -> bool:
    """True when a complaint, suggestion or praise can be about us: electricity or our service."""
    compact = (text or "").replace(" ", "")
    return about_electricity(compact) or bool(_ABOUT_US.search(compact))
