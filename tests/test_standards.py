"""Planning standards: profiles, the worked example of the Yangpu plan, unknown attributes,
bad input, and ``geoplan standards`` on the real demo data."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pytest
from openpyxl import load_workbook

from geoplan.analysis.standards import (
    Units,
    check_standards,
    list_profiles,
    load_profile,
    required_amount,
    street_shortfall,
)
from geoplan.cli import main
from geoplan.config import load_config
from geoplan.errors import ConfigError
from geoplan.workflows.standards import check_config, quick_check
from tests.test_site import demo_config

YANGPU = "shanghai-yangpu-2016"


def _std(profile: str, sid: str):
    return next(s for s in load_profile(profile).standards if s.id == sid)


def _inventory(rows: list[dict]) -> pd.DataFrame:
    base = {"type": "", "street_code": "", "name": "", "beds": np.nan, "nursing_beds": np.nan,
            "floor_area_m2": np.nan, "capacity": np.nan, "public": np.nan}
    return pd.DataFrame([{**base, **r} for r in rows])


def _units(streets: list[tuple[str, str, float, float]], district_elderly: float = math.nan,
           district_committees: float = math.nan) -> Units:
    return Units("310110", "杨浦区", district_elderly, district_committees,
                 pd.DataFrame(streets, columns=["street_code", "street_name", "elderly",
                                                "committees"]))


# ------------------------------------------------------------------ profiles


def test_builtin_profiles_load_with_sources_units_levels() -> None:
    assert {"shanghai-yangpu-2016", "hangzhou-xihu-2016"} <= set(list_profiles())
    for pid in list_profiles():
        prof = load_profile(pid)
        assert prof.standards
        for s in prof.standards:
            assert s.source and s.unit_zh and s.unit_en and s.levels
    ids = {s.id for s in load_profile(YANGPU).standards}
    assert {"care_home_beds", "nursing_beds", "homecare_floor_area",
            "public_care_home_per_street", "neighbourhood_centre_per_committees",
            "care_centre_per_street"} <= ids
    xihu = {s.id for s in load_profile("hangzhou-xihu-2016").standards}
    assert {"care_complex_per_street", "beds_per_100_elderly"} <= xihu


def test_worked_example_of_the_yangpu_plan() -> None:
    """431,700 registered elderly → 10,793 beds and 17,268 m² (Yangpu 13th FYP)."""
    assert required_amount(_std(YANGPU, "care_home_beds"), 431_700)[0][0] == 10_793
    assert required_amount(_std(YANGPU, "homecare_floor_area"), 431_700)[0][0] == 17_268
    # 3,237.75 nursing beds: whole beds, rounded up
    assert required_amount(_std(YANGPU, "nursing_beds"), 431_700)[0][0] == 3_238
    t = quick_check(YANGPU, 431_700, beds=8_000, floor_area_m2=11_236.5).set_index(
        "standard_id")
    assert t.loc["care_home_beds", "required"] == 10_793
    assert t.loc["care_home_beds", "shortfall"] == 2_793
    assert t.loc["homecare_floor_area", "required"] == 17_268
    assert t.loc["homecare_floor_area", "shortfall"] == pytest.approx(6_031.5, abs=1e-9)
    assert (t.loc[["care_home_beds", "homecare_floor_area"], "check_status"] == "fail").all()
    assert t.loc["nursing_beds", "check_status"] == ""  # no stock given: requirement only


def test_per_committees_requirement() -> None:
    s = _std(YANGPU, "neighbourhood_centre_per_committees")
    req, strict = required_amount(s, np.array([np.nan, np.nan, np.nan]),
                                  np.array([9.0, 301.0, 0.0]))
    assert req[:2].tolist() == [2.0, 61.0] and strict[:2].tolist() == [3.0, 76.0]
    assert np.isnan(req[2])  # no committees: no base


def test_quick_check_cli_prints_the_requirement_table(capsys: pytest.CaptureFixture) -> None:
    assert main(["standards", "--profile", YANGPU, "--elderly", "431700", "--beds", "8000",
                 "--floor-area", "11236.5", "--lang", "en"]) == 0
    out = capsys.readouterr().out
    for text in ("10,793", "17,268", "2,793", "6,031.5", "Fail"):
        assert text in out
    assert main(["standards", "--profile", YANGPU]) == 2  # neither CONFIG nor --elderly
    assert "--elderly" in capsys.readouterr().err
    assert main(["standards", "--profile", "nowhere-2099", "--elderly", "10"]) == 2
    assert "unknown standards profile" in capsys.readouterr().err
    assert main(["standards", "--profile", YANGPU, "--elderly", "0"]) == 2


def test_user_profile_file_and_its_errors(tmp_path: Path) -> None:
    good = tmp_path / "mine.toml"
    good.write_text("""
