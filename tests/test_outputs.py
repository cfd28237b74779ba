"""Tests of geoplan.outputs: atomic writes, labels, tables, GeoPackage, web map, manifest."""

from __future__ import annotations

import csv
import hashlib
import json
import os
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pyogrio
import pytest
from shapely.geometry import LineString, Point, box

from geoplan.errors import GeoplanError
from geoplan.outputs.atomic import STAGING_PREFIX, StagedOutputs, atomic_write
from geoplan.outputs.gpkg import write_geopackage
from geoplan.outputs.labels import (
    column_label,
    estimate_note,
    is_share_column,
    label_frame,
    value_label,
    with_estimate,
)
from geoplan.outputs.manifest import RunManifest, sha256_file
from geoplan.outputs.tables import OSM_ATTRIBUTION, display_width, write_area_tables
from geoplan.outputs.webmap import build_map, save_map

# ---------------------------------------------------------------------------------------
# small hand-made data in EPSG:4326 following the pipeline schema


def _areas() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "area_id": ["a1", "a2", "a3"],
            "area_kind": ["committee", "compound", "grid"],
            "code": ["310110012001", "c-17", "g-0003"],
            "name": ["控江一村居委会", "鞍山四村", "网格3"],
            "street_code": ["310110012", "310110012", ""],
            "street_name": ["控江路街道", "控江路街道", ""],
            "elderly_60": [1250.0, 480.4, 0.0],
            "elderly_80": [260.0, 90.2, 0.0],
            "pop_estimated": [False, True, True],
            "n_demand_points": [12, 5, 0],
            "canteen_share_5": [0.2, 0.0, np.nan],
            "canteen_share_15": [0.9, 0.35, np.nan],
            "canteen_share80_15": [0.85, 0.3, np.nan],
            "canteen_median_min": [6.5, 16.0, np.nan],
            "canteen_p90_min": [12.0, np.nan, np.nan],
            "canteen_uncovered_60": [125.0, 312.3, 0.0],
            "care_centre_share_15": [1.0, 0.5, np.nan],
            "circle_share": [0.88, 0.2, np.nan],
            "circle_share80": [0.8, 0.1, np.nan],
            "uncovered_60": [150.0, 384.3, 0.0],
            "gap_rank": [2, 1, 3],
        },
        geometry=[box(121.50, 31.27, 121.51, 31.28), box(121.51, 31.27, 121.52, 31.28),
                  box(121.52, 31.27, 121.523, 31.273)],
        crs=4326,
    )


def _streets() -> pd.DataFrame:
    return pd.DataFrame({"street_code": ["310110012"], "street_name": ["控江路街道"],
                         "elderly_60": [1730.4], "circle_share": [0.69], "uncovered_60": [534.3]})


def _facilities() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"fid": ["canteen-1", "canteen-2", "care_centre-1"], "layer": ["meals", "meals", "hub"],
         "type": ["canteen", "canteen", "care_centre"],
         "name": ["控江长者食堂", "鞍山助餐点<b>", "控江综合为老服务中心"],
         "address": ["控江路1号", "鞍山路2号", None], "street": ["控江路街道"] * 3,
         "capacity": [80.0, np.nan, 600.0], "snap_m": [12.5, 40.0, 3.0]},
        geometry=[Point(121.505, 31.275), Point(121.515, 31.275), Point(121.507, 31.276)],
        crs=4326,
    )


def _iso_by_type() -> gpd.GeoDataFrame:
    p = Point(121.505, 31.275)
    return gpd.GeoDataFrame(
        {"type": ["canteen", "canteen", "canteen", "care_centre"],
         "threshold_min": [5, 10, 15, 15]},
        geometry=[p.buffer(0.002), p.buffer(0.004), p.buffer(0.006), p.buffer(0.005)], crs=4326)


def _iso_per_facility() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"fid": ["canteen-1"], "type": ["canteen"], "threshold_min": [15]},
                            geometry=[Point(121.505, 31.275).buffer(0.006)], crs=4326)


def _issues() -> pd.DataFrame:
    return pd.DataFrame({"layer": ["meals", "osm"], "file": ["canteens.xlsx", "yangpu.osm"],
                         "row": [7, None], "name": ["某助餐点", ""],
                         "problem": ["missing_coordinates", "invalid_geometry"],
                         "detail": ["lon/lat empty", "way 123"], "action": ["dropped", "repaired"]},
                        dtype=object)


