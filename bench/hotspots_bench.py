"""Hot-issue benchmark: grouping a day's tickets (3,000, as a mid-sized city) and ten times
that (30,000, a Beijing day), each with 30 tickets about one broken water main in one road
among them (issue 17's test).

Generated tickets: every top-level category's usual complaints in a few wordings, at
addresses drawn from 6 districts, a road for every 50 tickets (海拉尔东路 among them) and an
estate for every 10 (at least 60 and 300; a fifth without an address); the 30 about
海拉尔东路's water main in eight wordings at that road's numbers and crossings.

Measured in the same run, on the same tickets: the floor (jieba cutting every content and
reading every address, which any method pays) and the whole grouping
(:func:`ivr.hotspots.group_tickets`). The limits: the grouping costs at most 3 times its
floor, and 10 times the tickets cost at most 20 times the time (blocking by place keeps the
comparisons near linear; all pairs would cost 100 times). The 30 must come out as one
flagged group, with at most a tenth as many others in it.

    .venv/bin/python bench/hotspots_bench.py            # 3,000 and 30,000 tickets
    .venv/bin/python bench/hotspots_bench.py --quick    # 1,000 and 3,000
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ivr.config.hotspot_rules import HotspotRules  # noqa: E402
from ivr.hotspots import HotTicket, group_tickets, place_of  # noqa: E402
from ivr.hotspots.words import content_words  # noqa: E402
from ivr.knowledge.segment import tokenizer  # noqa: E402

LIMIT_OVER_FLOOR = 3.0
LIMIT_SCALING = 20.0
HOT_ROAD = "海拉尔东路"
DISTRICTS = ("新城区", "回民区", "玉泉区", "赛罕区", "土默特左旗", "托克托县")
ROAD_NAMES = "兴安 锡林 中山 新华 乌兰察布 大学 昭乌达 呼伦贝尔 鄂尔多斯 通道 石羊桥 巴彦淖尔 "
ROAD_NAMES += "丁香 南二环 北垣 成吉思汗 腾飞 公园 滨河 金桥 呼钢 海东 民族 展览馆 大召 工农兵 "
ROAD_NAMES += "牧场 二里半 人民 健康 光明 团结 胜利 和平 建设 友谊"
ROAD_ENDS = ("路", "东路", "西路", "南街", "北街", "大街", "巷", "胡同")
ROADS = [HOT_ROAD, *[f"{n}{s}" for n in ROAD_NAMES.split() for s in ROAD_ENDS]]
ESTATE_FIRST = "阳光 金桥 恒大 万达 绿地 富力 东方 锦绣 幸福 康居 和谐 水岸 金色 华府 嘉禾 青城 "
ESTATE_FIRST += "丽水 春华 秋实 紫云 翠苑 宏图 盛世 龙湖 凤凰 松涛 兰亭 银河 天骄 草原"
ESTATE_SECOND = "花城 雅居 名门 新天地 佳园 景苑 豪庭 一品 时代 国际 首府 尚城 和园 山水 湾"
ESTATES = [f"{a}{b}{c}" for a in ESTATE_FIRST.split() for b in ESTATE_SECOND.split()
           for c in ("小区", "家园", "花园", "公寓", "名苑", "新村")]  # fmt: skip
BACKGROUND = {
    "utilities.heating": ["家里暖气不热，室温只有{n}度", "供暖温度不达标，屋里很冷", "暖气片漏水"],
    "utilities.water": [
        "小区停水{n}个小时了，没有通知",
        "自来水水质发黄有异味",
        "水压低，{n}楼以上用不上水",
    ],
    "utilities.power": ["小区突然停电，冰箱里东西坏了", "电压不稳，灯一直闪"],
    "utilities.gas": ["燃气表显示异常，扣费过多", "楼道里有燃气味道，担心泄漏"],
    "housing.property": [
        "物业不作为，楼道垃圾无人清理",
        "电梯经常故障，物业不修",
        "物业费上涨不合理",
    ],
    "housing.illegal_building": ["一楼住户私搭乱建，占用绿地", "楼顶违建阳光房"],
    "transport.bus": ["{n}路公交车间隔太长，等车{n}分钟", "公交司机态度恶劣，不等乘客坐稳就开车"],
    "transport.road": [
        "路面坑洼不平，车辆颠簸",
        "路口信号灯时间太短，行人过不去",
        "乱停车堵塞消防通道",
    ],
    "pollution": ["楼下餐馆油烟扰民，夏天不敢开窗", "工地夜间施工噪音扰民", "垃圾站臭味太大"],
    "social_security": ["养老保险转移接续怎么办理", "社保卡丢失如何补办"],
    "medical_insurance": ["慢特病药物购买难，药店没有药", "异地就医报销比例咨询"],
    "dogs": ["小区有人遛狗不拴绳，孩子被吓到", "流浪狗太多，晚上叫个不停"],
    "enforcement": ["占道经营，小摊贩堵住人行道", "广告牌摇摇欲坠存在安全隐患"],
    "rural_other.telecom": ["宽带网速慢，经常断网", "手机信号差，家里打不了电话"],
}
HOT_WORDINGS = [
    "{road}{n}号门前自来水管爆裂，路面大量积水结冰",
    "{road}有水管破裂，水一直往外冒，路上都结冰了",
    "{road}与兴安北路交叉口供水管道爆裂，水漫到马路上",
    "{road}自来水管道爆裂，附近居民家里停水",
    "{road}路边水管爆裂，积水很深车辆无法通行",
    "{road}{n}号附近地下自来水管漏水，路面塌陷积水结冰",
    "{road}供水管线破裂跑水，人行道结冰很滑",
    "{road}水管爆裂喷水，请自来水公司抢修",
]


def generate(total: int, hot: int = 30, seed: int = 17) -> tuple[list[HotTicket], set[str]]:
    """``total`` tickets of one day, ``hot`` of them about the water main of 海拉尔东路;
    returns them and the hot ones' numbers."""
    rng = random.Random(seed)
    # a city of this size: an estate for every 10 tickets of the day, a road for every 50
    estates = rng.sample(ESTATES, min(len(ESTATES), max(300, total // 10)))
    roads = [HOT_ROAD, *rng.sample(ROADS[1:], min(len(ROADS) - 1, max(59, total // 50)))]
    start = dt.datetime(2026, 1, 15, 0, 0, tzinfo=dt.UTC)
    out, hot_numbers = [], set()
    for i in range(total):
        at = start + dt.timedelta(seconds=rng.randrange(86400))
        number = f"20260115{i:06d}"
        if i < hot:
            road = HOT_ROAD
            content = rng.choice(HOT_WORDINGS).format(road=road, n=rng.randrange(1, 300))
            address = f"{rng.choice(('新城区', ''))}{road}{rng.randrange(1, 300)}号"
            out.append(HotTicket(number, at, "utilities.water", "utilities", content, address))
            hot_numbers.add(number)
            continue
        category = rng.choice(list(BACKGROUND))
        content = rng.choice(BACKGROUND[category]).format(n=rng.randrange(2, 40))
        kind = rng.random()
        if kind < 0.2:
            address = ""
        elif kind < 0.6:
            address = f"{rng.choice(DISTRICTS)}{rng.choice(estates)}{rng.randrange(1, 30)}号楼"
        elif kind < 0.9:
            address = f"{rng.choice(DISTRICTS)}{rng.choice(roads)}{rng.randrange(1, 500)}号"
        else:
            address = rng.choice(DISTRICTS)
        out.append(HotTicket(number, at, category, category.split(".")[0], content, address))
    rng.shuffle(out)
    return out, hot_numbers


def floor_seconds(tickets: list[HotTicket]) -> float:
    began = time.perf_counter()
    for t in tickets:
        content_words(t.content, t.address)
        place_of(t.address, DISTRICTS)
    return time.perf_counter() - began


def measure(total: int) -> tuple[float, float, bool]:
    tickets, hot = generate(total)
    floor = floor_seconds(tickets)
    began = time.perf_counter()
    groups = group_tickets(tickets, HotspotRules(), DISTRICTS)
    took = time.perf_counter() - began
    found = [g for g in groups if g.flagged and hot & {t.number for t in g.tickets}]
    ok = (len(found) == 1 and hot <= {t.number for t in found[0].tickets}
          and found[0].count <= len(hot) * 1.1)  # fmt: skip
    flagged = sum(g.flagged for g in groups)
    print(f"{total:>7,} tickets: grouping {took:6.2f} s ({total / took:8,.0f} tickets/s), "
          f"floor (jieba + address) {floor:6.2f} s, ratio {took / floor:4.2f} "
          f"(limit {LIMIT_OVER_FLOOR}); {len(groups)} groups, {flagged} flagged; the water "
          f"main's: {found[0].count if found else 0} tickets, "
          f"{'found as one group' if ok else 'NOT found as one group'}")  # fmt: skip
    return took, floor, ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 and 3,000 tickets")
    args = parser.parse_args()
    small, large = (1000, 3000) if args.quick else (3000, 30000)
    tokenizer()  # jieba's dictionary loaded before the clock starts
    print(f"hot issues: grouping {small:,} and {large:,} tickets of one day")
    took_small, floor_small, ok_small = measure(small)
    took_large, floor_large, ok_large = measure(large)
    scaling = took_large / took_small
    print(f"{large // small}x the tickets: {scaling:.1f}x the time (limit {LIMIT_SCALING:g}x)")
    met = (ok_small and ok_large and scaling <= LIMIT_SCALING
           and took_small <= LIMIT_OVER_FLOOR * floor_small
           and took_large <= LIMIT_OVER_FLOOR * floor_large)  # fmt: skip
    print("every limit met" if met else "a limit missed")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
