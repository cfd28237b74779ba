"""The population ledger: every older resident (and facility row) accounted for.

A small synthetic world is built here: two street grids 3 km apart (two network islands),
homes in every block, one home 400 m and one 800 m north of the first grid (farther than
the snap limit from any way), committee polygons with counts, one of them 20 km away
(beyond the network), and a facility table with a blank row, a row without coordinates,
a duplicate and a row outside the study area.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pyogrio
import pytest
import shapely

from geoplan.analysis.ledger import FacilityLedger, Ledger, LedgerError, ledger_table
from geoplan.cli import main
from tests.osmxml import DLAT, DLON, LAT0, LON0, write_osm

GRID_STEP = 100.0
ISLAND_B_DX = 3000.0


def _lonlat(e: float, n: float) -> tuple[float, float]:
    return LON0 + e * DLON, LAT0 + n * DLAT


def _box_wgs(x0: float, y0: float, x1: float, y1: float) -> shapely.Polygon:
    (a, b), (c, d) = _lonlat(x0, y0), _lonlat(x1, y1)
    return shapely.box(a, b, c, d)


def _world_osm(path: Path, *, compounds: bool = False) -> Path:
    nodes: dict[int, tuple[float, float]] = {}
    ways: list[tuple[int, list[int], dict[str, str]]] = []
    nid, wid = 1, 1
    for dx in (0.0, ISLAND_B_DX):  # two 400 m grids of streets, 3 km apart
        ids = {}
        for i in range(5):
            for j in range(5):
                nodes[nid] = (dx + i * GRID_STEP, j * GRID_STEP)
                ids[i, j] = nid
                nid += 1
        for k in range(5):
            ways.append((wid, [ids[k, j] for j in range(5)], {"highway": "residential"}))
            ways.append((wid + 1, [ids[i, k] for i in range(5)], {"highway": "residential"}))
            wid += 2
    centres = [(dx + 50 + 100 * i, 50 + 100 * j) for dx in (0.0, ISLAND_B_DX)
               for i in range(4) for j in range(4)]
    centres += [(200.0, 800.0), (200.0, 1200.0)]  # 400 m and 800 m north of the grid

    def square(cx: float, cy: float, half: float, tags: dict[str, str]) -> None:
        nonlocal nid, wid
        ring = []
        for ex, ny in ((-half, -half), (half, -half), (half, half), (-half, half)):
            nodes[nid] = (cx + ex, cy + ny)
            ring.append(nid)
            nid += 1
        ways.append((wid, [*ring, ring[0]], tags))
        wid += 1

    for cx, cy in centres:
        square(cx, cy, 15.0, {"building": "residential"})
    if compounds:  # residential compounds around each grid, not around the far homes
        for dx in (0.0, ISLAND_B_DX):
            square(dx + 200, 200, 220, {"landuse": "residential"})
    return write_osm(path, nodes, ways)


def _committees(path: Path) -> Path:
    rows = [("A", 1700, 300, _box_wgs(-50, -50, 450, 900)),     # grid A + home 400 m north
            ("B", 800, 100, _box_wgs(2950, -50, 3450, 450)),    # grid B (the second island)
            ("D", 50, 10, _box_wgs(100, 1100, 300, 1300)),      # only the home 800 m north
            ("Z", 70, 9, _box_wgs(0, 20000, 400, 20400))]       # 20 km away: beyond it all
    gpd.GeoDataFrame({"code": [r[0] for r in rows], "name": [f"居委{r[0]}" for r in rows],
                      "e60": [r[1] for r in rows], "e80": [r[2] for r in rows]},
                     geometry=[r[3] for r in rows], crs=4326).to_file(path)
    return path


def _facilities(path: Path) -> Path:
    (ax, ay), (bx, by) = _lonlat(100, 205), _lonlat(ISLAND_B_DX + 100, 205)
    (dx, dy), (zx, zy) = _lonlat(100, 210), _lonlat(0, 30000)
    path.write_text("name,lon,lat\n"
                    f"食堂A,{ax:.8f},{ay:.8f}\n"
                    f"食堂B,{bx:.8f},{by:.8f}\n"
                    "食堂C,,\n"                        # no coordinates
                    f"食堂A,{dx:.8f},{dy:.8f}\n"       # duplicate of row 2, 5 m away
                    ",,\n"                             # blank row
                    f"食堂Z,{zx:.8f},{zy:.8f}\n",      # 30 km away: outside
                    encoding="utf-8")
    return path


def _config(tmp_path: Path, *, source: str = "file") -> Path:
    osm = _world_osm(tmp_path / "world.osm", compounds=source == "compounds")
    fac = _facilities(tmp_path / "fac.csv")
    if source == "file":
        areas = (f'source = "file"\npath = "{_committees(tmp_path / "committees.gpkg")}"\n'
                 'code_column = "code"\nname_column = "name"\n'
                 'elderly60_column = "e60"\nelderly80_column = "e80"\n')
        pop = ""
    else:
        areas = f'source = "{source}"\nmin_compound_m2 = 2000\n'
        pop = "[population]\nshare_60 = 0.3\nshare_80 = 0.05\n"
    text = f"""