# ---------------------------------------------------------------------------------------
# atomic writes and staging


def test_atomic_write_replaces_and_cleans_up(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError), atomic_write(target) as fh:
        fh.write("half")
        raise RuntimeError("boom")
    assert target.read_text(encoding="utf-8") == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]
    with atomic_write(target, "wb") as fh:
        fh.write("新".encode())
    assert target.read_text(encoding="utf-8") == "新"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_staged_outputs_publish_two_roots(tmp_path: Path) -> None:
    data, maps = tmp_path / "data", tmp_path / "maps"
    with StagedOutputs({"data": data, "maps": maps}) as staged:
        staged.path("data", "tables", "a.csv").write_text("x", encoding="utf-8")
        staged.path("maps", "m.html").write_text("<html/>", encoding="utf-8")
        assert not (data / "tables" / "a.csv").exists()
        assert staged.final_path("maps", "m.html") == maps / "m.html"
    assert (data / "tables" / "a.csv").read_text(encoding="utf-8") == "x"
    assert (maps / "m.html").exists()
    assert sorted(staged.published) == sorted([data / "tables" / "a.csv", maps / "m.html"])
    for root in (data, maps):
        assert not [p for p in root.iterdir() if p.name.startswith(STAGING_PREFIX)]


def test_staged_outputs_error_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.csv").write_text("previous run", encoding="utf-8")
    with pytest.raises(ValueError, match="boom"), StagedOutputs(out) as staged:
        staged.path("keep.csv").write_text("new", encoding="utf-8")
        staged.path("sub", "b.csv").write_text("new", encoding="utf-8")
        raise ValueError("boom")
    assert sorted(p.name for p in out.iterdir()) == ["keep.csv"]
    assert (out / "keep.csv").read_text(encoding="utf-8") == "previous run"
    # a root created for the run disappears again
    fresh = tmp_path / "fresh"
    with pytest.raises(ValueError), StagedOutputs({"data": fresh}) as staged:
        staged.path("data", "x.csv").write_text("x", encoding="utf-8")
        raise ValueError("boom")
    assert not fresh.exists()


def test_staged_outputs_rejects_bad_paths(tmp_path: Path) -> None:
    with StagedOutputs({"data": tmp_path}) as staged:
        with pytest.raises(ValueError):
            staged.path("data", "..", "evil.txt")
        with pytest.raises(KeyError):
            staged.path("maps", "x.html")
        with pytest.raises(ValueError):
            staged.path("x.html")  # named roots need the root name
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(RuntimeError):
        staged.path("data", "late.csv")  # outside the with block


# ---------------------------------------------------------------------------------------
# labels


def test_column_labels_zh_en() -> None:
    assert column_label("canteen_share_15") == "长者食堂/社区助餐点15分钟覆盖率（60岁以上）"
    assert column_label("canteen_share_15", "en") == \
        "Elder canteen / meal point: share of 60+ within 15 min"
    assert column_label("canteen_share80_10") == "长者食堂/社区助餐点10分钟覆盖率（80岁以上）"
    assert column_label("care_home_small_share_15", "en").startswith("Small community care home")
    assert column_label("circle_share") == "15分钟服务圈完整率"
    assert column_label("circle_share", circle_minutes=10) == "10分钟服务圈完整率"
    assert column_label("circle_share", "en", 20) == \
        "Complete 20-min service circle: share of 60+"
    assert column_label("canteen_median_min") == "长者食堂/社区助餐点步行时间中位数（分钟）"
    assert column_label("canteen_p90_min", "en").endswith("(min)")
    assert "15分钟外" in column_label("canteen_uncovered_60")
    assert column_label("canteen_uncovered_60", "en", 12).endswith("beyond 12 min (persons)")
    assert column_label("elderly_60") == "60岁以上老人（人）"
    assert column_label("day_care_time_min", "en") == "Day-care centre: walking time (min)"
    assert column_label("gap_rank") == "缺口排名（1=最差）"
    # unknown columns and unknown types pass through
    assert column_label("foo_bar") == "foo_bar"
    assert column_label("spaceport_share_15") == "spaceport_share_15"
    assert is_share_column("canteen_share80_5") and is_share_column("circle_share")
    assert not is_share_column("canteen_median_min")
    with pytest.raises(ValueError):
        column_label("name", "fr")


