"""Category maps (one file, several typed layers) and geocoder quality (issue 13, parts 1, 3)."""

from __future__ import annotations

import logging
from pathlib import Path

import folium
import numpy as np
import pytest

from geoplan.config import FacilityLayer, config_from_dict
from geoplan.errors import ConfigError, InputDataError
from geoplan.outputs.webmap import _add_facilities
from geoplan.sources.facilities import load_facilities, load_facility_layer
from geoplan.sources.facility_types import CATEGORY_MAPS, FACILITY_TYPES

from .conftest import missing_data

CITY_MAP = """category_code,category,name,lon_gcj02,lat_gcj02,district
1,养老机构,甲敬老院,121.5000,31.3000,杨浦区
4,助餐服务点,乙长者食堂,121.5010,31.3010,杨浦区
4,助餐服务点,乙长者食堂,121.50102,31.30103,杨浦区
4,助餐服务点,乙长者食堂,121.5300,31.3300,杨浦区
7,护理站,丙护理站,121.5020,31.3020,杨浦区
８,护理院,丁护理院,121.5030,31.3030,杨浦区
9,老年大学,戊老年大学,121.5040,31.3040,杨浦区
,未分类,己服务点,121.5050,31.3050,杨浦区
5,社区养老服务组织,庚社区组织,,,杨浦区
"""


def _city_layer(tmp_path: Path, **kw: object) -> FacilityLayer:
    path = tmp_path / "city.csv"
    path.write_text(CITY_MAP, encoding="utf-8")
    args = {"path": path, "label": "city", "x": "lon_gcj02", "y": "lat_gcj02", "crs": "gcj02",
            "category_column": "category_code", "category_map": "shanghai-eldercare-map"}
    args.update(kw)
    return FacilityLayer(**args)  # type: ignore[arg-type]


def test_builtin_map_covers_registry() -> None:
    for t in CATEGORY_MAPS["shanghai-eldercare-map"].values():
        assert t in FACILITY_TYPES
    for key in ("nursing_station", "nursing_hospital", "community_org", "canteen",
                "care_home"):  # new types added, old keys kept
        assert key in FACILITY_TYPES


def test_category_column_gives_typed_rows(tmp_path: Path,
                                          caplog: pytest.LogCaptureFixture) -> None:
    layer = _city_layer(tmp_path)
    assert layer.types == ("care_home", "care_home_small", "day_care", "canteen",
                           "community_org", "care_centre", "nursing_station",
                           "nursing_hospital")
    with caplog.at_level(logging.WARNING):
        load = load_facility_layer(layer)
    pts = load.points
    assert dict(zip(pts["name"], pts["type"], strict=True)) == {
        "甲敬老院": "care_home", "乙长者食堂": "canteen", "丙护理站": "nursing_station",
        "丁护理院": "nursing_hospital"}  # full-width ８ is category 8
    # the repeated canteen 6 m away is reported once and kept once; the one 4 km away stays
    assert (pts["name"] == "乙长者食堂").sum() == 2
    dup = load.issues[load.issues["problem"] == "duplicate"]
    assert dup["row"].tolist() == [4]
    # categories the map does not cover are listed, not dropped silently
    unmapped = load.issues[load.issues["problem"] == "unmapped_category"]
    assert unmapped["row"].tolist() == [8, 9]
    assert "'9'" in unmapped["detail"].iloc[0] and "(blank)" in unmapped["detail"].iloc[1]
    assert "'9' (1)" in caplog.text and "'(blank)' (1)" in caplog.text
    # the unlocated row keeps its type in the inventory
    inv = load.inventory.set_index("name")
    assert inv.loc["庚社区组织", "type"] == "community_org"
    assert not inv.loc["庚社区组织", "located"]
    assert "戊老年大学" not in inv.index


def test_inline_categories_override_and_leave_out(tmp_path: Path) -> None:
    layer = _city_layer(tmp_path, category_map=None, category_column="category",
                        categories=(("养老机构", "care_home"), ("助餐服务点", "canteen"),
                                    ("护理站", ""), ("护理院", ""), ("老年大学", ""),
                                    ("未分类", ""), ("社区养老服务组织", "")))
    assert layer.types == ("care_home", "canteen")
    load = load_facility_layer(layer)
    assert set(load.points["type"]) == {"care_home", "canteen"}
    assert "unmapped_category" not in set(load.issues["problem"])
    both = _city_layer(tmp_path, categories=(("9", "activity_room"),))
    assert "activity_room" in both.types
    assert "activity_room" in set(load_facility_layer(both).points["type"])


