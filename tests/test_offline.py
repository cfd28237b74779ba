"""Base maps, self-contained (offline) HTML and the report fragment of the web map."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import branca.element
import folium
import pytest
from shapely.geometry import box

from geoplan.errors import ConfigError, GeoplanError
from geoplan.outputs import offline
from geoplan.outputs.offline import VENDOR_DIR, VENDORED, external_references, inline_assets
from geoplan.outputs.webmap import build_map, map_fragment, map_html, save_map
from tests.test_outputs import _areas, _facilities, _iso_by_type, _iso_per_facility


def _map(**kw: object) -> folium.Map:
    return build_map(_areas(), _facilities(), _iso_by_type(), isochrones=_iso_per_facility(),
                     types=["care_centre", "canteen", "day_care"],
                     boundary=box(121.49, 31.26, 121.53, 31.29), **kw)


def _js(text: str) -> str:
    return json.dumps(text)[1:-1]


def test_online_map_links_cdns() -> None:
    """The --cdn page links the CDN assets the default (offline) page replaces."""
    refs = external_references(map_html(_map(), offline=False))
    assert "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js" in refs
    assert len(refs) >= 5


def test_offline_map_has_no_external_reference(tmp_path: Path) -> None:
    path = save_map(_map(), tmp_path / "offline.html", offline=True)
    text = path.read_text(encoding="utf-8")
    assert external_references(text) == []
    # No http(s) URL in any src/href attribute of a script or link tag.
    for tag in re.findall(r"<(?:script|link)\b[^>]*>", text, re.IGNORECASE):
        assert not re.search(r"(?:src|href)\s*=\s*[\"']?(?:https?:)?//", tag), tag
    assert "leaflet/leaflet.js (inlined)" in text
    assert "jquery/jquery.min.js (inlined)" in text  # popups use $()
    assert "d3/d3.min.js (inlined)" in text  # the branca legend
    assert "bootstrap" not in text.lower().split("</head>")[0].split("(inlined)")[-1]
    assert "data:image/png;base64," in text  # leaflet.css images inlined
    assert "sourceMappingURL" not in text
    # The map itself is unchanged.
    assert _js("长者食堂/社区助餐点 (2)") in text
    assert "L.control.layers" in text


def test_vendored_files_and_licences_present() -> None:
    for rel in VENDORED.values():
        assert (VENDOR_DIR / rel).is_file(), rel
    for pkg in {rel.split("/")[0] for rel in VENDORED.values()}:
        assert list((VENDOR_DIR / pkg).glob("LICENSE*")), f"{pkg}: licence file missing"
        meta = json.loads((VENDOR_DIR / pkg / "package.json").read_text(encoding="utf-8"))
        urls = [u for u, r in VENDORED.items() if r.startswith(pkg + "/")]
        assert all(meta["version"] in u for u in urls), (pkg, meta["version"], urls)


def test_folium_defaults_are_all_handled() -> None:
    """A folium/branca upgrade that changes a CDN URL must be noticed (re-vendor)."""
    urls = [u for _, u in folium.Map.default_js + folium.Map.default_css]
    for url in urls:
        assert url in VENDORED or url in offline.UNUSED_DEFAULTS, url
    import inspect

    import branca.colormap

    d3 = re.findall(r"https://[^\"']+d3[^\"']+\.js", inspect.getsource(branca.colormap))
    assert d3 and all(u in VENDORED for u in d3)


def test_offline_unknown_asset_fails_clearly() -> None:
    m = _map()
    m.get_root().header.add_child(
        branca.element.JavascriptLink("https://cdn.example.com/plugin.js"), name="x")
    with pytest.raises(GeoplanError, match=r"plugin\.js is not vendored") as err:
        map_html(m, offline=True)
    assert "\n" not in str(err.value)


def test_offline_dropped_default_in_use_fails() -> None:
    m = _map()
    folium.Marker((31.27, 121.51), icon=folium.Icon(icon="home")).add_to(m)
    with pytest.raises(GeoplanError, match="not vendored"):
        map_html(m, offline=True)


def test_inline_assets_keeps_local_and_escapes_script_end() -> None:
    page = ('<html><head><script src="local.js"></script></head>'
            '<body><script>var a = 1;</script></body></html>')
    assert inline_assets(page) == page


def test_missing_vendored_file_fails(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(offline, "VENDOR_DIR", tmp_path)
    offline._vendored_text.cache_clear()
    try:
        with pytest.raises(GeoplanError, match=r"vendor_js\.sh"):
            map_html(_map(), offline=True)
    finally:
        offline._vendored_text.cache_clear()


def test_basemap_osm_default_attribution() -> None:
    text = map_html(_map())
    assert "tile.openstreetmap.org" in text
    assert "OpenStreetMap" in text and "contributors" in text
    assert "addAttribution" in text


def test_basemap_tianditu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TIANDITU_KEY", raising=False)
    text = map_html(_map(basemap="tianditu", tianditu_key="abc123"))
    assert "t{s}.tianditu.gov.cn/vec_w/wmts" in text
    assert "t{s}.tianditu.gov.cn/cva_w/wmts" in text
    assert "tk=abc123" in text and '"01234567"' in text
    assert "tile.openstreetmap.org" not in text
    # OSM data attribution kept although the tiles are not OSM.
    assert "addAttribution" in text and "OpenStreetMap" in text
    en = map_html(_map(basemap="tianditu", tianditu_key="abc123", lang="en"))
    assert "eva_w/wmts" in en and "cva_w" not in en
    monkeypatch.setenv("TIANDITU_KEY", "fromenv9")
    assert "tk=fromenv9" in map_html(_map(basemap="tianditu"))


def test_basemap_tianditu_without_key_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TIANDITU_KEY", raising=False)
    with pytest.raises(ConfigError, match="tianditu_key") as err:
        _map(basemap="tianditu")
    assert "TIANDITU_KEY" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="letters and digits"):
        _map(basemap="tianditu", tianditu_key="x');alert(1)//")


def test_basemap_none_and_unknown() -> None:
    text = map_html(_map(basemap="none"))
    assert "L.tileLayer" not in text
    assert "addAttribution" in text and "OpenStreetMap" in text
    with pytest.raises(ConfigError, match="basemap = 'amap'"):
        _map(basemap="amap")


def test_map_fragment_is_escaped_iframe() -> None:
    m = _map()
    frag = map_fragment(m, offline=True, height="480px")
    assert frag.startswith('<iframe srcdoc="') and frag.rstrip().endswith("</iframe>")
    assert "height:480px" in frag
    inner = re.fullmatch(r'<iframe srcdoc="([^"]*)"[^>]*></iframe>\n', frag)
    assert inner, "srcdoc must not contain an unescaped quote"
    page = html.unescape(inner.group(1))
    assert page == map_html(m, offline=True)
    assert "<script" not in inner.group(1)


def test_map_keeps_repr_html() -> None:
    out = _map()._repr_html_()
    assert "<iframe" in out and "srcdoc" in out
    assert "L.control.layers" in html.unescape(out)


def test_empty_layers_listed_with_note_offline() -> None:
    text = map_html(build_map(_areas().iloc[0:0], _facilities().iloc[0:0],
                              _iso_by_type().iloc[0:0], types=["canteen", "day_care"],
                              basemap="none"), offline=True)
    assert _js("长者食堂/社区助餐点（无）") in text
    assert _js("老年人日间照料中心 · 15分钟步行范围（无）") in text
    assert _js("区域（无）") in text
    assert external_references(text) == []


def test_maps_self_contained_by_default_cdn_opts_out(tmp_path: Path) -> None:
    """`geoplan run` and `geoplan report` inline every script by default (no --offline);
    `--cdn` links the CDNs instead; `offline = false` in the config does the same."""
    from geoplan.cli import main
    from geoplan.config import load_config
    from tests.smallcase import write_case

    cfg = write_case(tmp_path / "case")
    assert load_config(cfg).output.offline is True
    out = tmp_path / "case" / "out"
    page = out / "maps" / "small-coverage.html"
    assert main(["run", str(cfg), "-q"]) == 0
    assert external_references(page.read_text(encoding="utf-8")) == []
    assert main(["report", str(cfg), "-q"]) == 0
    report = (out / "data" / "small-report.html").read_text(encoding="utf-8")
    assert external_references(html.unescape(report)) == []
    assert "leaflet/leaflet.js (inlined)" in html.unescape(report)
    assert main(["run", str(cfg), "-q", "--cdn"]) == 0
    assert "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js" in external_references(
        page.read_text(encoding="utf-8"))
    assert main(["report", str(cfg), "-q", "--cdn"]) == 0
    report = (out / "data" / "small-report.html").read_text(encoding="utf-8")
    assert "leaflet@1.9.3/dist/leaflet.js" in html.unescape(report)
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("static_map = false",
                                                           "static_map = false\noffline = false"),
                   encoding="utf-8")
    assert main(["run", str(cfg), "-q"]) == 0
    assert external_references(page.read_text(encoding="utf-8"))
    assert main(["run", str(cfg), "-q", "--offline"]) == 0
    assert external_references(page.read_text(encoding="utf-8")) == []
    assert main(["run", str(cfg), "--offline", "--cdn"]) == 2


def test_cdn_option_on_site_and_report(tmp_path: Path) -> None:
    """`--cdn` exists on run, site and report and turns output.offline off."""
    from geoplan.cli import _with_assets, build_parser
    from geoplan.config import load_config
    from tests.smallcase import write_case

    cfg = load_config(write_case(tmp_path / "case"))
    parser = build_parser()
    for cmd in ("run", "site", "report"):
        assert _with_assets(cfg, parser.parse_args([cmd, "c.toml", "--cdn"])).output.offline \
            is False
        assert _with_assets(cfg, parser.parse_args([cmd, "c.toml"])).output.offline is True


@pytest.mark.parametrize("use", ["L.AwesomeMarkers.icon({})", '<i class="awesome-marker">',
                                 '<i class="fa fa-home">', '<span class="glyphicon">'])
def test_each_use_of_a_dropped_icon_default_is_caught(use: str) -> None:
    css = ("https://cdnjs.cloudflare.com/ajax/libs/Leaflet.awesome-markers/2.0.2/"
           "leaflet.awesome-markers.css")
    page = f'<html><head><link rel="stylesheet" href="{css}"/></head><body>{{}}</body></html>'
    assert inline_assets(page.format("sofa-bed")) == \
        page.replace(f'<link rel="stylesheet" href="{css}"/>', "").format(
            "sofa-bed")
    with pytest.raises(GeoplanError, match="awesome-markers"):
        inline_assets(page.format(use))
