"""故障报修: reading what a customer types during a fault report, without Rasa.

The form (actions/service_forms.py) asks these questions, in this order, and skips what it
already knows:

1. danger first — a hazard in any message (wire on the ground, sparks, smoke, fire, someone hurt)
   gets the safety steps at once and makes the order urgent (``hazard_kind``);
2. the self-check, only for a power cut that is not a hazard and not plainly an area outage:
   neighbours? breaker? balance? (``read_check``); a tripped breaker, a dead circuit or an
   empty balance gets the self-help answer and an offer to report anyway (``read_go_on``);
3. the address (``read_address``: not empty, 4–80 characters, looks like a place);
4. the callback phone (``find_phone``, validated by bot.orders.phone).

A customer may answer out of order (address and phone in one message), correct an earlier
answer, or ask something else: each reader returns None when the text is not its answer.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from bot.kb.urgency import emergency, incident
from bot.orders.phone import PhoneError, normalise_phone
from bot.orders.vocabulary import AREA_RURAL, AREA_REMOTE, AREA_URBAN

AREAS_FILE = Path(__file__).resolve().parent.parent / "orders" / "repair_areas.yml"

ADDRESS_MIN, ADDRESS_MAX = 4, 80


def _compact(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or ""))


# --- danger ------------------------------------------------------------------------------------
# Each hazard names the knowledge-base entry whose steps the customer reads first: the safety
# entries in knowledge/ stay the single source of that text (read through bot.kb).
HAZARDS: tuple[tuple[str, str, re.Pattern[str]], ...] = (
    ("shock", "safety.shock_first_aid",
     re.compile(r"触电|电到人|电倒|被电(?:了|住|伤|晕|倒)|电死|有人(?:受伤|被电|晕倒|倒地)|人被电")),
    ("line", "safety.fallen_wire",
     re.compile(r"(?:电线|电缆|高压线|线|导线).{0,6}(?:断了|断落|掉(?:在|到)?地|落地|垂到?地|耷拉|拖(?:在|到)?地|掉下来|掉下|砸)"
                r"|(?:电线杆|电杆|线杆|杆子|电塔|铁塔).{0,6}(?:倒|歪|断|撞|折)"
                r"|(?:变压器|电线杆|电杆|线杆|电箱|表箱|电缆).{0,6}(?:冒烟|冒火|着火|起火|烧)|火花|打火|冒火|放电|(?:变压器|电箱).{0,6}(?:爆|炸|响|异响|嗡嗡|滋滋)|爆炸|炸了|漏电.{0,4}(?:麻|电人)")),
    ("fire", "safety.electrical_fire",
     re.compile(r"着火|起火|烧起来|火灾|明火|燃起来|冒烟|(?:电线|线路|电表|表箱|变压器|配电箱|电杆|电线杆).{0,4}(?:烧了|烧着|烧焦|冒火)")),
)

_NOT_A_REPORT = re.compile(r"怎么办|怎么处理|该怎么|能不能|可以吗|是不是|为什么|多久|怎样|如何|吗[？?]?$")


def hazard_kind(text: str) -> tuple[str, str] | None:
    """(kind, safety entry id) when the text reports a danger now, else None. Besides the form's
    own patterns, whatever the answer engine treats as an emergency (a leaning pole, someone
    fishing under a line) is a hazard here too: the two must not disagree about one report."""
    compact = _compact(text)
    for kind, entry_id, pattern in HAZARDS:
        if pattern.search(compact):
            return kind, entry_id
    found = emergency(text)
    if found is not None and found.entries:
        return found.kind, found.entries[0]
    return None


# --- stopping -------------------------------------------------------------------------------------
_STOP = re.compile(r"^(?:那就?|那)?(?:算了|算啦|不用了|不用报了|不要了|不需要了|不报了|不修了|取消|不查了|别弄了|先不弄了)(?:吧|啊|呀|谢谢|谢了)?$")


def is_stop(text: str) -> bool:
    """算了 / 不用了 / 取消: the customer wants to stop the form."""
    return bool(_STOP.match(_compact(text).rstrip("。！!～~，,")))


# --- self-check ---------------------------------------------------------------------------------
CHECK_AREA = "area"          # neighbours have no power either: an outage outside the home
CHECK_HOME = "home"          # only this home, breaker not tripped: the supply or the meter
CHECK_BREAKER = "breaker"    # the home's breaker (空开/漏保) tripped: self-help first
CHECK_PART = "part"          # part of the home: an internal circuit, self-help first
CHECK_BALANCE = "balance"    # prepaid balance used up: pay, power comes back by itself
CHECK_SKIP = "skip"          # the customer does not want to check: report straight away
CHECK_HAZARD = "hazard"      # no check for a danger
CHECK_VALUES = (CHECK_AREA, CHECK_HOME, CHECK_BREAKER, CHECK_PART, CHECK_BALANCE, CHECK_SKIP, CHECK_HAZARD)
SELF_HELP_CHECKS = (CHECK_BREAKER, CHECK_PART, CHECK_BALANCE)
# the knowledge-base entry with the self-help steps for each
SELF_HELP_ENTRIES = {
    CHECK_BREAKER: "outage.main_breaker_tripped",
    CHECK_PART: "outage.one_circuit_dead",
    CHECK_BALANCE: "outage.smart_pay_cutoff",
}

_CHECK_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (CHECK_SKIP, re.compile(r"跳过|不用查|不查了|不想查|直接报修|直接报|别问了|不用问|赶紧派人|快派人|快来人|没时间|不知道|不清楚|搞不清")),
    (CHECK_BALANCE, re.compile(r"余额|欠费|没交(?:电)?费|电费没交|没钱了|用完了|交费|缴费|充值|预付费|费控")),
    (CHECK_PART, re.compile(r"部分|一半|一个房间|有的房间|一路|几个插座|个别|有些(?:灯|插座)|只有.{1,4}(?:间|房|屋|插座).{0,2}没电")),
    (CHECK_BREAKER, re.compile(r"(?<!没)(?<!没有)(?<!不是)(?:空开|漏保|总闸|电闸|闸|开关|跳闸|断路器).{0,4}(?:跳了|掉了|跳闸|跳下|掉下|合不上|推不上)|^跳闸了?$|^跳了$|开关跳了|跳闸了")),
    (CHECK_AREA, re.compile(r"(?:小区|村|整栋|楼|街|片区|一片|厂区|附近|周边|镇|社区).{0,8}(?:停电|没电|停了|黑了|断电)|邻居.{0,4}(?:也|都)|隔壁.{0,4}(?:也|都)|对门.{0,3}也|楼上.{0,3}也|楼下.{0,3}也|整栋|整幢|整个|全楼|全村|全小区|一片|一整片|周围.{0,3}(?:都|也)"
                          r"|附近.{0,3}(?:都|也)|大家都|都没电|都停|路灯.{0,3}(?:也|都)|别人家.{0,3}也|(?:小区|村|楼|街|片区).{0,4}(?:都|全)")),
    (CHECK_HOME, re.compile(r"只有我家|就我家|就我们家|只有我们家|别人家有电|邻居.{0,4}有电|隔壁.{0,3}有电|开关没跳|没跳闸|闸没跳|没有跳|不是跳闸|空开正常|开关正常|只有我")),
)


def read_check(text: str) -> str | None:
    """The answer to the self-check question (a CHECK_* value), or None if it is not one."""
    compact = _compact(text)
    for value, pattern in _CHECK_PATTERNS:
        if pattern.search(compact):
            return value
    return None


def past_self_help(text: str) -> bool:
    """A report the answer engine's incident rules recognise (bot.kb.urgency): out for hours or
    days, again and again, nobody came, damage, a noisy transformer, a complaint in the customer's
    own voice. The home's breaker is not what to ask about; a person is needed."""
    return incident(text) is not None