def test_category_config_errors(tmp_path: Path) -> None:
    (tmp_path / "f.csv").write_text("name,lon,lat,cat\na,121.5,31.3,1\n", encoding="utf-8")
    (tmp_path / "a.osm").write_text("<osm/>", encoding="utf-8")

    def cfg(layer: dict[str, object]) -> object:
        return config_from_dict({
            "study_area": {"name": "t"}, "paths": {"data_root": str(tmp_path)},
            "network": {"osm_files": ["a.osm"]},
            "facilities": [{"path": "f.csv", **layer}],
            "population": {"share_60": 0.3}}, tmp_path)

    ok = cfg({"category_column": "cat", "categories": {"1": "care_home", "2": "canteen"}})
    assert ok.facility_types == ("care_home", "canteen")  # type: ignore[attr-defined]
    ok = cfg({"category_column": "cat", "category_map": "shanghai-eldercare-map"})
    assert len(ok.facility_types) == 8  # type: ignore[attr-defined]
    for layer, msg in [
        ({"category_column": "cat"}, "needs a category map"),
        ({"category_column": "cat", "category_map": "beijing"}, "not a built-in map"),
        ({"category_column": "cat", "categories": {"1": "hospital"}}, "not a known"),
        ({"category_column": "cat", "type": "canteen", "categories": {"1": "canteen"}},
         "either type"),
        ({"categories": {"1": "canteen"}, "type": "canteen"}, "need category_column"),
        ({}, "needs type"),
        ({"type": "canteen", "quality_column": "q"}, "go together"),
        ({"type": "canteen", "bad_match_levels": ["村庄"]}, "go together"),
        ({"type": "canteen", "low_quality": "hide"}, "low_quality"),
        ({"type": "canteen", "filter_column": "district"}, "go together"),
        ({"category_column": "cat", "categories": "care_home"}, "must be a table"),
    ]:
        with pytest.raises(ConfigError, match=msg):
            cfg(layer)


def test_missing_category_column(tmp_path: Path) -> None:
    layer = _city_layer(tmp_path, category_column="kind")
    with pytest.raises(InputDataError, match="column 'kind' not found"):
        load_facility_layer(layer)


INSTITUTIONS = """name,street,lon_bd09,lat_bd09,geocode_level,geocode_confidence
甲养老院,殷行街道,121.5500,31.3100,门址,80.0
乙养老院,殷行街道,121.5510,31.3110,地产小区,70.0
丙养老院,殷行街道,121.5520,31.3120,门址,0.0
丁养老院,殷行街道,121.5530,31.3130,村庄,40
戊养老院,殷行街道,121.5540,31.3140,门址,
"""


def _institutions(tmp_path: Path, **kw: object) -> FacilityLayer:
    path = tmp_path / "inst.csv"
    path.write_text(INSTITUTIONS, encoding="utf-8")
    args = {"path": path, "type": "care_home", "label": "inst", "x": "lon_bd09",
            "y": "lat_bd09", "crs": "bd09", "street_column": "street",
            "quality_column": "geocode_confidence", "min_quality": 50.0,
            "match_level_column": "geocode_level", "bad_match_levels": ("地产小区", "村庄")}
    args.update(kw)
    return FacilityLayer(**args)  # type: ignore[arg-type]


def test_low_geocode_quality_flagged(tmp_path: Path) -> None:
    load = load_facility_layer(_institutions(tmp_path))
    pts = load.points.set_index("name")
    assert len(pts) == 5  # flagged, not dropped
    assert pts["geocode_note"].isna().tolist() == [True, False, False, False, True]
    assert "地产小区" in pts.loc["乙养老院", "geocode_note"]
    assert "0.0 < 50" in pts.loc["丙养老院", "geocode_note"]
    assert "40 < 50" in pts.loc["丁养老院", "geocode_note"]
    assert "村庄" in pts.loc["丁养老院", "geocode_note"]
    low = load.issues[load.issues["problem"] == "low_geocode_quality"]
    assert low["row"].tolist() == [3, 4, 5] and set(low["action"]) == {"kept"}
    # on the map: a note in the popup and a dashed red ring
    m = folium.Map()
    _add_facilities(m, load.points, ["care_home"], "zh")
    html = m.get_root().render()
    assert "定位存疑" in html and '"dashArray": "3 3"' in html


