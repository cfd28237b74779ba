"""The offline map in a real browser (headless chromium) with the network cut off.

Needs ``/usr/bin/chromium`` (Debian: ``apt-get install -y --no-install-recommends chromium
fonts-noto-cjk``): fails under CI=true when it is missing, skipped elsewhere. Screenshots
are kept in ``data/processed/test-artifacts/`` (git-ignored) for a look by eye.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image, ImageStat
from shapely.geometry import box

from geoplan.cli import main
from geoplan.outputs.webmap import build_map, save_map
from tests.browser import Browser, find_chromium
from tests.conftest import REPO
from tests.test_cli_errors import make_config
from tests.test_outputs import _areas, _facilities, _iso_by_type, _iso_per_facility

ARTIFACTS = REPO / "data" / "processed" / "test-artifacts"
LAYER_LABELS = ("Array.from(document.querySelectorAll("
                "'.leaflet-control-layers-overlays label')).map(l => l.textContent.trim())")


@pytest.fixture(scope="module")
def chromium() -> str:
    return find_chromium()


def _check_screenshot(png: bytes, name: str) -> Image.Image:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / name).write_bytes(png)
    im = Image.open(io.BytesIO(png)).convert("RGB")
    colours = im.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 50, "screenshot looks blank"
    assert max(ImageStat.Stat(im).stddev) > 20, "screenshot has no contrast"
    return im


#: Per shown colour bar: does its title overlap a tick label, do title and ticks lie inside it.
COLOURBARS = """(() => {
  const hit = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom
                        && b.top < a.bottom;
  const inside = (a, b) => a.left >= b.left - 1 && a.right <= b.right + 1
                           && a.top >= b.top - 1 && a.bottom <= b.bottom + 1;
  return Array.from(document.querySelectorAll('svg.geoplan-colorbar'))
    .filter(svg => svg.getBoundingClientRect().width > 0).map(svg => {
      const box = svg.getBoundingClientRect();
      const title = Array.from(svg.querySelectorAll('text.caption tspan'))
        .map(t => t.getBoundingClientRect());
      const ticks = Array.from(svg.querySelectorAll('.ticks text'))
        .map(t => t.getBoundingClientRect());
      return {lines: title.length, ticks: ticks.length,
              overlap: title.some(a => ticks.some(t => hit(a, t))),
              inside: title.concat(ticks).every(r => inside(r, box))};
    });
})()"""
#: Corner of the layer control, whether it is collapsed, and which legends share the corner.
CORNER = """(() => {
  const lc = document.querySelector('.leaflet-control-layers');
  const corner = lc.parentElement;
  return {corner: corner.className,
          expanded: lc.classList.contains('leaflet-control-layers-expanded'),
          legends: corner.querySelectorAll('.legend, .geoplan-legend').length,
          area: lc.getBoundingClientRect().width * lc.getBoundingClientRect().height};
})()"""


def _check_legends(b: Browser) -> list[dict[str, object]]:
    """Layer control collapsed with the legends in its corner; colour-bar titles clear of
    their ticks and inside their box."""
    corner = b.evaluate(CORNER)
    assert "leaflet-right" in corner["corner"] and "leaflet-top" in corner["corner"], corner
    assert not corner["expanded"]
    assert corner["area"] < 60 * 60, corner  # an icon, not a list covering the map
    assert corner["legends"] >= 1, corner
    bars = b.evaluate(COLOURBARS)
    assert bars, "no colour bar shown"
    for bar in bars:
        assert bar["ticks"] >= 2 and bar["lines"] >= 1, bar
        assert not bar["overlap"], bar
        assert bar["inside"], bar
    return bars


def _open(chromium: str, page: Path) -> Browser:
    b = Browser(chromium)
    try:
        b.open(page.resolve().as_uri())
    except BaseException:
        b.close()
        raise
    return b


def test_offline_demo_map_in_browser(chromium: str, demo_dir: Path, tmp_path: Path) -> None:
    """The real demo run, offline and without base map: works with no network at all."""
    cfg = make_config(tmp_path, demo_dir,
                      OSM='"osm/wujiaochang-fudan.osm", "osm/tongji-siping.osm"')
    # self-contained is the default: no --offline
    assert main(["run", str(cfg), "-q", "--basemap", "none", "--no-static-map"]) == 0
    page = tmp_path / "out" / "maps" / "bad-input-coverage.html"
    with _open(chromium, page) as b:
        assert b.js_errors() == []
        assert b.evaluate("typeof L") == "object"
        assert b.evaluate("typeof jQuery") == "function"
        labels = b.evaluate(LAYER_LABELS)
        assert "区域: 15分钟服务圈完整率" in labels
        assert "长者食堂/社区助餐点 · 15分钟步行范围" in labels
        assert "研究范围" in labels
        assert any(lab.startswith("长者食堂/社区助餐点 (") for lab in labels), labels
        # Every request stayed on the page: the file itself and inlined data: URIs.
        external = [u for u in b.requests() if not u.startswith(("file:", "data:"))]
        assert external == []
        assert b.failed_requests() == []
        assert b.evaluate("document.querySelectorAll('.leaflet-overlay-pane canvas').length") >= 1
        assert "OpenStreetMap" in b.evaluate(
            "document.querySelector('.leaflet-control-attribution').textContent")
        # The legend (d3) and a facility popup (built with jQuery) work.
        assert b.evaluate("document.querySelectorAll('.legend svg, svg .legend').length") >= 1
        popup = b.evaluate(
            "(() => { const m = window[document.querySelector('.folium-map').id];"
            " const l = Object.values(m._layers).find(x => x.getPopup && x.getPopup());"
            " l.openPopup(); return document.querySelector('.leaflet-popup-content')"
            ".textContent; })()")
        assert "长者食堂/社区助餐点" in popup
        assert b.js_errors() == []
        _check_legends(b)
        im = _check_screenshot(b.screenshot(), "offline-map.png")
        assert im.size == (1280, 900)


def test_offline_map_with_osm_tiles_survives_no_network(chromium: str, tmp_path: Path) -> None:
    """With OSM tiles but no network, tiles fail to load; the map itself still works."""
    m = build_map(_areas(), _facilities(), _iso_by_type(), isochrones=_iso_per_facility(),
                  types=["care_centre", "canteen", "day_care"], lang="en",
                  boundary=box(121.49, 31.26, 121.53, 31.29))
    page = save_map(m, tmp_path / "small.html", offline=True)
    with _open(chromium, page) as b:
        assert b.js_errors() == []
        labels = b.evaluate(LAYER_LABELS)
        assert "Day-care centre (none)" in labels  # empty layer listed with a note
        assert any(lab.startswith("Elder canteen / meal point (2)") for lab in labels)
        external = [u for u in b.requests() if not u.startswith(("file:", "data:"))]
        assert external and all("tile.openstreetmap.org" in u for u in external)
        _check_screenshot(b.screenshot(), "offline-map-small.png")


def test_online_page_fails_without_network(chromium: str, tmp_path: Path) -> None:
    """Guard for the test itself: the CDN page (--cdn) must break when offline."""
    m = build_map(_areas(), _facilities(), _iso_by_type(), basemap="none")
    page = save_map(m, tmp_path / "online.html", offline=False)
    with _open(chromium, page) as b:
        assert b.failed_requests(), "the dead proxy did not block the CDN"
        assert b.js_errors(), "a page without Leaflet should raise errors"
        assert b.evaluate("typeof L") == "undefined"


def test_overlay_legends_follow_their_layers(chromium: str, tmp_path: Path) -> None:
    """A hidden score overlay's legend is hidden too, and appears when it is switched on."""
    from geoplan.outputs.scorelayers import add_choropleth
    from geoplan.outputs.webmap import finish_layers

    areas = _areas()
    m = build_map(areas, _facilities(), _iso_by_type(), lang="en", basemap="none")
    add_choropleth(m, areas, "canteen_median_min", lang="en", show=True)
    add_choropleth(m, areas, "uncovered_60", lang="en", show=False)
    finish_layers(m)
    page = save_map(m, tmp_path / "legends.html", offline=True)
    visible = ("Array.from(document.querySelectorAll('svg#legend'))"
               ".filter(s => s.style.display !== 'none').length")
    with _open(chromium, page) as b:
        assert b.js_errors() == []
        assert b.evaluate("document.querySelectorAll('svg#legend').length") == 3
        assert b.evaluate(visible) == 2  # the areas' share legend + the shown overlay
        b.evaluate("Array.from(document.querySelectorAll("
                   "'.leaflet-control-layers-overlays label')).find(l => l.textContent"
                   ".includes('outside the complete')).querySelector('input').click()")
        assert b.evaluate(visible) == 3
        b.evaluate("Array.from(document.querySelectorAll("
                   "'.leaflet-control-layers-overlays label')).find(l => l.textContent"
                   ".includes('median walking')).querySelector('input').click()")
        assert b.evaluate(visible) == 2
        assert b.js_errors() == []


