"""Reading CSV/TXT (encodings), Excel and GIS files."""

from __future__ import annotations

import json
import warnings

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
from shapely.geometry import Point

from geoplan.errors import InputDataError
from geoplan.sources.tables import read_table, require_columns

CSV_TEXT = ("名称,经度,纬度,代码\n"
            " 长者食堂 ,121.5,31.3,0012\n"
            "\n"
            "日间照料中心,,31.2,310110001001\n")


def _expected() -> pd.DataFrame:
    return pd.DataFrame({"名称": ["长者食堂", np.nan, "日间照料中心"],
                         "经度": ["121.5", np.nan, np.nan],
                         "纬度": ["31.3", np.nan, "31.2"],
                         "代码": ["0012", np.nan, "310110001001"]})


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_csv_encodings_read_identically(tmp_path, encoding):
    path = tmp_path / "t.csv"
    path.write_bytes(CSV_TEXT.encode(encoding))
    df = read_table(path)
    assert list(df.columns) == ["名称", "经度", "纬度", "代码"]  # no BOM in first name
    pd.testing.assert_frame_equal(df.astype(object), _expected().astype(object))
    assert df.iloc[0]["代码"] == "0012"  # leading zeros kept
    assert df.iloc[2]["代码"] == "310110001001"
    assert df.iloc[1].isna().all()  # blank line kept: row index + 2 = line in Excel


def test_explicit_encoding(tmp_path):
    path = tmp_path / "g.csv"
    path.write_bytes(CSV_TEXT.encode("gbk"))
    assert read_table(path, encoding="gbk").iloc[2]["名称"] == "日间照料中心"
    with pytest.raises(InputDataError, match=r"g\.csv.*utf-8"):
        read_table(path, encoding="utf-8")
    with pytest.raises(InputDataError, match="unknown encoding"):
        read_table(path, encoding="nonsense-enc")


def test_txt_tab_separated(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("name\tlon\tlat\nA\t121.5\t31.3\n", encoding="utf-8")
    df = read_table(path)
    assert list(df.columns) == ["name", "lon", "lat"]
    assert df.iloc[0].tolist() == ["A", "121.5", "31.3"]


def test_xlsx_roundtrip(tmp_path):
    path = tmp_path / "t.xlsx"
    wb = openpyxl.Workbook()
    wb.active.title = "other"
    wb.active.append(["x"])
    ws = wb.create_sheet("设施")
    ws.append(["名称", "经度", "纬度", "代码"])
    ws.append([" 长者食堂 ", 121.5, 31.3, "0012"])
    ws.append([None, None, None, None])
    ws.append(["日间照料中心", None, "31.2", 310110001001])
    ws.append([None, None, None, None])  # trailing blank row
    wb.save(path)
    df = read_table(path, sheet="设施")
    pd.testing.assert_frame_equal(df.astype(object), _expected().astype(object))
    assert read_table(path).columns.tolist() == ["x"]  # first sheet by default
    with pytest.raises(InputDataError, match=r"sheet 'nope' not found.*other, 设施"):
        read_table(path, sheet="nope")


def test_geojson_with_and_without_crs(tmp_path):
    gdf = gpd.GeoDataFrame({"name": ["a"], "code": ["0012"]}, geometry=[Point(350000, 3460000)],
                           crs="EPSG:32651")
    with_crs = tmp_path / "with.geojson"
    gdf.to_file(with_crs, driver="GeoJSON")
    got = read_table(with_crs)
    assert isinstance(got, gpd.GeoDataFrame)
    assert got.crs.to_epsg() == 32651
    assert got.iloc[0]["code"] == "0012"
    # A GeoJSON without a "crs" member is WGS84 by definition (RFC 7946)
    plain = tmp_path / "plain.geojson"
    plain.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "a"},
         "geometry": {"type": "Point", "coordinates": [121.5, 31.3]}}]}), encoding="utf-8")
    assert read_table(plain).crs.to_epsg() == 4326


def test_gis_file_without_crs_raises(tmp_path):
    path = tmp_path / "nocrs.gpkg"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gpd.GeoDataFrame({"name": ["a"]}, geometry=[Point(1, 2)]).to_file(path)
    with pytest.raises(InputDataError, match=r"nocrs\.gpkg.*no coordinate system.*Set CRS"):
        read_table(path)


def test_bad_files(tmp_path):
    with pytest.raises(InputDataError, match=r"missing\.csv: file not found"):
        read_table(tmp_path / "missing.csv")
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(InputDataError, match=r"empty\.csv: file is empty"):
        read_table(empty)
    odd = tmp_path / "data.dbf"
    odd.write_text("x", encoding="utf-8")
    with pytest.raises(InputDataError, match=r"data\.dbf: unknown file type"):
        read_table(odd)
    xls = tmp_path / "old.xls"
    xls.write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(InputDataError, match=r"old\.xls.*save as \.xlsx"):
        read_table(xls)
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("a,b\n1,2\n3,4,5\n", encoding="utf-8")
    with pytest.raises(InputDataError, match=r"ragged\.csv: not a valid table"):
        read_table(ragged)
    broken = tmp_path / "broken.xlsx"
    broken.write_text("not a zip", encoding="utf-8")
    with pytest.raises(InputDataError, match=r"broken\.xlsx: cannot be opened"):
        read_table(broken)


@pytest.mark.parametrize("cut", [1, 2])
def test_utf8_cut_mid_character_is_called_cut_short(tmp_path, cut):
    """A UTF-8 file whose last character is incomplete (copy cut short) is not reported as
    "neither UTF-8 nor GBK": it names the file and says to copy it again."""
    whole = "名称,lon,lat\n长者食堂,121.5,31.3\n杨浦区养老院".encode()
    path = tmp_path / "cut.csv"
    path.write_bytes(whole[:-cut])  # 院 is 3 bytes: 1 or 2 of them dropped
    with pytest.raises(InputDataError) as ei:
        read_table(path)
    msg = str(ei.value)
    assert msg.startswith(f"{path}: ends in the middle of a character")
    assert "cut short; copy it again" in msg and "neither" not in msg and "\n" not in msg
    with pytest.raises(InputDataError, match="cut short"):
        read_table(path, encoding="utf-8")
    # ASCII text cut after a lead byte is cut short too; real GBK and bad bytes inside are not
    ascii_cut = tmp_path / "a.csv"
    ascii_cut.write_bytes(b"name,lon,lat\nA,121.5,31.3\xe9")
    with pytest.raises(InputDataError, match="cut short"):
        read_table(ascii_cut)
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes("名称,lon,lat\n长者食堂,121.5,31.3\n".encode("gbk"))
    assert read_table(gbk)["名称"].tolist() == ["长者食堂"]
    inside = tmp_path / "inside.csv"
    inside.write_bytes(whole[:-3] + b"\xff\xfe\x80\n" + whole)
    with pytest.raises(InputDataError, match="neither UTF-8 nor GBK"):
        read_table(inside)


def test_require_columns(tmp_path):
    df = pd.DataFrame({"name": ["a"], "Lon": ["1"], "lat": ["2"]})
    require_columns(df, {"facilities[0].x": "Lon", "facilities[0].capacity_column": None},
                    tmp_path / "f.csv")
    with pytest.raises(InputDataError) as err:
        require_columns(df, {"facilities[0].x": "lon"}, tmp_path / "f.csv")
    msg = str(err.value)
    assert "f.csv" in msg and "column 'lon' not found" in msg
    assert "columns are: name, Lon, lat" in msg and "set facilities[0].x" in msg
    assert "did you mean 'Lon'" in msg
    assert "\n" not in msg
