"""Where a ticket is about: its address text read into district, street (街道, 镇, 乡),
road (路, 街, 大道, 巷, 胡同) and estate (小区 and the like), each optional.

The reading is simple on purpose: regular expressions over the address as written, after
taking off the province and the city. Known district names (the catalogue's departments of
kind ``district``: 呼和浩特市新城区人民政府 gives 新城区) are found anywhere in the text;
otherwise a district is a name ending in 区, 县 or 旗 at the start (not 小区, 社区, 园区 ...).
House numbers, buildings and units (3号楼2单元) are dropped: the place of a group is the
estate, else the road, else the street, else the district.

Two tickets are at the same place (:func:`same_place`) when, at the finest level both of
them name, they name the same: both name an estate and it is the same one; else both a road,
the same; else both a street; else both only a district, the same. A ticket naming only an
estate and one naming only a road are not at the same place. Two estates of the same name in
two districts count as one (rare; the group's tickets show their addresses).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_HAN = "\u3400-\u4dbf\u4e00-\u9fff"
_PROVINCE = re.compile(f"^[{_HAN}]{{2,8}}?(?:省|自治区)")
_CITY = re.compile(f"^[{_HAN}]{{2,7}}?市(?!场|民)")
_DISTRICT = re.compile(f"^([{_HAN}]{{1,6}}?(?:区|县|旗))")
_NOT_DISTRICT = ("小区", "社区", "园区", "校区", "街区", "景区", "厂区", "矿区", "营区")
_STREET = re.compile(f"([{_HAN}]{{1,8}}?(?:街道|镇|乡|苏木))")
_ROAD = re.compile(f"([{_HAN}0-9]{{1,10}}?(?:大道|大街|路|街|巷|胡同))(?![道区])")
_ESTATE = re.compile(
    f"([{_HAN}0-9]{{2,12}}?(?:小区|社区|家园|花园|公寓|新村|新城|嘉园|名苑|大厦|广场|村|苑|园|院))"
)
#: what may stand before an estate's name and is not part of it
_ESTATE_LEAD = re.compile(f"^.*?(?:[0-9]+号|与[{_HAN}]+?(?:路|街)|交叉口|附近|对面|旁边|门口)")


@dataclass(frozen=True)
class Place:
    district: str = ""
    street: str = ""
    road: str = ""
    estate: str = ""

    @property
    def label(self) -> str:
        """The place as a group shows it: the finest level named, after its district."""
        finest = self.estate or self.road or self.street
        if self.district and finest:
            return f"{self.district}{finest}"
        return finest or self.district

    @property
    def keys(self) -> list[str]:
        """The blocks a ticket is compared within: each level it names below the district,
        else its district alone."""
        finer = [f"{tag}:{v}" for tag, v in (("e", self.estate), ("r", self.road),
                                             ("s", self.street)) if v]  # fmt: skip
        return finer or ([f"d:{self.district}"] if self.district else [])


def district_names(department_names: Iterable[str]) -> list[str]:
    """The short district names in the catalogue's district departments' names
    (呼和浩特市新城区人民政府 -> 新城区; 和林格尔新区管理委员会 -> 和林格尔新区)."""
    out = []
    for name in department_names:
        name = _CITY.sub("", name)
        m = re.match(f"([{_HAN}]{{2,8}}?(?:区|县|旗))(?:人民政府|管理委员会|管委会|政府)?", name)
        if m and not m.group(1).endswith(_NOT_DISTRICT):
            out.append(m.group(1))
    return sorted(set(out), key=len, reverse=True)


def place_of(address: str, districts: Iterable[str] = ()) -> Place:
    """The place an address names (see the module's docstring)."""
    text = re.sub(r"\s+", "", address)
    text = _CITY.sub("", _PROVINCE.sub("", text))
    district = next((d for d in districts if d in text), "")
    if district:
        text = text.split(district, 1)[1]
    else:
        m = _DISTRICT.match(text)
        if m and not m.group(1).endswith(_NOT_DISTRICT):
            district, text = m.group(1), text[m.end() :]
    street = ""
    m = _STREET.search(text)
    if m:
        street, text = m.group(1), text[: m.start()] + " " + text[m.end() :]
    road = ""
    m = _ROAD.search(text)
    if m:
        road = m.group(1)
        text = text[: m.start()] + " " + text[m.end() :]
    estate = ""
    for part in text.split():
        m = _ESTATE.search(part)
        if m:
            estate = m.group(1)
            cleaned = _ESTATE_LEAD.sub("", estate)
            if cleaned != estate and _ESTATE.fullmatch(cleaned):
                estate = cleaned
            estate = estate.lstrip("0123456789")
            break
    return Place(district, street, road, estate)


def same_place(a: Place, b: Place) -> bool:
    """At the finest level both name, the same (see the module's docstring)."""
    for level in ("estate", "road", "street"):
        x, y = getattr(a, level), getattr(b, level)
        if x and y:
            return bool(x == y)
    if a.estate or a.road or a.street or b.estate or b.road or b.street:
        return False
    return a.district == b.district
