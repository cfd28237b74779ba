"""City-wide facility lists: walking supply everywhere, planning standards for the district only."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from geoplan.analysis.ledger import FacilityLedger
from geoplan.config import FacilityLayer, Standards, config_from_dict
from geoplan.errors import ConfigError
from geoplan.sources.facilities import load_facilities
from geoplan.workflows.standards import check_config, district_key, district_stock

CITY = """category_code,name,lon_gcj02,lat_gcj02,district
6,上海市杨浦区五角场街道综合为老服务中心,121.5100,31.3000,杨浦区
6,上海市杨浦区四平路街道综合为老服务中心,121.5000,31.2850,杨浦
6,上海市虹口区江湾镇街道综合为老服务中心,121.4850,31.2900,虹口区
6,上海市宝山区大场镇综合为老服务中心,121.4500,31.3300,宝山区
6,无区名综合为老服务中心,,,
1,上海杨浦区某敬老院,121.5200,31.3100,杨浦区
"""
STREETS = """code,name
310110012,五角场街道
310110011,四平路街道
"""


def _write(tmp_path: Path, text: str = CITY) -> Path:
    (tmp_path / "city.csv").write_text(text, encoding="utf-8")
    (tmp_path / "streets.csv").write_text(STREETS, encoding="utf-8")
    (tmp_path / "a.osm").write_text("<osm/>", encoding="utf-8")
    return tmp_path


def _config(tmp_path: Path, standards: dict[str, object], **layer: object) -> object:
    return config_from_dict({
        "study_area": {"name": "t"}, "paths": {"data_root": str(tmp_path)},
        "network": {"osm_files": ["a.osm"]},
        "facilities": [{"label": "city", "path": "city.csv", "x": "lon_gcj02",
                        "y": "lat_gcj02", "crs": "gcj02", "category_column": "category_code",
                        "category_map": "shanghai-eldercare-map", "categories": {"1": ""},
                        **layer}],
        "areas": {"streets_file": "streets.csv"},
        "population": {"share_60": 0.3},
        "standards": {"elderly_total": 10_000, "only": ["care_centre_per_street"],
                      **standards}}, tmp_path)


def test_district_key() -> None:
    assert district_key("杨浦区") == district_key(" 杨浦 ") == "杨浦"
    assert district_key("浦东新区") == "浦东"
    assert district_key("区") == "区"  # nothing left to compare: kept whole


def test_other_districts_are_supply_but_not_stock(tmp_path: Path) -> None:
    cfg = _config(_write(tmp_path), {"district_name": "杨浦区", "district_code": "310110"},
                  district_column="district")
    load = load_facilities(cfg.facilities)  # type: ignore[attr-defined]
    # every located row of every district is a point (walking supply near the boundary)
    assert len(load.points) == 4
    assert {"上海市虹口区江湾镇街道综合为老服务中心", "上海市宝山区大场镇综合为老服务中心"} <= set(
        load.points["name"])
    assert load.inventory["district"].isna().sum() == 1
    res = check_config(cfg)  # type: ignore[arg-type]
    # standards: Yangpu's two centres only ("杨浦" is "杨浦区")
    assert sorted(res.inventory["name"]) == ["上海市杨浦区五角场街道综合为老服务中心",
                                             "上海市杨浦区四平路街道综合为老服务中心"]
    st = res.table.set_index("unit_name")
    assert st.loc["五角场街道", "check_status"] == "pass"
    assert st.loc["四平路街道", "check_status"] == "pass"
    assert any("2 facilities of other districts" in n and "虹口区 1" in n for n in res.notes)
    assert any("1 facilities of city-wide lists have no district" in n for n in res.notes)


def test_without_district_column_every_row_is_stock(tmp_path: Path) -> None:
    cfg = _config(_write(tmp_path), {"district_name": "杨浦区"})
    res = check_config(cfg)  # type: ignore[arg-type]
    assert len(res.inventory) == 5  # the list is taken as the district's own
    assert not any("other districts" in n for n in res.notes)


def test_district_codes_match_by_prefix(tmp_path: Path) -> None:
    text = CITY.replace(",杨浦\n", ",310110011000\n").replace(",杨浦区\n", ",310110\n")
    inv = load_facilities(_config(_write(tmp_path, text), {"district_code": "310110"},
                                  district_column="district").facilities).inventory
    kept, notes = district_stock(inv, Standards(district_code="310110"),
                                 [FacilityLayer(path=tmp_path / "city.csv", label="city",
                                                district_column="district")])
    assert len(kept) == 2 and notes
    # rows of layers without a district column are always kept
    other, notes = district_stock(inv, Standards(district_code="310110"),
                                  [FacilityLayer(path=tmp_path / "x.csv", label="x",
                                                 district_column="district")])
    assert len(other) == len(inv) and notes == []


def test_district_column_needs_the_district(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"district_column = 'district' needs "
                                          r"standards\.district_name"):
        _config(_write(tmp_path), {}, district_column="district")


def test_categories_left_out_balance_the_facility_ledger(tmp_path: Path) -> None:
    cfg = _config(_write(tmp_path), {"district_name": "杨浦区"}, district_column="district")
    load = load_facilities(cfg.facilities)  # type: ignore[attr-defined]
    assert load.left_out == {"category_left_out": 1}
    ledger = FacilityLedger.from_issues(load.read, load.blank, len(load.points), load.issues,
                                        load.left_out)
    ledger.check()
    assert ledger.not_placed == {"category_left_out": 1, "missing_coordinates": 1}
    with pytest.raises(Exception, match="does not balance"):
        FacilityLedger.from_issues(load.read, load.blank, len(load.points),
                                   load.issues).check()


def test_filtered_rows_balance_the_facility_ledger(tmp_path: Path) -> None:
    cfg = _config(_write(tmp_path), {"district_name": "杨浦区"}, filter_column="district",
                  filter_values=["杨浦区", "杨浦", "虹口区"])
    load = load_facilities(cfg.facilities)  # type: ignore[attr-defined]
    # 宝山区 and the blank row are filtered out; the care home's category is left out
    assert load.left_out == {"filtered_out": 2, "category_left_out": 1}
    FacilityLedger.from_issues(load.read, load.blank, len(load.points), load.issues,
                               load.left_out).check()
    assert isinstance(load.inventory, pd.DataFrame)


LIST = """name,street,lon,lat
甲街道某路睦邻社区长者食堂,甲街道,121.50000,31.30000
甲街道另一长者食堂,甲街道,121.51000,31.30000
"""
# ~9.5 m east of the first (another name), ~48 m east of the second, a day-care centre
# ~5 m from the first, and two meal points of the map itself 5 m apart
MAP = """category_code,name,lon,lat,district
4,上海市杨浦区甲街道某路助餐点,121.50010,31.30000,杨浦区
4,上海市杨浦区甲街道另一助餐点,121.51050,31.30000,杨浦区
3,上海市杨浦区甲街道日间照护中心,121.50005,31.30000,杨浦区
4,上海市杨浦区乙助餐点,121.52000,31.30000,杨浦区
4,上海市杨浦区丙助餐点,121.52005,31.30000,杨浦区
"""


def _two_lists(tmp_path: Path, same_place_m: float) -> object:
    (tmp_path / "list.csv").write_text(LIST, encoding="utf-8")
    (tmp_path / "map.csv").write_text(MAP, encoding="utf-8")
    return load_facilities([
        FacilityLayer(path=tmp_path / "list.csv", label="list", type="canteen",
                      street_column="street"),
        FacilityLayer(path=tmp_path / "map.csv", label="map", category_column="category_code",
                      category_map="shanghai-eldercare-map", district_column="district",
                      same_place_m=same_place_m)])


def test_same_place_merges_two_lists_of_the_same_facilities(tmp_path: Path) -> None:
    load = _two_lists(tmp_path, 30.0)
    dup = load.issues[load.issues["problem"] == "duplicate"]  # type: ignore[attr-defined]
    # only the map's meal point 10 m from the list's canteen: not the one 48 m away, not
    # the day-care centre (another type), not two rows of the map itself
    assert list(dup["name"]) == ["上海市杨浦区甲街道某路助餐点"]
    assert "another name" in dup["detail"].iloc[0] and "list:2" in dup["detail"].iloc[0]
    inv = load.inventory  # type: ignore[attr-defined]
    assert "上海市杨浦区甲街道某路助餐点" not in set(inv["name"])  # counted once
    kept = inv.set_index("name").loc["甲街道某路睦邻社区长者食堂"]
    assert kept["district"] == "杨浦区" and kept["street"] == "甲街道"  # takes the blanks
    assert len(load.points) == 2 + 5 - 1  # type: ignore[attr-defined]
    # without same_place_m, different names are different facilities
    plain = _two_lists(tmp_path, 0.0)
    assert not (plain.issues["problem"] == "duplicate").any()  # type: ignore[attr-defined]
    assert len(plain.points) == 7  # type: ignore[attr-defined]


def test_same_place_range_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="same_place_m"):
        _config(_write(tmp_path), {"district_name": "杨浦区"}, same_place_m=-5)
