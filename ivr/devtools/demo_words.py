"""What the demo's requests say and where they are: short contents per top category taken from
seed 004's own problems and suggestions, street addresses in Siping, and a few places that
call again and again about one thing (so that a report's draft finds repeated places)."""

from __future__ import annotations

import random

CONTENTS = {
    "epidemic": [
        "小区垃圾清理不及时，拾荒老人随意堆放物品",
        "咨询车辆通行情况和外省、外市返平人员如何隔离",
        "咨询医院核酸检测、隔离是否免费",
        "口罩购买困难，药店一次性口罩质差价高",
        "双向开门店铺后门开放，不利于疫情防控",
        "饲料运输车辆经常被拦截",
        "小区消毒不及时，人员出行把控不严",
        "返回外地复工需要社区开具健康证明，社区不给开具",
        "装修公司无法进小区干活",
        "咨询公交车开通时间及运营情况",
    ],
    "housing": [
        "物业至今未开具物业费发票，服务态度不好",
        "暖房子工程房屋漏水",
        "阳台北侧私自搭建彩钢房",
        "电梯故障停运",
    ],
    "housing_fund": ["咨询住房公积金提取办理", "住房公积金贷款进度查询"],
    "utilities": ["家中天然气停气，无法外出缴费", "小区停水", "供热温度不达标", "停电未通知"],
    "transport": ["出租车拒载", "道路积雪未及时清理", "公交车未按时发车"],
    "enforcement": ["占道经营", "私自设置地锁"],
    "public_security": ["村民聚众打麻将，疫情期间村里管理不够", "夜间噪声扰民"],
    "medical_insurance": ["医保预约电话多次始终占线，建议开放办事窗口"],
    "social_security": ["低保停止发放，原因不明，请求重新申请", "咨询养老保险缴费"],
    "dogs": ["小区居民遛大型犬不拴牵引绳", "狗粪便不及时清理", "犬吠声音大影响休息"],
    "pollution": ["烧烤店油烟扰民", "工地扬尘"],
    "rural_other": ["咨询复工复产政策", "土地承包纠纷", "手机信号差", "有线电视无信号"],
}
#: what a request of a sub-category says (before its top category's words)
BY_CATEGORY = {
    "epidemic.sanitation": ["小区垃圾清理不及时，拾荒老人随意堆放物品", "小区消毒不及时"],
    "epidemic.travel": ["咨询车辆通行情况和外省、外市返平人员如何隔离", "饲料运输车辆经常被拦截"],
    "epidemic.testing": ["咨询医院核酸检测、隔离是否免费"],
    "epidemic.supplies": ["口罩购买困难，药店一次性口罩质差价高"],
    "epidemic.community": ["返回外地复工需要社区开具健康证明，社区不给开具", "人员出行把控不严"],
    "epidemic.business": ["咨询复工时间", "双向开门店铺后门开放，不利于疫情防控"],
    "epidemic.other": ["装修公司无法进小区干活", "咨询公交车开通时间及运营情况"],
    "housing.property": ["物业至今未开具物业费发票，服务态度不好", "电梯故障停运"],
    "housing.renovation": ["暖房子工程房屋漏水"],
    "housing.illegal_building": ["阳台北侧私自搭建彩钢房"],
    "housing.decoration": ["装修噪声扰民"],
    "utilities.water": ["小区停水"],
    "utilities.power": ["停电未通知"],
    "utilities.gas": ["家中天然气停气，无法外出缴费"],
    "utilities.heating": ["供热温度不达标"],
    "rural_other.rural": ["村路积雪无人清理", "农村低保停发，原因不明"],
    "rural_other.land": ["土地承包纠纷"],
    "rural_other.telecom": ["手机信号差", "有线电视无信号"],
    "rural_other.other": ["咨询复工复产政策", "咨询办事地点和电话"],
}
SUGGESTIONS = [
    "建议社区疫情宣传喇叭调低音量，定时播放",
    "建议书店尽早开门，以便上网课的学生购买书籍",
    "建议加强对开放市场的管控，商贩及采购人员须戴口罩",
    "建议疫情期间商网及大型商场适当减免租金",
    "建议相关部门提前做好暖房子工程漏水的预案",
    "建议医院针对发热病人就医不要一刀切",
]
STREETS = [
    "铁西区北沟街道",
    "铁西区地直街道",
    "铁东区平东街道",
    "铁东区北门街道",
    "梨树县梨树镇",
    "伊通县伊通镇",
    "双辽市郑家屯街道",
]
#: places whose residents call again about one thing: address -> top category
HOTSPOTS = {
    "铁西区中华名城小区5号楼": "dogs",
    "铁西区华宇城二期B5号楼": "housing",
    "伊通县锦城苑小区3号楼": "housing",
    "铁东区二里早市": "epidemic",
    "梨树县郭家店镇": "utilities",
}


def content(rng: random.Random, category: str, type_: str, fallback: str) -> str:
    if type_ == "suggestion":
        return rng.choice(SUGGESTIONS)
    said = BY_CATEGORY.get(category) or CONTENTS.get(category.split(".")[0])
    return rng.choice(said) if said else fallback


def address(rng: random.Random, top: str) -> str:
    spots = [a for a, t in HOTSPOTS.items() if t == top]
    if spots and rng.random() < 0.05:
        return rng.choice(spots)
    return f"{rng.choice(STREETS)}{rng.randint(1, 400)}号"
