"""Static coverage map for print (PNG at 200 dpi and PDF), drawn with matplotlib.

The same layers as the web map: the analysis areas coloured by a share column in five
classes (``mapclassify`` Fisher-Jenks natural breaks, or quantiles), the walking catchments at the
circle time and the facilities of every type in the registry's colours, the study-area
boundary and, for siting results, the proposed sites. With a north arrow, a scale bar in
metres (``matplotlib-scalebar``, in the projected CRS), a legend, a Chinese (or English)
title and the "© OpenStreetMap contributors" attribution. No tiles: the page prints the
same anywhere, offline.

Chinese text needs a CJK font. One comes with the install: the PyPI package
``pylopdf-fonts-zh-cn`` ships Noto Sans SC (SIL Open Font License 1.1), which
:func:`find_cjk_font` registers with matplotlib, so the print map needs no system font and
looks the same on every machine. Without it (geoplan installed without its dependencies) a
system font is used with a warning (Noto Sans CJK, Source Han Sans, WenQuanYi and the usual
Windows/macOS fonts); with none at all the map is still written, with a warning that its
Chinese text cannot be shown: the run never stops because a font is missing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import matplotlib
import numpy as np
import pandas as pd
import shapely
from matplotlib import font_manager
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib_scalebar.scalebar import ScaleBar

from geoplan.errors import GeoplanError
from geoplan.outputs.atomic import atomic_write
from geoplan.outputs.classbreaks import mapclassify
from geoplan.outputs.labels import column_label, format_minutes, high_is_bad, is_share_column
from geoplan.outputs.webmap import (
    NO_DATA_COLOUR,
    SCORE_COLOURS,
    _type_colour,
    _type_name,
    wrap_text,
)
from geoplan.sources.areas import street_outlines

log = logging.getLogger(__name__)

#: CJK font families in order of preference (simplified Chinese faces first).
CJK_FONTS: tuple[str, ...] = (
    "Noto Sans CJK SC", "Source Han Sans SC", "Source Han Sans CN", "Noto Sans SC",
    "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "Microsoft YaHei", "PingFang SC",
    "Heiti SC", "SimHei", "Noto Serif CJK SC", "Source Han Serif SC", "Source Han Serif CN",
    "Noto Sans CJK JP", "Noto Sans CJK TC", "Source Han Sans", "Noto Serif CJK JP",
    "Noto Serif CJK TC", "Source Han Serif", "SimSun",
)
#: File names of CJK fonts registered on demand (fonts installed after matplotlib's cache).
_CJK_FILES = re.compile(r"(?i)(notosans|notoserif)cjk|sourcehan|wqy|wenquanyi|msyh|simhei|"
                        r"simsun|pingfang|NotoSansSC|NotoSerifSC")
#: Print resolution of the PNG.
DPI = 200
PROPOSED_COLOUR = "#6a00a8"
#: Widths (points) that legend entries and titles are wrapped to: the legend column is a
#: quarter of an A4-landscape page (about 200 pt) less the handles; the title spans it.
LEGEND_TEXT_PT = 160.0
TITLE_PT = 760.0
ATTRIBUTION = "© OpenStreetMap contributors"

_TEXT = {
    "zh": {"facilities": "设施", "catchment": "{t}{m}分钟步行范围", "boundary": "研究范围",
           "proposed": "建议新增{t}", "none": "（无）", "no_data": "无老年人口",
           "north": "北", "classes": "（自然断点分级）", "quantiles": "（分位数分级）",
           "layers": "图层", "streets": "街道界线"},
    "en": {"facilities": "Facilities", "catchment": "{t}: {m}-min walk",
           "boundary": "Study area", "proposed": "Proposed {t}", "none": " (none)",
           "no_data": "no older residents", "north": "N", "classes": " (natural breaks)",
           "quantiles": " (quantiles)", "layers": "Layers", "streets": "Street boundaries"},
}


def _font_names() -> set[str]:
    return {f.name for f in font_manager.fontManager.ttflist}


def packaged_font_path() -> Path | None:
    """Path of the CJK font that comes with the install (Noto Sans SC), if installed.

    Returns
    -------
    Path or None
        ``NotoSansSC-Regular.otf`` from the ``pylopdf-fonts-zh-cn`` package, or None when
        that package (or its file) is missing.
    """
    try:
        import pylopdf_fonts_zh_cn
    except ImportError:
        return None
    path = Path(pylopdf_fonts_zh_cn.sans_path())
    return path if path.is_file() else None


def _register(path: Path | str) -> str | None:
    """Register a font file with matplotlib (once); its family name, or None if unreadable."""
    key = os.path.realpath(path)
    for f in font_manager.fontManager.ttflist:
        if os.path.realpath(f.fname) == key:
            return f.name
    try:
        font_manager.fontManager.addfont(str(path))
    except (OSError, RuntimeError, ValueError) as exc:
        log.warning("cannot read font file %s: %s", path, exc)
        return None
    return next((f.name for f in reversed(font_manager.fontManager.ttflist)
                 if os.path.realpath(f.fname) == key), None)


def _system_cjk_font() -> str | None:
    """An installed (system) font family from :data:`CJK_FONTS`, registering CJK font
    files installed after matplotlib built its font cache."""
    names = _font_names()
    found = next((f for f in CJK_FONTS if f in names), None)
    if found is None:
        for path in font_manager.findSystemFonts():
            if _CJK_FILES.search(os.path.basename(path)):
                _register(path)
        names = _font_names()
        found = next((f for f in CJK_FONTS if f in names), None)
    return found


def find_cjk_font() -> str | None:
    """Name of a font family with Chinese glyphs for the print map.

    The font that comes with the install (Noto Sans SC from ``pylopdf-fonts-zh-cn``)
    first, so the map looks the same everywhere; else an installed system font, with a
    warning; else None, with a warning (the map is then drawn without Chinese glyphs:
    the run goes on).

    Returns
    -------
    str or None
        A font family name registered with matplotlib, or None when there is none.
    """
    packaged = packaged_font_path()
    if packaged is not None:
        name = _register(packaged)
        if name is not None:
            return name
    found = _system_cjk_font()
    hint = ("reinstall geoplan with its dependencies (bash scripts/install.sh, or "
            "pip install pylopdf-fonts-zh-cn)")
    if found is not None:
        log.warning("the Chinese font that comes with geoplan is missing: the print map uses "
                    "the system font %s; %s", found, hint)
    else:
        log.warning("no Chinese (CJK) font found: the print map's Chinese text cannot be "
                    "shown; %s, or install a system font (apt-get install fonts-noto-cjk)",
                    hint)
    return found


def _families(font: str | None) -> list[str]:
    return [font, "DejaVu Sans"] if font else ["DejaVu Sans"]


class _NoWeightFallbackLog(logging.Filter):
    """Drops matplotlib's "Failed to find font weight bold ..., now using 400": the
    packaged font has one weight, so bold labels are drawn in it on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("findfont: Failed to find font weight")