def test_value_labels_and_estimate() -> None:
    assert value_label("area_kind", "committee") == "居委会"
    assert value_label("area_kind", "grid", "en") == "Grid cell"
    assert value_label("problem", "missing_coordinates") == "缺少坐标"
    assert value_label("action", "dropped", "en") == "Dropped"
    for code in ("missing_coordinates", "unparseable_coordinates", "unparseable_capacity",
                 "duplicate", "outside_study_area", "far_from_network"):  # sources' codes
        assert value_label("problem", code) != code
        assert value_label("problem", code, "en") != code
    assert value_label("action", "some_new_code") == "some_new_code"
    assert value_label("type", "canteen") == "长者食堂/社区助餐点"
    assert value_label("pop_estimated", True) == estimate_note("zh") == "估算"
    assert value_label("pop_estimated", np.bool_(True), "en") == estimate_note("en") == "estimate"
    assert with_estimate("480人", True) == "480人（估算）"
    assert with_estimate("480", True, "en") == "480 (estimate)"
    assert with_estimate("480", False, "en") == "480"


def test_label_frame() -> None:
    df = pd.DataFrame(_areas().drop(columns="geometry"))
    zh = label_frame(df)
    assert "区域类型" in zh.columns and "15分钟服务圈完整率" in zh.columns
    assert list(zh["区域类型"]) == ["居委会", "小区", "网格"]
    assert list(zh["人口数据"]) == ["统计", "估算", "估算"]
    en = label_frame(df, "en", circle_minutes=10)
    assert "Complete 10-min service circle: share of 60+" in en.columns
    assert list(en["Population figures"]) == ["reported", "estimate", "estimate"]
    assert len(en.columns) == len(df.columns)
    assert label_frame(df.assign(extra=1))["extra"].tolist() == [1, 1, 1]


# ---------------------------------------------------------------------------------------
# tables


def test_write_area_tables(tmp_path: Path) -> None:
    sheets = {"areas": _areas(), "streets": _streets(),
              "summary": _streets().assign(street_name="全区"),
              "facilities": _facilities(), "issues": _issues()}
    with StagedOutputs({"data": tmp_path / "data"}) as staged:
        written = write_area_tables(staged, ("data", "yangpu_areas"), sheets,
                                    notes=["步速3.6公里/小时"])
        assert written["csv"].exists()
        assert not (tmp_path / "data" / "yangpu_areas.csv").exists()  # still staged
    csv_path = tmp_path / "data" / "yangpu_areas.csv"
    xlsx_path = tmp_path / "data" / "yangpu_areas.xlsx"
    raw = csv_path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    with open(csv_path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0][0] == "区域编号" and "15分钟服务圈完整率" in rows[0]
    assert "geometry" not in rows[0] and "几何" not in rows[0]
    assert len(rows) == 4

    wb = openpyxl.load_workbook(xlsx_path)
    assert wb.sheetnames == ["区域指标", "街道汇总", "全区汇总", "设施", "数据问题", "说明"]
    ws = wb["区域指标"]
    headers = [c.value for c in ws[1]]
    assert headers[:3] == ["区域编号", "区域类型", "代码"]
    assert "长者食堂/社区助餐点15分钟覆盖率（60岁以上）" in headers
    assert "几何" not in headers and "geometry" not in headers
    assert ws.freeze_panes == "A2"
    share_col = headers.index("15分钟服务圈完整率") + 1
    cell = ws.cell(row=2, column=share_col)
    assert cell.value == pytest.approx(0.88) and cell.number_format == "0.0%"
    assert ws.cell(row=4, column=share_col).value is None  # NaN → empty
    name_letter = openpyxl.utils.get_column_letter(headers.index("名称") + 1)
    assert ws.column_dimensions[name_letter].width >= display_width("控江一村居委会")
    assert ws.cell(row=3, column=headers.index("人口数据") + 1).value == "估算"
    assert ws.cell(row=2, column=headers.index("区域类型") + 1).value == "居委会"
    issues = wb["数据问题"]
    assert [c.value for c in issues[2]][4:] == ["缺少坐标", "lon/lat empty", "已剔除"]
    notes = [r[0] for r in wb["说明"].iter_rows(values_only=True)]
    assert "步速3.6公里/小时" in notes
    assert any(OSM_ATTRIBUTION in (n or "") for n in notes)
    assert any("估算" in (n or "") for n in notes)
    assert not [p for p in (tmp_path / "data").iterdir() if p.name.startswith(".")]


