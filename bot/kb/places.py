"""Which places a question names: province-level units and the larger cities.

Used to keep an entry written for one province (``scope: region:<name>``, its places listed in
knowledge/regions/<name>.yml) from answering a question about another one: "广州阶梯电价每档多少度"
must get the national entry (figures differ by province, where to look them up), never 浙江's table.
"""
from __future__ import annotations

import re
from typing import Iterable

# province-level units (short forms) and their capitals, then other large cities; words that are
# also street or common names (中山, 黄山路 …) are left out on purpose
PROVINCES = (
    "北京 天津 上海 重庆 河北 山西 辽宁 吉林 黑龙江 江苏 浙江 安徽 福建 江西 山东 河南 湖北 湖南 广东 海南 四川 贵州 云南"
    " 陕西 甘肃 青海 台湾 内蒙古 内蒙 广西 西藏 宁夏 新疆 香港 澳门"
).split()
CITIES = (
    "石家庄 太原 沈阳 长春 哈尔滨 南京 杭州 合肥 福州 南昌 济南 郑州 武汉 长沙 广州 海口 成都 贵阳 昆明 西安 兰州 西宁"
    " 呼和浩特 南宁 拉萨 银川 乌鲁木齐 深圳 大连 青岛 宁波 厦门 苏州 无锡 常州 徐州 南通 扬州 东莞 佛山 珠海 汕头 惠州"
    " 唐山 保定 邯郸 廊坊 沧州 邢台 秦皇岛 洛阳 开封 新乡 南阳 许昌 烟台 潍坊 临沂 淄博 济宁 威海 泉州 漳州 龙岩 莆田"
    " 赣州 九江 襄阳 宜昌 岳阳 株洲 衡阳 柳州 桂林 三亚 绵阳 遵义 大理 包头 鄂尔多斯 芜湖 蚌埠 温州 绍兴 嘉兴 湖州 金华"
    " 台州 丽水 衢州 舟山 义乌"
).split()


def places_pattern(extra: Iterable[str] = ()) -> re.Pattern[str]:
    """A matcher for the national list plus ``extra`` (e.g. the regions' places); build it once."""
    names = {n for n in (*PROVINCES, *CITIES, *extra) if n}
    # longest first so that 内蒙古 wins over 内蒙
    return re.compile("|".join(sorted(map(re.escape, names), key=len, reverse=True)))


_ALL = places_pattern()


def places_in(text: str, pattern: re.Pattern[str] = _ALL) -> set[str]:
    """The place names in ``text`` that ``pattern`` (from places_pattern) knows."""
    return set(pattern.findall(text.replace(" ", "")))