@contextlib.contextmanager
def _font_context(font: str | None) -> Iterator[None]:
    """matplotlib settings for drawing and saving the map with ``font``."""
    mpl_log = logging.getLogger("matplotlib.font_manager")
    quiet = _NoWeightFallbackLog()
    mpl_log.addFilter(quiet)
    try:
        with matplotlib.rc_context({"font.family": _families(font), "axes.unicode_minus": False,
                                    "pdf.fonttype": 42}), warnings.catch_warnings():
            if font is None:  # already warned once: not once per missing glyph
                warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from font")
            yield
    finally:
        mpl_log.removeFilter(quiet)


def _metric(gdf: gpd.GeoDataFrame | gpd.GeoSeries | None, crs: Any
            ) -> gpd.GeoDataFrame | gpd.GeoSeries | None:
    if gdf is None or len(gdf) == 0:
        return None
    if gdf.crs is None:
        raise ValueError("static map layers need a CRS")
    return gdf.to_crs(crs)


def _projected_crs(frames: Sequence[gpd.GeoDataFrame | gpd.GeoSeries | None]) -> Any:
    for f in frames:
        if f is not None and len(f) and f.crs is not None:
            if f.crs.is_projected:
                return f.crs
            return f.estimate_utm_crs()
    return "EPSG:3857"


