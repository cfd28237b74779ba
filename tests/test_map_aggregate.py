"""Maps that stay usable at city scale (issue 15 part 3).

Above ``output.map_detail_limit`` features the web map draws aggregated layers: areas
coloured by score on one shared, simplified copy of their outlines, one merged catchment
per facility type and time, light facility markers, nothing per building or per edge,
coordinates at 5 decimals, and a note that the GeoPackage holds every detail. A generated
whole city (6,000 committees, 300,000 buildings, 4,000 facilities with catchments) must
give an HTML under 25 MB that renders in headless chromium without JavaScript errors; a
demo-sized study area keeps the detailed map. The browser tests need chromium (fail under
CI=true when it is missing, skipped elsewhere).
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import shapely

from geoplan.config import Config, config_from_dict
from geoplan.outputs.webmap import (
    COORD_GRID,
    MAP_DETAIL_LIMIT,
    build_map,
    detail_features,
    light_geometries,
    pixel_tolerance,
    save_map,
)
from geoplan.workflows.coverage import coverage_map
from tests.bigmap import TYPES, City, fake_result, make_city
from tests.browser import Browser, find_chromium, measure_map

NOTE_ZH = "全部细节见 GeoPackage"
#: A per-facility catchment layer's name, as the layer control's script holds it.
PER_FACILITY = json.dumps("各设施15分钟步行范围")[1:-1]
#: folium's GeoJson layer: one per detailed layer, never on an aggregated map.
FOLIUM_GEOJSON = "L.geoJson(null"
MB = 1e6


@pytest.fixture(scope="module")
def city() -> City:
    return make_city()  # 6,000 committees, 300,000 buildings, 4,000 facilities


@pytest.fixture(scope="module")
def small_city() -> City:
    return make_city(n_areas=117, n_buildings=1000, n_facilities=51)  # the demo's size


def _config(tmp_path: Path, **output: Any) -> Config:
    (tmp_path / "net.osm").write_text("<osm/>", encoding="utf-8")
    (tmp_path / "fac.csv").write_text("name,lon,lat\nA,121.5,31.28\n", encoding="utf-8")
    raw = {"study_area": {"name": "city", "title_zh": "全市", "title_en": "City"},
           "paths": {"data_root": str(tmp_path)}, "network": {"osm_files": ["net.osm"]},
           "facilities": [{"type": t, "path": "fac.csv", "label": t} for t in TYPES],
           "output": {"dir": str(tmp_path / "d"), "maps_dir": str(tmp_path / "m"),
                      "cache_dir": str(tmp_path / "c"), "basemap": "none", **output}}
    return config_from_dict(raw, base_dir=tmp_path)


@pytest.fixture(scope="module")
def city_page(city: City, tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("citymap")
    m = coverage_map(fake_result(_config(tmp), city))  # default output.map_detail_limit
    return save_map(m, tmp / "city.html")


def _coordinates(text: str) -> list[str]:
    return re.findall(r"\[(1[0-9]{2}\.[0-9]+),(-?[0-9]{1,2}\.[0-9]+)\]", text)


def test_city_map_is_aggregated_and_small(city: City, city_page: Path) -> None:
    text = city_page.read_text(encoding="utf-8")
    assert city_page.stat().st_size < 25 * MB
    assert NOTE_ZH in text
    assert FOLIUM_GEOJSON not in text  # no folium per-feature layer left
    assert PER_FACILITY not in text  # no per-facility catchments
    # Points: the facilities, each once; none of the 300,000 buildings.
    assert text.count('{"type":"Point"') == len(city.facilities)
    # Area outlines are written once, shared by the coverage layer and every overlay.
    polygons = text.count('{"type":"Polygon"') + text.count('{"type":"MultiPolygon"')
    n_streets = city.areas["street_code"].nunique()
    assert polygons <= len(city.areas) + n_streets + len(city.isochrones_by_type) + 1
    assert text.count("LightLayer") == 0  # element names are not leaked as text
    # 5 decimals at most, and outlines simplified: far fewer vertices than the input.
    coords = _coordinates(text)
    assert coords and max(len(x.split(".")[1]) for xy in coords for x in xy) <= 5
    area_vertices = int(shapely.get_num_coordinates(city.areas.geometry.to_numpy()).sum())
    iso_vertices = int(shapely.get_num_coordinates(
        city.isochrones_by_type.geometry.to_numpy()).sum())
    assert len(coords) < 0.5 * (area_vertices + iso_vertices)


def test_city_map_switch_is_logged(city: City, tmp_path: Path,
                                   caplog: pytest.LogCaptureFixture) -> None:
    small = make_city(n_areas=200, n_buildings=10, n_facilities=20)
    with caplog.at_level(logging.INFO, logger="geoplan.outputs.webmap"):
        coverage_map(fake_result(_config(tmp_path, map_detail_limit=100), small))
    lines = [r.getMessage() for r in caplog.records if "aggregated" in r.getMessage()]
    assert len(lines) == 1
    assert "240 features" in lines[0] and "map_detail_limit = 100" in lines[0]


def test_demo_sized_map_stays_detailed(small_city: City, tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    assert cfg.output.map_detail_limit == MAP_DETAIL_LIMIT
    n = detail_features(small_city.areas, small_city.facilities, small_city.isochrones)
    assert n == 117 + 51 + 51 < MAP_DETAIL_LIMIT
    page = save_map(coverage_map(fake_result(cfg, small_city)), tmp_path / "demo.html")
    text = page.read_text(encoding="utf-8")
    assert NOTE_ZH not in text
    assert FOLIUM_GEOJSON in text
    assert PER_FACILITY in text  # per-facility catchments are drawn


@pytest.mark.parametrize(("limit", "aggregated"), [(219, False), (218, True), (0, True)])
def test_threshold_switches_modes(small_city: City, tmp_path: Path, limit: int,
                                  aggregated: bool) -> None:
    cfg = _config(tmp_path, map_detail_limit=limit)  # the demo-sized city has 219 features
    text = save_map(coverage_map(fake_result(cfg, small_city)),
                    tmp_path / "m.html").read_text(encoding="utf-8")
    assert (NOTE_ZH in text) is aggregated
    assert (FOLIUM_GEOJSON in text) is not aggregated
    again = save_map(coverage_map(fake_result(cfg, small_city)),
                     tmp_path / "again.html").read_text(encoding="utf-8")
    assert again == text  # deterministic in both modes


def test_english_note_and_no_limit() -> None:
    small = make_city(n_areas=30, n_buildings=10, n_facilities=5)
    wgs = {k: getattr(small, k).to_crs(4326) for k in ("areas", "facilities",
                                                       "isochrones_by_type", "isochrones")}
    m = build_map(wgs["areas"], wgs["facilities"], wgs["isochrones_by_type"],
                  isochrones=wgs["isochrones"], lang="en", basemap="none", detail_limit=0)
    assert "every detail is in the GeoPackage" in m.get_root().render()
    m = build_map(wgs["areas"], wgs["facilities"], wgs["isochrones_by_type"],
                  lang="en", basemap="none", detail_limit=None)
    assert "GeoPackage" not in m.get_root().render()


def test_simplification_follows_the_map_resolution() -> None:
    # A 60 km city: a pixel of a 1,024-px window two zoom levels into the whole view.
    tol = pixel_tolerance((121.0, 31.0, 121.64, 31.54))
    assert 13 < tol * 111_320 < 16
    # A district of 8 km: about 2 m; never below the coordinate grid.
    assert 1.5 < pixel_tolerance((121.48, 31.26, 121.565, 31.33)) * 111_320 < 2.5
    assert pixel_tolerance((121.5, 31.2, 121.5, 31.2)) == COORD_GRID
    assert pixel_tolerance(None) == COORD_GRID
    rng = np.random.default_rng(1)
    ang = np.linspace(0, 2 * np.pi, 400, endpoint=False)
    r = 0.01 * (1 + 0.005 * rng.random(400))  # 1.1 km radius, 5 m noise
    ring = np.c_[121.5 + r * np.cos(ang), 31.2 + r * np.sin(ang)]
    poly = shapely.Polygon(ring)
    light = light_geometries([poly, None], tol)
    assert light[1] is None
    assert shapely.get_num_coordinates(light[0]) < 0.5 * shapely.get_num_coordinates(poly)
    assert shapely.hausdorff_distance(light[0], poly) <= tol + COORD_GRID
    assert np.all(np.round(shapely.get_coordinates(light[0]), 5)
                  == shapely.get_coordinates(light[0]))


def test_aggregated_siting_map(small_city: City, tmp_path: Path) -> None:
    """Proposed sites keep their numbered badges; their catchments merge into one."""
    from geoplan.outputs.sitingmap import build_siting_map

    areas = small_city.areas.to_crs(4326)
    areas["share_before"] = areas["circle_share"]
    areas["share_after"] = np.minimum(areas["circle_share"] + 0.2, 1.0)
    sites = gpd.GeoDataFrame(
        {"rank": [1, 2, 3], "name": ["甲", "乙", "丙"], "origin": ["grid"] * 3,
         "marginal": [120.0, 80.0, 10.0], "cum_covered": [120.0, 200.0, 210.0],
         "share_after": [0.5, 0.6, 0.61]},
        geometry=areas.geometry.representative_point().to_numpy()[:3], crs=4326)
    catch = gpd.GeoDataFrame(geometry=shapely.buffer(sites.geometry.to_numpy(), 0.004), crs=4326)
    m = build_siting_map(areas, small_city.facilities.to_crs(4326),
                         small_city.isochrones_by_type.to_crs(4326),
                         [("canteen", 15.0, sites, catch)], lang="zh", title="方案",
                         boundary=None, types=list(TYPES), basemap="none", detail_limit=0)
    page = save_map(m, tmp_path / "site.html")
    text = page.read_text(encoding="utf-8")
    assert NOTE_ZH in text and FOLIUM_GEOJSON not in text
    assert json.dumps("建议新增长者食堂/社区助餐点（3处）")[1:-1] in text


# ---------------------------------------------------------------------------------------
# in a browser


@pytest.fixture(scope="module")
def chromium() -> str:
    return find_chromium()


def test_city_map_renders_in_browser(chromium: str, city_page: Path) -> None:
    timing = measure_map(city_page, chromium)
    assert timing.js_errors == []
    assert timing.mb < 25
    # The target is 5 s; the bound here leaves room for a loaded test machine.
    assert timing.open_s < 20, timing
    with Browser(chromium) as b:
        b.open(city_page.resolve().as_uri(), settle=0.5)
        labels = b.evaluate("Array.from(document.querySelectorAll("
                            "'.leaflet-control-layers-overlays label'))"
                            ".map(l => l.textContent.trim())")
        assert "区域: 15分钟服务圈完整率" in labels
        assert any(lab.startswith("长者食堂/社区助餐点 (") for lab in labels), labels
        assert NOTE_ZH in b.evaluate("document.querySelector('.geoplan-aggregated')"
                                     ".textContent")
        assert b.evaluate("document.querySelectorAll('.leaflet-overlay-pane canvas')"
                          ".length") >= 1
        # A facility popup and an area tooltip are built on demand from the arrays.
        popup = b.evaluate(
            "(() => { const m = window[document.querySelector('.folium-map').id];"
            " let hit = null; m.eachLayer(l => { if (!hit && l.getPopup && l.getPopup()"
            " && l.getLatLng) hit = l; }); hit.openPopup();"
            " return document.querySelector('.leaflet-popup-content').textContent; })()")
        assert "设施" in popup and "某路" in popup
        tip = b.evaluate(
            "(() => { const m = window[document.querySelector('.folium-map').id];"
            " let hit = null; m.eachLayer(l => { if (!hit && l.getTooltip && l.getTooltip()"
            " && l.getBounds && m.hasLayer(l)) hit = l; }); hit.openTooltip();"
            " return document.querySelector('.leaflet-tooltip').textContent; })()")
        assert "居委会" in tip and "60岁以上老人" in tip
        assert b.js_errors() == []


def test_aggregated_siting_map_in_browser(chromium: str, small_city: City,
                                          tmp_path: Path) -> None:
    test_aggregated_siting_map(small_city, tmp_path)
    with Browser(chromium) as b:
        b.open((tmp_path / "site.html").resolve().as_uri(), settle=0.5)
        assert b.js_errors() == []
        badges = b.evaluate("Array.from(document.querySelectorAll('.leaflet-marker-icon'))"
                            ".map(e => e.textContent.trim())")
        assert sorted(badges) == ["1", "2", "3"]


def test_check_map_script(chromium: str, small_city: City, tmp_path: Path) -> None:
    """scripts/check_map.py prints size and opening time, last line machine-readable."""
    import subprocess
    import sys

    from tests.conftest import REPO

    cfg = _config(tmp_path, map_detail_limit=0)
    page = save_map(coverage_map(fake_result(cfg, small_city)), tmp_path / "m.html")
    res = subprocess.run([sys.executable, str(REPO / "scripts" / "check_map.py"), str(page)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    last = res.stdout.strip().splitlines()[-1]
    found = re.fullmatch(r"map_mb=([0-9.]+) open_s=([0-9.]+)", last)
    assert found, last
    assert abs(float(found.group(1)) - page.stat().st_size / MB) < 0.01
    assert 0 < float(found.group(2)) < 30
    missing = subprocess.run([sys.executable, str(REPO / "scripts" / "check_map.py"),
                              str(tmp_path / "none.html")], capture_output=True, text=True,
                             timeout=60)
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == [
        f"check_map: error: {tmp_path / 'none.html'}: no such map file"]
    # a map cut short (a copy interrupted): one line, exit 2, no traceback
    data = page.read_bytes()
    for frac in (0.5, 0.8, 0.95):
        cut = tmp_path / f"cut{frac}.html"
        cut.write_bytes(data[: int(len(data) * frac)])
        res = subprocess.run([sys.executable, str(REPO / "scripts" / "check_map.py"),
                              str(cut)], capture_output=True, text=True, timeout=120)
        lines = res.stderr.strip().splitlines()
        assert res.returncode in (1, 2) and "Traceback" not in res.stderr, res.stderr
        if res.returncode == 2:
            assert len(lines) == 1 and lines[0].startswith(f"check_map: error: {cut}: ")



@pytest.mark.parametrize("html", [
    "<!doctype html><html><head><title>x</title></head><body><p>not a map</p></body></html>",
    "<html><body><div class='folium-map' id='m'></div></body></html>",  # no Leaflet
])
def test_check_map_on_a_page_that_is_not_a_map(chromium: str, tmp_path: Path,
                                                html: str) -> None:
    """Any HTML page that is not a geoplan map: one line within seconds, exit 2, no
    traceback (it used to wait for the timeout and end in a websocket traceback)."""
    import subprocess
    import sys
    import time

    from tests.conftest import REPO

    page = tmp_path / "notmap.html"
    page.write_text(html, encoding="utf-8")
    t0 = time.monotonic()
    res = subprocess.run([sys.executable, str(REPO / "scripts" / "check_map.py"), str(page)],
                         capture_output=True, text=True, timeout=60)
    took = time.monotonic() - t0
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
    assert lines[0].startswith(f"check_map: error: {page}: ")
    assert "not a geoplan/Leaflet map" in lines[0] or "Leaflet did not load" in lines[0]
    assert took < 20  # chromium start-up on a loaded machine; the old wait was 31 s+


def test_aggregated_area_colours_match_the_detailed_map() -> None:
    from geoplan.outputs.webmap import (
        NO_DATA_COLOUR,
        SCORE_COLOURS,
        _class_index,
        _score_colour,
    )

    values = [np.nan, -0.1, 0.0, 0.1999, 0.2, 0.4, 0.5999, 0.6, 0.8, 0.95, 1.0, 1.2]
    palette = [*SCORE_COLOURS, NO_DATA_COLOUR]
    assert [palette[i] for i in _class_index(values)] == [_score_colour(v) for v in values]