[profile]
id = "mine"
name_zh = "自定义"
name_en = "Custom"
[[standards]]
id = "seats"
kind = "per_elderly"
name_zh = "助餐座位"
name_en = "Canteen seats"
metric = "capacity"
types = ["canteen"]
rate = 3
per = 100
rounding = "ceil"
unit_zh = "个"
unit_en = "seats"
source = "test"
""", encoding="utf-8")
    prof = load_profile(good)
    assert required_amount(prof.standards[0], 1001)[0][0] == 31  # 30.03 → 31
    bad = tmp_path / "bad.toml"
    bad.write_text(good.read_text(encoding="utf-8").replace('"per_elderly"', '"per_person"'),
                   encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.toml standards\[0\]\.kind"):
        load_profile(bad)
    typo = tmp_path / "typo.toml"
    typo.write_text(good.read_text(encoding="utf-8").replace('["canteen"]', '["cantine"]'),
                    encoding="utf-8")
    with pytest.raises(ConfigError, match="'cantine' is not a known facility type"):
        load_profile(typo)


# ------------------------------------------------------------------ the check


def test_unknown_attribute_counts_as_unknown_not_zero() -> None:
    prof = load_profile(YANGPU).select(["care_home_beds"])
    units = _units([("310110001", "定海路街道", 10_000.0, 20.0),
                    ("310110006", "平凉路街道", 10_000.0, 20.0),
                    ("310110008", "江浦路街道", 10_000.0, 20.0)])
    inv = _inventory([
        # 定海: 150 known + 1 unknown, needs 250 → unknown (not fail)
        {"type": "care_home", "street_code": "310110001", "beds": 100},
        {"type": "care_home", "street_code": "310110001"},
        {"type": "care_home_small", "street_code": "310110001", "beds": 50},
        # 平凉: 300 known + 1 unknown → pass (known supply already meets 250)
        {"type": "care_home", "street_code": "310110006", "beds": 300},
        {"type": "care_home", "street_code": "310110006"},
        # 江浦: all known, 200 < 250 → fail, shortfall 50
        {"type": "care_home", "street_code": "310110008", "beds": 200},
        {"type": "day_care", "street_code": "310110008", "beds": 999},  # not a care home
    ])
    t = check_standards(prof, units, inv, configured_types=["care_home"], lang="en")
    t = t.set_index("unit_name")
    assert t.loc["定海路街道", "check_status"] == "unknown"
    assert t.loc["定海路街道", "unknown_rows"] == 1
    assert t.loc["定海路街道", "existing_amount"] == 150
    assert "counted as unknown, not zero" in t.loc["定海路街道", "detail"]
    assert t.loc["平凉路街道", "check_status"] == "pass"
    assert t.loc["江浦路街道", "check_status"] == "fail"
    assert t.loc["江浦路街道", "shortfall"] == 50
    assert t.loc["江浦路街道", "shortfall_share"] == pytest.approx(0.2)
    assert (t.drop(index="杨浦区")["required"] == 250).all()


def test_population_zero_and_missing_type_and_filters() -> None:
    prof = load_profile(YANGPU)
    units = _units([("310110001", "定海路街道", 0.0, 12.0),
                    ("310110006", "平凉路街道", 8_000.0, 9.0)], district_elderly=8_000.0,
                   district_committees=21.0)
    inv = _inventory([
        {"type": "care_home", "street_code": "310110001", "beds": 10, "public": 1.0},
        {"type": "care_home", "street_code": "310110006", "beds": 500, "public": np.nan},
        {"type": "care_home", "street_code": "310110006", "beds": 10, "public": 0.0},
    ])
    t = check_standards(prof, units, inv, configured_types=["care_home"], lang="en")
    beds = t[t["standard_id"] == "care_home_beds"].set_index("unit_name")
    assert beds.loc["定海路街道", "check_status"] == "no_base"
    assert "0 elderly" in beds.loc["定海路街道", "detail"]
    assert beds.loc["平凉路街道", "check_status"] == "pass"  # 510 >= 200
    pub = t[t["standard_id"] == "public_care_home_per_street"].set_index("unit_name")
    assert pub.loc["定海路街道", "check_status"] == "pass"
    # one private, one of unknown ownership: not a fail, not a pass
    assert pub.loc["平凉路街道", "check_status"] == "unknown"
    nc = t[t["standard_id"] == "neighbourhood_centre_per_committees"]
    assert (nc["check_status"] == "no_data").all()  # no neighbourhood_centre layer
    assert "no facility layer of type neighbourhood_centre" in nc["detail"].iloc[0]
    assert nc.set_index("unit_name").loc["平凉路街道", "required"] == 2  # ceil(9/5)
    short = street_shortfall(t).set_index("street_code")
    assert short.loc["310110006", "standards_checked"] >= 2


def test_xihu_complex_needs_600_square_metres() -> None:
    prof = load_profile("hangzhou-xihu-2016").select(["care_complex_per_street"])
    units = _units([("330106001", "北山街道", 5_000.0, 10.0),
                    ("330106002", "西溪街道", 5_000.0, 10.0),
                    ("330106003", "灵隐街道", 5_000.0, 10.0)])
    inv = _inventory([
        {"type": "care_complex", "street_code": "330106001", "floor_area_m2": 650},
        {"type": "care_complex", "street_code": "330106002", "floor_area_m2": 420},
        {"type": "care_complex", "street_code": "330106003"},
    ])
    t = check_standards(prof, units, inv, configured_types=["care_complex"]).set_index(
        "unit_name")
    assert t["check_status"].to_dict() == {"北山街道": "pass", "西溪街道": "fail",
                                           "灵隐街道": "unknown"}


# ------------------------------------------------------------------ real demo data


def test_standards_command_on_the_demo(demo_dir: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture) -> None:
    cfg_path = demo_config(demo_dir, tmp_path)
    assert main(["standards", str(cfg_path), "-q"]) == 0
    out = capsys.readouterr().out
    assert "10,793" in out and "2,793" in out and "6,031.5" in out
    folder = tmp_path / "data" / "standards"
    gpkg = folder / "yangpu-wujiaochang-standards.gpkg"
    layers = {n for n, _ in pyogrio.list_layers(gpkg)}
    assert {"standards", "standards_summary", "street_bases", "inventory"} <= layers
    wb = load_workbook(folder / "yangpu-wujiaochang-standards.xlsx", read_only=True)
    assert "规划标准检查" in wb.sheetnames
    assert (folder / "yangpu-wujiaochang-standards-manifest.json").is_file()

    res = check_config(load_config(cfg_path))
    # Yangpu's stock, with or without coordinates, across the district: 47 listed
    # canteens, 65 institutions, and the municipal map's 225 Yangpu rows less its 70 care
    # homes (left out: the institution list holds them) and less 6 meal points within
    # 30 m of a listed canteen (same_place_m); no other district's row
    inv = res.inventory
    assert len(inv) == 47 + 65 + 155 - 6
    assert inv.groupby("type").size().to_dict() == {
        "canteen": 47 + 82 - 6, "care_centre": 16, "care_home": 65, "community_org": 11,
        "day_care": 24, "nursing_hospital": 11, "nursing_station": 11}
    assert set(inv["district"].dropna()) == {"杨浦区"}
    # streets: from the lists' street columns, or a full street name in the facility name
    # (one canteen, 8 organisations and the 22 nursing stations/hospitals have none)
    assert (inv["street_code"] != "").sum() == 261 - 31
    assert any("2766 facilities of other districts" in n for n in res.notes)
    assert len(res.units.streets) == 12
    assert res.units.district_committees == 301
    d = res.table[res.table["unit_level"] == "district"].set_index("standard_id")
    assert d.loc["care_home_beds", "required"] == 10_793
    assert d.loc["homecare_floor_area", "existing_amount"] == 11_236.5
    assert d.loc["neighbourhood_centre_per_committees", "required"] == 61
    # the institutions list no beds: nursing beds unknown (not zero) for the district
    assert d.loc["nursing_beds", "check_status"] == "unknown"
    assert d.loc["nursing_beds", "unknown_rows"] == 65
    streets = res.table[(res.table["unit_level"] == "street")
                        & (res.table["standard_id"] == "homecare_floor_area")]
    # street elderly: census residents × the 60+ share; canteens and day care without
    # floor area are unknown
    assert (streets["elderly"] > 0).all()
    assert streets["elderly"].sum() == pytest.approx(1_242_600 * 0.3178, rel=1e-3)
    assert (streets["check_status"] == "unknown").all()
    assert streets["unknown_rows"].sum() == 123 + 24 - 1
    centres = res.table[(res.table["unit_level"] == "street")
                        & (res.table["standard_id"] == "care_centre_per_street")]
    assert (centres["check_status"] == "pass").all() and centres["existing_amount"].sum() == 16
    # which facilities lack floor area: all 147 canteens and day-care centres, by row
    miss = res.missing[res.missing["standard_id"] == "homecare_floor_area"]
    assert len(miss) == 147 and (miss["attribute"] == "floor_area_m2").all()
    assert {"fid", "source_row", "name"} <= set(miss.columns)
    assert "standards_missing" in layers


def test_street_and_committee_elderly_files(demo_dir: Path, tmp_path: Path) -> None:
    cfg_path = demo_config(demo_dir, tmp_path)
    streets = pd.read_csv(demo_dir / "admin" / "streets_yangpu_jiading_xihu.csv", dtype=str)
    streets = streets[streets["code"].str.startswith("310110")]
    elderly = pd.DataFrame({"code": streets["code"], "elderly": 36_000})
    elderly.loc[elderly.index[0], "elderly"] = 0
    efile = tmp_path / "street_elderly.csv"
    elderly.to_csv(efile, index=False)
    census = ('elderly_file = "census/yangpu_streets_residents_2020.csv"\n'
              'elderly_code_column = "street_code"\nresidents_column = "residents_2020"\n')
    text = cfg_path.read_text(encoding="utf-8")
    assert census in text
    text = text.replace(census, f'elderly_file = "{efile}"\n')
    cfg_path.write_text(text, encoding="utf-8")
    res = check_config(load_config(cfg_path), lang="en")
    beds = res.table[(res.table["standard_id"] == "care_home_beds")
                     & (res.table["unit_level"] == "street")]
    assert (beds["required"].dropna() == 900).all()  # 36,000 × 2.5 %
    # the 65 institutions list no beds: unknown, except the street with 0 elderly
    by_code = beds.set_index("unit_code")["check_status"]
    zero = str(elderly["code"].iloc[0])
    assert by_code[zero] == "no_base"
    assert (by_code.drop(index=zero) == "unknown").all()
    area = res.table[(res.table["standard_id"] == "homecare_floor_area")
                     & (res.table["unit_level"] == "street")].set_index("unit_code")
    first = streets["code"].iloc[0]
    assert area.loc[first, "check_status"] == "no_base"  # population 0
    assert any("0 elderly" in w for w in res.warnings)
    assert (area.drop(index=first)["required"] == 1_440).all()  # 36 × 40 m²
    # committee-level counts roll up to their streets
    comm = pd.read_csv(demo_dir / "admin" / "committees_yangpu_jiading_xihu.csv", dtype=str)
    comm = comm[comm["code"].str.startswith("310110")]
    cfile = tmp_path / "committee_elderly.csv"
    pd.DataFrame({"code": comm["code"], "elderly": 100}).to_csv(cfile, index=False)
    text = text.replace(f'elderly_file = "{efile}"',
                        f'elderly_file = "{cfile}"\nelderly_level = "committee"')
    cfg_path.write_text(text, encoding="utf-8")
    res = check_config(load_config(cfg_path))
    per_street = res.units.streets.set_index("street_code")
    assert (per_street["elderly"] == 100 * per_street["committees"]).all()


def test_standards_config_errors(demo_dir: Path, tmp_path: Path,
                                 capsys: pytest.CaptureFixture) -> None:
    cfg_path = demo_config(demo_dir, tmp_path)
    base = cfg_path.read_text(encoding="utf-8")
    cases = {
        'profile = "shanghai-yangpu-2016"\n': ('profile = "shanghai-yangpu-2016"\n'
                                               'only = ["neighbourhood_centre_per_committees"]\n',
                                               "no [[facilities]] layer has that type"),
        "elderly_total = 431700": ("elderly_total = 0", "standards.elderly_total"),
        'access_method = "e2sfca_step"': ('access_method = "3sfca"', "gap_index.access_method"),
        'types = ["canteen", "day_care", "care_centre"]\nmethods': (
            'types = ["doorstep_station"]\nmethods', "accessibility.types"),
    }
    for old, (new, msg) in cases.items():
        assert old in base, old
        cfg_path.write_text(base.replace(old, new, 1), encoding="utf-8")
        assert main(["standards", str(cfg_path)]) == 2
        err = capsys.readouterr().err
        assert msg in err and "Traceback" not in err and err.count("\n") == 1


def test_run_with_committees_rolls_up_access_standards_and_index(
        demo_dir: Path, tmp_path: Path) -> None:
    """Committee polygons with street codes: accessibility per street, the street's
    standards shortfall in the gap index, and the standards layers in the outputs."""
    import geopandas as gpd

    from tests.test_cli_errors import AREA_COLUMNS, _areas_file, make_config

    p = _areas_file(tmp_path, 4326, ["310110012001", "310110012002"], [1200, 800])
    efile = tmp_path / "street_elderly.csv"
    pd.DataFrame({"code": ["310110012"], "elderly": [40_000]}).to_csv(efile, index=False)
    cfg = make_config(tmp_path, demo_dir, AREAS="file", AREAS_EXTRA=AREA_COLUMNS.replace(
        "@P@", str(p)) + '\nstreets_file = "admin/streets_yangpu_jiading_xihu.csv"')
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("[[facilities]]", """
[standards]
profile = "shanghai-yangpu-2016"
elderly_file = "@E@"
committees_file = "admin/committees_yangpu_jiading_xihu.csv"
[accessibility]
methods = ["2sfca", "e2sfca_step"]
[gap_index]
access_method = "2sfca"