def classify(values: pd.Series, k: int = 5, scheme: str = "natural_breaks"
             ) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Class of every value (−1 for missing) and the (lower, upper) bounds of the classes.

    Parameters
    ----------
    values : Series
        Shares (0..1); missing values get class −1.
    k : int, default 5
        Number of classes (fewer when there are fewer distinct values).
    scheme : {"natural_breaks", "quantiles"}
        Jenks natural breaks (``mapclassify.FisherJenks``, exact and reproducible) or
        ``mapclassify.Quantiles``.

    Returns
    -------
    classes : ndarray of int
    bounds : list of (float, float)
        Smallest and largest value of each class.
    """
    v = pd.to_numeric(values, errors="coerce").to_numpy(np.float64)
    ok = np.isfinite(v)
    classes = np.full(len(v), -1, dtype=np.int64)
    if not ok.any():
        return classes, []
    data = v[ok]
    n_unique = len(np.unique(data))
    kk = max(1, min(k, n_unique))
    if kk == 1:
        classes[ok] = 0
        return classes, [(float(data.min()), float(data.max()))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # mapclassify warns when k approaches n_unique
        if scheme == "quantiles":
            c = mapclassify().Quantiles(data, k=kk)
        elif scheme == "natural_breaks":
            # Jenks' optimal breaks (exact and deterministic, unlike the k-means based
            # mapclassify.NaturalBreaks).
            c = mapclassify().FisherJenks(data, k=kk)
        else:
            raise ValueError(f"unknown classification scheme {scheme!r}")
    # Drop empty classes (quantiles with ties), number the others 0..n-1, and give each
    # the smallest and largest value it holds (shown in the legend).
    used = np.unique(c.yb)
    classes[ok] = np.searchsorted(used, c.yb)
    bounds = [(float(data[c.yb == i].min()), float(data[c.yb == i].max())) for i in used]
    return classes, bounds


def _class_colours(n: int) -> list[str]:
    """``n`` colours from the web map's ramp (dark red = lowest share)."""
    if n >= len(SCORE_COLOURS):
        return list(SCORE_COLOURS[:n])
    idx = np.linspace(0, len(SCORE_COLOURS) - 1, n).round().astype(int)
    return [SCORE_COLOURS[i] for i in idx]


def _num(v: float) -> str:
    return f"{v:,.2f}" if abs(v) < 100 else f"{v:,.0f}"


def _pct(v: float) -> str:
    return f"{v * 100:.0f}%" if abs(v * 100 - round(v * 100)) < 0.05 else f"{v * 100:.1f}%"


#: Corners the north arrow may take (axes fractions of its box: x0, y0, x1, y1), in order of
#: preference; the scale bar has the lower left.
_ARROW_CORNERS = {"upper right": (0.91, 0.79, 1.0, 1.0), "upper left": (0.0, 0.79, 0.09, 1.0),
                  "lower right": (0.91, 0.0, 1.0, 0.21)}


def _arrow_corner(ax: Any, footprint: Any) -> str:
    """The corner whose arrow box covers the least of ``footprint`` (the mapped data).

    ``footprint`` is a geometry or an array of them (summed, not unioned: no overlay of
    possibly invalid polygons, and the ranking of corners is all that matters). Needs the
    final axis limits (equal aspect with a shrinking box, so axes fractions map linearly
    onto them).
    """
    geoms = np.array([] if footprint is None else np.atleast_1d(footprint), dtype=object)
    geoms = geoms[~shapely.is_missing(geoms)]
    geoms = geoms[~shapely.is_empty(geoms)]
    if not len(geoms):
        return "upper right"
    geoms = shapely.make_valid(geoms)
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    boxes = shapely.box(*np.array([[x0 + f[0] * (x1 - x0), y0 + f[1] * (y1 - y0),
                                    x0 + f[2] * (x1 - x0), y0 + f[3] * (y1 - y0)]
                                   for f in _ARROW_CORNERS.values()]).T)
    covered = shapely.area(shapely.intersection(boxes[:, None], geoms[None, :])).sum(axis=1)
    return list(_ARROW_CORNERS)[int(np.argmin(np.round(covered, 6)))]  # ties: first listed


def _north_arrow(ax: Any, label: str, corner: str = "upper right") -> None:
    bx0, by0, bx1, by1 = _ARROW_CORNERS[corner]
    x = (bx0 + bx1) / 2
    ax.annotate(label, xy=(x, by1 - 0.04), xytext=(x, by0 + 0.06), xycoords="axes fraction",
                ha="center", va="center", fontsize=12, fontweight="bold",
                bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "alpha": 0.8,
                      "edgecolor": "none"},
                arrowprops={"facecolor": "black", "edgecolor": "black", "width": 4,
                            "headwidth": 12, "headlength": 12}, zorder=10)


