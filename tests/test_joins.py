"""Joining lists that share no id by name and street (issue 13, part 2)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geoplan.config import FacilityLayer, Join, config_from_dict
from geoplan.errors import ConfigError, InputDataError
from geoplan.outputs.tables import write_area_tables
from geoplan.sources.facilities import load_facilities
from geoplan.sources.joins import match_names, normalise_name, normalise_street

from .conftest import missing_data

P = ("上海市", "杨浦区")


@pytest.mark.parametrize(("a", "b"), [
    ("上海市杨浦区社会福利院", "上海杨浦区社会福利院"),
    ("上海市杨浦馨安老年公寓", "上海杨浦区馨安老年公寓"),
    ("上海欣益养老院有限公司", "欣益养老院"),
    ("上海欣益养老院（有限合伙）", "欣益养老院"),
    ("上海欣益养老院(民办非企业单位)", "欣益养老院"),
    ("上海信养养老服务有限公司杨浦信澜养老院分公司", "信澜养老院"),
    ("杨浦区 福利院 第1分院", "杨浦区福利院第一分院"),
    ("ＡＢＣ养老院", "abc养老院"),
    ("上海定海社区（顺平）长者照护之家", "定海社区(顺平)长者照护之家"),
])
def test_normalised_names_equal(a: str, b: str) -> None:
    assert normalise_name(a, P)[0] == normalise_name(b, P)[0]


def test_normalisation_keeps_what_distinguishes() -> None:
    # a branch is another institution; bracketed place names are part of the name
    assert normalise_name("上海市杨浦区社会福利院第一分院", P) == ("社会福利院第一分院", "第一分院")
    assert normalise_name("上海市杨浦区社会福利院", P) == ("社会福利院", "")
    assert (normalise_name("上海长白社区（常乐）长者照护之家", P)[0]
            != normalise_name("上海长白社区（常健）长者照护之家", P)[0])
    # a prefix is never stripped down to nothing
    assert normalise_name("杨浦区", P)[0] == "杨浦区"
    assert normalise_street("长白新村街道") == "长白"
    assert normalise_street("定海路街道") == "定海"
    assert normalise_street("新江湾城街道") == "新江湾城"


def test_match_rounds_and_report() -> None:
    left = ["上海市杨浦区社会福利院", "上海市杨浦区社会福利院第一分院", "上海欣益养老院有限公司",
            "上海杨浦区汇晨长白老年福利院", "上海杨浦区久安养老院", "上海阳光养老院",
            "上海阳光养老院"]
    lstreet = ["长白新村街道", "平凉路街道", "殷行街道", "长白新村街道", "殷行街道",
               "定海路街道", "大桥街道"]
    right = ["上海市杨浦区社会福利院第一分院", "上海杨浦区社会福利院", "欣益养老院",
             "上海杨浦区光大汇晨长白老年福利院", "上海杨浦区高乐寿养老院", "上海阳光养老院"]
    rstreet = ["平凉", "长白", "殷行", "长白", "长白", "定海"]
    m = match_names(left, right, lstreet, rstreet, min_score=85, strip_prefixes=P)
    got = {int(r.left_pos): (int(r.right_pos), r.method) for r in m.itertuples()
           if r.left_pos >= 0}
    assert got[0] == (1, "normalised")  # not the branch, though its name contains it
    assert got[1] == (0, "exact")
    assert got[2] == (2, "normalised")
    assert got[3] == (3, "fuzzy")
    assert m.loc[3, "score"] == pytest.approx(90.0)
    assert got[4] == (-1, "unmatched")
    assert got[5] == (5, "exact") and got[6] == (-1, "unmatched")  # the street decides
    lone = m[m["left_pos"] < 0]
    assert lone["right_pos"].tolist() == [4]
    assert "best candidate" in lone["note"].iloc[0]


def test_fuzzy_respects_branch_street_and_ambiguity() -> None:
    m = match_names(["甲社会福利院第二分院"], ["甲社会福利院第三分院"], min_score=50)
    assert m.loc[0, "method"] == "unmatched"
    m = match_names(["甲敬老院"], ["甲敬老院"], ["殷行街道"], ["长白"], min_score=50)
    assert m.loc[0, "method"] == "unmatched"
    m = match_names(["甲乙敬老院"], ["甲乙丙敬老院", "甲乙丁敬老院"], min_score=50)
    assert m.loc[0, "method"] == "unmatched" and "ambiguous" in m.loc[0, "note"]
    m = match_names(["甲乙敬老院", None], ["甲乙敬老院"], min_score=50)
    assert m["method"].tolist() == ["exact", "unmatched"]


INST = """name,street,lon,lat
上海市杨浦区社会福利院,长白新村街道,121.55,31.30
上海欣益养老院有限公司,殷行街道,121.54,31.31
上海杨浦区久安养老院,殷行街道,,
上海杨浦区汇晨长白老年福利院,长白新村街道,121.53,31.29
"""
PLAN = """name_in_plan,planned_beds_2025,street_in_plan,operator
上海杨浦区社会福利院,804,长白,区民政局
欣益养老院,"1,000",殷行,
上海杨浦区久安养老院,１２０,殷行,某公司
上海杨浦区光大汇晨长白老年福利院,370,长白,光大
上海星益养老院有限公司,110,五角场,
"""


def _files(tmp_path: Path) -> tuple[FacilityLayer, Path]:
    (tmp_path / "inst.csv").write_text(INST, encoding="utf-8")
    (tmp_path / "plan.csv").write_text(PLAN, encoding="utf-8")
    layer = FacilityLayer(path=tmp_path / "inst.csv", type="care_home", label="inst",
                          street_column="street")
    return layer, tmp_path / "plan.csv"


def test_join_attaches_columns_and_reports(tmp_path: Path) -> None:
    layer, plan = _files(tmp_path)
    jn = Join(layer="inst", path=plan, name="beds", name_column="name_in_plan",
              street_column="street_in_plan", columns=("planned_beds_2025", "operator"),
              beds_column="planned_beds_2025", min_score=85, strip_prefixes=P)
    load = load_facilities([layer], [jn])
    pts = load.points.set_index("name")
    assert pts["planned_beds_2025"].dtype == np.float64
    assert pts.loc["上海欣益养老院有限公司", "planned_beds_2025"] == 1000
    assert pts.loc["上海杨浦区汇晨长白老年福利院", "beds"] == 370
    assert pts.loc["上海市杨浦区社会福利院", "operator"] == "区民政局"
    inv = load.inventory.set_index("name")  # a facility without coordinates is joined too
    assert inv.loc["上海杨浦区久安养老院", "beds"] == 120
    table = load.joins
    assert table is not None
    assert dict(zip(table["left_name"].dropna(), table["match"], strict=False)) == {
        "上海市杨浦区社会福利院": "normalised", "上海欣益养老院有限公司": "normalised",
        "上海杨浦区久安养老院": "exact", "上海杨浦区汇晨长白老年福利院": "fuzzy"}
    lone = table[table["left_row"] < 0]
    assert lone["right_name"].tolist() == ["上海星益养老院有限公司"]
    assert lone["right_row"].tolist() == [6]
    issue = load.issues[load.issues["problem"] == "join_unmatched"]
    assert issue["row"].tolist() == [6] and issue["layer"].tolist() == ["beds"]
    out = write_area_tables(tmp_path, "t", {"areas": pts.reset_index(), "joins": table},
                            lang="zh")
    sheet = pd.read_excel(out["xlsx"], sheet_name="名称匹配", engine="calamine")
    assert "匹配方式" in sheet.columns and "模糊匹配" in set(sheet["匹配方式"])


def test_join_missing_key_column(tmp_path: Path) -> None:
    layer, plan = _files(tmp_path)
    jn = Join(layer="inst", path=plan, name_column="机构名称", columns=("operator",))
    with pytest.raises(InputDataError, match=r"column '机构名称' not found.*joins\[0\]"):
        load_facilities([layer], [jn])
    jn = Join(layer="inst", path=plan, name_column="name_in_plan", columns=("床位",))
    with pytest.raises(InputDataError, match=r"joins\[0\]\.columns\[0\]"):
        load_facilities([layer], [jn])
    jn = Join(layer="inst", path=plan, name_column="name_in_plan", columns=("street",))
    (tmp_path / "plan.csv").write_text(PLAN.replace("operator", "street"), encoding="utf-8")
    with pytest.raises(InputDataError, match="already a facility column"):
        load_facilities([layer], [jn])


def test_join_config(tmp_path: Path) -> None:
    _files(tmp_path)
    (tmp_path / "a.osm").write_text("<osm/>", encoding="utf-8")

    def cfg(join: dict[str, object]) -> object:
        return config_from_dict({
            "study_area": {"name": "t"}, "paths": {"data_root": str(tmp_path)},
            "network": {"osm_files": ["a.osm"]},
            "facilities": [{"path": "inst.csv", "type": "care_home", "label": "inst",
                            "street_column": "street"}],
            "population": {"share_60": 0.3}, "joins": [join]}, tmp_path)

    ok = cfg({"layer": "inst", "path": "plan.csv", "name_column": "name_in_plan",
              "beds_column": "planned_beds_2025", "strip_prefixes": ["上海市"]})
    with pytest.raises(InputDataError, match=r"column 'beds' not found.*joins\[0\]\.beds_column"):
        cfg({"layer": "inst", "path": "plan.csv", "name_column": "name_in_plan",
             "beds_column": "beds"})
    assert ok.joins[0].strip_prefixes == ("上海市",)  # type: ignore[attr-defined]
    for join, msg in [
        ({"layer": "inst2", "path": "plan.csv", "columns": ["x"]}, "names no"),
        ({"layer": "inst", "path": "plan.csv"}, "nothing to attach"),
        ({"layer": "inst", "path": "plan.csv", "columns": ["x"], "min_score": 120},
         "min_score"),
        ({"layer": "inst", "path": "nope.csv", "columns": ["x"]}, "file not found"),
        ({"layer": "inst", "path": "plan.csv", "columns": ["x"], "key": "name"},
         "unknown key"),
        ({"path": "plan.csv", "columns": ["x"]}, "missing required key 'layer'"),
    ]:
        with pytest.raises(ConfigError, match=msg):
            cfg(join)


def test_real_beds_plan(demo_dir: Path) -> None:
    fac = demo_dir / "facilities"
    plan = fac / "yangpu_care_beds_plan_2022_2035.csv"
    if not plan.is_file():
        missing_data(f"{plan} not found")
    inst = FacilityLayer(path=fac / "yangpu_care_institutions_2024_bd09.csv", label="inst",
                         type="care_home", x="lon_bd09", y="lat_bd09", crs="bd09",
                         street_column="street", address_column="address")
    jn = Join(layer="inst", path=plan, name_column="name_in_plan",
              street_column="street_in_plan", columns=("planned_beds_2025",),
              strip_prefixes=P)
    load = load_facilities([inst], [jn])
    table = load.joins
    assert table is not None
    matched = table[(table["left_row"] > 0) & (table["right_row"] > 0)]
    assert len(matched) >= 32
    assert (matched["match"] == "exact").sum() == 32
    assert load.inventory["planned_beds_2025"].notna().sum() == len(matched)
    assert load.inventory["planned_beds_2025"].sum() == pytest.approx(
        matched.merge(pd.read_csv(plan), left_on="right_name", right_on="name_in_plan")[
            "planned_beds_2025"].sum())
    # the branch keeps its own beds
    inv = load.inventory.set_index("name")
    assert inv.loc["上海市杨浦区社会福利院第一分院", "planned_beds_2025"] == 244
    assert inv.loc["上海市杨浦区社会福利院", "planned_beds_2025"] == 804
