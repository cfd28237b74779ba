"""Registry of elder-care facility types named in the plans (see docs/domain.md).

Each type has a stable key used in configs, Chinese and English names for labels,
the capacity unit the plans count it by, and a default catchment in minutes of walking.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True)
class FacilityType:
    """One facility type.

    Attributes
    ----------
    key : str
        Config key, e.g. ``"canteen"``.
    name_zh, name_en : str
        Display names.
    catchment_min : float
        Default walking catchment in minutes.
    capacity_unit_zh, capacity_unit_en : str
        What capacity counts (beds, seats, places, m²).
    color : str
        Map colour (hex).
    """

    key: str
    name_zh: str
    name_en: str
    catchment_min: float
    capacity_unit_zh: str
    capacity_unit_en: str
    color: str

    def name(self, lang: str) -> str:
        """Display name in ``lang`` ("zh" or "en")."""
        return self.name_zh if lang == "zh" else self.name_en


_TYPES = (
    FacilityType("care_centre", "社区综合为老服务中心", "Community comprehensive elder-care centre",
                 15, "平方米", "m²", "#d62728"),
    FacilityType("day_care", "老年人日间照料中心", "Day-care centre", 15, "个托位", "places",
                 "#ff7f0e"),
    FacilityType("canteen", "长者食堂/社区助餐点", "Elder canteen / meal point", 15, "个餐位",
                 "seats", "#1f77b4"),
    FacilityType("doorstep_station", "家门口养老服务站", "Doorstep elder-care station", 10,
                 "平方米", "m²", "#2ca02c"),
    FacilityType("care_home_small", "长者照护之家", "Small community care home", 15, "张床位",
                 "beds", "#9467bd"),
    FacilityType("care_home", "养老机构", "Care home", 30, "张床位", "beds", "#8c564b"),
    FacilityType("neighbourhood_centre", "社区睦邻中心", "Neighbourhood centre", 15, "平方米",
                 "m²", "#e377c2"),
    FacilityType("health_centre", "社区卫生服务中心/站", "Community health centre", 15,
                 "个", "units", "#17becf"),
    FacilityType("activity_room", "老年活动室", "Elderly activity room", 10, "平方米", "m²",
                 "#bcbd22"),
    FacilityType("care_complex", "养老服务综合体", "Elder-care complex", 15, "平方米", "m²",
                 "#7f7f7f"),
    FacilityType("community_org", "社区养老服务组织", "Community elder-care organisation", 15,
                 "个", "units", "#aec7e8"),
    FacilityType("nursing_station", "护理站", "Nursing station", 15, "个", "units",
                 "#98df8a"),
    FacilityType("nursing_hospital", "护理院", "Nursing hospital", 30, "张床位", "beds",
                 "#ff9896"),
)

#: All known facility types by key, in display order.
FACILITY_TYPES: dict[str, FacilityType] = {t.key: t for t in _TYPES}


#: Built-in category maps: the categories of a published facility list (by code and by
#: name, as they appear in its category column) -> facility type key. Named by
#: ``category_map`` of a ``[[facilities]]`` layer; ``[facilities.categories]`` entries
#: override or extend them.
CATEGORY_MAPS: dict[str, dict[str, str]] = {
    # Shanghai municipal elder-care service map (上海市养老服务平台), 8 official categories.
    "shanghai-eldercare-map": {
        "1": "care_home", "养老机构": "care_home",
        "2": "care_home_small", "长者照护之家": "care_home_small",
        "3": "day_care", "老年日间照护机构": "day_care",
        "4": "canteen", "助餐服务点": "canteen",
        "5": "community_org", "社区养老服务组织": "community_org",
        "6": "care_centre", "社区综合为老服务中心": "care_centre",
        "7": "nursing_station", "护理站": "nursing_station",
        "8": "nursing_hospital", "护理院": "nursing_hospital",
    },
}


def category_key(value: str) -> str:
    """The form in which categories are compared: NFKC (full-width digits/letters to
    half-width), no surrounding or inner spaces, ``"4.0"`` -> ``"4"``."""
    text = "".join(unicodedata.normalize("NFKC", str(value)).split())
    if text.endswith(".0") and text[:-2].isdigit():
        text = text[:-2]
    return text


def get_type(key: str) -> FacilityType:
    """Return the facility type for ``key``.

    Raises
    ------
    KeyError
        If ``key`` is not registered (config validation reports this earlier).
    """
    return FACILITY_TYPES[key]