def build_static_map(areas: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame | None,
                     isochrones_by_type: gpd.GeoDataFrame | None, *,
                     boundary: Any = None, score: str = "circle_share",
                     circle_minutes: float = 15, lang: str = "zh", title: str | None = None,
                     types: Sequence[str] | None = None,
                     proposed: Sequence[tuple[str, gpd.GeoDataFrame]] | None = None,
                     scheme: str = "natural_breaks", k: int = 5) -> Figure:
    """Draw the coverage map for print.

    Parameters
    ----------
    areas : GeoDataFrame
        Analysis areas with the share column ``score`` (any CRS).
    facilities : GeoDataFrame or None
        Facility points with ``type``.
    isochrones_by_type : GeoDataFrame or None
        Merged catchments with ``type`` and ``threshold_min``; those at ``circle_minutes``
        are drawn.
    boundary : shapely geometry, GeoSeries or GeoDataFrame, optional
        Study-area outline (a bare geometry is taken to be in the areas' CRS).
    score : str
        Column colouring the areas: a share (legend in percent) or any other score
        (legend in its own unit; dark red = worst, see :func:`labels.high_is_bad`).
    circle_minutes : float
        Walking time of the service circle.
    lang : {"zh", "en"}
        Label language.
    title : str, optional
        Map title; default the score label.
    types : sequence of str, optional
        Facility types to show (default: those in the data); a type without facilities
        is listed in the legend as "（无）" / "(none)".
    proposed : sequence of (type, GeoDataFrame), optional
        Proposed sites per type (points with ``rank``), drawn as numbered stars.
    scheme : {"natural_breaks", "quantiles"}
        Class breaks of the areas (``mapclassify``).
    k : int, default 5
        Number of classes.

    Returns
    -------
    matplotlib.figure.Figure
        An A4-landscape figure (not attached to pyplot).

    Raises
    ------
    GeoplanError
        If ``score`` is not a column of ``areas``.
    """
    if lang not in _TEXT:
        raise ValueError(f"lang must be 'zh' or 'en', got {lang!r}")
    if score not in areas.columns:
        raise GeoplanError(f"unknown map score column '{score}' for the static map")
    font = find_cjk_font()
    t = _TEXT[lang]
    if isinstance(boundary, shapely.Geometry):
        boundary = gpd.GeoSeries([boundary], crs=areas.crs)
    crs = _projected_crs([areas, boundary, facilities])
    a = _metric(areas, crs)
    fac = _metric(facilities, crs)
    iso = _metric(isochrones_by_type, crs)
    bnd = _metric(boundary, crs)
    if types is None:
        found = set()
        for df in (facilities, isochrones_by_type):
            if df is not None and len(df) and "type" in df.columns:
                found |= {str(x) for x in df["type"].dropna()}
        types = sorted(found)
    label = column_label(score, lang, circle_minutes)

    with _font_context(font):
        fig = Figure(figsize=(11.69, 8.27), dpi=DPI, layout="constrained")
        grid = fig.add_gridspec(1, 2, width_ratios=(3.2, 1))
        ax = fig.add_subplot(grid[0, 0])
        lax = fig.add_subplot(grid[0, 1])  # legends
        lax.set_axis_off()
        ax.set_axis_off()
        ax.set_aspect("equal")
        area_handles: list[Any] = []
        if a is not None:
            classes, bounds = classify(a[score], k=k, scheme=scheme)
            colours = _class_colours(len(bounds))
            if high_is_bad(score):  # dark red = the worst-served class, as on the web map
                colours = colours[::-1]
            fmt = _pct if is_share_column(score) else _num
            fill = [colours[c] if c >= 0 else NO_DATA_COLOUR for c in classes]
            a.plot(ax=ax, color=fill, edgecolor="#555555", linewidth=0.3, zorder=1)
            area_handles = [Patch(facecolor=colours[i], edgecolor="#555555",
                                  label=fmt(lo) if fmt(lo) == fmt(hi)
                                  else f"{fmt(lo)} – {fmt(hi)}")
                            for i, (lo, hi) in enumerate(bounds)]
            if (classes < 0).any():
                area_handles.append(Patch(facecolor=NO_DATA_COLOUR, edgecolor="#555555",
                                          label=t["no_data"]))
        layer_handles: list[Any] = []
        for key in types:
            colour = _type_colour(key)
            name = _type_name(key, lang)
            cat = t["catchment"].format(t=name, m=format_minutes(circle_minutes))
            rows = None
            if iso is not None:
                sel = (iso["type"].astype(str) == key) & \
                      (iso["threshold_min"].astype(float).sub(float(circle_minutes)).abs()
                       < 1e-9)
                rows = iso[sel & iso.geometry.notna() & ~iso.geometry.is_empty]
            if rows is not None and len(rows):
                rows.plot(ax=ax, facecolor=colour, alpha=0.18, edgecolor="none", zorder=2)
                rows.boundary.plot(ax=ax, color=colour, linewidth=1.0, zorder=3)
                layer_handles.append(Patch(facecolor=colour, alpha=0.35, edgecolor=colour,
                                           label=cat))
            else:
                layer_handles.append(Patch(facecolor="none", edgecolor=colour,
                                           label=cat + t["none"]))
        for key in types:
            colour = _type_colour(key)
            name = _type_name(key, lang)
            pts = None if fac is None else fac[fac["type"].astype(str) == key]
            if pts is not None and len(pts):
                geoms = pts.geometry.representative_point()
                ax.scatter(geoms.x, geoms.y, s=28, c=colour, edgecolors="#222222",
                           linewidths=0.6, zorder=6)
                text = f"{name} ({len(pts)})"
            else:
                text = name + t["none"]
            layer_handles.append(Line2D([], [], marker="o", linestyle="none",
                                        markerfacecolor=colour, markeredgecolor="#222222",
                                        markersize=7, label=text))
        for key, sites in proposed or ():
            s = _metric(sites, crs)
            n = 0 if s is None else len(s)
            if s is not None:
                ax.scatter(s.geometry.x, s.geometry.y, s=160, marker="*", c=PROPOSED_COLOUR,
                           edgecolors="white", linewidths=0.8, zorder=8)
                for _, row in s.iterrows():
                    if "rank" in s.columns and not pd.isna(row["rank"]):
                        ax.annotate(str(int(row["rank"])), (row.geometry.x, row.geometry.y),
                                    xytext=(5, 5), textcoords="offset points", fontsize=8,
                                    fontweight="bold", color=PROPOSED_COLOUR, zorder=9)
            layer_handles.append(Line2D([], [], marker="*", linestyle="none",
                                        markerfacecolor=PROPOSED_COLOUR,
                                        markeredgecolor="white", markersize=12,
                                        label=t["proposed"].format(t=_type_name(key, lang))
                                        + (f" ({n})" if n else t["none"])))
        streets = street_outlines(a) if a is not None else None
        if streets is not None and len(streets):
            streets.boundary.plot(ax=ax, color="#333333", linewidth=1.2, zorder=4)
            layer_handles.append(Line2D([], [], color="#333333", linewidth=1.2,
                                        label=t["streets"]))
        if bnd is not None:
            bnd.boundary.plot(ax=ax, color="black", linewidth=1.4, linestyle="--", zorder=5)
            layer_handles.append(Line2D([], [], color="black", linestyle="--",
                                        label=t["boundary"]))
        frames = [f for f in (a, bnd, fac, iso) if f is not None]
        if frames:
            boxes = np.array([f.total_bounds for f in frames])
            if np.isfinite(boxes).all():
                x0, y0 = boxes[:, 0].min(), boxes[:, 1].min()
                x1, y1 = boxes[:, 2].max(), boxes[:, 3].max()
                pad = 0.03 * max(x1 - x0, y1 - y0, 100.0)
                ax.set_xlim(x0 - pad, x1 + pad)
                ax.set_ylim(y0 - pad, y1 + pad)
        ax.add_artist(ScaleBar(1, "m", location="lower left", box_alpha=0.8,
                               font_properties={"family": _families(font), "size": 9}))
        shapes = [f.geometry.to_numpy() for f in (a, bnd) if f is not None and len(f)]
        _north_arrow(ax, t["north"],
                     _arrow_corner(ax, np.concatenate(shapes) if shapes else None))
        legend_title = label + (t["quantiles"] if scheme == "quantiles" else t["classes"])
        for h in (*area_handles, *layer_handles):  # long names wrap inside the column
            h.set_label(_wrapped(h.get_label(), LEGEND_TEXT_PT, 8))
        if area_handles:
            leg = lax.legend(handles=area_handles, title=_wrapped(legend_title,
                                                                  LEGEND_TEXT_PT, 9),
                             loc="upper left", fontsize=8, title_fontsize=9, frameon=False,
                             alignment="left")
            lax.add_artist(leg)
        lax.legend(handles=layer_handles, title=t["layers"], loc="lower left", fontsize=8,
                   title_fontsize=9, frameon=False, alignment="left")
        fig.suptitle(_wrapped(title or label, TITLE_PT, 15), fontsize=15, fontweight="bold")
        fig.text(0.995, 0.005, ATTRIBUTION, ha="right", va="bottom", fontsize=7,
                 color="#444444")
        _keep_inside(fig)
    fig._geoplan_font = font  # type: ignore[attr-defined]  # saved with the same font
    return fig