def test_write_area_tables_english(tmp_path: Path) -> None:
    write_area_tables(tmp_path, "t", {"areas": _areas(), "issues": _issues()}, lang="en",
                      circle_minutes=10)
    wb = openpyxl.load_workbook(tmp_path / "t.xlsx")
    assert wb.sheetnames == ["Areas", "Data issues", "Notes"]
    headers = [c.value for c in wb["Areas"][1]]
    assert "Complete 10-min service circle: share of 60+" in headers
    notes = [r[0] for r in wb["Notes"].iter_rows(values_only=True)]
    assert any("© OpenStreetMap contributors, ODbL 1.0" in (n or "") for n in notes)
    assert any("'estimate'" in (n or "") for n in notes)


def test_display_width_counts_cjk_double() -> None:
    assert display_width("ab") == 2
    assert display_width("居委会") == 6
    assert display_width("（60岁）") == 8


# ---------------------------------------------------------------------------------------
# GeoPackage


def test_write_geopackage_layers_roundtrip(tmp_path: Path) -> None:
    demand = gpd.GeoDataFrame(
        {"demand_id": ["d1", "d2"], "area_id": ["a1", "a2"], "elderly_60": [10.0, 5.5],
         "elderly_80": [2.0, 1.0], "floor_area_m2": [1200.0, 600.0],
         "pop_estimated": [True, False], "source": ["building", "grid"],
         "canteen_time_min": [4.2, np.nan]},
        geometry=[Point(121.505, 31.275), Point(121.515, 31.275)], crs=4326)
    edges = gpd.GeoDataFrame(
        {"u": [1], "v": [2], "length_m": [50.0], "time_s": [50.0], "highway": ["footway"]},
        geometry=[LineString([(121.50, 31.27), (121.5005, 31.27)])], crs=4326)
    empty_iso = gpd.GeoDataFrame({"fid": pd.Series([], dtype=object),
                                  "type": pd.Series([], dtype=object),
                                  "threshold_min": pd.Series([], dtype="int64")},
                                 geometry=gpd.GeoSeries([], crs=4326), crs=4326)
    layers = {"areas": _areas(), "streets": _streets(), "demand_points": demand,
              "facilities": _facilities(), "isochrones": empty_iso,
              "isochrones_by_type": _iso_by_type(), "walk_network": edges,
              "issues": _issues(), "candidates": None}
    path = tmp_path / "out" / "yangpu.gpkg"
    written = write_geopackage(path, layers)
    assert "candidates" not in written
    names = {row[0]: row[1] for row in pyogrio.list_layers(path)}
    assert set(names) == {"areas", "streets", "demand_points", "facilities", "isochrones",
                          "isochrones_by_type", "walk_network", "issues"}
    assert names["streets"] is None and names["issues"] is None  # attribute tables
    assert names["isochrones"] == "MultiPolygon"
    for name, df in layers.items():
        if df is None:
            continue
        back = pyogrio.read_dataframe(path, layer=name)
        assert len(back) == len(df) == written[name], name
    areas = pyogrio.read_dataframe(path, layer="areas")
    assert areas["pop_estimated"].tolist() == [0, 1, 1]
    assert areas["name"].tolist()[0] == "控江一村居委会"
    issues = pyogrio.read_dataframe(path, layer="issues")
    assert issues["row"].iloc[0] == 7 and pd.isna(issues["row"].iloc[1])
    fac = pyogrio.read_dataframe(path, layer="facilities")
    assert fac["fid"].tolist() == ["canteen-1", "canteen-2", "care_centre-1"]
    assert all(c.isascii() for c in areas.columns)
    assert [p.name for p in path.parent.iterdir()] == ["yangpu.gpkg"]


def test_write_geopackage_bad_layer_name(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="ASCII"):
        write_geopackage(tmp_path / "x.gpkg", {"区域": _areas()})
    assert not list(tmp_path.iterdir())