def test_long_legend_titles_wrap_clear_of_ticks(chromium: str, tmp_path: Path) -> None:
    """A long Chinese colour-bar title wraps onto lines above the bar, never over its ticks;
    the layer control stays an icon with the legends in its corner."""
    from geoplan.outputs.webmap import SCORE_COLOURS, LegendColormap, finish_layers

    m = build_map(_areas(), _facilities(), _iso_by_type(), lang="zh", basemap="none",
                  types=["care_centre", "canteen", "day_care"],
                  title="上海市杨浦区五角场街道与殷行街道十五分钟养老服务圈设施覆盖评估图")
    long = ("区域: 长者食堂/社区助餐点与日间照料中心及综合为老服务中心十五分钟步行覆盖的"
            "60岁以上老年人口比例（%；灰色 = 无老年人口；估算人口由街道统计数推算）")
    LegendColormap(list(SCORE_COLOURS), index=[0, 20, 40, 60, 80, 100], caption=long,
                   tick_labels=[0, 20, 40, 60, 80, 100]).add_to(m)
    finish_layers(m)
    page = save_map(m, tmp_path / "long.html")  # self-contained by default
    with _open(chromium, page) as b:
        assert b.js_errors() == []
        bars = _check_legends(b)
        assert max(bar["lines"] for bar in bars) >= 3, bars  # the long title was wrapped
        _check_screenshot(b.screenshot(), "long-legend-titles.png")