def _wrapped(text: str, width_pt: float, size: float) -> str:
    """``text`` broken into lines of at most ``width_pt`` points at ``size`` points."""
    return "\n".join(wrap_text(text, width_pt, size))


def _outside(fig: Figure) -> list[Any]:
    """Legends and the title of ``fig`` that reach past the page (after layout)."""
    from matplotlib.legend import Legend

    fig.draw_without_rendering()  # runs the constrained layout; no pixels drawn
    renderer = fig._get_renderer()
    page = fig.bbox
    texts = [x for x in (fig._suptitle,) if x is not None]
    out = []
    for artist in [*fig.findobj(Legend), *texts]:
        box = artist.get_window_extent(renderer)
        if (box.x0 < page.x0 - 0.5 or box.y0 < page.y0 - 0.5 or box.x1 > page.x1 + 0.5
                or box.y1 > page.y1 + 0.5):
            out.append(artist)
    return out


def _keep_inside(fig: Figure, tries: int = 5) -> None:
    """Shrink the text of legends (and the title) that reach past the page edge.

    Labels are already wrapped to the legend column; what still does not fit (a word
    longer than a line, many entries on a small page) is drawn smaller, step by step,
    rather than cut off at the page edge.
    """
    from matplotlib.legend import Legend

    for _ in range(tries):
        outside = _outside(fig)
        if not outside:
            return
        for artist in outside:
            parts = ([*artist.get_texts(), artist.get_title()] if isinstance(artist, Legend)
                     else [artist])
            for text in parts:
                text.set_fontsize(text.get_fontsize() * 0.85)
    if _outside(fig):
        log.warning("static map: a legend or the title still reaches past the page edge")


