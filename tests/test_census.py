"""Census figures for any district of China from the national county table (issue 13, part 8)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import openpyxl
import pytest

from geoplan.config import Population, config_from_dict
from geoplan.errors import ConfigError, InputDataError
from geoplan.sources.census import census_codes, district_census
from geoplan.sources.population import elderly_shares

from .conftest import missing_data

_AGES = ["0岁", "1到4岁", *[f"{a}到{a + 4}岁" for a in range(5, 85, 5)], "85岁以上"]
HEADER = ["区划代码", "省", "市", "区县", "人口数_合计", "人口数_男", "人口数_女",
          *[f"{sex}_{age}" for age in _AGES for sex in ("男", "女")], "人口比重_65岁及以上"]


def _row(code: object, name: str, band: int) -> list[object]:
    """A row where every age band (per sex) holds ``band`` people."""
    n = len(_AGES) * 2
    return [code, "某省", "某市", name, band * n, band * n // 2, band * n // 2,
            *([band] * n), 12.5]


def _national_xlsx(path: Path) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "七普（年鉴）"
    ws.append(HEADER)
    ws.append(["NA", "全国", "全国", "全国", *([1] * (len(HEADER) - 4))])
    ws.append(_row(110000, "北京市", 100))
    ws.append(_row(310110, "杨浦区", 10))
    ws.append(_row("330106", "西湖区", 7))  # a code stored as text
    wb.save(path)
    return path


def test_national_table_sums_bands(tmp_path: Path) -> None:
    path = _national_xlsx(tmp_path / "census.xlsx")
    f = district_census(path, "310110")
    # 60-64 ... 80-84, 85+ = 6 bands, two sexes, 10 each; 80+ = 2 bands, two sexes
    assert (f.residents, f.elderly_60, f.elderly_80) == (10 * 38, 120, 40)
    assert f.name == "杨浦区"
    assert f.share_60 == pytest.approx(120 / 380)
    assert district_census(path, "330106").elderly_80 == 28
    assert census_codes(path) == {"110000", "310110", "330106"}
    with pytest.raises(InputDataError, match="no row for district code 310114"):
        district_census(path, "310114")


def test_not_the_national_table(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    wb.active.append(["code", "population"])
    wb.active.append(["310110", 5])
    path = tmp_path / "other.xlsx"
    wb.save(path)
    with pytest.raises(InputDataError, match="not the national county census table"):
        district_census(path, "310110")


def test_user_figures_override(tmp_path: Path) -> None:
    path = _national_xlsx(tmp_path / "census.xlsx")
    sh = elderly_shares(Population(census_file=path, district_code="310110"))
    assert (sh.share_60, sh.share_80) == pytest.approx((120 / 380, 40 / 380))
    assert (sh.residents, sh.elderly_60) == (380, 120)
    assert "杨浦区 (310110)" in sh.source
    sh = elderly_shares(Population(census_file=path, district_code="310110", share_60=0.25))
    assert (sh.share_60, sh.share_80) == pytest.approx((0.25, 40 / 380))
    assert "config" in sh.source and "census" in sh.source
    sh = elderly_shares(Population(census_file=path, district_code="310110", elderly_80=76))
    assert sh.share_80 == pytest.approx(0.2)
    sh = elderly_shares(Population(residents=1000, elderly_60=300, elderly_80=50))
    assert (sh.share_60, sh.share_80, sh.source) == (0.3, 0.05, "config")


def _config(tmp_path: Path, population: dict[str, object]) -> dict[str, object]:
    (tmp_path / "f.csv").write_text("name,lon,lat\na,121.5,31.3\n", encoding="utf-8")
    (tmp_path / "a.osm").write_text("<osm/>", encoding="utf-8")
    return {"study_area": {"name": "t"}, "paths": {"data_root": str(tmp_path)},
            "network": {"osm_files": ["a.osm"]},
            "facilities": [{"type": "canteen", "path": "f.csv"}],
            "population": population}


def test_missing_district_is_a_config_error(tmp_path: Path) -> None:
    _national_xlsx(tmp_path / "census.xlsx")
    ok = config_from_dict(_config(tmp_path, {"census_file": "census.xlsx",
                                             "district_code": "330106"}), tmp_path)
    assert ok.population.district_code == "330106"
    with pytest.raises(ConfigError, match="district_code = '310114' has no row"):
        config_from_dict(_config(tmp_path, {"census_file": "census.xlsx",
                                            "district_code": "310114"}), tmp_path)
    with pytest.raises(ConfigError, match="6-digit"):
        config_from_dict(_config(tmp_path, {"census_file": "census.xlsx",
                                            "district_code": "3101"}), tmp_path)
    with pytest.raises(ConfigError, match=r"elderly_60 needs population\.residents"):
        config_from_dict(_config(tmp_path, {"elderly_60": 5000}), tmp_path)


def _independent(path: Path, code: str) -> tuple[int, int, int]:
    """Residents, 60+ and 80+ summed here from the raw cells, with openpyxl."""
    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    rows = wb.worksheets[0].iter_rows(values_only=True)
    header = [str(h) for h in next(rows)]
    age = {i: int(m.group(1)) for i, h in enumerate(header)
           if (m := re.match(r"^[男女]_(\d+)", h))}
    for r in rows:
        if str(r[0]) == code:
            wb.close()
            return (int(r[header.index("人口数_合计")]),
                    sum(int(r[i]) for i, a in age.items() if a >= 60),
                    sum(int(r[i]) for i, a in age.items() if a >= 80))
    raise AssertionError(code)


def test_real_national_table(demo_dir: Path) -> None:
    path = demo_dir / "census" / "census_county_2020_v1.xlsx"
    if not path.is_file():
        missing_data(f"{path} not found")
    t0 = time.perf_counter()
    yangpu = district_census(path, "310110")
    assert time.perf_counter() - t0 < 10  # openpyxl needs ~14 s for the whole sheet
    assert (yangpu.residents, yangpu.elderly_60, yangpu.elderly_80) == (
        1242548, 394927, 62574)
    assert len(census_codes(path)) > 3000
    for code in ("310110", "310114"):
        f = district_census(path, code)
        assert (f.residents, f.elderly_60, f.elderly_80) == _independent(path, code)
    assert district_census(path, "310114").name == "嘉定区"