# ---------------------------------------------------------------------------------------
# web map


def _js(text: str) -> str:
    """How folium writes a string inside JSON/JS (non-ASCII escaped)."""
    return json.dumps(text)[1:-1]


def _build(**kw: object) -> str:
    m = build_map(_areas(), _facilities(), _iso_by_type(), **kw)
    return m.get_root().render()


def test_build_map_layers_legend_attribution(tmp_path: Path) -> None:
    m = build_map(_areas(), _facilities(), _iso_by_type(), isochrones=_iso_per_facility(),
                  types=["care_centre", "canteen", "day_care"], title="杨浦区15分钟养老服务圈",
                  boundary=box(121.49, 31.26, 121.53, 31.29))
    path = save_map(m, tmp_path / "maps" / "coverage.html")
    text = path.read_text(encoding="utf-8")
    assert "<title>杨浦区15分钟养老服务圈</title>" in text
    for name in ("长者食堂/社区助餐点 (2)", "社区综合为老服务中心 (1)",
                 "长者食堂/社区助餐点 · 15分钟步行范围", "长者食堂/社区助餐点 · 5分钟步行范围",
                 "区域: 15分钟服务圈完整率", "老年人日间照料中心（无）", "研究范围",
                 "长者食堂/社区助餐点 · 各设施15分钟步行范围"):
        assert _js(name) in text, name
    assert _js("15分钟服务圈完整率（%；灰色 = 无老年人口）") in text  # legend caption
    assert "OpenStreetMap" in text and "contributors" in text
    assert "控江路1号" in text  # popup content
    assert "鞍山助餐点&lt;b&gt;" in text  # escaped
    assert _js("480人（估算）") in text  # tooltip with estimate marker
    assert "88.0%" in text
    assert "control-scale" in text or "control_scale" in text or "L.control.scale" in text
    assert "fitBounds" in text


def test_build_map_english_and_score() -> None:
    text = _build(lang="en", score="canteen_share_15")
    assert _js("Elder canteen / meal point (2)") in text
    assert "Elder canteen / meal point: share of 60+ within 15 min" in text
    assert _js("480 (estimate)") in text


def test_build_map_is_deterministic(tmp_path: Path) -> None:
    a = save_map(build_map(_areas(), _facilities(), _iso_by_type()), tmp_path / "a.html")
    b = save_map(build_map(_areas(), _facilities(), _iso_by_type()), tmp_path / "b.html")
    assert a.read_bytes() == b.read_bytes()


def test_last_rendering_in_place_gives_the_same_page(tmp_path: Path) -> None:
    from geoplan.outputs.webmap import map_fragment, map_html

    m = build_map(_areas(), _facilities(), _iso_by_type(), isochrones=_iso_per_facility())
    page = map_html(m)
    assert map_html(m) == page  # a copy is rendered: the map is unchanged and reusable
    frag = map_fragment(m)
    saved = save_map(m, tmp_path / "m.html", last_use=False).read_text(encoding="utf-8")
    assert saved == page
    assert map_fragment(m, last_use=True) == frag  # rendered in place, last use


def test_build_map_unknown_score() -> None:
    with pytest.raises(GeoplanError, match="circle_share") as err:
        build_map(_areas(), _facilities(), _iso_by_type(), score="beds_per_100")
    assert "beds_per_100" in str(err.value) and "\n" not in str(err.value)


def test_build_map_empty_layers() -> None:
    empty_fac = _facilities().iloc[0:0]
    empty_iso = _iso_by_type().iloc[0:0]
    text = build_map(_areas().iloc[0:0], empty_fac, empty_iso, types=["canteen"],
                     lang="en").get_root().render()
    assert _js("Elder canteen / meal point (none)") in text
    assert _js("Elder canteen / meal point · 15-min walk (none)") in text
    assert _js("Areas (none)") in text
    text = build_map(_areas(), None, None).get_root().render()
    assert _js("设施（无）") in text


# ---------------------------------------------------------------------------------------
# manifest