class _SubsetFont:
    """A font subset as saved before: what matplotlib's PDF backend reads of a subset."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def save(self, file: Any, reorderTables: bool = False) -> None:
        file.write(self.data)

    def __enter__(self) -> _SubsetFont:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


@contextlib.contextmanager
def cached_font_subsets(folder: str | os.PathLike[str] | None) -> Iterator[None]:
    """Keep the PDF's font subsets in ``folder`` and reuse them while the block runs.

    A PDF embeds the subset of the CJK font holding the glyphs it shows; fontTools takes
    0.5 s or more to cut it from the 8 MB Noto Sans SC on every save, and a rerun of the
    same study needs the same glyphs. matplotlib's own subset (its bytes and glyph-index
    map) is stored under a key of the matplotlib and fontTools versions, the font file
    (path, size, time) and the glyphs, so a reused subset is byte for byte the one
    matplotlib would cut. ``folder=None``, or a matplotlib whose PDF backend is not laid
    out as expected, leaves matplotlib as it is.

    Parameters
    ----------
    folder : path or None
        Cache folder (created when needed).
    """
    try:
        import fontTools
        from matplotlib.backends import _backend_pdf_ps as pdf_ps
    except ImportError:  # pragma: no cover - both come with matplotlib
        pdf_ps = None
    real = getattr(pdf_ps, "get_glyphs_subset", None)
    if folder is None or real is None or not all(
            hasattr(pdf_ps, a) for a in ("SubsetResults", "font_as_file")):
        yield
        return
    import hashlib
    import json

    cache = Path(folder)

    def subset(fontfile: Any, glyphs: Any) -> Any:
        glyphs = list(glyphs)
        try:
            st = os.stat(fontfile)
            face = getattr(fontfile, "face_index", 0)
            ident = [matplotlib.__version__, fontTools.version, os.fspath(fontfile), face,
                     st.st_size, st.st_mtime_ns, sorted({int(g) for g in glyphs})]
        except (OSError, TypeError, ValueError):
            return real(fontfile, glyphs)
        key = hashlib.sha256(json.dumps(ident).encode()).hexdigest()[:24]
        path = cache / f"pdffont-{key}.json"
        try:
            saved = json.loads(path.read_text(encoding="ascii"))
            data = bytes.fromhex(saved["font"])
            index = {int(k): int(v) for k, v in saved["glyph_index_map"]}
        except (OSError, ValueError, KeyError, TypeError):
            with real(fontfile, glyphs) as cut:
                data = pdf_ps.font_as_file(cut.font).getvalue()
                index = {int(k): int(v) for k, v in cut.glyph_index_map.items()}
            with contextlib.suppress(OSError):
                cache.mkdir(parents=True, exist_ok=True)
                with atomic_write(path, "w", encoding="ascii") as fh:
                    json.dump({"font": data.hex(), "glyph_index_map": sorted(index.items())},
                              fh)
        return pdf_ps.SubsetResults(_SubsetFont(data), index)._as_cm()

    pdf_ps.get_glyphs_subset = subset
    try:
        yield
    finally:
        pdf_ps.get_glyphs_subset = real


def save_static_map(fig: Figure, paths: Sequence[str | os.PathLike[str]],
                    font_cache: str | os.PathLike[str] | None = None) -> list[Path]:
    """Write ``fig`` to every path (format from the suffix: ``.png`` at 200 dpi, ``.pdf``).

    Files are written atomically; PDF fonts are embedded (TrueType/CID), so Chinese text
    prints on machines without the font.

    Parameters
    ----------
    fig : Figure
        A figure from :func:`build_static_map`.
    paths : sequence of path
        Files to write.
    font_cache : path, optional
        Folder where the PDF's font subsets are kept for the next save of the same
        glyphs (:func:`cached_font_subsets`); default none.

    Returns
    -------
    list of Path
        The written files.
    """
    font = fig._geoplan_font if hasattr(fig, "_geoplan_font") else find_cjk_font()
    written = []
    with _font_context(font), cached_font_subsets(font_cache):
        for p in paths:
            final = Path(p)
            fmt = final.suffix.lstrip(".").lower()
            if fmt not in ("png", "pdf", "svg"):
                raise ValueError(f"static map: unsupported format '{final.suffix}' (png, pdf)")
            meta = {"Software": None} if fmt == "png" else {"Creator": None, "Producer": None,
                                                            "CreationDate": None}
            if fmt == "svg":
                meta = {"Date": None}
            with atomic_write(final, "wb") as fh:
                fig.savefig(fh, format=fmt, dpi=DPI, metadata=meta, facecolor="white")
            written.append(final)
    return written


def static_map_png(fig: Figure, dpi: int = DPI) -> bytes:
    """``fig`` as PNG bytes (for documents that embed the map, e.g. the Word report).

    Parameters
    ----------
    fig : Figure
        A figure from :func:`build_static_map`.
    dpi : int
        Resolution; default the print map's 200 dpi.
    """
    import io

    font = fig._geoplan_font if hasattr(fig, "_geoplan_font") else find_cjk_font()
    buf = io.BytesIO()
    with _font_context(font):
        fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None},
                    facecolor="white")
    return buf.getvalue()


def write_static_map(paths: Sequence[str | os.PathLike[str]], areas: gpd.GeoDataFrame,
                     facilities: gpd.GeoDataFrame | None,
                     isochrones_by_type: gpd.GeoDataFrame | None,
                     font_cache: str | os.PathLike[str] | None = None, **kw: Any) -> list[Path]:
    """Build the static map (see :func:`build_static_map` for ``kw``) and save it.

    ``font_cache`` is passed to :func:`save_static_map`.

    Returns
    -------
    list of Path
        The written files.
    """
    fig = build_static_map(areas, facilities, isochrones_by_type, **kw)
    return save_static_map(fig, paths, font_cache=font_cache)

