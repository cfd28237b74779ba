"""Issue 13, "Check": the demo runs the whole service circle on the real Yangpu data.

All facility types of the municipal map and the 65 institutions (planned beds joined),
four required types, standards for the district and its 12 streets. One run per module
(about 20-40 s).
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pyogrio
import pytest

from geoplan.cli import main
from geoplan.config import load_config
from tests.test_site import demo_config

STATUSES_WITH_DATA = {"pass", "fail", "unknown"}


@pytest.fixture(scope="module")
def circle_run(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("circle")
    cfg = demo_config(demo_dir, out)
    assert main(["run", str(cfg), "-q"]) == 0
    return out


def _gpkg(run: Path) -> Path:
    return run / "data" / "yangpu-wujiaochang-coverage.gpkg"


def test_at_least_five_types_placed(circle_run: Path) -> None:
    cfg = load_config(circle_run / "demo.toml")
    assert cfg.analysis.required_types == ("canteen", "day_care", "care_centre",
                                           "community_org")
    fac = gpd.read_file(_gpkg(circle_run), layer="facilities")
    placed = set(fac["type"])
    assert len(placed) >= 5
    assert set(cfg.analysis.required_types) <= placed
    # the care homes come from the institution list only (map categories 1-2 left out)
    assert "care_home_small" not in cfg.facility_types
    assert set(fac.loc[fac["type"] == "care_home", "layer"]) == {"杨浦养老机构2024"}
    summary = pyogrio.read_dataframe(_gpkg(circle_run), layer="summary")
    share = {t: float(summary[f"{t}_share_15"].iloc[0]) for t in cfg.analysis.required_types}
    # the circle needs every required type: never more than the scarcest one
    assert 0 < summary["circle_share"].iloc[0] <= min(share.values()) + 1e-12
    assert summary["n_areas"].iloc[0] == 117


def test_neighbouring_districts_are_supply_not_stock(circle_run: Path) -> None:
    fac = gpd.read_file(_gpkg(circle_run), layer="facilities")
    # the study area (the two OSM boxes) reaches into Hongkou: its facilities are supply
    hongkou = fac[fac["name"].astype(str).str.contains("虹口区")]
    assert len(hongkou) >= 1 and set(hongkou["type"]) >= {"canteen", "day_care"}
    # ... but not Yangpu's stock: the standards list every counted facility lacking floor
    # area, and none of them is Hongkou's
    missing = pyogrio.read_dataframe(_gpkg(circle_run), layer="standards_missing")
    floor = missing[missing["standard_id"] == "homecare_floor_area"]
    assert not floor["name"].astype(str).str.contains("虹口区|宝山区|浦东").any()
    assert floor["name"].astype(str).str.contains("上海市杨浦区").sum() >= 80
    wb = openpyxl.load_workbook(circle_run / "data" / "yangpu-wujiaochang-areas.xlsx",
                                read_only=True)
    assert "名称匹配" in wb.sheetnames
    std = pyogrio.read_dataframe(_gpkg(circle_run), layer="standards")
    # care centres per street counted from Yangpu's own rows: 16 in the map, all named
    # after their street
    cc = std[(std["standard_id"] == "care_centre_per_street")
             & (std["unit_level"] == "street")]
    assert cc["existing_amount"].sum() == 16


def test_street_standards_for_all_twelve_streets(circle_run: Path) -> None:
    std = pyogrio.read_dataframe(_gpkg(circle_run), layer="standards")
    streets = std[std["unit_level"] == "street"]
    assert streets["unit_code"].nunique() == 12
    assert (streets["elderly"] > 0).all()  # census residents × the 60+ share
    assert not (streets["check_status"] == "no_base").any()
    with_layer = streets[streets["check_status"] != "no_data"]
    # the standards whose facility types the demo has: every street has a status
    for sid in ("care_home_beds", "nursing_beds", "homecare_floor_area",
                "public_care_home_per_street", "care_centre_per_street"):
        rows = with_layer[with_layer["standard_id"] == sid]
        assert len(rows) == 12, sid
        assert set(rows["check_status"]) <= STATUSES_WITH_DATA, sid
    # street bases: residents_2020 × the district's 60+ share (≈ 31.8 %) sum to the
    # census 60+ of the district (394,927), not to the registered 431,700
    bases = streets.drop_duplicates("unit_code")["elderly"].sum()
    assert bases == pytest.approx(394_944, abs=50)
    district = std[(std["unit_level"] == "district")
                   & (std["standard_id"] == "care_home_beds")].iloc[0]
    assert district["required"] == 10_793 and district["check_status"] == "fail"


def test_beds_joined_for_32_institutions(circle_run: Path) -> None:
    joins = pyogrio.read_dataframe(_gpkg(circle_run), layer="joins")
    matched = joins[joins["match"] != "unmatched"]
    assert matched["fid"].nunique() >= 32
    assert set(matched["match"]) <= {"exact", "normalised", "fuzzy"}
    assert (joins["layer"] == "杨浦养老机构2024").all()
    fac = gpd.read_file(_gpkg(circle_run), layer="facilities")
    homes = fac[fac["layer"] == "杨浦养老机构2024"]
    beds = homes["planned_beds_2025"].to_numpy(np.float64)
    # placed institutions carry the plan's beds where the name matched
    placed_matched = homes["fid"].isin(matched["fid"]).to_numpy()
    assert np.isfinite(beds[placed_matched]).all()
    assert np.isnan(beds[~placed_matched]).all()
