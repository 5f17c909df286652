"""The theft guard: a question asking HOW to steal electricity or tamper with a meter always gets
the knowledge base's refusal entry, whatever the ranking says (beside scope.py and personal.py,
the other rules decided before ranking). Questions about the law, reporting, or being a victim
are normal questions."""
from __future__ import annotations

import re

_METER = r"(?:电表|电能表|电度表|火表|表计|计量表|计量装置)"
_SLOW = (r"(?:倒转|倒走|倒着走|倒着转|反转|反着走|反着转|走慢|慢走|少走|少走字|走字慢|不走|停走|停转|不转|少计|少计量|少算"
         r"|调慢|走得慢|走的慢|慢点|慢一点|少跑|停)")
# "how to make it happen" words; 怎么办 / 怎么回事 (a customer reporting a fault) are deliberately absent
_HOW = (r"(?:怎么|怎样|如何|咋|方法|办法|法子|做法|门道|路子|绝招|偏方|技巧|窍门|秘诀|诀窍|教程|教我|教一下|教教|求教|步骤"
        r"|有没有|能不能|可以|才能|用什么|什么东西|东西|叫什么|哪里有卖|哪里买|哪买|去哪买|购买|链接)")
_MAKE = r"(?:怎么弄|怎么搞|怎么整|怎么调|怎么做|怎么让|如何让|怎么才能|咋弄|咋搞|咋整|具体怎么|方法|办法|技巧|窍门|诀窍|教程|教我|门道|秘诀)"
# 偷电线/偷电缆/偷电瓶 are about stealing things, 切电源/切电闸 about switching off
_THEFT = (r"(?:偷电(?!线|缆|瓶|池|动车|表|箱)|窃电|盗电|偷用电|偷点电|偷着用电|蹭电|切电(?!源|闸)|免费用电|白用电"
          r"|不交电费也能用电|不交钱也能用电|不花钱用电)")
_BYPASS = (r"(?:绕表|绕过{m}|绕开{m}|跳过{m}|越过{m}|绕越{m}|不经过{m}|不走{m}|跨表|表前接线|表前搭线|表前取电|从进线上?取电|改表|改{m}|{m}改装"
           r"|改装{m}|调表|倒表|{m}.{{0,4}}动手脚|动{m})").format(m=_METER)
_DEVICE = r"(?:窃电器|偷电器|窃电神器|偷电神器|窃电装置|偷电装置|窃电设备|偷电设备|电表遥控器)"
_THEFT_PATTERNS = [
    re.compile(rf"{_THEFT}.*{_HOW}|{_HOW}.*{_THEFT}"),
    re.compile(rf"(?:让|使|叫|把|弄|搞|整|调|改|能)[^，。]{{0,6}}{_METER}[^，。]{{0,6}}{_SLOW}"),
    re.compile(rf"{_METER}.{{0,10}}(?:怎么|如何|咋|怎样)(?:才能|才会|能|让它|让)?.{{0,2}}(?:调慢|倒转|倒走|反转|停转|走慢|少走|不走)"),
    re.compile(rf"{_METER}.{{0,8}}{_SLOW}.{{0,8}}{_MAKE}"),
    re.compile(rf"(?:磁铁|强磁|吸铁石|短接|跳线|遥控).{{0,10}}{_METER}|{_METER}.{{0,10}}(?:磁铁|强磁|吸铁石|短接|跳线|遥控)"),
    re.compile(rf"{_BYPASS}.*(?:{_HOW}|少交|不交|省电费)|(?:{_HOW}|少交|不交|省电费).*{_BYPASS}"),
    # a fragment that is the method itself: "跳过电表 直接接火线"
    re.compile(rf"{_BYPASS}.{{0,6}}(?:接线|接火线|接电|搭线|取电|拉线|直接接)"),
    re.compile(_DEVICE),
]
_EVADE = re.compile(r"不被(?:发现|查|抓)|不会被(?:发现|查|抓)|查不出|查不到|躲过|躲避检查|逃避检查|不让.{0,4}发现|最隐蔽|隐蔽")
_LAWFUL = re.compile(
    r"犯法|违法|合法|处罚|罚款|罚多少|怎么罚|判刑|判几年|坐牢|刑事|法律|举报|报警|责任|后果|被抓|犯罪|罪|追缴|补交|补缴"
    r"|数额|金额|认定|界定|算不算|怎么算|什么算|哪些算|属于|定义|是什么意思"
    # asking whether a product is allowed is not asking for the method
    r"|能买吗|能不能买|可以买吗|能用吗|能不能用|可以用吗|能买不|可以买不|能用不|可以用不|靠谱不"
    r"|偷(?:了)?(?:我|我家|我们|我们家)(?:的)?电|被(?:人|邻居|别人)?(?:偷|蹭|盗|窃)|防止|防范|防窃电|反窃电|怎么发现|如何发现|识别|查处"
    r"|是真的吗|真的假的|是不是真的|骗人|骗局|靠谱吗|能信吗|智商税"
)


def is_theft_howto(*texts: str) -> bool:
    """True when a (cleaned) question asks how to steal electricity or tamper with a meter.

    Several forms of one question may be given (as typed, typo-corrected): a method named in any
    form counts, and so does a lawful purpose ("怎么举包" is still 举报 once the typo is fixed).
    """
    forms = [t.replace(" ", "") for t in texts]
    if not any(p.search(t) for t in forms for p in _THEFT_PATTERNS):
        return False
    if any(_EVADE.search(t) for t in forms):
        return True
    return not any(_LAWFUL.search(t) for t in forms)