def test_manifest(tmp_path: Path) -> None:
    src = tmp_path / "in.bin"
    src.write_bytes(os.urandom(3 * (1 << 20) + 17))  # several hashing chunks
    man = RunManifest({"study_area": {"name": "yangpu", "title_zh": "杨浦区"}}, seed=7,
                      command="geoplan run")
    entry = man.add_input(src, "osm")
    assert entry["sha256"] == hashlib.sha256(src.read_bytes()).hexdigest()
    assert entry["size_bytes"] == src.stat().st_size
    with man.step("network"):
        pass
    with pytest.raises(RuntimeError), man.step("coverage"):
        raise RuntimeError("fail")
    man.set_counts(facilities=np.int64(3), areas=2, share=float("nan"))
    out = tmp_path / "result.csv"
    out.write_text("a,b\n", encoding="utf-8")
    man.add_output(out, final="data/processed/yangpu/result.csv")
    path = man.write(tmp_path / "manifest.json")
    text = path.read_text(encoding="utf-8")
    assert "杨浦区" in text  # ensure_ascii=False
    data = json.loads(text)
    assert data["seed"] == 7
    assert data["config"]["study_area"]["name"] == "yangpu"
    assert data["geoplan_version"]
    assert data["python"] and data["platform"]
    assert {"numpy", "pandas", "geopandas", "folium", "openpyxl"} <= set(data["packages"])
    assert data["started_utc"].endswith("Z") and data["finished_utc"].endswith("Z")
    assert [(s["name"], s["status"]) for s in data["steps"]] == [("network", "ok"),
                                                                ("coverage", "failed")]
    assert all(isinstance(s["seconds"], float) for s in data["steps"])
    assert data["counts"] == {"facilities": 3, "areas": 2, "share": None}
    assert data["outputs"][0]["path"] == "data/processed/yangpu/result.csv"
    assert data["outputs"][0]["sha256"] == sha256_file(out) == \
        hashlib.sha256(b"a,b\n").hexdigest()
    assert "mtime" not in text


def test_proposed_site_popup_before_after() -> None:
    """Rank 2 adds 40 to 80 already covered out of 400: 80 → 120 persons, 20 % → 30 %."""
    from geoplan.outputs.sitingmap import _popup

    row = pd.Series({"rank": 2, "origin": "cluster", "name": "K1", "marginal": 40.0,
                     "cum_covered": 120.0, "share_after": 120.0 / 400.0})
    zh = _popup(row, "zh")
    assert "<td>80 → 120人</td>" in zh and "<td>20.0% → 30.0%</td>" in zh
    assert "<td>40人</td>" in zh
    en = _popup(row.drop(["cum_covered"]), "en")  # p-median: no cumulative coverage
    assert "before" not in en and "<td>30.0%</td>" in en


def test_street_outlines_dissolve_areas_by_street_code() -> None:
    from shapely.geometry import Polygon

    from geoplan.sources.areas import street_outlines

    areas = gpd.GeoDataFrame(
        {"street_code": ["310110012", "310110012", "310110013", "", None],
         "street_name": ["控江路街道", "控江路街道", "延吉新村街道", "", ""]},
        geometry=[box(0, 0, 100, 100), box(100, 0, 200, 100),
                  Polygon([(0, 200), (100, 300), (100, 200), (0, 300)]),  # self-crossing
                  box(500, 500, 600, 600), box(700, 700, 800, 800)], crs=32651)
    out = street_outlines(areas)
    assert out["street_code"].tolist() == ["310110012", "310110013"]
    assert out["street_name"].tolist() == ["控江路街道", "延吉新村街道"]
    assert out["n_areas"].tolist() == [2, 1]
    assert out.crs == areas.crs
    assert out.geometry.iloc[0].equals(box(0, 0, 200, 100))  # one polygon, no inner edge
    assert out.area.iloc[1] == pytest.approx(5_000)  # the bow-tie made valid: two triangles
    assert street_outlines(areas.drop(columns="street_code")).empty
    assert street_outlines(areas.iloc[3:]).empty


def test_map_draws_street_outlines_when_areas_have_street_codes() -> None:
    from geoplan.outputs.webmap import build_map, map_html

    layer = json.dumps("街道界线")[1:-1]  # layer names are JSON-escaped in the page
    with_codes = map_html(build_map(_areas(), _facilities(), _iso_by_type()))
    assert f'"{layer}" : feature_group_' in with_codes
    no_codes = map_html(build_map(_areas().assign(street_code=""), _facilities(),
                                  _iso_by_type()))
    assert layer not in no_codes
