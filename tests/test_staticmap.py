"""Static map for print (PNG/PDF), CJK font lookup, and the run's map outputs."""

from __future__ import annotations

import html
import itertools
import json
import re
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from matplotlib import font_manager
from matplotlib.text import Text
from shapely.geometry import Point, box

from geoplan.cli import main
from geoplan.errors import GeoplanError
from geoplan.outputs import staticmap
from geoplan.outputs.offline import external_references
from geoplan.outputs.staticmap import build_static_map, classify, find_cjk_font, write_static_map
from tests.test_cli_errors import make_config
from tests.test_outputs import _areas, _facilities, _iso_by_type


def _unwrap(text: str) -> str:
    """A wrapped label as one line (a space between words, none between CJK characters)."""
    return re.sub(r"(?<=[\x21-\x7e])\n(?=[\x21-\x7e])", " ", text).replace("\n", "")


def _texts(fig: object) -> list[str]:
    return [_unwrap(t.get_text()) for t in fig.findobj(Text)  # type: ignore[attr-defined]
            if t.get_text()]


def _proposed() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"rank": [1, 2]}, geometry=[Point(121.50, 31.27),
                                                        Point(121.52, 31.28)], crs=4326)


_CJK_WORDS = re.compile(r"(?i)cjk|han|hei|song|sc$|tc$|jp$|kr$|wenquanyi|wqy|yahei|pingfang")


@pytest.fixture
def no_system_cjk_font(monkeypatch: pytest.MonkeyPatch) -> None:
    """matplotlib sees no system CJK font (as on a fresh machine)."""
    packaged = staticmap.packaged_font_path()
    keep = [f for f in font_manager.fontManager.ttflist
            if not _CJK_WORDS.search(f.name) or (packaged and Path(f.fname) == packaged)]
    monkeypatch.setattr(font_manager.fontManager, "ttflist", keep)
    monkeypatch.setattr(staticmap.font_manager, "findSystemFonts", lambda *a, **k: [])
    font_manager.fontManager._findfont_cached.cache_clear()
    yield
    font_manager.fontManager._findfont_cached.cache_clear()


def _glyph_warnings(record: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in record if "missing from font" in str(w.message)]


def test_find_cjk_font_has_chinese_glyphs() -> None:
    name = find_cjk_font()
    assert name is not None
    path = font_manager.findfont(font_manager.FontProperties(family=name),
                                 fallback_to_default=False)
    from matplotlib.ft2font import FT2Font

    font = FT2Font(path)
    for ch in "杨浦区养老服务圈北":
        assert font.get_char_index(ord(ch)) != 0, ch