[study_area]
name = "world"
[network]
osm_files = ["{osm}"]
[walking]
snap_max_m = 300
[[facilities]]
label = "canteens"
type = "canteen"
path = "{fac}"
x = "lon"
y = "lat"
crs = "wgs84"
name_column = "name"
[areas]
{areas}
{pop}
[output]
dir = "{tmp_path}/out/data"
maps_dir = "{tmp_path}/out/maps"
cache_dir = "{tmp_path}/out/cache"
static_map = false
"""
    cfg = tmp_path / "world.toml"
    cfg.write_text(text, encoding="utf-8")
    return cfg


def _balance(ledger: pd.DataFrame) -> None:
    """entered = scored + excluded, for 60+ and 80+, and for facility rows."""
    people = ledger[ledger["ledger"] == "people"]
    for col in ("elderly_60", "elderly_80"):
        entered = people.loc[people["entry"] == "entered", col].sum()
        rest = people.loc[people["entry"].isin(["scored", "excluded"]), col].sum()
        assert entered == pytest.approx(rest, rel=1e-9)
    fac = ledger[ledger["ledger"] == "facilities"]
    read = fac.loc[fac["entry"] == "entered", "facility_rows"].sum()
    assert read == fac.loc[fac["entry"].isin(["scored", "excluded"]), "facility_rows"].sum()


@pytest.fixture(scope="module")
def world_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    tmp = tmp_path_factory.mktemp("world")
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["run", str(_config(tmp)), "-q"]) == 0
    return tmp / "out" / "data", out.getvalue()


def test_every_resident_accounted_for(world_run: tuple[Path, str]) -> None:
    data, _ = world_run
    ledger = pyogrio.read_dataframe(data / "world-coverage.gpkg", layer="ledger")
    _balance(ledger)
    people = ledger[ledger["ledger"] == "people"].set_index("reason")
    assert people.loc["areas_file", "elderly_60"] == pytest.approx(2620)
    assert people.loc["areas_file", "elderly_80"] == pytest.approx(419)
    # committee Z lies 20 km away: excluded with its counts, never silently
    assert people.loc["outside_study_area", "elderly_60"] == pytest.approx(70)
    assert people.loc["outside_study_area", "area_codes"] == "Z"
    # committee D's only home is 800 m from any way: no walkable way in the area
    assert people.loc["no_walkable_way_in_area", "elderly_60"] == pytest.approx(50)
    assert people.loc["no_walkable_way_in_area", "area_codes"] == "D"
    # one of committee A's 17 homes (equal floor area) is 400 m from the streets
    assert people.loc["home_far_from_network", "elderly_60"] == pytest.approx(1700 / 17, rel=1e-3)
    assert people.loc["home_far_from_network", "elderly_80"] == pytest.approx(300 / 17, rel=1e-3)
    assert people.loc["scored", "elderly_60"] == pytest.approx(2620 - 70 - 50 - 100, rel=1e-4)
    # the second island is analysed on its own, and stated
    assert people.loc["separate_network_part", "elderly_60"] == pytest.approx(800)
    assert people.loc["separate_network_part", "entry"] == "of_which"


def test_areas_stay_in_the_tables(world_run: tuple[Path, str]) -> None:
    data, _ = world_run
    areas = gpd.read_file(data / "world-coverage.gpkg", layer="areas").set_index("area_id")
    assert sorted(areas.index) == ["A", "B", "D", "Z"]
    assert areas.loc["Z", "excluded_60"] == pytest.approx(70)
    assert areas.loc["Z", "excluded_reason"] == "outside_study_area"
    assert areas.loc["Z", "elderly_60"] == 0
    assert areas.loc["D", "excluded_reason"] == "no_walkable_way_in_area"
    assert areas.loc["A", "excluded_60"] == pytest.approx(100, rel=1e-3)
    assert areas.loc["A", "elderly_60"] == pytest.approx(1600, rel=1e-3)
    # island B keeps its residents and is served by its own canteen
    assert areas.loc["B", "elderly_60"] == pytest.approx(800)
    assert areas.loc["B", "circle_share"] > 0.5
    summary = pyogrio.read_dataframe(data / "world-coverage.gpkg", layer="summary")
    assert summary["elderly_60"].iloc[0] + summary["excluded_60"].iloc[0] == pytest.approx(
        2620)


def test_facility_rows_accounted_for(world_run: tuple[Path, str]) -> None:
    data, _ = world_run
    ledger = pyogrio.read_dataframe(data / "world-coverage.gpkg", layer="ledger")
    fac = ledger[ledger["ledger"] == "facilities"].set_index("reason")["facility_rows"]
    assert fac["rows_read"] == 6
    assert fac["placed"] == 2
    assert fac["missing_coordinates"] == 1
    assert fac["duplicate"] == 1
    assert fac["outside_study_area"] == 1
    assert fac["blank_row"] == 1


def test_manifest_xlsx_and_cli_lines(world_run: tuple[Path, str]) -> None:
    data, printed = world_run
    m = json.loads((data / "manifest.json").read_text(encoding="utf-8"))["ledger"]
    p = m["people"]
    assert p["entered_60"] == pytest.approx(p["scored_60"] + p["excluded_60"], abs=0.2)
    assert {e["reason"] for e in p["excluded"]} == {
        "outside_study_area", "no_walkable_way_in_area", "home_far_from_network"}
    assert m["facilities"]["rows_read"] == 6 and m["facilities"]["placed"] == 2
    wb = openpyxl.load_workbook(data / "world-areas.xlsx", read_only=True)
    assert "人口与设施台账" in wb.sheetnames
    ws = wb["人口与设施台账"]
    header = [c.value for c in next(ws.iter_rows(max_row=1))]
    assert "原因" in header and "60岁以上老人（人）" in header
    values = {c.value for row in ws.iter_rows(min_row=2) for c in row}
    assert "位于研究范围外" in values and "区域内没有可步行道路" in values
    # the closing lines name every exclusion
    assert "excluded, outside_study_area: 70.0 aged 60+" in printed
    assert "excluded, no_walkable_way_in_area: 50.0 aged 60+" in printed
    assert "of those scored, separate_network_part: 800.0 aged 60+" in printed
    assert "facility rows: 6 read = 2 placed" in printed


def test_census_spreading_and_homes_outside_every_area(tmp_path: Path) -> None:
    assert main(["run", str(_config(tmp_path, source="compounds")), "-q"]) == 0
    data = tmp_path / "out" / "data"
    ledger = pyogrio.read_dataframe(data / "world-coverage.gpkg", layer="ledger")
    _balance(ledger)
    people = ledger[ledger["ledger"] == "people"].set_index("reason")
    e60 = 900 * 6 / 36 * 0.3  # footprint x default levels / m2 per resident x share
    assert people.loc["census_spreading", "elderly_60"] == pytest.approx(34 * e60, rel=1e-2)
    # the two far homes lie in no compound
    assert people.loc["outside_every_area", "elderly_60"] == pytest.approx(2 * e60, rel=1e-2)
    assert people.loc["scored", "elderly_60"] == pytest.approx(32 * e60, rel=1e-2)


def test_ledger_balance_check_raises() -> None:
    led = Ledger()
    led.enter("areas", "areas_file", 100.0, 20.0, ["A", "B"])
    led.exclude("areas", "outside_study_area", 10.0, 2.0, ["B"])
    with pytest.raises(LedgerError, match="never recorded"):
        led.check()
    led.set_scored(np.array([50.0, 40.0]), np.array([10.0, 8.0]), 1)
    led.check()  # 100 = 90 + 10, 20 = 18 + 2
    led.set_scored(np.array([50.0, 39.0]), np.array([10.0, 8.0]), 1)
    with pytest.raises(LedgerError, match="does not balance for 60\\+"):
        led.check()
    fl = FacilityLedger(read={"a": 5}, placed=3, not_placed={"duplicate": 1})
    with pytest.raises(LedgerError, match="facility ledger"):
        fl.check()
    fl.not_placed["blank_row"] = 1
    fl.check()
    table = ledger_table(led, fl)
    assert list(table["entry"]) == ["entered", "scored", "excluded", "entered", "scored",
                                    "excluded", "excluded"]


def _run_bad(cfg: Path, capsys: pytest.CaptureFixture[str]) -> str:
    code = main(["run", str(cfg)])
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if "geoplan: error:" in ln]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err
    out = cfg.parent / "out"
    assert not (out / "data").exists() or not any((out / "data").iterdir())
    return lines[0]


def test_80_above_60_is_rejected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = _config(tmp_path)
    gpkg = tmp_path / "committees.gpkg"
    g = gpd.read_file(gpkg)
    g.loc[1, "e80"] = 5000  # committee B: 5,000 aged 80+ but 800 aged 60+
    g.to_file(gpkg)
    line = _run_bad(cfg, capsys)
    assert "committees.gpkg: feature 2 (code 'B')" in line
    assert "'e80'" in line and "'e60'" in line and "5000" in line and "800" in line


def test_census_80_above_60_is_rejected(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    cfg = _config(tmp_path, source="compounds")
    census = tmp_path / "census.csv"
    census.write_text("adcode,district,pop_total,pop_60plus,pop_80plus\n"
                      "310110,杨浦区,1000,300,400\n", encoding="utf-8")
    text = cfg.read_text(encoding="utf-8").replace(
        "share_60 = 0.3\nshare_80 = 0.05\n",
        f'census_file = "{census}"\ndistrict_code = "310110"\n')
    cfg.write_text(text, encoding="utf-8")
    line = _run_bad(cfg, capsys)
    assert "census.csv" in line and "0 <= 80+ <= 60+ <= residents" in line


def test_stale_bounds_header_does_not_hide_homes(tmp_path: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    """An OSM file whose <bounds> header misses its data (edited or shifted): the study
    area follows the data, so its homes are not silently outside."""
    from geoplan.config import NetworkSource
    from geoplan.sources.osm import study_boundary

    osm = _world_osm(tmp_path / "w.osm")
    text = osm.read_text(encoding="utf-8")
    head = text[text.index("<bounds"):text.index("/>", text.index("<bounds")) + 2]
    osm.write_text(text.replace(head, '<bounds minlat="31.0" minlon="121.0" maxlat="31.01" '
                                      'maxlon="121.01"/>'), encoding="utf-8")
    b = study_boundary(NetworkSource(osm_files=(osm,)))
    assert shapely.covers(b, shapely.points(*_lonlat(ISLAND_B_DX + 200, 200)))
    assert "<bounds> header" in caplog.text


def test_report_shows_the_ledger() -> None:
    from geoplan.outputs.report import render_report, report_sheets

    led = Ledger()
    led.enter("areas", "areas_file", 100.0, 20.0, ["A", "B"])
    led.exclude("areas", "outside_study_area", 10.0, 2.0, ["B"])
    led.set_scored(np.array([90.0]), np.array([18.0]), 1)
    table = ledger_table(led, None)
    page = render_report("t", lang="zh", circle_minutes=15, summary=pd.DataFrame(),
                         streets=pd.DataFrame(), areas=pd.DataFrame(), siting=[],
                         standards=None, map_html=None, notes=[], inputs={}, generated="now",
                         ledger=table)
    assert "人口与设施台账" in page and "位于研究范围外" in page and "<td>B</td>" in page
    sheets = report_sheets(pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), [], None, table)
    assert "ledger" in sheets
