"""End to end on the real Yangpu demo data: the README's main job, checked."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pyogrio
import pytest

from geoplan.cli import main

REPO = Path(__file__).resolve().parents[1]
#: Facility rows the demo reads: 43 + 4 canteens, 65 institutions, 3,821 map rows.
READ = 43 + 4 + 65 + 3821


@pytest.fixture(scope="module")
def demo_run(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.test_site import demo_config

    out = tmp_path_factory.mktemp("demo")
    cfg = demo_config(demo_dir, out)
    assert main(["run", str(cfg)]) == 0
    return out


def test_outputs_exist_and_agree(demo_run: Path) -> None:
    data = demo_run / "data"
    gpkg = data / "yangpu-wujiaochang-coverage.gpkg"
    layers = {name for name, _ in pyogrio.list_layers(gpkg)}
    assert {"areas", "demand_points", "facilities", "isochrones", "isochrones_by_type",
            "walk_network", "issues", "summary"} <= layers
    areas = gpd.read_file(gpkg, layer="areas")
    demand = gpd.read_file(gpkg, layer="demand_points")
    summary = pyogrio.read_dataframe(gpkg, layer="summary")
    # the area table adds up to the study-area summary
    assert areas["elderly_60"].sum() == pytest.approx(summary["elderly_60"].iloc[0], rel=1e-9)
    assert demand["elderly_60"].sum() == pytest.approx(areas["elderly_60"].sum(), rel=1e-9)
    covered = (areas["circle_share"].fillna(0) * areas["elderly_60"]).sum()
    assert covered / areas["elderly_60"].sum() == pytest.approx(
        summary["circle_share"].iloc[0], rel=1e-9)
    # every estimate is labelled as one (no committee counts in the demo)
    assert areas["pop_estimated"].astype(bool).all()
    assert set(areas["area_kind"]) <= {"compound", "grid"}
    ranks = areas["gap_rank"].dropna().astype(int).sort_values().to_numpy()
    assert (ranks == np.arange(1, len(ranks) + 1)).all()
    # shares are nested by threshold
    for a, b in (("canteen_share_5", "canteen_share_10"), ("canteen_share_10",
                                                           "canteen_share_15")):
        ok = areas[a].notna()
        assert (areas.loc[ok, a] <= areas.loc[ok, b] + 1e-12).all()
    # demand times agree with the 15-minute share
    t = demand["canteen_time_min"].to_numpy()
    share = np.nansum(demand["elderly_60"].to_numpy() * (t <= 15)) / demand["elderly_60"].sum()
    assert share == pytest.approx(summary["canteen_share_15"].iloc[0], rel=1e-9)


def test_demo_figures_are_plausible(demo_run: Path) -> None:
    gpkg = demo_run / "data" / "yangpu-wujiaochang-coverage.gpkg"
    fac = gpd.read_file(gpkg, layer="facilities")
    issues = pyogrio.read_dataframe(gpkg, layer="issues")
    # 43 + 4 canteens, 65 institutions, 3,821 rows of the municipal map: every row is
    # placed, reported, or in a category left out on purpose (846 care homes of the map,
    # which the institution list already holds)
    assert len(fac) + (issues["action"] == "dropped").sum() + 846 == READ
    # 4 canteens to geocode, 34 rows of the map without coordinates
    assert (issues["problem"] == "missing_coordinates").sum() == 4 + 34
    # beyond walking reach of the boundary, or within it but where the OSM source ends
    assert issues["problem"].isin(["outside_study_area", "beyond_network"]).sum() == \
        READ - 846 - 38 - (issues["problem"] == "duplicate").sum() - len(fac)
    canteens = fac[fac["type"] == "canteen"]
    assert 3 <= (canteens["layer"] == "长者食堂2024").sum() <= 15
    assert 10 <= len(canteens) <= 40
    assert fac["type"].nunique() >= 5
    # GCJ-02 converted: the list's canteens sit on streets (the map's points, placed by
    # the municipal platform, lie up to a few hundred metres off a mapped way)
    assert (canteens.loc[canteens["layer"] == "长者食堂2024", "snap_m"] < 150).all()
    assert (fac["snap_m"] < 300).all()
    summary = pyogrio.read_dataframe(gpkg, layer="summary")
    e60 = summary["elderly_60"].iloc[0]
    # ~20 km2 of dense Yangpu at ~20,000 residents/km2 x 31.8 % -> order 1e4-1e5 aged 60+
    assert 10_000 < e60 < 200_000
    assert 0 < summary["canteen_share_15"].iloc[0] < 1


def test_tables_and_manifest(demo_run: Path) -> None:
    data = demo_run / "data"
    csv = data / "yangpu-wujiaochang-areas.csv"
    assert csv.read_bytes()[:3] == b"\xef\xbb\xbf"
    df = pd.read_csv(csv, encoding="utf-8-sig")
    assert any("15分钟" in c for c in df.columns)
    wb = openpyxl.load_workbook(data / "yangpu-wujiaochang-areas.xlsx")
    assert wb.worksheets[0].freeze_panes == "A2"
    m = json.loads((data / "manifest.json").read_text(encoding="utf-8"))
    roles = {i["role"] for i in m["inputs"]}
    assert {"config", "osm", "facilities:canteen", "census"} <= roles
    assert all(len(i["sha256"]) == 64 for i in m["inputs"])
    assert {o["path"].rsplit("/", 1)[-1] for o in m["outputs"]} >= {
        "yangpu-wujiaochang-coverage.gpkg", "yangpu-wujiaochang-coverage.html"}
    assert m["counts"]["facilities"] >= 3
    html = (demo_run / "maps" / "yangpu-wujiaochang-coverage.html").read_text(encoding="utf-8")
    assert "OpenStreetMap" in html and "长者食堂" in html
    assert not list(data.glob(".staging*"))


def test_second_run_uses_network_cache(demo_run: Path) -> None:
    m = json.loads((demo_run / "data" / "manifest.json").read_text(encoding="utf-8"))
    assert m["counts"]["network_cached"] is False
    assert main(["run", str(demo_run / "demo.toml")]) == 0
    m2 = json.loads((demo_run / "data" / "manifest.json").read_text(encoding="utf-8"))
    assert m2["counts"]["network_cached"] is True
    # deterministic: the same figures
    assert m2["counts"]["circle_share"] == m["counts"]["circle_share"]
    assert m2["counts"]["elderly_60"] == m["counts"]["elderly_60"]


def test_demo_ledger_balances(demo_run: Path) -> None:
    """Every older resident and facility row of the demo is scored or excluded by reason."""
    gpkg = demo_run / "data" / "yangpu-wujiaochang-coverage.gpkg"
    ledger = pyogrio.read_dataframe(gpkg, layer="ledger")
    people = ledger[ledger["ledger"] == "people"]
    summary = pyogrio.read_dataframe(gpkg, layer="summary")
    for col in ("elderly_60", "elderly_80"):
        entered = people.loc[people["entry"] == "entered", col].sum()
        scored = people.loc[people["entry"] == "scored", col].sum()
        excluded = people.loc[people["entry"] == "excluded", col].sum()
        assert entered == pytest.approx(scored + excluded, rel=1e-9)
        assert scored == pytest.approx(summary[col].iloc[0], rel=1e-9)
    fac = ledger[ledger["ledger"] == "facilities"]
    read = fac.loc[fac["entry"] == "entered", "facility_rows"].sum()
    assert read == READ
    assert read == fac.loc[fac["entry"].isin(["scored", "excluded"]), "facility_rows"].sum()
    m = json.loads((demo_run / "data" / "manifest.json").read_text(encoding="utf-8"))
    led = m["ledger"]["people"]
    assert led["entered_60"] == pytest.approx(led["scored_60"] + led["excluded_60"], abs=0.2)
    assert m["ledger"]["facilities"]["rows_read"] == READ
    assert m["ledger"]["facilities"]["not_placed"]["category_left_out"] == 846
    wb = openpyxl.load_workbook(demo_run / "data" / "yangpu-wujiaochang-areas.xlsx",
                                read_only=True)
    assert "人口与设施台账" in wb.sheetnames