def test_packaged_font_draws_chinese_without_system_font(
        no_system_cjk_font: None, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    packaged = staticmap.packaged_font_path()
    assert packaged is not None, "the CJK font package (pylopdf-fonts-zh-cn) is not installed"
    name = find_cjk_font()
    assert name == "Noto Sans SC"
    path = font_manager.findfont(font_manager.FontProperties(family=name),
                                 fallback_to_default=False)
    assert Path(path).resolve() == packaged.resolve()
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        png, pdf = write_static_map([tmp_path / "m.png", tmp_path / "m.pdf"], _areas(),
                                    _facilities(), _iso_by_type(), title="杨浦区15分钟养老服务圈")
    assert _glyph_warnings(record) == []  # every Chinese glyph found
    assert png.stat().st_size > 0
    assert b"NotoSansSC" in pdf.read_bytes()  # the packaged font, embedded
    assert not [r for r in caplog.records if r.levelname == "WARNING"
                and r.name.startswith(("geoplan", "matplotlib.font_manager"))]


def test_system_cjk_font_used_with_warning_when_packaged_font_missing(
        no_system_cjk_font: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    packaged = staticmap.packaged_font_path()
    assert packaged is not None
    # A "system" CJK font file (a copy of the packaged one, under a system-like name).
    system = tmp_path / "fonts" / "NotoSansSC-Regular.otf"
    system.parent.mkdir()
    system.write_bytes(packaged.read_bytes())
    monkeypatch.setattr(staticmap, "packaged_font_path", lambda: None)
    monkeypatch.setattr(font_manager.fontManager, "ttflist",
                        [f for f in font_manager.fontManager.ttflist
                         if Path(f.fname) != packaged])
    monkeypatch.setattr(staticmap.font_manager, "findSystemFonts", lambda *a, **k: [str(system)])
    with caplog.at_level("WARNING", logger="geoplan.outputs.staticmap"):
        assert find_cjk_font() == "Noto Sans SC"
    msg = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(msg) == 1 and "system font Noto Sans SC" in msg[0] and "install" in msg[0]
    path = font_manager.findfont(font_manager.FontProperties(family="Noto Sans SC"),
                                 fallback_to_default=False)
    assert Path(path) == system


def test_no_cjk_font_at_all_still_writes_the_map(no_system_cjk_font: None,
                                                monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    packaged = staticmap.packaged_font_path()
    monkeypatch.setattr(staticmap, "packaged_font_path", lambda: None)
    monkeypatch.setattr(font_manager.fontManager, "ttflist",
                        [f for f in font_manager.fontManager.ttflist
                         if packaged is None or Path(f.fname) != packaged])
    with caplog.at_level("WARNING", logger="geoplan.outputs.staticmap"):
        png, pdf = write_static_map([tmp_path / "m.png", tmp_path / "m.pdf"], _areas(),
                                    _facilities(), _iso_by_type(), title="杨浦区")
    assert png.stat().st_size > 0 and pdf.read_bytes().startswith(b"%PDF")
    msg = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(msg) == 1, msg  # one warning, not one per missing glyph
    assert "no Chinese (CJK) font" in msg[0] and "\n" not in msg[0]


def test_classify_natural_breaks_and_quantiles() -> None:
    values = pd.Series([0.0, 0.0, 0.05, 0.1, 0.4, 0.45, 0.5, 0.8, 0.9, 1.0, np.nan])
    classes, bounds = classify(values, k=5)
    assert classes[-1] == -1 and len(bounds) == 5
    assert set(classes[:-1]) == set(range(5))
    assert bounds[0] == (0.0, 0.0) and bounds[-1][1] == 1.0
    for (_, hi), (lo, _) in itertools.pairwise(bounds):
        assert hi < lo  # non-overlapping, in order
    q, qb = classify(values, k=5, scheme="quantiles")
    assert q.max() == len(qb) - 1 and q[-1] == -1
    one, ob = classify(pd.Series([0.3, 0.3]))
    assert list(one) == [0, 0] and ob == [(0.3, 0.3)]
    none, nb = classify(pd.Series([np.nan]))
    assert list(none) == [-1] and nb == []


def test_static_map_layers_and_labels(tmp_path: Path) -> None:
    fig = build_static_map(_areas(), _facilities(), _iso_by_type(),
                           boundary=gpd.GeoSeries([box(121.49, 31.26, 121.53, 31.29)], crs=4326),
                           title="杨浦区15分钟养老服务圈",
                           types=["care_centre", "canteen", "day_care"],
                           proposed=[("canteen", _proposed())])
    texts = _texts(fig)
    assert "杨浦区15分钟养老服务圈" in texts
    assert "© OpenStreetMap contributors" in texts
    assert "北" in texts  # north arrow
    from matplotlib_scalebar.scalebar import ScaleBar

    bars = [a for a in fig.axes[0].artists if isinstance(a, ScaleBar)]
    assert len(bars) == 1 and bars[0].units == "m"  # metres in the projected CRS
    assert "长者食堂/社区助餐点 (2)" in texts
    assert "老年人日间照料中心（无）" in texts  # empty layer listed with a note
    assert "长者食堂/社区助餐点15分钟步行范围" in texts
    assert "建议新增长者食堂/社区助餐点 (2)" in texts
    assert "研究范围" in texts
    assert "街道界线" in texts  # the two areas with street code 310110012 dissolved
    assert any(t.startswith("15分钟服务圈完整率") for t in texts)
    assert any(re.fullmatch(r"\d+(\.\d)?% – \d+(\.\d)?%|\d+(\.\d)?%", t) for t in texts)
    png, pdf = write_static_map([tmp_path / "m.png", tmp_path / "m.pdf"], _areas(),
                                _facilities(), _iso_by_type(), lang="en")
    from PIL import Image

    with Image.open(png) as im:
        assert im.size == (2338, 1654)  # A4 landscape at 200 dpi
        assert round(im.info["dpi"][0]) == 200
        colours = im.convert("RGB").getcolors(maxcolors=1 << 20)
        assert colours is not None and len(colours) > 20
    head = pdf.read_bytes()
    assert head.startswith(b"%PDF") and b"/FontFile" in head  # fonts embedded


def test_static_map_english_and_empty_layers() -> None:
    fig = build_static_map(_areas().iloc[0:0], None, None, types=["canteen"], lang="en")
    texts = _texts(fig)
    assert "Elder canteen / meal point (none)" in texts
    assert "Elder canteen / meal point: 15-min walk (none)" in texts
    with pytest.raises(GeoplanError, match="beds"):
        build_static_map(_areas(), None, None, score="beds")


def test_run_writes_all_map_outputs(tmp_path: Path, demo_dir: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    cfg = make_config(tmp_path, demo_dir, OSM='"osm/wujiaochang-fudan.osm"')
    assert main(["run", str(cfg), "-q", "--offline", "--embed", "--basemap", "none"]) == 0
    out = capsys.readouterr().out
    maps = tmp_path / "out" / "maps"
    names = sorted(p.name for p in maps.iterdir())
    assert names == ["bad-input-coverage.html", "bad-input-coverage.pdf",
                     "bad-input-coverage.png", "bad-input-map-embed.html"], names
    assert "embed" in out and "png" in out
    page = (maps / "bad-input-coverage.html").read_text(encoding="utf-8")
    assert external_references(page) == [] and "L.tileLayer" not in page
    frag = (maps / "bad-input-map-embed.html").read_text(encoding="utf-8")
    assert frag.startswith("<iframe srcdoc=") and html.unescape(frag).count("L.map(") == 1
    manifest = (tmp_path / "out" / "data" / "manifest.json").read_text(encoding="utf-8")
    for name in names:
        assert name in manifest
    # static_map off: no PNG/PDF written (the manifest lists only the HTML map).
    for p in maps.iterdir():
        p.unlink()
    assert main(["run", str(cfg), "-q", "--no-static-map"]) == 0
    assert sorted(p.name for p in maps.iterdir()) == ["bad-input-coverage.html"]
    manifest = (tmp_path / "out" / "data" / "manifest.json").read_text(encoding="utf-8")
    assert "coverage.png" not in manifest and "coverage.pdf" not in manifest


def test_run_unknown_basemap_and_missing_key(tmp_path: Path, demo_dir: Path,
                                             capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TIANDITU_KEY", raising=False)
    cfg = make_config(tmp_path, demo_dir)
    text = cfg.read_text(encoding="utf-8")
    cfg.write_text(text.replace("[output]\n", '[output]\nbasemap = "amap"\n'), encoding="utf-8")
    assert main(["run", str(cfg)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["geoplan: error: output.basemap = 'amap': use one of osm, tianditu, none"]
    cfg.write_text(text.replace("[output]\n", '[output]\nbasemap = "tianditu"\n'),
                   encoding="utf-8")
    assert main(["run", str(cfg)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "output.tianditu_key" in err[0] and "TIANDITU_KEY" in err[0]
    assert not (tmp_path / "out" / "maps").exists()


def test_static_map_non_share_score_legend_in_its_unit() -> None:
    """A walking-time score: legend in minutes (not percent), worst (longest) class dark red."""
    from matplotlib.patches import Patch

    from geoplan.outputs.webmap import SCORE_COLOURS

    fig = build_static_map(_areas(), None, None, score="canteen_median_min", lang="en")
    texts = _texts(fig)
    assert "6.50" in texts and "16.00" in texts, texts  # two classes, one value each
    assert not any(t.endswith("%") for t in texts if t[0].isdigit())
    patches = {p.get_label(): p.get_facecolor() for p in fig.findobj(Patch)
               if p.get_label() in ("6.50", "16.00")}
    from matplotlib.colors import to_rgba

    assert patches["16.00"] == to_rgba(SCORE_COLOURS[0])  # longest walk = darkest red


def test_run_map_score_setting(tmp_path: Path, demo_dir: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    cfg = make_config(tmp_path, demo_dir, OSM='"osm/wujiaochang-fudan.osm"')
    text = cfg.read_text(encoding="utf-8")
    cfg.write_text(text.replace("[output]\n", '[output]\nmap_score = "nope"\n'),
                   encoding="utf-8")
    assert main(["run", str(cfg), "-q", "--no-static-map"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    errors = [e for e in err if "error" in e]  # (data warnings from the loaders come first)
    assert len(errors) == 1 and errors[0].startswith("geoplan: error: output.map_score = 'nope'")
    assert "circle_share" in errors[0] and "gap_rank" in errors[0]
    assert not (tmp_path / "out" / "maps").exists()  # nothing half-written
    assert not (tmp_path / "out" / "data" / "manifest.json").exists()
    cfg.write_text(text.replace("[output]\n",
                                '[output]\nmap_score = "canteen_median_min"\n'),
                   encoding="utf-8")
    assert main(["run", str(cfg), "-q", "--no-static-map"]) == 0
    page = (tmp_path / "out" / "maps" / "bad-input-coverage.html").read_text(encoding="utf-8")
    # the chosen score is an overlay switched on at open (its feature group is added to
    # the map; hidden overlays are only listed in the layer control)
    from geoplan.outputs.labels import column_label

    def group(col: str) -> str:
        name = json.dumps(column_label(col, "zh", 15))[1:-1]
        found = re.search(re.escape(name) + r'" : (feature_group_\d+)', page)
        assert found, col
        return found.group(1)

    assert f"{group('canteen_median_min')}.addTo(" in page


def test_north_arrow_avoids_the_data() -> None:
    """The arrow goes to the first corner (upper right, upper left, lower right) left free."""
    from matplotlib.figure import Figure

    from geoplan.outputs.staticmap import _arrow_corner

    ax = Figure().add_subplot()
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 100)
    assert _arrow_corner(ax, None) == "upper right"
    assert _arrow_corner(ax, box(10, 10, 80, 70)) == "upper right"  # all corners free
    assert _arrow_corner(ax, box(50, 50, 100, 100)) == "upper left"
    assert _arrow_corner(ax, box(0, 30, 100, 100)) == "lower right"
    # every corner taken: the one covered least (upper left here)
    assert _arrow_corner(ax, box(0, 0, 100, 100).difference(box(0, 90, 5, 100))) == "upper left"
    # invalid (self-crossing) and overlapping areas, as OSM-derived polygons can be: no
    # overlay error, and the corner under the bow-tie is avoided
    from shapely.geometry import Polygon

    bowtie = Polygon([(90, 80), (100, 100), (100, 80), (90, 100)])
    assert not bowtie.is_valid
    assert _arrow_corner(ax, np.array([bowtie, box(95, 85, 100, 100), None],
                                      dtype=object)) == "upper left"


def test_legend_and_title_inside_the_page_with_long_names(tmp_path: Path) -> None:
    """A long Chinese title and long layer names are wrapped (not cut at the page edge):
    on the rendered PNG every legend and the title lie within the figure."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.legend import Legend
    from PIL import Image

    title = ("上海市杨浦区五角场街道、殷行街道与长白新村街道十五分钟养老服务圈设施步行覆盖"
             "评估与缺口分析图（含规划新增设施选址方案比较）")
    long_type = "社区嵌入式养老服务综合体（含长者照护之家、日间照料与助餐点）试点设施"
    fac = _facilities()
    fac.loc[fac.index[0], "type"] = long_type
    for lang in ("zh", "en"):
        fig = build_static_map(_areas(), fac, _iso_by_type(), title=title, lang=lang,
                               types=["care_centre", "canteen", "day_care", long_type],
                               proposed=[(long_type, _proposed())])
        png = tmp_path / f"long-{lang}.png"
        write_static_map([png], _areas(), fac, _iso_by_type(), title=title, lang=lang,
                         types=["care_centre", "canteen", "day_care", long_type],
                         proposed=[(long_type, _proposed())])
        FigureCanvasAgg(fig)
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        page = fig.bbox
        with Image.open(png) as im:
            assert im.size == (round(page.width), round(page.height))
        legends = fig.findobj(Legend)
        assert len(legends) == 2
        for artist in [*legends, fig._suptitle]:
            box = artist.get_window_extent(renderer)
            assert box.x0 >= page.x0 and box.y0 >= page.y0, (artist, box)
            assert box.x1 <= page.x1 and box.y1 <= page.y1, (artist, box)
        labels = [t.get_text() for leg in legends for t in leg.get_texts()]
        joined = [lab.replace("\n", "") for lab in labels]
        assert any(long_type in lab for lab in joined), joined  # wrapped, nothing lost
        assert any("\n" in lab for lab in labels)
        assert fig._suptitle.get_text().replace("\n", "") == title


def test_web_and_print_maps_share_natural_breaks() -> None:
    """The web map's natural breaks are Jenks' (as the print map's), not k-means'."""
    from geoplan.outputs.scorelayers import class_breaks

    v = np.random.default_rng(3).random(300) ** 2
    web = class_breaks(v, 5, "natural_breaks")
    _, bounds = classify(pd.Series(v), k=5, scheme="natural_breaks")
    assert len(web) == 5
    assert np.allclose(web, [hi for _, hi in bounds])
    assert np.array_equal(web, class_breaks(v, 5, "natural_breaks"))