def check_from_report(text: str) -> str | None:
    """What the first report already tells (an area outage, a tripped breaker …): skip asking."""
    value = read_check(text)
    return value if value in (CHECK_AREA, CHECK_BREAKER, CHECK_PART, CHECK_BALANCE, CHECK_HOME) else None


_YES = re.compile(r"^(?:要|要的|是|是的|对|对的|好|好的|嗯|恩|报|报修|还是要报修|仍要报修|继续报修|继续|还是没电|还没电|没用|不行|没好|合不上|推不上|还是不行)")
_NO = re.compile(r"^(?:不用|不要|不报|不需要|算了|好了|来电了|有电了|可以了|解决了|没事了|已经好了|弄好了)|来电了|有电了|好了$|解决了")


def read_go_on(text: str) -> bool | None:
    """After the self-help answer: True = report anyway, False = solved / no report, None = neither."""
    compact = _compact(text).rstrip("。！!～~")
    if _NO.search(compact):
        return False
    if _YES.search(compact):
        return True
    return None


# --- address --------------------------------------------------------------------------------------
_PLACE_CUE = re.compile(
    r"省|市|区|县|镇|乡|村|屯|寨|庄|组|社区|小区|街道|街|路|道|巷|弄|胡同|号|栋|幢|楼|单元|室|苑|园|城|湾|坊|里|府|邸|公寓|大厦|广场|花园"
    r"|学校|小学|中学|医院|厂|公司|市场|超市|商场|车站|站|桥|旁边|对面|附近|门口|路口|交叉口|东|西|南|北")
