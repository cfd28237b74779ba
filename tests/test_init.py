"""geoplan init: a commented config from the files at hand, which loads and runs."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from geoplan import Study
from geoplan.cli import main
from geoplan.config import load_config
from geoplan.errors import ConfigError, InputDataError
from geoplan.workflows.init import (
    InitRequest,
    first_sentence,
    inspect_facilities,
    parse_facility_arg,
    write_init,
)
from tests.osmxml import DLAT, DLON, LAT0, LON0
from tests.smallcase import write_case

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

LON, LAT = 121.5012, 31.3021


def _csv(path: Path, header: tuple[str, ...], rows: list[tuple[object, ...]]) -> Path:
    lines = [",".join(header)] + [",".join(str(v) for v in r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _lonlat_file(path: Path, xcol: str, ycol: str) -> Path:
    return _csv(path, ("名称", xcol, ycol), [("甲", LON, LAT), ("乙", LON + 0.001, LAT)])


@pytest.mark.parametrize(("xcol", "ycol", "crs", "source"), [
    ("经度", "纬度", "gcj02", ""),
    ("lng", "lat", "gcj02", ""),
    ("Longitude", "Latitude", "gcj02", ""),
    ("x", "y", "gcj02", ""),
    ("POINT_X", "POINT_Y", "gcj02", ""),
    ("lon_gcj02", "lat_gcj02", "gcj02", "column"),
    ("bd09_lng", "bd09_lat", "bd09", "column"),
    ("wgs84_lon", "wgs84_lat", "wgs84", "column"),
    ("高德经度", "高德纬度", "gcj02", "column"),
    ("百度经度", "百度纬度", "bd09", "column"),
    ("GPS经度", "GPS纬度", "wgs84", "column"),
    ("lng_amap", "lat_amap", "gcj02", "column"),
    ("经度(WGS-84)", "纬度(WGS-84)", "wgs84", "column"),
])
def test_coordinate_columns_and_their_datum(tmp_path: Path, xcol: str, ycol: str, crs: str,
                                            source: str) -> None:
    g = inspect_facilities(_lonlat_file(tmp_path / "canteens.csv", xcol, ycol))
    assert (g.x, g.y, g.crs, g.type) == (xcol, ycol, crs, "canteen")
    assert g.attrs["name_column"] == "名称"
    if source:
        assert g.crs_source.startswith("column name")
    else:  # no hint: written as a guess the user is told to check
        assert g.crs_source == "" and any("check crs" in n for n in g.notes)


@pytest.mark.parametrize(("stem", "crs"), [("canteens_amap", "gcj02"), ("食堂_百度", "bd09"),
                                            ("canteens-gcj-02", "gcj02"), ("食堂GPS", "wgs84")])
def test_datum_from_the_file_name(tmp_path: Path, stem: str, crs: str) -> None:
    g = inspect_facilities(_lonlat_file(tmp_path / f"{stem}.csv", "lng", "lat"))
    assert g.crs == crs and g.crs_source.startswith("file name")


def test_the_pair_of_one_datum_is_taken(tmp_path: Path) -> None:
    path = _csv(tmp_path / "homes.csv",
                ("name", "lon_wgs84", "lon_bd09", "lat_bd09", "lat_wgs84"),
                [("A", LON, LON + 0.011, LAT + 0.006, LAT)])
    g = inspect_facilities(path, type_="care_home")
    assert (g.x, g.y) in {("lon_wgs84", "lat_wgs84"), ("lon_bd09", "lat_bd09")}
    assert g.crs == ("wgs84" if g.x == "lon_wgs84" else "bd09")


def test_swapped_names_are_swapped_back(tmp_path: Path) -> None:
    path = _csv(tmp_path / "canteens.csv", ("name", "lon", "lat"), [("A", LAT, LON)])
    g = inspect_facilities(path)
    assert (g.x, g.y) == ("lat", "lon") and any("swapped" in n for n in g.notes)


def test_excel_and_attribute_columns(tmp_path: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    sh = book.active
    sh.append(["机构名称", "详细地址", "所属街道", "所属区", "床位数", "护理床位", "建筑面积",
               "经度", "纬度"])
    sh.append(["甲养老院", "某路1号", "五角场街道", "杨浦区", 120, 40, 3000.5, LON, LAT])
    path = tmp_path / "养老机构名单.xlsx"
    book.save(path)
    g = inspect_facilities(path)
    assert g.type == "care_home" and (g.x, g.y) == ("经度", "纬度")
    assert g.attrs == {"name_column": "机构名称", "address_column": "详细地址",
                       "street_column": "所属街道", "district_column": "所属区",
                       "nursing_beds_column": "护理床位", "beds_column": "床位数",
                       "floor_area_column": "建筑面积"}


def test_category_column_with_a_built_in_map_or_keywords(tmp_path: Path) -> None:
    path = _csv(tmp_path / "map.csv", ("category_code", "name", "lng", "lat"),
                [(4, "A", LON, LAT), (3, "B", LON, LAT), (1, "C", LON, LAT)])
    g = inspect_facilities(path)
    assert (g.category_column, g.category_map, g.type) == ("category_code",
                                                           "shanghai-eldercare-map", None)
    path = _csv(tmp_path / "list.csv", ("类型", "name", "lng", "lat"),
                [("长者食堂", "A", LON, LAT), ("日间照料中心", "B", LON, LAT),
                 ("老年大学", "C", LON, LAT)])
    g = inspect_facilities(path)
    assert g.category_column == "类型" and g.category_map is None
    assert dict(g.categories) == {"长者食堂": "canteen", "日间照料中心": "day_care",
                                  "老年大学": ""}
    assert any("老年大学" in n for n in g.notes)


def test_unrecognised_coordinates_say_which_columns_were_seen(tmp_path: Path) -> None:
    path = _csv(tmp_path / "canteens.csv", ("名称", "东西", "南北"), [("甲", LON, LAT)])
    with pytest.raises(InputDataError) as info:
        inspect_facilities(path)
    msg = str(info.value)
    assert "\n" not in msg and str(path) in msg and "名称, 东西, 南北" in msg
    assert "--lon-column NAME --lat-column NAME" in msg
    g = inspect_facilities(path, lon_column="东西", lat_column="南北")
    assert (g.x, g.y) == ("东西", "南北")


def test_blank_coordinate_columns_are_named(tmp_path: Path) -> None:
    path = _csv(tmp_path / "canteens.csv", ("name", "address", "lon", "lat"),
                [("A", "某路1号", "", ""), ("B", "某路2号", "", "")])
    with pytest.raises(InputDataError, match=r"coordinate columns lon, lat hold no numbers"):
        inspect_facilities(path)


def test_projected_coordinates_need_crs_and_an_unknown_type_needs_file_type(
        tmp_path: Path) -> None:
    path = _csv(tmp_path / "canteens.csv", ("name", "x", "y"), [("A", 357000, 3464000)])
    with pytest.raises(InputDataError, match=r"projected coordinates .* --crs EPSG:nnnn"):
        inspect_facilities(path)
    assert inspect_facilities(path, crs="EPSG:32651").crs == "EPSG:32651"
    other = _lonlat_file(tmp_path / "list2024.csv", "lng", "lat")
    with pytest.raises(InputDataError, match=r"list2024.csv:TYPE \(types: care_centre"):
        inspect_facilities(other)
    assert parse_facility_arg(f"{other}:day_care") == (other, "day_care")
    with pytest.raises(InputDataError, match="'daycare' is not a facility type"):
        parse_facility_arg(f"{other}:daycare")


# --- the whole command on a small synthetic district ------------------------------------


def _district(tmp_path: Path) -> Path:
    """The small test case (OSM grid, committee polygons) plus a boundary and two lists."""
    folder = tmp_path / "data"
    write_case(folder)
    box = shapely.box(LON0 - 50 * DLON, LAT0 - 50 * DLAT, LON0 + 950 * DLON, LAT0 + 800 * DLAT)
    gpd.GeoDataFrame({"adcode": ["310110", "310109"], "name": ["测区", "别区"]},
                     geometry=[box, shapely.box(0, 0, 1, 1)], crs=4326).to_file(
        folder / "districts_wgs84.geojson", driver="GeoJSON")
    lon, lat = LON0 + 300 * DLON, LAT0 + 300 * DLAT
    _csv(folder / "日间照料中心.csv", ("站点名称", "地址", "GPS经度", "GPS纬度", "托位"),
         [("甲日托", "某路1号", lon, lat, 30), ("乙日托", "某路2号", lon + 0.002, lat, 25)])
    return folder


def _args(folder: Path, out: Path, *extra: str) -> list[str]:
    return ["init", str(out), "--name", "测试区", "--osm", str(folder / "net.osm"),
            "--facilities", str(folder / "fac.csv") + ":canteen",
            "--facilities", str(folder / "日间照料中心.csv"), *extra]


def _keys_have_comments(text: str) -> None:
    section = ""
    for line in text.splitlines():
        if line.startswith("["):
            section = line
        elif line and not line.startswith("#") and section != "[facilities.categories]":
            assert re.search(r" = .*#", line), f"no comment on: {line}"


def test_init_writes_a_commented_config_that_loads_and_runs(tmp_path: Path, monkeypatch,
                                                            capsys) -> None:
    folder = _district(tmp_path)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "cfg" / "test.toml"
    assert main(_args(folder, out, "--boundary", str(folder / "districts_wgs84.geojson"),
                      "--boundary-code", "310110", "--areas",
                      str(folder / "areas.geojson"), "--id", "testarea")) == 0
    said = capsys.readouterr().out
    assert "日间照料中心.csv: x = GPS经度, y = GPS纬度, crs = wgs84, type day_care" in said
    text = out.read_text(encoding="utf-8")
    _keys_have_comments(text)
    assert 'title_zh = "测试区 15分钟养老服务圈"' in text and 'boundary_crs = "wgs84"' in text
    assert 'capacity_column = "托位"' in text and 'elderly60_column = "e60"' in text
    cfg = load_config(out)
    assert cfg.study_area.boundary_code == "310110" and cfg.study_area.district_code == "310110"
    assert [(f.type, f.x, f.y, f.crs) for f in cfg.facilities] == [
        ("canteen", "lon", "lat", "gcj02"), ("day_care", "GPS经度", "GPS纬度", "wgs84")]
    assert cfg.areas.source == "file" and cfg.areas.code_column == "code"
    assert cfg.areas.elderly80_column == "e80"
    res = Study(cfg).run(use_cache=False)
    assert len(res.areas) == 2 and res.summary["elderly_60"].iloc[0] == pytest.approx(1700)
    assert len(res.facilities) == 4
    # refuse to overwrite without --force; --force writes it again
    before = out.read_text(encoding="utf-8")
    out.write_text("# mine\n", encoding="utf-8")
    capsys.readouterr()
    assert main(_args(folder, out)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "exists; give --force" in err
    assert out.read_text(encoding="utf-8") == "# mine\n"
    assert main(_args(folder, out, "--boundary", str(folder / "districts_wgs84.geojson"),
                      "--boundary-code", "310110", "--areas", str(folder / "areas.geojson"),
                      "--id", "testarea", "--force")) == 0
    assert out.read_text(encoding="utf-8") == before


def test_relation_and_osm_name_variants(tmp_path: Path) -> None:
    from tests.test_osm_name import _extract

    folder = _district(tmp_path)
    pbf = _extract(tmp_path)  # relations 77 (测试街道, level 8) and 80 (杨浦区, level 6)
    req = InitRequest(out=tmp_path / "rel.toml", name="Test District", osm=[pbf],
                      facilities=[(folder / "fac.csv", "canteen")], osm_relation=77)
    write_init(req)
    text = req.out.read_text(encoding="utf-8")
    _keys_have_comments(text)
    cfg = load_config(req.out)
    assert cfg.study_area.osm_relation == 77 and cfg.study_area.name == "Test-District"
    assert cfg.study_area.title_en == "Test District: 15-minute elder-care circle"
    assert cfg.population.share_60 == pytest.approx(0.187)
    # by name: looked up in the extract, the keys are written
    req = InitRequest(out=tmp_path / "name.toml", name="杨浦区", osm=[pbf],
                      facilities=[(folder / "fac.csv", "canteen")], osm_name="杨浦区")
    write_init(req)
    sa = tomllib.loads(req.out.read_text(encoding="utf-8"))["study_area"]
    assert (sa["osm_name"], sa["osm_admin_level"], sa["name"]) == ("杨浦区", 6, "name")


@pytest.mark.parametrize(("case", "want"), [
    ("absent_name", 'study_area.osm_name = "不存在街道" (osm_admin_level = 8): no boundary of '
                    "that name at that level"),
    ("wrong_level", "hold no boundary=administrative relation at admin_level 4"),
    ("cut_off", "relation 77 (测试街道) is cut off by the extract's edge (1 of 2 member ways"),
    ("absent_relation", "relation 999 is not in the OSM extract"),
    ("cut_off_relation", "relation 77 (测试街道) is cut off by the extract's edge"),
])
def test_init_looks_the_osm_boundary_up_in_the_extract(tmp_path: Path, capsys, case: str,
                                                       want: str) -> None:
    """--osm-name / --osm-relation are checked as `geoplan run` checks them: a name or
    relation that is not in the extract, or is cut off by its edge, is one line, rc 2,
    and no config is written."""
    from tests.test_osm_name import _extract
    from tests.test_osm_pbf import _with_relation

    folder = _district(tmp_path)
    out = tmp_path / "x.toml"
    cut = "cut" in case
    pbf = _with_relation(tmp_path, drop_way=True) if cut else _extract(tmp_path)
    where = {"absent_name": ["--osm-name", "不存在街道", "--osm-admin-level", "8"],
             "wrong_level": ["--osm-name", "测试街道", "--osm-admin-level", "4"],
             "cut_off": ["--osm-name", "测试街道", "--osm-admin-level", "8"],
             "absent_relation": ["--osm-relation", "999"],
             "cut_off_relation": ["--osm-relation", "77"]}[case]
    args = ["init", str(out), "--name", "测试区", "--osm", str(pbf), "--facilities",
            str(folder / "fac.csv") + ":canteen", *where]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert want in err, err
    assert not out.exists() and not list(tmp_path.glob(".x.toml*"))


def _all_comments(text: str) -> list[str]:
    return [ln.partition("#")[2].strip() for ln in text.splitlines() if "#" in ln]


def test_every_comment_init_writes_is_whole(tmp_path: Path) -> None:
    """No comment stops inside a parenthesis or after "e.g"/"i.e" (the description's first
    sentence is cut at a real sentence end), over every key init can write."""
    from tests.test_osm_name import _extract

    folder = _district(tmp_path)
    census = _csv(folder / "census.csv", ("adcode", "pop_total", "pop_60plus", "pop_80plus"),
                  [("310110", 1000, 300, 40)])
    texts = [write_init(InitRequest(
        out=tmp_path / "a.toml", name="测试区", osm=[folder / "net.osm"],
        facilities=[(folder / "fac.csv", "canteen"), (folder / "日间照料中心.csv", None)],
        boundary=folder / "districts_wgs84.geojson", boundary_code="310110",
        areas=folder / "areas.geojson", census=census)).text]
    texts.append(write_init(InitRequest(
        out=tmp_path / "b.toml", name="Test", osm=[_extract(tmp_path)],
        facilities=[(folder / "fac.csv", "canteen")], osm_name="测试街道",
        osm_admin_level=8)).text)
    comments = [c for t in texts for c in _all_comments(t)]
    assert len(comments) > 30
    for c in comments:
        for a, b in ("()", "[]", "（）"):
            assert c.count(a) == c.count(b), c
        assert not re.search(r"\b(e\.g|i\.e)(?!\.)", c), c
        assert not re.search(r"\b(e\.g|i\.e)\.\s*(·|$)", c), c


@pytest.mark.parametrize(("text", "first"), [
    ("Name of the layer in reports and joins (default: the file name). More.",
     "Name of the layer in reports and joins (default: the file name)"),
    ("Facility type of every row (e.g. canteen, care_home). Or a column.",
     "Facility type of every row (e.g. canteen, care_home)"),
    ('Base map of the web maps ("none": no tiles. "osm": OpenStreetMap). Tiles.',
     'Base map of the web maps ("none": no tiles. "osm": OpenStreetMap)'),
    ("Walking speed, e.g. 3.6 km/h, i.e. slow. Planning value.",
     "Walking speed, e.g. 3.6 km/h, i.e. slow"),
    ("Shops, clinics, etc. are counted; rest ignored.", "Shops, clinics, etc. are counted"),
    ("One sentence only.", "One sentence only"),
    ("Unclosed (bracket. never ends", "Unclosed (bracket. never ends"),
])
def test_first_sentence_skips_abbreviations_and_brackets(text: str, first: str) -> None:
    assert first_sentence(text) == first


def test_data_root_is_the_common_folder_unless_that_is_root_or_home(tmp_path: Path,
                                                                    monkeypatch) -> None:
    from geoplan.workflows.init import _data_root

    folder = _district(tmp_path)
    # together: one relative data_root, relative paths
    req = InitRequest(out=tmp_path / "cfg" / "t.toml", name="x", osm=[folder / "net.osm"],
                      facilities=[(folder / "fac.csv", "canteen")])
    raw = tomllib.loads(write_init(req).text)
    assert raw["paths"]["data_root"] == "../data" and raw["network"]["osm_files"] == ["net.osm"]
    assert load_config(req.out).network.osm_files[0] == (folder / "net.osm").resolve()
    # scattered under the home folder: absolute paths, no data_root, the file still loads
    other = tmp_path / "elsewhere" / "deep"
    other.mkdir(parents=True)
    fac = other / "fac.csv"
    fac.write_bytes((folder / "fac.csv").read_bytes())
    monkeypatch.setenv("HOME", str(tmp_path))
    req = InitRequest(out=tmp_path / "cfg" / "s.toml", name="x", osm=[folder / "net.osm"],
                      facilities=[(fac, "canteen")])
    text = write_init(req).text
    raw = tomllib.loads(text)
    assert "data_root" not in raw.get("paths", {}) and "../" not in text
    assert raw["network"]["osm_files"] == [(folder / "net.osm").resolve().as_posix()]
    assert raw["facilities"][0]["path"] == fac.resolve().as_posix()
    cfg = load_config(req.out)
    assert cfg.facilities[0].path == fac.resolve()
    # the filesystem root is never a data_root
    assert _data_root([folder / "net.osm", Path(sys.executable)]) is None
    assert _data_root([folder / "net.osm", fac]) is None  # home
    assert _data_root([folder / "net.osm", folder / "fac.csv"]) == folder.resolve()


@pytest.mark.parametrize("case", ["columns", "missing", "boundary", "table_boundary",
                                  "boundary_code", "osm", "crs", "lon_only"])
def test_bad_inputs_are_one_line_and_write_nothing(tmp_path: Path, capsys, case: str) -> None:
    folder = _district(tmp_path)
    out = tmp_path / "x.toml"
    extra: list[str] = []
    args = _args(folder, out)
    if case == "columns":
        _csv(folder / "fac.csv", ("名称", "东西", "南北"), [("甲", LON, LAT)])
        want = ["fac.csv", "columns: 名称, 东西, 南北", "--lon-column"]
    elif case == "missing":
        args[args.index(str(folder / "fac.csv") + ":canteen")] = str(folder / "nope.csv")
        want = ["nope.csv", "file not found"]
    elif case == "boundary":
        (folder / "b.geojson").write_text("{ not json", encoding="utf-8")
        extra = ["--boundary", str(folder / "b.geojson")]
        want = ["b.geojson", "cannot be read"]
    elif case == "table_boundary":
        extra = ["--boundary", str(folder / "fac.csv")]
        want = ["fac.csv", "must be a polygon file"]
    elif case == "boundary_code":
        extra = ["--boundary", str(folder / "districts_wgs84.geojson"), "--boundary-code", "9"]
        want = ["no polygon has code '9'", "adcode, name"]
    elif case == "crs":
        extra = ["--crs", "mars"]
        want = ["--crs 'mars': use wgs84, gcj02, bd09 or an EPSG code"]
    elif case == "lon_only":
        extra = ["--lon-column", "lon"]
        want = ["--lon-column and --lat-column go together"]
    else:
        args[args.index("--osm") + 1] = str(folder / "none.osm.pbf")
        want = ["none.osm.pbf: file not found (--osm)"]
    assert main([*args, *extra]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for w in want:
        assert w in err, err
    assert not out.exists() and not list(tmp_path.glob(".x.toml*"))


def test_an_unknown_loader_error_is_not_hidden(tmp_path: Path) -> None:
    folder = _district(tmp_path)
    req = InitRequest(out=tmp_path / "a.toml", name="x", osm=[folder / "net.osm"],
                      facilities=[(folder / "fac.csv", "canteen")], study_id="bad id")
    with pytest.raises(ConfigError, match="--id 'bad id'"):
        write_init(req)
    assert not req.out.exists()


# --- the real demo files -----------------------------------------------------------------


def test_init_on_the_demo_files_matches_the_example_and_runs(demo_dir: Path, tmp_path: Path,
                                                             monkeypatch, capsys) -> None:
    fac = demo_dir / "facilities"
    out = tmp_path / "yangpu.toml"
    monkeypatch.chdir(tmp_path)
    assert main(["init", str(out), "--name", "杨浦区", "--boundary",
                 str(demo_dir / "admin" / "shanghai_districts_gcj02.geojson"),
                 "--boundary-code", "310110",
                 "--osm", str(demo_dir / "osm" / "wujiaochang-fudan.osm"),
                 "--osm", str(demo_dir / "osm" / "tongji-siping.osm"),
                 "--facilities", str(fac / "yangpu_elder_canteens_2024_gcj02.csv"),
                 "--facilities", str(fac / "yangpu_care_institutions_2024_bd09.csv"),
                 "--facilities", str(fac / "shanghai_eldercare_map_2024_gcj02.csv"),
                 "--census", str(demo_dir / "census" / "district_elderly_2020.csv")]) == 0
    capsys.readouterr()
    example = load_config(Path(__file__).parents[1] / "examples" / "yangpu-wujiaochang.toml")
    cfg = load_config(out)
    want = {f.path.name: (f.x, f.y, f.crs, f.category_map) for f in example.facilities
            if f.path.name in {p.path.name for p in cfg.facilities}}
    assert {f.path.name: (f.x, f.y, f.crs, f.category_map) for f in cfg.facilities} == want
    assert cfg.study_area.boundary_crs == "gcj02" and cfg.population.district_code == "310110"
    # the demo extracts cover ~12 % of the district: the run stops with one line ...
    assert main(["run", str(out), "--no-static-map", "-q"]) == 2
    assert "min_boundary_coverage" in capsys.readouterr().err
    # ... and runs when the user accepts the partial coverage
    text = out.read_text(encoding="utf-8")
    assert "[network]\n" in text
    out.write_text(text.replace("[network]\n", "[network]\nmin_boundary_coverage = 0.1\n", 1),
                   encoding="utf-8")
    assert main(["run", str(out), "--no-static-map", "-q"]) == 0
    said = capsys.readouterr().out
    assert "study area yangpu" in said and "aged 60+" in said


def test_comments_take_the_config_field_descriptions_where_there_are(tmp_path: Path,
                                                                     monkeypatch) -> None:
    from types import SimpleNamespace

    import geoplan.config
    import geoplan.workflows.init

    # a config model with field descriptions (pydantic's model_fields)
    described = SimpleNamespace(model_fields={
        "speed_kmh": SimpleNamespace(
            description="Walking speed of people aged 60+, km/h. Planning value 3.6."),
        "snap_max_m": SimpleNamespace(description="x" * 120)})
    monkeypatch.setattr(geoplan.config, "DescribedWalking", described, raising=False)
    monkeypatch.setitem(geoplan.workflows.init._SECTION_CLASSES, "walking", "DescribedWalking")
    folder = _district(tmp_path)
    req = InitRequest(out=tmp_path / "d.toml", name="x", osm=[folder / "net.osm"],
                      facilities=[(folder / "fac.csv", "canteen")])
    lines = write_init(req).text.splitlines()
    speed = next(ln for ln in lines if ln.startswith("speed_kmh"))
    assert "# Walking speed of people aged 60+, km/h · 老年人步行速度（公里/小时）" in speed
    snap = next(ln for ln in lines if ln.startswith("snap_max_m"))  # too long: ours
    assert "facilities farther than this" in snap


def test_gis_points_and_options_that_name_no_column(tmp_path: Path, capsys) -> None:
    pts = tmp_path / "canteens_gcj02.geojson"
    gpd.GeoDataFrame({"名称": ["甲", "乙"]}, geometry=gpd.points_from_xy([LON, LON + 0.001],
                                                                      [LAT, LAT]),
                     crs=4326).to_file(pts, driver="GeoJSON")
    g = inspect_facilities(pts)
    assert g.is_gis and (g.x, g.y) == (None, None)
    assert (g.crs, g.type, g.attrs["name_column"]) == ("gcj02", "canteen", "名称")
    folder = _district(tmp_path)
    out = tmp_path / "o.toml"
    assert main(_args(folder, out, "--lon-column", "lng", "--lat-column", "lat")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--lon-column 'lng' is not a column of any facility" in err
    assert not out.exists()


def test_help_lists_init_and_its_options(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "write a commented config for a new district" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["init", "--help"])
    text = capsys.readouterr().out
    for opt in ("--boundary", "--osm-name", "--osm-relation", "--facilities FILE[:TYPE]",
                "--lon-column", "--force"):
        assert opt in text
