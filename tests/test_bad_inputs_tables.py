"""Awkward input tables get a true message, or are read as meant (issue 12 kind 6).

Title rows above the header, degrees-minutes-seconds coordinates, negative capacities,
``;``-separated CSV, Excel formulas without saved results, GeoPackage features named by
fid, header-only candidate files, folders given as files, and the spacing rule that
limits an MCLP. Every input is built in ``tmp_path``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
import shapely

from geoplan.config import Areas, Candidates, FacilityLayer
from geoplan.errors import InputDataError
from geoplan.siting.candidates import from_file
from geoplan.siting.coverage import MCLP
from geoplan.sources.areas import areas_from_file
from geoplan.sources.facilities import load_facility_layer
from geoplan.sources.tables import read_table, source_rows
from tests.siting_instances import random_instance

ROWS = [("甲食堂", 121.4950, 31.2850, 40), ("乙食堂", 121.4990, 31.2860, 25),
        ("丙食堂", 121.5010, 31.2870, 60)]


def _layer(path: Path, **kw: object) -> FacilityLayer:
    base = {"path": path, "type": "canteen", "x": "lon", "y": "lat", "crs": "wgs84",
            "name_column": "name", "capacity_column": "capacity"}
    base.update(kw)
    return FacilityLayer(**base)  # type: ignore[arg-type]


def _one_line(exc: pytest.ExceptionInfo[BaseException]) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


# ---------------------------------------------------------------- title rows

@pytest.mark.parametrize("title_line", ["杨浦区助餐点名单（2024年）",
                                        "杨浦区助餐点名单（2024年）,,,",
                                        "杨浦区助餐点名单\n,,,"])
def test_csv_title_row_is_skipped_and_rows_count_as_in_the_file(
        tmp_path: Path, title_line: str, caplog: pytest.LogCaptureFixture) -> None:
    n_title = title_line.count("\n") + 1
    body = "name,lon,lat,capacity\n" + "".join(f"{n},{x},{y},{c}\n" for n, x, y, c in ROWS)
    body = body.replace("丙食堂,121.501,31.287,60", "丙食堂,abc,31.287,60")
    p = tmp_path / "fac.csv"
    p.write_text(title_line + "\n" + body, encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="geoplan"):
        load = load_facility_layer(_layer(p), index=0)
    assert "the header is row" in caplog.text and "杨浦区助餐点名单" in caplog.text
    assert len(load.points) == 2
    # header in row n_title + 1, so the first facility is row n_title + 2
    assert load.points["source_row"].tolist() == [n_title + 2, n_title + 3]
    assert load.issues["row"].tolist() == [n_title + 4]  # the unparseable one


def test_xlsx_title_row_in_a_merged_cell(tmp_path: Path) -> None:
    p = tmp_path / "fac.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["杨浦区助餐点名单"])
    ws.merge_cells("A1:D1")
    ws.append(["name", "lon", "lat", "capacity"])
    for r in ROWS:
        ws.append(list(r))
    wb.save(p)
    load = load_facility_layer(_layer(p), index=0)
    assert load.points["name"].tolist() == [r[0] for r in ROWS]
    assert load.points["source_row"].tolist() == [3, 4, 5]
    assert load.points["capacity"].tolist() == [40, 25, 60]


def test_wide_title_rows_name_the_header_row(tmp_path: Path) -> None:
    # two title rows with several filled cells: not skipped, but the header is found
    p = tmp_path / "fac.csv"
    body = "".join(f"{n},{x},{y},{c}\n" for n, x, y, c in ROWS)
    p.write_text("杨浦区助餐点,2024年,,\n制表单位,民政局,,\nname,lon,lat,capacity\n" + body,
                 encoding="utf-8")
    with pytest.raises(InputDataError) as info:
        load_facility_layer(_layer(p), index=0)
    msg = _one_line(info)
    assert "fac.csv" in msg and "are in row 3, not in row 1" in msg
    assert "杨浦区助餐点, 2024年" in msg and "delete the rows above row 3" in msg


def test_single_column_table_has_no_title(tmp_path: Path) -> None:
    p = tmp_path / "codes.csv"
    p.write_text("code\n310110\n310101\n", encoding="utf-8")
    df = read_table(p)
    assert df.columns.tolist() == ["code"] and source_rows(df).tolist() == [2, 3]


# ---------------------------------------------------------------- separators

@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_csv_separator_detected(tmp_path: Path, sep: str) -> None:
    text = sep.join(["name", "lon", "lat", "capacity"]) + "\n" + "".join(
        sep.join(map(str, r)) + "\n" for r in ROWS)
    text = text.replace("甲食堂", '"甲食堂, 五角场"')  # a comma inside a quoted name
    p = tmp_path / "fac.csv"
    p.write_text(text, encoding="utf-8")
    load = load_facility_layer(_layer(p), index=0)
    assert load.points["name"].tolist()[0] == "甲食堂, 五角场"
    assert load.points["capacity"].tolist() == [40, 25, 60]


def test_comma_csv_with_semicolons_in_names_stays_comma(tmp_path: Path) -> None:
    p = tmp_path / "fac.csv"
    p.write_text("name,lon,lat\n甲;乙,121.495,31.285\n丙,121.499,31.286\n",
                 encoding="utf-8")
    df = read_table(p)
    assert df.columns.tolist() == ["name", "lon", "lat"]
    assert df["name"].tolist() == ["甲;乙", "丙"]


# ---------------------------------------------------------------- DMS coordinates

@pytest.mark.parametrize(("lon", "lat"), [
    ("121°29'42\"E", "31°17'6\"N"),
    ("121°29′42″", "31°17′6″"),
    ("东经121度29分42秒", "北纬31度17分6秒"),
    ("E121°29.7'", "N31°17.1'"),
])
def test_dms_coordinates_are_converted(tmp_path: Path, lon: str, lat: str) -> None:
    import csv

    p = tmp_path / "fac.csv"
    with p.open("w", encoding="utf-8", newline="") as f:  # quoted as Excel writes them
        csv.writer(f, quoting=csv.QUOTE_NONNUMERIC).writerows(
            [["name", "lon", "lat", "capacity"], ["甲", lon, lat, 40],
             ["乙", 121.4990, 31.2860, 25]])
    load = load_facility_layer(_layer(p), index=0)
    assert len(load.points) == 2 and load.issues.empty
    assert load.points["lon_src"].iloc[0] == pytest.approx(121 + 29 / 60 + 42 / 3600)
    assert load.points["lat_src"].iloc[0] == pytest.approx(31 + 17 / 60 + 6 / 3600)


def test_unreadable_dms_says_dms(tmp_path: Path) -> None:
    p = tmp_path / "fac.csv"
    p.write_text("name,lon,lat\n甲,121°75'00\",31.285\n乙,121°99',31.286\n",
                 encoding="utf-8")
    with pytest.raises(InputDataError) as info:
        load_facility_layer(_layer(p, capacity_column=None), index=0)
    msg = _one_line(info)
    assert "degrees-minutes-seconds" in msg and "decimal degrees" in msg
    assert "fac.csv" in msg and "row 2" in msg
    assert "point facilities[0].x at the longitude column" not in msg


# ---------------------------------------------------------------- negative values

def test_negative_capacity_is_called_negative(tmp_path: Path) -> None:
    p = tmp_path / "fac.csv"
    p.write_text("name,lon,lat,capacity\n甲,121.495,31.285,-40\n乙,121.499,31.286,25\n",
                 encoding="utf-8")
    load = load_facility_layer(_layer(p), index=0)
    iss = load.issues
    assert iss["problem"].tolist() == ["negative_capacity"]
    assert iss["row"].tolist() == [2]
    assert "-40 is negative" in iss["detail"].iloc[0]
    assert "not a number" not in iss["detail"].iloc[0]
    assert np.isnan(load.points["capacity"].iloc[0])


def test_negative_candidate_capacity_and_cost(tmp_path: Path) -> None:
    p = tmp_path / "cand.csv"
    p.write_text("name,lon,lat,capacity,cost\nA,121.495,31.285,-40,10\n"
                 "B,121.499,31.286,30,-5\nC,121.500,31.287,30,5\n", encoding="utf-8")
    spec = Candidates(file=p, x="lon", y="lat", capacity_column="capacity",
                      cost_column="cost")
    sites, issues = from_file(spec, "EPSG:32651")
    assert sites["name"].tolist() == ["C"]
    assert sorted(issues["problem"]) == ["negative_capacity", "negative_cost"]
    assert sorted(issues["row"]) == [2, 3]


# ---------------------------------------------------------------- Excel formulas

def test_xlsx_formulas_without_saved_values(tmp_path: Path) -> None:
    p = tmp_path / "fac.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["name", "lon_raw", "lat", "lon"])
    for i, (n, x, y, _) in enumerate(ROWS, start=2):
        ws.append([n, x, y, f"=B{i}+0"])  # openpyxl saves no cached result
    wb.save(p)
    with pytest.raises(InputDataError) as info:
        load_facility_layer(_layer(p, capacity_column=None), index=0)
    msg = _one_line(info)
    assert "fac.xlsx" in msg and "column 'lon'" in msg and "facilities[0].x" in msg
    assert "formula" in msg and "D2" in msg and "=B2+0" in msg
    assert "LibreOffice" in msg and "save" in msg
    assert "empty in every row" not in msg
    # a formula in a column nobody uses does not stop the run
    ok = load_facility_layer(_layer(p, capacity_column=None, x="lon_raw"), index=0)
    assert len(ok.points) == 3


# ---------------------------------------------------------------- GIS feature ids

def _gpkg_with_gap(tmp_path: Path, last: str) -> Path:
    """Seven features, fids 1..7, fid 3 deleted (as after editing in QGIS); fid 7's count
    is ``last``."""
    polys = [shapely.box(121.49 + i * 0.001, 31.28, 121.4909 + i * 0.001, 31.2809)
             for i in range(7)]
    gdf = gpd.GeoDataFrame({"code": [f"A{i}" for i in range(7)],
                            "name": [f"居委{i}" for i in range(7)],
                            "e60": ["100"] * 6 + [last]}, geometry=polys, crs=4326)
    gdf.index = pd.RangeIndex(1, len(gdf) + 1)
    p = tmp_path / "areas.gpkg"
    gdf.to_file(p, driver="GPKG", index=False)
    import sqlite3

    con = sqlite3.connect(p)
    con.execute("DELETE FROM areas WHERE fid = 3")
    con.commit()
    con.close()
    return p


def test_gpkg_feature_named_by_fid(tmp_path: Path) -> None:
    # features fid 1, 2, 4, 5, 6, 7 (3 deleted); fid 7 holds a bad count at position 6,
    # which the row count called "row 8".
    p = _gpkg_with_gap(tmp_path, "many")
    assert source_rows(read_table(p)).tolist() == [1, 2, 4, 5, 6, 7]
    spec = Areas(source="file", path=p, code_column="code", name_column="name",
                 elderly60_column="e60")
    with pytest.raises(InputDataError) as info:
        areas_from_file(spec, "EPSG:32651")
    msg = _one_line(info)
    assert "areas.gpkg" in msg and "feature 7" in msg and "'many'" in msg
    assert "row" not in msg


def test_gpkg_negative_count_named_by_fid(tmp_path: Path) -> None:
    p = _gpkg_with_gap(tmp_path, "-40")
    spec = Areas(source="file", path=p, code_column="code", name_column="name",
                 elderly60_column="e60")
    with pytest.raises(InputDataError, match=r"feature 7 is negative \(-40\); give a count"):
        areas_from_file(spec, "EPSG:32651")


def test_geojson_features_numbered_from_one(tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame({"name": ["甲", "乙"], "capacity": ["40", "-1"]},
                           geometry=[shapely.Point(121.495, 31.285),
                                     shapely.Point(121.499, 31.286)], crs=4326)
    p = tmp_path / "fac.geojson"
    gdf.to_file(p, driver="GeoJSON")
    load = load_facility_layer(_layer(p), index=0)
    assert load.points["source_row"].tolist() == [1, 2]
    assert load.issues["row"].tolist() == [2]


# ---------------------------------------------------------------- candidates

@pytest.mark.parametrize("text", ["name,lon,lat\n", "name,lon,lat\n,,\n\n"])
def test_header_only_candidate_file(tmp_path: Path, text: str) -> None:
    p = tmp_path / "cand.csv"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(InputDataError) as info:
        from_file(Candidates(file=p, x="lon", y="lat"), "EPSG:32651")
    msg = _one_line(info)
    assert "cand.csv" in msg and "no rows" in msg and "candidates.file" in msg
    assert "reported candidate rows" not in msg


def test_no_usable_candidate_message_counts_the_reasons() -> None:
    from geoplan.config import Scenario
    from geoplan.workflows.siting import _no_candidates

    sc = Scenario(name="s", model="mclp", type="canteen", new=2,
                  candidates=Candidates(file=Path("cand.csv")))
    issues = pd.DataFrame({"layer": ["c"] * 3, "file": ["cand.csv", "cand.csv", ""],
                           "row": [2, 3, -1], "name": ["A", "B", "K1"],
                           "problem": ["outside_study_area", "outside_study_area",
                                       "far_from_network"],
                           "detail": ["candidate outside the study area"] * 2 + ["900 m"],
                           "action": ["dropped"] * 3})
    msg = _no_candidates(sc, "canteen", issues)
    assert "all 3 candidates were dropped" in msg
    assert "2 outside study area" in msg and "1 far from network" in msg
    assert "cand.csv row 2" in msg
    assert "see the reported" not in msg
    msg = _no_candidates(sc, "canteen", pd.DataFrame())
    assert "candidates.file produced none" in msg


# ---------------------------------------------------------------- folders as files

def test_folder_given_as_a_table(tmp_path: Path) -> None:
    d = tmp_path / "facilities.csv"
    d.mkdir()
    with pytest.raises(InputDataError) as info:
        read_table(d)
    msg = _one_line(info)
    assert "is a folder, not a file" in msg and "not found" not in msg


# ---------------------------------------------------------------- spacing rule

def test_spacing_rule_named_when_it_limits_the_sites() -> None:
    prob, _, _ = random_instance(12, n=100, m=20)
    every_pair = np.array([[a, b] for a in range(20) for b in range(a + 1, 20)])
    res = MCLP(prob, p=4, cutoff=15, conflicts=every_pair).solve("heuristic")
    assert len(res.selected) == 1
    text = " ".join(res.warnings)
    assert "spacing rule" in text and "min_spacing_m" in text
    assert "no other candidate reaches uncovered demand" not in text
    # without a rule, the old (true) reason stays
    far = MCLP(prob, p=19, cutoff=1).solve("heuristic")
    assert all("spacing" not in w for w in far.warnings)


# ---------------------------------------------------------------- through the CLI

def _dms_text(v: float, pos: str) -> str:
    d = int(v)
    m = int((v - d) * 60)
    s = (v - d - m / 60) * 3600
    return f"{d}°{m}′{s:.2f}″{pos}"


def test_run_reads_a_titled_semicolon_dms_table(tmp_path: Path, demo_dir: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    from geoplan.cli import main
    from tests.test_cli_errors import make_config

    rows = "".join(f"{n};{_dms_text(x, 'E')};{_dms_text(y, 'N')};{c}\n"
                   for n, x, y, c in ROWS)
    f = tmp_path / "fac.csv"
    f.write_text("杨浦区助餐点（测试）\nname;lon;lat;capacity\n" + rows, encoding="utf-8")
    cfg = make_config(tmp_path, demo_dir, FAC=str(f), X="lon", Y="lat", CRS="wgs84")
    assert main(["run", str(cfg), "-q"]) == 0, capsys.readouterr().err
    gpkg = next((tmp_path / "out" / "data").glob("*.gpkg"))
    fac = gpd.read_file(gpkg, layer="facilities")
    assert sorted(fac["name"]) == sorted(r[0] for r in ROWS)
    assert sorted(fac["source_row"]) == [3, 4, 5]


def test_run_stops_on_formula_cells(tmp_path: Path, demo_dir: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    from tests.test_cli_errors import make_config, run_bad

    p = tmp_path / "fac.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["name", "x", "lat", "lon"])
    for i, (n, x, y, _) in enumerate(ROWS, start=2):
        ws.append([n, x, y, f"=B{i}"])
    wb.save(p)
    cfg = make_config(tmp_path, demo_dir, FAC=str(p), X="lon", Y="lat", CRS="wgs84")
    line = run_bad(cfg, capsys, "formula cells without a saved result")
    assert "fac.xlsx" in line and "facilities[0].x" in line and "save it" in line