_QUESTION = re.compile(r"[?？]|怎么|为什么|为啥|什么时候|多久|多少|吗$|呢$|能不能|可不可以|是不是")
_NOT_PLACE = re.compile(r"^(?:我家|我们家|家里|这里|这边|那边|我这|俺家|屋里|我们小区|我们村|我们这)$")
_PHONE_RUN = re.compile(r"[+＋]?[0-9０-９][0-9０-９\s\-－()（）]{6,}[0-9０-９]")
_LEADS = re.compile(r"^(?:地址是|地址|我家在|我家住|我住在|我住|住在|在|是|位置是|位置在|位置)[:：，, ]*")
_TAILS = re.compile(r"[，,。；;]?(?:电话|手机|联系电话|号码|电话号码)(?:是|：|:)?$")


def read_address(text: str, *, asked: bool) -> tuple[str | None, str | None]:
    """(address, problem): the address in the text, or what is wrong with it (for the customer).

    With ``asked`` False (the form did not ask for it) only a clear address is taken, so that a
    question or a report ("我们小区停电了") is not mistaken for one.
    """
    raw = unicodedata.normalize("NFKC", text or "").strip()
    without_phone = _PHONE_RUN.sub(" ", raw)
    cleaned = _TAILS.sub("", _LEADS.sub("", re.sub(r"\s+", " ", without_phone).strip(" ，,。；;"))).strip(" ，,。；;")
    if not asked:
        m = re.search(r"(?:地址是|地址：|地址:|我家在|我家住|住在|位置在)([^，,。；;？?]{4,80})", without_phone)
        if not m:
            return None, None
        cleaned = m.group(1).strip()
    if not cleaned:
        return None, "empty"
    if _QUESTION.search(cleaned) and not re.search(r"\d", cleaned):
        return None, None  # a question, not an answer: the form lets it be answered
    if _NOT_PLACE.match(_compact(cleaned)):
        return None, "vague"
    if len(_compact(cleaned)) < ADDRESS_MIN:
        return None, "short"
    if len(cleaned) > ADDRESS_MAX:
        return None, "long"
    if not re.search(r"[\u4e00-\u9fff]", cleaned) or not (_PLACE_CUE.search(cleaned) or re.search(r"\d", cleaned)):
        return None, "vague"
    return cleaned, None


# --- phone ------------------------------------------------------------------------------------------
def find_phone(text: str) -> tuple[str | None, bool]:
    """(canonical phone, something number-like was there): a bad number gives (None, True)."""
    runs = _PHONE_RUN.findall(unicodedata.normalize("NFKC", text or ""))
    for run in runs:
        try:
            return normalise_phone(run), True
        except PhoneError:
            continue
    return None, bool(runs) or bool(re.search(r"\d{3,}", unicodedata.normalize("NFKC", text or "")))


# --- area class of an address ------------------------------------------------------------------
@dataclass(frozen=True)
class AreaRules:
    remote: tuple[str, ...]
    rural: tuple[str, ...]
    urban: tuple[str, ...]
    default: str = AREA_RURAL

    def classify(self, address: str) -> str:
        """城区 / 农村 / 特殊边远 from the place list; the default (农村) when it cannot tell."""
        compact = _compact(address)
        for area, words in ((AREA_REMOTE, self.remote), (AREA_RURAL, self.rural), (AREA_URBAN, self.urban)):
            if any(re.search(w, compact) for w in words):
                return area
        return self.default


@lru_cache(maxsize=4)
def area_rules(path: Path = AREAS_FILE) -> AreaRules:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return AreaRules(remote=tuple(data.get("特殊边远") or ()), rural=tuple(data.get("农村") or ()),
                     urban=tuple(data.get("城区") or ()), default=str(data.get("default") or AREA_RURAL))


def area_of(address: str) -> str:
    return area_rules().classify(address)
