"""Loading facility layers: real demo data, coordinate checks, duplicates, issues."""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import Point, box

from geoplan.config import FacilityLayer
from geoplan.errors import InputDataError
from geoplan.sources.crs import wgs84_to_gcj02
from geoplan.sources.facilities import (
    ISSUE_COLUMNS,
    POINT_COLUMNS,
    FacilityLoad,
    flag_outside,
    load_facilities,
    load_facility_layer,
    move_to_issues,
)


def haversine_m(lon1, lat1, lon2, lat2):
    lo1, la1, lo2, la2 = (np.radians(np.asarray(v, dtype=float)) for v in (lon1, lat1, lon2, lat2))
    h = np.sin((la2 - la1) / 2) ** 2 + np.cos(la1) * np.cos(la2) * np.sin((lo2 - lo1) / 2) ** 2
    return 2 * 6371008.8 * np.arcsin(np.sqrt(h))


def write_csv(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def layer(path, **kw):
    kw.setdefault("type", "canteen")
    kw.setdefault("label", path.stem)
    return FacilityLayer(path=path, **kw)


# ---------------------------------------------------------------------------- real data


def test_demo_canteens(demo_dir):
    d = demo_dir / "facilities"
    layers = [
        layer(d / "yangpu_elder_canteens_2024_gcj02.csv", label="canteens", x="lon_gcj02",
              y="lat_gcj02", crs="gcj02", address_column="address", street_column="street"),
        layer(d / "yangpu_elder_canteens_2024_no_coords.csv", label="canteens_nocoords",
              has_coordinates=False, address_column="address"),
    ]
    load = load_facilities(layers)
    pts = load.points
    assert list(pts.columns) == list(POINT_COLUMNS)
    assert list(load.issues.columns) == list(ISSUE_COLUMNS)
    assert len(pts) == 43
    assert pts.crs.to_epsg() == 4326
    assert pts["fid"].is_unique
    assert pts["source_row"].tolist() == list(range(2, 45))
    assert pts["fid"].iloc[0] == "canteens:2"
    assert pts["address"].notna().all()
    # one canteen has a blank street cell in the source: it stays missing, not ""
    assert pts.loc[pts["street"].isna(), "source_row"].tolist() == [19]
    assert pts["capacity"].isna().all()
    x, y = shapely.get_x(pts.geometry.values), shapely.get_y(pts.geometry.values)
    assert (x > 121.49).all() and (x < 121.58).all()
    assert (y > 31.25).all() and (y < 31.34).all()
    # GCJ-02 -> WGS84 moves Yangpu points ~470-480 m (checked on this data)
    shift = haversine_m(pts["lon_src"], pts["lat_src"], x, y)
    assert shift.min() > 440 and shift.max() < 510
    assert (x < pts["lon_src"]).all()  # WGS84 lies west of GCJ-02 here
    iss = load.issues
    assert len(iss) == 4
    assert (iss["problem"] == "missing_coordinates").all()
    assert (iss["action"] == "dropped").all()
    assert (iss["layer"] == "canteens_nocoords").all()
    assert iss["row"].tolist() == [2, 3, 4, 5]
    assert iss["file"].str.endswith("no_coords.csv").all()
    assert iss["name"].iloc[0] == "长白新村街道228街坊睦邻社区长者食堂"
    assert "上海市杨浦区敦化路62号" in iss["detail"].iloc[0]


# ---------------------------------------------------------------------------- reading


def test_gbk_chinese_headers(tmp_path):
    path = write_csv(tmp_path / "gbk.csv",
                     "名称,地址,经度,纬度,餐位\n长者食堂甲,杨浦区1号,121.50,31.30,60\n"
                     "长者食堂乙,杨浦区2号,121.52,31.28,\n", encoding="gbk")
    load = load_facility_layer(layer(path, name_column="名称", address_column="地址",
                                     x="经度", y="纬度", capacity_column="餐位"))
    pts = load.points
    assert pts["name"].tolist() == ["长者食堂甲", "长者食堂乙"]
    assert pts["address"].tolist() == ["杨浦区1号", "杨浦区2号"]
    assert pts.geometry.iloc[0].equals(Point(121.50, 31.30))  # wgs84: not shifted
    assert pts["capacity"].iloc[0] == 60.0 and np.isnan(pts["capacity"].iloc[1])
    assert load.issues.empty


def test_missing_column_error(tmp_path):
    path = write_csv(tmp_path / "f.csv", "name,lon,latitude\nA,121.5,31.3\n")
    with pytest.raises(InputDataError) as err:
        load_facilities([layer(path)])
    msg = str(err.value)
    assert "f.csv" in msg and "'lat'" in msg and "facilities[0].y" in msg
    assert "name, lon, latitude" in msg
    with pytest.raises(InputDataError, match=r"'seats'.*capacity_column"):
        load_facility_layer(layer(path, y="latitude", capacity_column="seats"))


def test_non_numeric_column_error(tmp_path):
    path = write_csv(tmp_path / "f.csv",
                     "name,address,lon,lat\nA,杨浦区1号,121.5,31.3\nB,杨浦区2号,121.6,31.2\n")
    with pytest.raises(InputDataError) as err:
        load_facilities([layer(path, x="address")])
    msg = str(err.value)
    assert "column 'address'" in msg and "f.csv" in msg and "not numeric" in msg
    assert "row 2: '杨浦区1号'" in msg and "facilities[0].x" in msg


def test_empty_coordinate_column_error(tmp_path):
    path = write_csv(tmp_path / "f.csv", "name,lon,lat\nA,,31.3\nB,,31.2\n")
    with pytest.raises(InputDataError, match=r"empty in every row.*has_coordinates"):
        load_facility_layer(layer(path))


@pytest.mark.parametrize("rows", [
    "A,31.30,121.50\nB,31.28,121.52\n",  # China: x looks like a latitude
    "A,45.0,170.0\nB,-10.0,-120.0\n",  # |y| > 90
])
def test_swapped_columns_error(tmp_path, rows):
    path = write_csv(tmp_path / "f.csv", "name,lon,lat\n" + rows)
    with pytest.raises(InputDataError, match=r"appear swapped.*exchange facilities\[0\]\.x"):
        load_facilities([layer(path)])


def test_out_of_range_error(tmp_path):
    path = write_csv(tmp_path / "f.csv",
                     "name,lon,lat\nA,121.5,31.3\nB,121.5,31.2\nC,121.4,95.0\n")
    with pytest.raises(InputDataError, match=r"f\.csv row 4: .*out of range"):
        load_facility_layer(layer(path))


def test_blank_and_unparseable_rows_reported(tmp_path, caplog):
    path = write_csv(tmp_path / "f.csv",
                     "name,lon,lat\n"
                     "A,121.50,31.30\n"  # row 2
                     "B,,31.29\n"  # row 3
                     "\n"  # row 4: blank line, skipped but keeps numbering
                     "C,121.51,\n"  # row 5
                     "D,121.52,31.28\n"  # row 6
                     "E,121.53,31.2x\n"  # row 7
                     "F,,\n"  # row 8
                     "G,１２１.５４,31.27\n")  # row 9 full-width digits parse
    with caplog.at_level(logging.WARNING, logger="geoplan.sources.facilities"):
        load = load_facility_layer(layer(path))
    assert load.points["name"].tolist() == ["A", "D", "G"]
    assert load.points["source_row"].tolist() == [2, 6, 9]
    assert load.points["fid"].tolist() == ["f:2", "f:6", "f:9"]
    assert load.points["lon_src"].iloc[2] == 121.54
    iss = load.issues
    assert iss["row"].tolist() == [3, 5, 7, 8]
    assert iss["problem"].tolist() == ["missing_coordinates", "missing_coordinates",
                                       "unparseable_coordinates", "missing_coordinates"]
    assert (iss["action"] == "dropped").all()
    assert "'31.2x'" in iss["detail"].iloc[2]
    # one summary line per problem per layer, not one per row
    msgs = [r.getMessage() for r in caplog.records]
    assert len(msgs) == 2
    assert any("3 rows missing_coordinates" in m for m in msgs)
    assert any("1 row unparseable_coordinates" in m for m in msgs)


def test_duplicates(tmp_path):
    lon, lat = 121.5, 31.3
    dlat_10m = 10 / 111_000
    dlat_500m = 500 / 111_000
    path = write_csv(tmp_path / "a.csv",
                     "name,lon,lat\n"
                     f"食堂甲,{lon},{lat}\n"  # row 2 kept
                     f" 食堂甲 ,{lon},{lat + dlat_10m}\n"  # row 3 duplicate (10 m)
                     f"食堂甲,{lon},{lat + dlat_500m}\n"  # row 4 same name elsewhere: kept
                     f"食堂乙,{lon},{lat}\n")  # row 5 other name, same place: kept
    other = write_csv(tmp_path / "b.csv",
                      f"name,lon,lat\n食堂乙,{lon},{lat + dlat_10m}\n食堂丙,{lon},{lat}\n")
    day = write_csv(tmp_path / "c.csv", f"name,lon,lat\n食堂甲,{lon},{lat}\n")
    load = load_facilities([layer(path), layer(other), layer(day, type="day_care")])
    assert load.points["fid"].tolist() == ["a:2", "a:4", "a:5", "b:3", "c:2"]
    dup = load.issues[load.issues["problem"] == "duplicate"]
    assert dup[["layer", "row"]].values.tolist() == [["a", 3], ["b", 2]]
    assert (dup["action"] == "dropped").all()
    assert "a:2" in dup["detail"].iloc[0] and "10 m" in dup["detail"].iloc[0]
    assert "a:5" in dup["detail"].iloc[1]
    assert dup["file"].iloc[1].endswith("b.csv")


def test_capacity_nan_vs_zero(tmp_path):
    path = write_csv(tmp_path / "f.csv",
                     "name,lon,lat,seats\nA,121.50,31.30,0\nB,121.51,31.30,\n"
                     "C,121.52,31.30,约50\nD,121.53,31.30,\"1,200\"\nE,121.54,31.30,-3\n")
    load = load_facility_layer(layer(path, capacity_column="seats"))
    cap = load.points["capacity"].to_numpy()
    assert len(cap) == 5  # bad capacity never drops a facility
    assert cap[0] == 0.0
    assert np.isnan(cap[1]) and np.isnan(cap[2]) and np.isnan(cap[4])
    assert cap[3] == 1200.0
    iss = load.issues
    assert iss["problem"].tolist() == ["unparseable_capacity", "negative_capacity"]
    assert iss["row"].tolist() == [4, 6]
    assert "is negative" in iss["detail"].iloc[1] and "number" not in iss["detail"].iloc[1]
    assert (iss["action"] == "kept").all()


def test_has_coordinates_false_needs_no_xy(tmp_path):
    path = write_csv(tmp_path / "f.csv", "name,address\nA,杨浦区1号\nB,\n")
    load = load_facility_layer(layer(path, has_coordinates=False, address_column="address"))
    assert load.points.empty and list(load.points.columns) == list(POINT_COLUMNS)
    assert load.issues["row"].tolist() == [2, 3]
    assert load.issues["detail"].iloc[0].endswith("杨浦区1号")


def test_bd09_and_projected_layers(tmp_path):
    # a BD-09 file and a UTM file describing the same WGS84 point
    from geoplan.sources.crs import wgs84_to_bd09

    lon, lat = 121.52, 31.29
    blon, blat = wgs84_to_bd09(lon, lat)
    bd = write_csv(tmp_path / "bd.csv", f"name,x,y\nA,{blon:.9f},{blat:.9f}\n")
    pts = load_facility_layer(layer(bd, x="x", y="y", crs="BD09")).points
    assert haversine_m(pts.geometry.x, pts.geometry.y, lon, lat)[0] < 0.01
    utm = gpd.GeoSeries([Point(lon, lat)], crs=4326).to_crs(32651).iloc[0]
    pj = write_csv(tmp_path / "utm.csv", f"name,e,n\nA,{utm.x:.3f},{utm.y:.3f}\n")
    pts = load_facility_layer(layer(pj, x="e", y="n", crs="EPSG:32651")).points
    assert haversine_m(pts.geometry.x, pts.geometry.y, lon, lat)[0] < 0.01
    assert pts["lon_src"].iloc[0] == pytest.approx(utm.x, abs=1e-3)


def test_geojson_layer(tmp_path):
    glon, glat = wgs84_to_gcj02([121.50, 121.52], [31.30, 31.28])
    gdf = gpd.GeoDataFrame({"title": ["A", "B"], "seats": [40, None]},
                           geometry=[Point(glon[0], glat[0]), box(glon[1], glat[1],
                                                                  glon[1] + 1e-4,
                                                                  glat[1] + 1e-4)],
                           crs="EPSG:4326")
    path = tmp_path / "f.geojson"
    gdf.to_file(path, driver="GeoJSON")
    load = load_facility_layer(layer(path, name_column="title", capacity_column="seats",
                                     crs="gcj02"))
    pts = load.points
    assert pts["source_row"].tolist() == [1, 2]  # feature numbers
    assert haversine_m(pts.geometry.x.iloc[0], pts.geometry.y.iloc[0], 121.50, 31.30) < 0.01
    assert pts["capacity"].iloc[0] == 40.0 and np.isnan(pts["capacity"].iloc[1])
    assert pts.geometry.iloc[1].geom_type == "Point"


def test_duplicate_labels_error(tmp_path):
    path = write_csv(tmp_path / "f.csv", "name,lon,lat\nA,121.5,31.3\n")
    with pytest.raises(InputDataError, match=r"facilities\[1\]\.label"):
        load_facilities([layer(path), layer(path)])


# ---------------------------------------------------------------------------- outside


def _load(tmp_path, coords):
    text = "name,lon,lat\n" + "".join(f"P{i},{x},{y}\n" for i, (x, y) in enumerate(coords))
    return load_facility_layer(layer(write_csv(tmp_path / "f.csv", text)))


def test_flag_outside(tmp_path):
    load = _load(tmp_path, [(121.50, 31.30), (121.70, 31.30), (121.52, 31.28)])
    area = box(121.49, 31.25, 121.58, 31.34)
    out = flag_outside(load, area)
    assert out.points["fid"].tolist() == ["f:2", "f:4"]
    iss = out.issues
    assert iss["problem"].tolist() == ["outside_study_area"]
    assert iss["row"].tolist() == [3] and iss["action"].tolist() == ["dropped"]
    assert iss["file"].iloc[0].endswith("f.csv")
    km = int(iss["detail"].iloc[0].split()[1])
    assert 11000 < km < 12500  # 0.12 deg of longitude at 31.3 N is ~11.4 km
    assert len(load.points) == 3  # the input load is not modified


def test_flag_outside_all_outside(tmp_path):
    load = _load(tmp_path, [(121.70, 31.30), (121.80, 31.40)])
    with pytest.raises(InputDataError) as err:
        flag_outside(load, box(121.49, 31.25, 121.58, 31.34))
    msg = str(err.value)
    assert "all 2 facilities" in msg and "outside the study area" in msg
    assert "121.7000..121.8000" in msg and "121.4900..121.5800" in msg
    assert "swapped" in msg


def test_move_to_issues_generic(tmp_path):
    load = _load(tmp_path, [(121.50, 31.30), (121.51, 31.30), (121.52, 31.30)])
    flagged = move_to_issues(load, load.points["name"] == "P1", "far_from_network",
                             "412 m from the nearest walkable way", action="kept")
    assert len(flagged.points) == 3
    assert flagged.issues["problem"].tolist() == ["far_from_network"]
    dropped = move_to_issues(flagged, np.array([True, False, True]), "far_from_network",
                             flagged.points["name"] + " is far")
    assert dropped.points["fid"].tolist() == ["f:3"]
    assert dropped.issues["detail"].tolist()[1:] == ["P0 is far", "P2 is far"]
    assert dropped.points.index.tolist() == [0]
    assert isinstance(dropped, FacilityLoad) and dropped.points.crs.to_epsg() == 4326
    # details as a list: one per masked point, or one per point
    mask = np.array([False, True, True])
    a = move_to_issues(load, mask, "x", ["d1", "d2"])
    b = move_to_issues(load, mask, "x", ["d0", "d1", "d2"])
    assert a.issues["detail"].tolist() == ["d1", "d2"]
    assert b.issues["detail"].tolist() == ["d1", "d2"]
    with pytest.raises(ValueError):
        move_to_issues(load, mask, "x", ["d1"])


def test_beds_floor_area_and_public_attributes(tmp_path) -> None:
    from geoplan.config import FacilityLayer
    from geoplan.sources.facilities import load_facility_layer

    p = tmp_path / "homes.csv"
    p.write_text("名称,经度,纬度,床位,面积,性质\n"
                 "甲养老院,121.50,31.29,120,\"3,500\",公办\n"
                 "乙养老院,121.51,31.29,约80,900,民办\n"
                 "丙养老院,121.52,31.29,,1200,\n", encoding="gbk")
    layer = FacilityLayer(path=p, type="care_home", x="经度", y="纬度", name_column="名称",
                          beds_column="床位", floor_area_column="面积",
                          public_column="性质")
    load = load_facility_layer(layer)
    pts = load.points
    assert pts["beds"].tolist()[0] == 120
    assert np.isnan(pts["beds"].tolist()[1]) and np.isnan(pts["beds"].tolist()[2])
    assert pts["floor_area_m2"].tolist() == [3500, 900, 1200]
    assert pts["public"].tolist()[:2] == [1.0, 0.0] and np.isnan(pts["public"].iloc[2])
    assert np.isnan(pts["capacity"]).all()
    assert load.issues["problem"].tolist() == ["unparseable_beds"]
