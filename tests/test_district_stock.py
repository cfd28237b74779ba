"""City-wide facility lists: walking supply everywhere, planning standards for the district only."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from geoplan.analysis.ledger import FacilityLedger
from geoplan.config import FacilityLayer, Standards, config_from_dict
from geoplan.errors import ConfigError
from geoplan.sources.facilities import load_facilities
from geoplan.standards_pipeline import check_config, district_key, district_stock

CITY = """category_code,name,lon_gcj02,lat_gcj02,district
6,上海市杨浦区五角场街道综合为老服务中心,121.5100,31.3000,杨浦区
6,上海市杨浦区四平路街道综合为老服务中心,121.5000,31.2850,杨浦区 
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
    # standards: Yangpu's two centres only (the trailing space does not matter)
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
    text = CITY.replace(",杨浦区 \n", ",310110011000\n").replace(",杨浦区\n", ",310110\n")
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
    with pytest.raises(ConfigError, match="district_column = 'district' needs "
                                          "standards.district_name"):
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
                  filter_values=["杨浦区", "虹口区"])
    load = load_facilities(cfg.facilities)  # type: ignore[attr-defined]
    # 宝山区 and the blank row are filtered out; the care home's category is left out
    assert load.left_out == {"filtered_out": 2, "category_left_out": 1}
    FacilityLedger.from_issues(load.read, load.blank, len(load.points), load.issues,
                               load.left_out).check()
    assert isinstance(load.inventory, pd.DataFrame)