[[facilities]]
street_column = "street"
""".replace("@E@", str(efile)), 1), encoding="utf-8")
    assert main(["run", str(cfg), "-q"]) == 0
    gpkg = next((tmp_path / "out" / "data").glob("*-coverage.gpkg"))
    layers = {n for n, _ in pyogrio.list_layers(gpkg)}
    assert {"standards", "standards_summary", "streets"} <= layers
    streets = gpd.read_file(gpkg, layer="streets")
    assert {"acc_canteen_count_2sfca", "acc_canteen_count_e2sfca_step"} <= set(streets.columns)
    std = gpd.read_file(gpkg, layer="standards")
    row = std[(std["unit_code"] == "310110012")
              & (std["standard_id"] == "homecare_floor_area")].iloc[0]
    assert row["required"] == 1_600  # 40,000 × 40 / 1,000
    # canteens of the street without floor area: unknown, shortfall at most the requirement
    assert row["check_status"] == "unknown" and row["unknown_rows"] > 0
    checked = std[(std["unit_code"] == "310110012")
                  & std["check_status"].isin(["pass", "fail", "unknown"])]
    areas = gpd.read_file(gpkg, layer="areas")
    assert np.allclose(areas["gap_standards"], checked["shortfall_share"].mean())
    assert (areas["gap_components"] == "uncovered+access+standards").all()
    np.testing.assert_allclose(
        areas[["contrib_uncovered", "contrib_access", "contrib_standards"]].sum(axis=1),
        areas["gap_index"])
    html = next((tmp_path / "out" / "maps").glob("*.html")).read_text(encoding="utf-8")
    assert html.index("L.control.layers(") > html.rindex("var feature_group_")
    # committees with a street code: the street is outlined on the map
    assert '"\\u8857\\u9053\\u754c\\u7ebf" : feature_group_' in html  # "街道界线"


def test_street_residents_table_gives_estimated_street_elderly(demo_dir: Path,
                                                               tmp_path: Path) -> None:
    """The 2020 census residents of the 12 streets × the district's 60+ share: every street
    gets a base (no 'no_base'), labelled as an estimate."""
    cfg_path = demo_config(demo_dir, tmp_path)
    text = cfg_path.read_text(encoding="utf-8").replace(
        "# elderly_file = \"population/street_elderly.csv\"",
        'elderly_file = "census/yangpu_streets_residents_2020.csv"\n'
        'elderly_code_column = "street_code"\nresidents_column = "residents_2020"')
    cfg_path.write_text(text, encoding="utf-8")
    res = check_config(load_config(cfg_path), lang="en")
    streets = res.units.streets
    raw = pd.read_csv(demo_dir / "census" / "yangpu_streets_residents_2020.csv", dtype=str)
    census = pd.read_csv(demo_dir / "census" / "district_elderly_2020.csv", dtype=str)
    row = census[census["adcode"] == "310110"].iloc[0]
    share = float(row["pop_60plus"]) / float(row["pop_total"])
    want = raw.set_index("street_code")["residents_2020"].astype(float) * share
    got = streets.set_index("street_code")["elderly"]
    assert len(got) == 12 and got.notna().all()
    assert np.allclose(got.loc[want.index].to_numpy(), want.to_numpy())
    per_street = res.table[res.table["unit_level"] == "street"]
    assert not (per_street["check_status"] == "no_base").any()
    assert any("estimate" in n for n in res.notes)