def test_low_geocode_quality_dropped(tmp_path: Path) -> None:
    load = load_facility_layer(_institutions(tmp_path, low_quality="drop"))
    assert sorted(load.points["name"]) == ["戊养老院", "甲养老院"]
    low = load.issues[load.issues["problem"] == "low_geocode_quality"]
    assert set(low["action"]) == {"dropped"} and len(low) == 3
    assert load.inventory["located"].sum() == 2 and len(load.inventory) == 5


def test_duplicate_keeps_attributes_of_dropped_row(tmp_path: Path) -> None:
    a = tmp_path / "a.csv"
    a.write_text("name,lon,lat\n甲敬老院,121.5,31.3\n", encoding="utf-8")
    b = tmp_path / "b.csv"
    b.write_text("name,lon,lat,beds,address\n甲敬老院,121.50001,31.30001,120,某路1号\n",
                 encoding="utf-8")
    load = load_facilities([
        FacilityLayer(path=a, type="care_home", label="a"),
        FacilityLayer(path=b, type="care_home", label="b", beds_column="beds",
                      address_column="address")])
    assert len(load.points) == 1 and load.points["fid"].iloc[0] == "a:2"
    assert load.points["beds"].iloc[0] == 120 and load.points["address"].iloc[0] == "某路1号"
    assert load.inventory["beds"].tolist() == [120]


def test_real_city_map_and_institutions(demo_dir: Path) -> None:
    fac = demo_dir / "facilities"
    if not (fac / "shanghai_eldercare_map_2024_gcj02.csv").is_file():
        missing_data(f"{fac}/shanghai_eldercare_map_2024_gcj02.csv not found")
    city = FacilityLayer(path=fac / "shanghai_eldercare_map_2024_gcj02.csv", label="city",
                         x="lon_gcj02", y="lat_gcj02", crs="gcj02",
                         category_column="category_code",
                         category_map="shanghai-eldercare-map")
    load = load_facility_layer(city)
    counts = load.inventory["type"].value_counts()
    assert len(load.inventory) + (load.issues["problem"] == "duplicate").sum() == 3821
    assert counts["canteen"] + (load.issues["problem"] == "duplicate").sum() >= 1561 - 30
    assert len(counts) == 8
    assert (load.issues["problem"] == "missing_coordinates").sum() == 44
    assert "unmapped_category" not in set(load.issues["problem"])
    inst = FacilityLayer(path=fac / "yangpu_care_institutions_2024_bd09.csv", label="inst",
                         type="care_home", x="lon_bd09", y="lat_bd09", crs="bd09",
                         quality_column="geocode_confidence", min_quality=50,
                         match_level_column="geocode_level", bad_match_levels=("地产小区",))
    pts = load_facility_layer(inst).points
    assert len(pts) == 65
    assert pts.loc[pts["name"] == "上海市杨浦区长海路街道敬老院", "geocode_note"].notna().all()
    assert int(np.sum(pts["geocode_note"].notna())) == 8  # 7 compound level, 1 confidence 0


def test_filter_rows_of_a_city_wide_list(tmp_path: Path) -> None:
    path = tmp_path / "city2.csv"
    path.write_text(CITY_MAP.replace("丙护理站,121.5020,31.3020,杨浦区",
                                     "丙护理站,121.4020,31.2020,普陀区"), encoding="utf-8")
    layer = _city_layer(tmp_path, path=path, filter_column="district",
                        filter_values=("杨浦区",))
    load = load_facility_layer(layer)
    assert "丙护理站" not in set(load.inventory["name"])
    assert "丙护理站" not in set(load.issues["name"])
    assert "丁护理院" in set(load.points["name"])
    with pytest.raises(InputDataError, match="no row has district in 浦东新区"):
        load_facility_layer(_city_layer(tmp_path, path=path, filter_column="district",
                                        filter_values=("浦东新区",)))
    with pytest.raises(InputDataError, match="column '区'"):
        load_facility_layer(_city_layer(tmp_path, path=path, filter_column="区",
                                        filter_values=("杨浦区",)))


def test_duplicate_does_not_take_over_geocode_note(tmp_path: Path) -> None:
    a = tmp_path / "a.csv"
    a.write_text("name,lon,lat\n甲敬老院,121.5,31.3\n", encoding="utf-8")
    b = tmp_path / "b.csv"
    b.write_text("name,lon,lat,conf\n甲敬老院,121.50001,31.30001,10\n", encoding="utf-8")
    load = load_facilities([
        FacilityLayer(path=a, type="care_home", label="a"),
        FacilityLayer(path=b, type="care_home", label="b", quality_column="conf",
                      min_quality=50)])
    assert len(load.points) == 1 and load.points["geocode_note"].isna().all()
