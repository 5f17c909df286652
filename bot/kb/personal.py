"""Questions about the customer's own account, which a policy knowledge base cannot see.

"我家户号是多少", "帮我查下欠了多少电费", "上个月电费多少钱", "我们村下周三停电吗": the honest
reply is "I can't see your account (or your street's schedule); this is how you look it up" —
never the how-to entry dressed up as the answer, and never a guess. Asking HOW to look something
up ("户号在哪看", "怎么查余额") is an ordinary question and is answered from the knowledge base.
"""
from __future__ import annotations

import re

_SELF = r"(?:(?:我|俺|咱)[^，。？?]{0,2}家|自家|我的|我这|我们这|我们小区|我们村|俺们|帮我|给我|替我|麻烦|请帮)"
_ASK = r"(?:是多少|多少|几|是啥|是什么|查一?下|查查|看一?下|算一?下|算算|告诉我|报一?下|发给我)"
# what the customer wants to know is theirs alone
_ACCOUNT = r"(?:户号|电表号|电表编号|表编号|表号|表计号|客户编号|用户编号|缴费号|交费号)"
_BALANCE = r"(?:余额.{0,4}(?:多少|几|查)|欠不欠费|欠没欠费|有没有欠费|欠费了没|还剩多少|剩多少|剩下多少|欠.{0,3}多少|欠费多少|欠着多少|还欠多少|欠了几(?![十百千块毛]))"
_PERIOD = (r"(?:这个月|本月|上个月|上月|这期|本期|上期|今年|去年|这两个月|前两个月|这半年|上半年|下半年|昨天|今天"
           r"|\d{1,2}月份?|[一二三四五六七八九十]{1,2}月份|上个?季度|这个?季度|一整年|全年)")
_USAGE = r"(?:电费|账单|用电量|用了|用电|度数|扣了|扣费|交了)"
# the customer asks the assistant itself to look at their records: "你那边能看到的吧", "你看下记录"
_LOOK = r"(?:你|你们)(?:那边|那儿|这边|系统里?)?(?:能不能|能|可以)?(?:看到|查到|看得到|查得到|告诉我具体|看一?下记录|查一?下记录)"
_OUTAGE_WORDS = r"(?:停电|来电|恢复|送电|检修|抢修)"
_ORDER = (r"(?:工单号|工单编号|报修单号|(?:工单|单子|报修|报的修|投诉|抢修).{0,8}(?:进度|到哪|处理到|处理得|到了哪|哪一步|有结果|有人管))")
# "扣成功没有", "开通了没": the state of something on the customer's account
# (a business application's progress has its own entry: business.application_progress)
_STATUS = (r"(?:成功没|成功了没|到账没|到账了没|开通没|开通了没|交上没|交上了没|生效没|生效了没|扣了没|扣上没)"
           r"(?=有|呢|啊|呀|吗|你|帮|给|[？?，,。!！]|$)")
_WHEN = (r"(?:明天|明儿|明个|后天|后儿|大后天|今天|今晚|明晚|明早|下周|这周|本周|周[一二三四五六日天]|星期[一二三四五六日天]|礼拜[一二三四五六日天]"
         r"|\d{1,2}号|\d{1,2}日|[一二三四五六七八九十]+号)")
_OUTAGE_ASK = r"(?:停电吗|停不停电|会不会停电|会停电吗|有没有停电|要停电吗|停电不|几点停电|停几个小时|停多久)"

# questions about HOW, WHY or the rules are for the knowledge base
_NOT_A_LOOKUP = re.compile(
    r"怎么|怎样|如何|咋|在哪|哪里|哪儿|去哪|上哪|哪查|哪看|哪个|找谁|找哪|给哪|向哪|问谁|行吗|行不行|自己查|自己看|能查吗|能不能查|可以查|方法|步骤|为什么|为啥|这么|突然|能不能|可不可以|可以吗|能否|合法|违法|正常吗|规定"
    r"|一度|每度|单价|几位|位数|格式|什么意思|啥意思|干嘛|有什么用|区别|是不是|算不算|要不要|会不会被|多久能|多长时间"
    # complaints and conditions ("多了几十块", "余额补到多少才送电") and the tier rules are policy questions
    r"|查询|多少天|几天|合理|凭什么|多了|少了|涨|高了|贵了|翻倍|补到|充到|交到|充多少|补多少|交多少|才能|阶梯|档"
    # how far a prepaid meter lets one go below zero is a rule ("智能电表能欠多少")
    r"|能欠|可以欠|最多欠|允许欠|透支"
)
_LOOKUP = [
    ("account", re.compile(rf"{_SELF}.{{0,8}}{_ACCOUNT}.{{0,4}}{_ASK}|{_ACCOUNT}.{{0,3}}是多少$"
                           rf"|{_SELF}.{{0,3}}(?:查|看|找).{{0,10}}{_ACCOUNT}"
                           rf"|{_ACCOUNT}.{{0,12}}(?:报给我|发给我|告诉我)|{_ACCOUNT}.{{0,3}}(?:是?多少|是啥).{{0,4}}{_SELF}")),
    ("balance", re.compile(_BALANCE)),
    ("bill", re.compile(rf"{_PERIOD}.{{0,6}}{_USAGE}.{{0,8}}(?:多少|几)|{_SELF}.{{0,3}}(?:查|算|看).{{0,8}}{_USAGE}"
                        # the meter-reading day of one household: "下个月几号来抄我家的表"
                        rf"|(?:几号|哪天|哪一天|什么时候|啥时候).{{0,4}}抄.{{0,2}}{_SELF}.{{0,3}}表")),
    ("order", re.compile(rf"{_SELF}?.{{0,6}}{_ORDER}|{_LOOK}.{{0,10}}(?:工单|报修|单子)")),
    ("outage_schedule", re.compile(rf"{_WHEN}.{{0,10}}{_OUTAGE_ASK}|{_OUTAGE_WORDS}.{{0,30}}{_LOOK}|{_LOOK}.{{0,30}}{_OUTAGE_WORDS}")),
    ("bill", re.compile(_LOOK)),
    ("status", re.compile(_STATUS)),
]

# the entry that tells the customer how to look each kind up themselves (offered as a button);
# tests/test_kb_personal.py checks that these ids exist in knowledge/
LOOKUP_HOWTO = {
    "account": "business.account_number_where",
    "balance": "tariff.smart_pay_balance",
    "bill": "tariff.query_bill",
    "order": "outage.when_power_back",  # its answer: repair orders' progress in the App and at 95598
    "outage_schedule": "outage.planned_outage_lookup",
    "status": "tariff.query_bill",  # payments and account state are in the same App pages
}


def asks_how_or_why(*texts: str) -> bool:
    """True when a form of the question asks how, where, why or about the rules ("户号在哪查",
    "为什么多扣了", "几天能到账"): a question for the knowledge base even when it is about "我家"."""
    return any(_NOT_A_LOOKUP.search(re.sub(_LOOK, "", re.sub(r"\s+", "", t))) for t in texts if t)


def personal_lookup(*texts: str) -> str | None:
    """The kind of account data the question asks for (a key of LOOKUP_HOWTO), or None.

    Several forms of one question may be given (as typed, typo-corrected): any of them counts.
    """
    for text in texts:
        compact = re.sub(r"\s+", "", text)
        # "你能不能看到…" asks the assistant to look, not whether something is allowed
        if not compact or _NOT_A_LOOKUP.search(re.sub(_LOOK, "", compact)):
            continue
        for kind, pattern in _LOOKUP:
            if pattern.search(compact):
                return kind
    return None
