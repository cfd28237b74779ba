"""Interactive coverage map (folium / Leaflet) for the report.

The map shows, as layers a planner can switch on and off:

* the analysis areas (residents' committees, compounds or grid cells) coloured by a share
  column (default: completeness of the service circle) with fixed classes 0-20-40-60-80-100 %
  on a colour-blind-safe ColorBrewer ramp, a legend, and a tooltip with the name, the
  number of residents 60+ (marked "估算"/"estimate" where spread from totals) and the share;
* one marker layer per facility type, coloured as in the facility-type registry, with a
  popup (name, type, address, street, capacity, distance to the walking network);
* one walking-time layer per facility type and threshold (only the circle time is shown
  at first; larger thresholds are drawn lighter);
* street (街道) outlines dissolved from the areas when they carry street codes;
* optionally the study-area boundary and per-facility catchments.

Base maps (``basemap``): OpenStreetMap (default), Tianditu 天地图 vector tiles with the
annotation layer (needs a key; CGCS2000 is within a metre of WGS84, so the data layers
need no shift), or none (offline use). Amap/GaoDe is deliberately not offered: its tiles
are in GCJ-02, which would put every WGS84 data layer a few hundred metres off.
Whatever the base map, "© OpenStreetMap contributors" stays in the attribution: the
network and the areas come from OpenStreetMap.

:func:`save_map` writes one HTML file, self-contained by default (every script and
stylesheet inlined from the vendored files, see :mod:`geoplan.outputs.offline`;
``offline=False`` links public CDNs instead); :func:`map_fragment` gives an
``<iframe srcdoc>`` to paste into a report page.

Folium gives every element a random id; :func:`build_map` renumbers them so the same
inputs always give byte-identical HTML (diff-able outputs, stable manifest hashes).
"""

from __future__ import annotations

import copy
import html
import json
import logging
import math
import os
import re
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import branca.colormap as cm
import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, MacroElement
from jinja2 import Template

from geoplan.config import BASEMAPS
from geoplan.errors import ConfigError, GeoplanError
from geoplan.outputs.atomic import atomic_write
from geoplan.outputs.labels import (
    column_label,
    format_minutes,
    is_share_column,
    value_label,
    with_estimate,
)
from geoplan.sources.areas import street_outlines
from geoplan.sources.facility_types import FACILITY_TYPES

#: Class breaks of the choropleth (shares).
SCORE_BREAKS: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
#: ColorBrewer YlOrRd (5 classes, colour-blind safe), reversed: gaps are dark red.
SCORE_COLOURS: tuple[str, ...] = ("#bd0026", "#f03b20", "#fd8d3c", "#fecc5c", "#ffffb2")
NO_DATA_COLOUR = "#bdbdbd"
OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTR = ('© <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> '
            "contributors")
TIANDITU_TILES = ("https://t{{s}}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile"
                  "&VERSION=1.0.0&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
                  "&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}&tk={key}")
TIANDITU_ATTR = '© <a href="https://www.tianditu.gov.cn/">天地图 Tianditu</a>'
_DEFAULT_CENTRE = (31.2304, 121.4737)  # Shanghai People's Square, used only for empty maps

_TEXT = {
    "zh": {
        "none": "（无）", "areas": "区域", "facilities": "设施", "catchment": "{m}分钟步行范围",
        "per_facility": "各设施{m}分钟步行范围", "boundary": "研究范围", "name": "名称",
        "street": "街道", "elderly": "60岁以上老人", "type": "类型", "address": "地址",
        "capacity": "容量", "snap": "距步行路网", "metres": "{v}米", "persons": "{v}人",
        "no_elderly": "无老年人口", "grey": "灰色 = 无老年人口", "legend": "设施类型",
        "unknown": "未知", "streets": "街道界线", "areas_n": "区域数",
        "geocode": "定位存疑",
    },
    "en": {
        "none": " (none)", "areas": "Areas", "facilities": "Facilities",
        "catchment": "{m}-min walk", "per_facility": "{m}-min walk per facility",
        "boundary": "Study area", "name": "Name", "street": "Street", "elderly": "Residents 60+",
        "type": "Type", "address": "Address", "capacity": "Capacity",
        "snap": "Distance to walking network", "metres": "{v} m", "persons": "{v}",
        "no_elderly": "no older residents", "grey": "grey = no older residents",
        "legend": "Facility types", "unknown": "unknown", "streets": "Street boundaries",
        "areas_n": "Areas", "geocode": "Doubtful location",
    },
}


def _t(lang: str, key: str, **kw: Any) -> str:
    return _TEXT[lang][key].format(**kw)


def _type_name(key: str, lang: str) -> str:
    ft = FACILITY_TYPES.get(key)
    return ft.name(lang) if ft else str(key)


def _type_colour(key: str) -> str:
    ft = FACILITY_TYPES.get(key)
    return ft.color if ft else "#555555"


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _fmt_number(value: Any, digits: int = 0) -> str:
    if _missing(value):
        return "–"
    try:
        return f"{float(value):,.{digits}f}"
    except (TypeError, ValueError):
        return str(value)


def _fmt_share(value: Any) -> str:
    return "–" if _missing(value) else f"{float(value) * 100:.1f}%"


def score_columns(areas: pd.DataFrame) -> list[str]:
    """Columns of ``areas`` that can colour the map (shares between 0 and 1)."""
    return [str(c) for c in areas.columns if is_share_column(str(c))]


def _text_px(text: str, size: float = 12.0) -> float:
    """Rough width of ``text`` in pixels: CJK/full-width characters are one em, others
    about 0.6 em (enough to size a legend box; the browser is not asked)."""
    return sum(size if unicodedata.east_asian_width(ch) in "WF" else 0.6 * size
               for ch in text)


def wrap_text(text: str, max_px: float, size: float = 12.0) -> list[str]:
    """Split ``text`` into lines no wider than ``max_px`` (by :func:`_text_px`).

    Breaks at spaces, after CJK punctuation and before opening brackets where possible,
    else between any two characters (Chinese text has no spaces). Used for the web map's
    colour-bar titles and the print map's legend and title.

    Parameters
    ----------
    text : str
        The text to wrap.
    max_px : float
        Line width, in the unit of ``size`` (pixels for the web map, points for print).
    size : float, default 12
        Font size.

    Returns
    -------
    list of str
        The lines (at least one; joined without separator they give ``text`` less the
        spaces at the breaks).
    """
    lines: list[str] = []
    line = ""
    for token in re.findall(r"[（(]?[^\s（(：:；;，,、]*[\s：:；;，,、]?", text):
        if not token:
            continue
        if line and _text_px(line + token, size) > max_px:
            lines.append(line.rstrip())
            line = ""
        while _text_px(token, size) > max_px:  # a token wider than a line: cut it
            n = 1
            while n < len(token) and _text_px(token[:n + 1], size) <= max_px:
                n += 1
            lines.append(token[:n])
            token = token[n:]
        line += token
    if line.strip() or not lines:
        lines.append(line.rstrip())
    return lines


class LegendColormap(cm.StepColormap):
    """A step colour bar whose title sits on its own line(s) above the bar, ticks below.

    branca's legend writes the caption 21 px under a top axis in a 40 px high ``<svg>``,
    so a caption with Chinese text runs into the tick labels and is cut at 450 px. This
    legend wraps the caption (:func:`wrap_text`), sizes the ``<svg>`` to it and draws
    the tick labels under the bar. Like branca's, every legend goes into the first
    ``.legend`` box of the map, and exposes ``.svg`` (see
    :class:`geoplan.outputs.scorelayers._LegendToggle`).
    """

    _template = Template("""
    {% macro script(this, kwargs) %}
    var {{ this.get_name() }} = {};
    {{ this.get_name() }}.color = d3.scale.threshold()
        .domain({{ this.color_domain }}).range({{ this.color_range }});
    {{ this.get_name() }}.x = d3.scale.linear()
        .domain([{{ this.color_domain[0] }}, {{ this.color_domain[-1] }}])
        .range([0, {{ this.width }} - 40]);
    {{ this.get_name() }}.legend = L.control({position: 'topright'});
    {{ this.get_name() }}.legend.onAdd = function (map) {
        return L.DomUtil.create('div', 'legend'); };
    {{ this.get_name() }}.legend.addTo({{ this._parent.get_name() }});
    {{ this.get_name() }}.svg = d3.select(".legend.leaflet-control").append("svg")
        .attr("id", "legend").attr("class", "geoplan-colorbar")
        .attr("width", {{ this.width }}).attr("height", {{ this.height }})
        .style("display", "block");
    {{ this.get_name() }}.svg.append("text").attr("class", "caption")
        .attr("x", 6).attr("y", 0).style("font-size", "12px").style("font-weight", "bold")
        .selectAll("tspan").data({{ this.caption_lines|tojson }}).enter().append("tspan")
        .attr("x", 6).attr("dy", "15").text(function (d) { return d; });
    {{ this.get_name() }}.g = {{ this.get_name() }}.svg.append("g").attr("class", "key")
        .attr("transform", "translate(20,{{ this.bar_top }})");
    {{ this.get_name() }}.g.selectAll("rect")
        .data({{ this.get_name() }}.color.range().map(function (d, i) {
          var c = {{ this.get_name() }};
          return {x0: i ? c.x(c.color.domain()[i - 1]) : c.x.range()[0],
                  x1: i < c.color.domain().length ? c.x(c.color.domain()[i]) : c.x.range()[1],
                  z: d}; }))
      .enter().append("rect").attr("height", 10)
        .attr("x", function (d) { return d.x0; })
        .attr("width", function (d) { return d.x1 - d.x0; })
        .style("fill", function (d) { return d.z; });
    {{ this.get_name() }}.g.append("g").attr("class", "ticks")
        .attr("transform", "translate(0,10)")
        .call(d3.svg.axis().scale({{ this.get_name() }}.x).orient("bottom").tickSize(3)
              .tickValues({{ this.tick_labels }}));
    {% endmacro %}
    """)

    def __init__(self, colors: Sequence[str], index: Sequence[float], caption: str,
                 tick_labels: Sequence[float] | None = None) -> None:
        super().__init__(list(colors), index=list(index), vmin=float(index[0]),
                         vmax=float(index[-1]), caption=caption, tick_labels=tick_labels)
        self.caption_lines = wrap_text(caption, 420)
        self.width = int(min(460, max(260, max(_text_px(x) for x in self.caption_lines) + 20)))
        self.bar_top = 15 * len(self.caption_lines) + 8
        self.height = self.bar_top + 10 + 20


def score_colormap(caption: str) -> LegendColormap:
    """The fixed-class legend for shares, in percent, with ``caption`` as its title.

    The legend is drawn in percent (0-100) so its ticks read 0, 20 ... 100; area colours
    are computed from the shares (0..1) with the same breaks.
    """
    index = [round(b * 100) for b in SCORE_BREAKS]
    return LegendColormap(list(SCORE_COLOURS), index=index, caption=caption, tick_labels=index)


def _score_colour(value: Any) -> str:
    if _missing(value):
        return NO_DATA_COLOUR
    v = min(max(float(value), 0.0), 1.0)
    for i, upper in enumerate(SCORE_BREAKS[1:]):
        if v < upper or i == len(SCORE_COLOURS) - 1:
            return SCORE_COLOURS[i]
    return SCORE_COLOURS[-1]  # pragma: no cover


def _empty(gdf: pd.DataFrame | None) -> bool:
    return gdf is None or len(gdf) == 0


def _to_wgs84(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    if gdf.crs is not None and not gdf.crs.equals("EPSG:4326"):
        return gdf.to_crs(4326)
    return gdf


def _thresholds(isochrones_by_type: pd.DataFrame | None, circle_minutes: float) -> list[float]:
    found: set[float] = {float(circle_minutes)}
    if not _empty(isochrones_by_type) and "threshold_min" in isochrones_by_type.columns:
        found |= {float(t) for t in isochrones_by_type["threshold_min"].dropna()}
    return sorted(found)


def _types(facilities: pd.DataFrame | None, isochrones_by_type: pd.DataFrame | None,
           types: Sequence[str] | None) -> list[str]:
    if types is not None:
        return list(dict.fromkeys(types))
    found: set[str] = set()
    for df in (facilities, isochrones_by_type):
        if not _empty(df) and "type" in df.columns:
            found |= {str(t) for t in df["type"].dropna()}
    order = list(FACILITY_TYPES)
    return sorted(found, key=lambda k: (order.index(k) if k in order else len(order), k))


def _popup_html(row: pd.Series, lang: str) -> str:
    ft = FACILITY_TYPES.get(str(row.get("type")))
    unit = (ft.capacity_unit_zh if lang == "zh" else ft.capacity_unit_en) if ft else ""
    rows: list[tuple[str, str]] = [
        (_t(lang, "type"), _type_name(str(row.get("type")), lang)),
        (_t(lang, "address"), "" if _missing(row.get("address")) else str(row.get("address"))),
        (_t(lang, "street"), "" if _missing(row.get("street")) else str(row.get("street"))),
    ]
    cap = row.get("capacity")
    if not _missing(cap):
        sep = "" if lang == "zh" else " "
        rows.append((_t(lang, "capacity"), f"{_fmt_number(cap)}{sep}{unit}".strip()))
    snap = row.get("snap_m")
    if not _missing(snap):
        rows.append((_t(lang, "snap"), _t(lang, "metres", v=_fmt_number(snap))))
    note = row.get("geocode_note")
    if not _missing(note) and str(note):
        rows.append((_t(lang, "geocode"), str(note)))
    name = "" if _missing(row.get("name")) else str(row.get("name"))
    cells = "".join(f"<tr><th style='text-align:left;padding-right:6px'>{html.escape(k)}</th>"
                    f"<td>{html.escape(v)}</td></tr>" for k, v in rows if v)
    return f"<b>{html.escape(name)}</b><table>{cells}</table>"


def _add_facilities(m: folium.Map, facilities: gpd.GeoDataFrame | None, types: list[str],
                    lang: str) -> None:
    if not types:
        folium.FeatureGroup(name=_t(lang, "facilities") + _t(lang, "none")).add_to(m)
        return
    data = None if _empty(facilities) else _to_wgs84(facilities)
    for key in types:
        rows = None if data is None else data[data["type"].astype(str) == key]
        label = _type_name(key, lang)
        if rows is None or len(rows) == 0:
            folium.FeatureGroup(name=label + _t(lang, "none")).add_to(m)
            continue
        fg = folium.FeatureGroup(name=f"{label} ({len(rows)})")
        colour = _type_colour(key)
        if aggregate_state(m) is not None:
            _light_facilities(fg, rows, colour, lang)
            fg.add_to(m)
            continue
        for _, row in rows.iterrows():
            geom = row.geometry
            if geom is None or geom.is_empty:
                continue
            pt = geom if geom.geom_type == "Point" else geom.representative_point()
            name = "" if _missing(row.get("name")) else str(row.get("name"))
            note = row.get("geocode_note")
            doubtful = not _missing(note) and bool(str(note))
            if doubtful:  # a location the geocoder was unsure of: dashed red ring
                name = f"{name} ({_t(lang, 'geocode')})"
            folium.CircleMarker(
                location=(round(pt.y, 7), round(pt.x, 7)), radius=6,
                color="#d62728" if doubtful else "#222222", weight=2 if doubtful else 1,
                dash_array="3 3" if doubtful else None,
                fill=True, fill_color=colour, fill_opacity=0.6 if doubtful else 0.95,
                popup=folium.Popup(_popup_html(row, lang), max_width=320),
                tooltip=html.escape(name) or None,
            ).add_to(fg)
        fg.add_to(m)


def _text_column(df: pd.DataFrame, col: str) -> list[str]:
    """HTML-escaped text of ``col`` ("" where missing or absent)."""
    if col not in df:
        return [""] * len(df)
    return [html.escape(str(v)) for v in df[col].astype(object).where(df[col].notna(), "")]


def _light_facilities(fg: folium.FeatureGroup, rows: gpd.GeoDataFrame, colour: str,
                      lang: str) -> None:
    """One type's facilities as canvas circle markers with a popup (aggregated map):
    coordinates at 5 decimals, only the columns the popup shows."""
    geoms = rows.geometry.to_numpy()
    pts = np.where(shapely.get_type_id(geoms) == 0, geoms, shapely.point_on_surface(geoms))
    pts = light_geometries(pts, COORD_GRID)
    ft = FACILITY_TYPES.get(str(rows["type"].iloc[0]))
    unit = ((ft.capacity_unit_zh if lang == "zh" else ft.capacity_unit_en) if ft else "")
    sep = "" if lang == "zh" else " "
    cap = pd.to_numeric(rows["capacity"], errors="coerce") if "capacity" in rows else \
        pd.Series(np.nan, index=rows.index)
    cap_text = [html.escape(f"{v:,.0f}{sep}{unit}".strip()) if np.isfinite(v) else ""
                for v in cap.to_numpy(float)]
    shared = SharedGeometry(pts)
    fg.add_child(shared)
    fg.add_child(LightLayer(
        shared, {"radius": 4, "color": "#222222", "weight": 1, "fillColor": colour,
                 "fillOpacity": 0.9},
        head=_text_column(rows, "name"), kind="popup",
        rows=[(_t(lang, "address"), _text_column(rows, "address")),
              (_t(lang, "street"), _text_column(rows, "street")),
              (_t(lang, "capacity"), cap_text),
              (_t(lang, "geocode"), _text_column(rows, "geocode_note"))]))


def _isochrone_style(colour: str, opacity: float) -> Any:
    def style(_feature: dict[str, Any]) -> dict[str, Any]:
        return {"color": colour, "weight": 1, "fillColor": colour, "fillOpacity": opacity,
                "opacity": 0.6}

    return style


def _add_isochrones(m: folium.Map, isochrones_by_type: gpd.GeoDataFrame | None,
                    types: list[str], thresholds: list[float], circle_minutes: float,
                    lang: str) -> None:
    data = None if _empty(isochrones_by_type) else _to_wgs84(isochrones_by_type)
    n = len(thresholds)
    for key in types:
        colour = _type_colour(key)
        for i, minutes in enumerate(thresholds):
            opacity = 0.35 - (0.25 * i / (n - 1) if n > 1 else 0.0)
            label = f"{_type_name(key, lang)} · " + _t(lang, "catchment",
                                                         m=format_minutes(minutes))
            show = math.isclose(minutes, float(circle_minutes))
            rows = None
            if data is not None:
                sel = (data["type"].astype(str) == key) & \
                      (data["threshold_min"].astype(float).sub(minutes).abs() < 1e-9)
                rows = data.loc[sel, ["geometry"]]
                rows = rows[~rows.geometry.is_empty & rows.geometry.notna()]
            if rows is None or len(rows) == 0:
                folium.FeatureGroup(name=label + _t(lang, "none"), show=False).add_to(m)
                continue
            fg = folium.FeatureGroup(name=label, show=show)
            agg = aggregate_state(m)
            if agg is not None:  # one merged polygon per type and time
                geoms = rows.geometry.to_numpy()
                light_polygons(m, fg, geoms[:1] if len(geoms) == 1 else
                               [shapely.union_all(geoms)],
                               _isochrone_style(colour, round(opacity, 3))(None),
                               agg.tolerance)
            else:
                folium.GeoJson(rows.to_json(drop_id=True), name=label,
                               style_function=_isochrone_style(colour, round(opacity, 3)),
                               control=False).add_to(fg)
            fg.add_to(m)


def _add_per_facility(m: folium.Map, isochrones: gpd.GeoDataFrame | None, types: list[str],
                      circle_minutes: float, lang: str) -> None:
    if aggregate_state(m) is not None:  # merged per type only (the GeoPackage has them)
        return
    data = None if _empty(isochrones) else _to_wgs84(isochrones)
    title = _t(lang, "per_facility", m=format_minutes(circle_minutes))
    for key in types:
        label = f"{_type_name(key, lang)} · {title}"
        rows = None
        if data is not None:
            sel = (data["type"].astype(str) == key) & \
                  (data["threshold_min"].astype(float).sub(float(circle_minutes)).abs() < 1e-9)
            rows = data.loc[sel, ["geometry"]]
        if rows is None or len(rows) == 0:
            folium.FeatureGroup(name=label + _t(lang, "none"), show=False).add_to(m)
            continue
        colour = _type_colour(key)
        fg = folium.FeatureGroup(name=label, show=False)
        folium.GeoJson(rows.to_json(drop_id=True), name=label, control=False,
                       style_function=lambda _f, c=colour: {"color": c, "weight": 1,
                                                            "fillOpacity": 0.0}).add_to(fg)
        fg.add_to(m)


def _area_style(feature: dict[str, Any]) -> dict[str, Any]:
    return {"fillColor": feature["properties"]["_fill"], "color": "#555555", "weight": 0.6,
            "fillOpacity": 0.7}


def _add_areas(m: folium.Map, areas: gpd.GeoDataFrame, score: str, circle_minutes: float,
               lang: str) -> None:
    label = column_label(score, lang, circle_minutes)
    if _empty(areas):
        folium.FeatureGroup(name=_t(lang, "areas") + _t(lang, "none")).add_to(m)
        return
    data = _to_wgs84(areas)
    data = data[data.geometry.notna() & ~data.geometry.is_empty]
    est = (data["pop_estimated"].fillna(False).astype(bool) if "pop_estimated" in data
           else pd.Series(False, index=data.index))
    props = pd.DataFrame(index=data.index)
    name = data["name"] if "name" in data else data.get("area_id", pd.Series("", index=data.index))
    kind = data["area_kind"] if "area_kind" in data else pd.Series("", index=data.index)
    open_, close = ("（", "）") if lang == "zh" else (" (", ")")
    props["f_name"] = [
        f"{'' if _missing(n) else n}" + (f"{open_}{value_label('area_kind', k, lang)}{close}"
                                         if not _missing(k) and k else "")
        for n, k in zip(name, kind, strict=True)]
    props["f_street"] = (data["street_name"].fillna("").astype(str) if "street_name" in data
                         else "")
    elderly = data["elderly_60"] if "elderly_60" in data else pd.Series(float("nan"),
                                                                         index=data.index)
    props["f_elderly"] = [with_estimate(_t(lang, "persons", v=_fmt_number(v)), bool(e), lang)
                          for v, e in zip(elderly, est, strict=True)]
    props["f_score"] = [_fmt_share(v) if not _missing(v) else _t(lang, "no_elderly")
                        for v in data[score]]
    agg = aggregate_state(m)
    if agg is not None:  # shared simplified outlines, coloured by class index
        rows = [(_t(lang, "street"), [html.escape(str(v)) for v in props["f_street"]]
                 if "street_name" in data else [""] * len(data)),
                (_t(lang, "elderly"), [html.escape(v) for v in props["f_elderly"]]),
                (label, [html.escape(v) for v in props["f_score"]])]
        fg = folium.FeatureGroup(name=f"{_t(lang, 'areas')}: {label}")
        fg.add_child(LightLayer(
            agg.area_geometry(m, data),
            {"color": "#555555", "weight": 0.6, "fillOpacity": 0.7},
            palette=[*SCORE_COLOURS, NO_DATA_COLOUR], classes=_class_index(data[score]),
            head=[html.escape(v) for v in props["f_name"]], rows=rows, highlight=True))
        fg.add_to(m)
        return
    props["_fill"] = [_score_colour(v) for v in data[score]]
    gj = gpd.GeoDataFrame(props, geometry=data.geometry.values, crs=4326)
    fields = ["f_name", "f_street", "f_elderly", "f_score"]
    aliases = [_t(lang, "name"), _t(lang, "street"), _t(lang, "elderly"), label]
    if not props["f_street"].astype(bool).any():
        fields.pop(1)
        aliases.pop(1)
    fg = folium.FeatureGroup(name=f"{_t(lang, 'areas')}: {label}")
    folium.GeoJson(
        gj.to_json(drop_id=True), name=label, control=False, style_function=_area_style,
        highlight_function=lambda _f: {"weight": 2.5, "color": "#000000"},
        tooltip=folium.GeoJsonTooltip(fields=fields, aliases=aliases, sticky=True),
    ).add_to(fg)
    fg.add_to(m)


def _boundary_frame(boundary: Any) -> gpd.GeoDataFrame | None:
    """Boundary as a WGS84 GeoDataFrame (a bare shapely geometry is taken as WGS84)."""
    if boundary is None:
        return None
    if isinstance(boundary, gpd.GeoDataFrame):
        gdf = boundary
    elif isinstance(boundary, gpd.GeoSeries):
        gdf = gpd.GeoDataFrame(geometry=boundary)
    elif isinstance(boundary, shapely.Geometry):
        gdf = gpd.GeoDataFrame(geometry=[boundary], crs=4326)
    else:
        raise TypeError(f"boundary must be a GeoDataFrame, GeoSeries or shapely geometry, "
                        f"got {type(boundary).__name__}")
    gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    return _to_wgs84(gdf)[["geometry"]] if len(gdf) else None


def _add_streets(m: folium.Map, areas: gpd.GeoDataFrame, lang: str) -> None:
    """Street (街道) outlines dissolved from the areas, when the areas carry street codes."""
    streets = street_outlines(_to_wgs84(areas)) if not _empty(areas) else None
    if streets is None or not len(streets):
        return
    gj = gpd.GeoDataFrame({"f_name": streets["street_name"].where(
                               streets["street_name"] != "", streets["street_code"]),
                           "f_n": streets["n_areas"].astype(int)},
                          geometry=streets.geometry.values, crs=4326)
    fg = folium.FeatureGroup(name=_t(lang, "streets"))
    agg = aggregate_state(m)
    if agg is not None:
        shared = SharedGeometry(budget_geometries(gj.geometry.to_numpy(), agg.tolerance,
                                                  2 * LAYER_COORDS))
        fg.add_child(shared)
        fg.add_child(LightLayer(
            shared, {"color": "#333333", "weight": 2.5, "fillOpacity": 0.0},
            head=[html.escape(str(v)) for v in gj["f_name"]],
            rows=[(_t(lang, "areas_n"), [str(v) for v in gj["f_n"]])]))
        fg.add_to(m)
        return
    folium.GeoJson(gj.to_json(drop_id=True), control=False,
                   style_function=lambda _f: {"color": "#333333", "weight": 2.5,
                                              "fillOpacity": 0.0},
                   tooltip=folium.GeoJsonTooltip(
                       fields=["f_name", "f_n"],
                       aliases=[_t(lang, "street"), _t(lang, "areas_n")], sticky=True),
                   ).add_to(fg)
    fg.add_to(m)


def _add_boundary(m: folium.Map, gdf: gpd.GeoDataFrame, lang: str) -> None:
    fg = folium.FeatureGroup(name=_t(lang, "boundary"))
    agg = aggregate_state(m)
    if agg is not None:
        light_polygons(m, fg, gdf.geometry.to_numpy(),
                       {"color": "#000000", "weight": 2, "dashArray": "6 4",
                        "fillOpacity": 0.0}, agg.tolerance)
        fg.add_to(m)
        return
    folium.GeoJson(gdf.to_json(drop_id=True), control=False,
                   style_function=lambda _f: {"color": "#000000", "weight": 2,
                                              "dashArray": "6 4", "fillOpacity": 0.0}).add_to(fg)
    fg.add_to(m)


# ---------------------------------------------------------------------------------------
# Aggregated maps (large study areas)
#
# Above ``output.map_detail_limit`` features the detailed map (one folium object per
# facility, per-facility catchments, full-precision outlines repeated in every score
# overlay) grows to hundreds of MB and does not open. The aggregated map instead draws:
# areas once as shared, simplified geometry that every score layer colours by a class
# index; one merged catchment per facility type and time; facilities as canvas circle
# markers built in the browser from coordinate arrays. folium's GeoJson is not used for
# these layers: it calls the style function per feature in Python and writes a ``switch``
# listing every feature id per style, which is both slow and large.

#: Default of ``output.map_detail_limit``: above this many features (areas + facilities +
#: per-facility catchments) :func:`build_map` draws aggregated layers.
MAP_DETAIL_LIMIT = 2000
#: Coordinates of aggregated layers are rounded to this grid (degrees): 1e-5° is 1.1 m
#: north-south (0.95 m east-west at Shanghai's latitude), below a pixel at street zoom.
COORD_GRID = 1e-5
#: Outlines are simplified to one pixel of a view this many pixels across the whole extent,
#: i.e. of a 1,024-pixel window zoomed two levels into the whole-city view (2^2 × 1,024):
#: finer detail cannot be seen until one zooms in further, and the GeoPackage has it.
PIXELS_ACROSS = 4096
_DECIMALS = 5  # decimals of COORD_GRID
#: Most coordinates of one merged layer (a catchment per type and time; twice this for the
#: street outlines) on an aggregated map: about 0.25 MB of GeoJSON, so 8 types × 3 times
#: stay near 6 MB (see :func:`budget_geometries`).
LAYER_COORDS = 12_000
_LONG_FRACTION = re.compile(r"\.\d{" + str(_DECIMALS + 1) + r",}(?:[eE][-+]?\d+)?")

_AGG_TEXT = {
    "zh": "汇总显示（要素较多）：边界已按地图分辨率简化，步行范围按设施类型合并，"
          "不显示单个设施的步行范围；全部细节见 GeoPackage。",
    "en": "Aggregated view (large study area): outlines simplified to the map's resolution, "
          "walking catchments merged per facility type, no per-facility catchments; "
          "every detail is in the GeoPackage.",
}

_log = logging.getLogger(__name__)


def detail_features(areas: pd.DataFrame | None, facilities: pd.DataFrame | None,
                    isochrones: pd.DataFrame | None = None,
                    circle_minutes: float = 15) -> int:
    """Number of features the detailed map would draw one by one.

    Areas, facilities and, when given, the per-facility catchments at the circle time
    (the layers that grow with the study area; merged catchments and street outlines do
    not grow in count).

    Parameters
    ----------
    areas, facilities, isochrones : DataFrame or None
        As for :func:`build_map`.
    circle_minutes : float
        Only per-facility catchments at this time are drawn by the detailed map.

    Returns
    -------
    int
        The count compared with ``output.map_detail_limit``.
    """
    n = sum(0 if _empty(f) else len(f) for f in (areas, facilities))
    if not _empty(isochrones):
        if "threshold_min" in isochrones:
            t = pd.to_numeric(isochrones["threshold_min"], errors="coerce").to_numpy(float)
            n += int((abs(t - float(circle_minutes)) < 1e-9).sum())
        else:
            n += len(isochrones)
    return n


def pixel_tolerance(bounds: tuple[float, float, float, float] | None) -> float:
    """Simplification tolerance in degrees for a WGS84 extent (see :data:`PIXELS_ACROSS`).

    The extent's larger side (east-west scaled by the cosine of the latitude, so both are
    in degrees of latitude) divided by :data:`PIXELS_ACROSS`, and never below
    :data:`COORD_GRID`: e.g. about 15 m for a 60 km city, 2 m for an 8 km district.
    """
    if bounds is None:
        return COORD_GRID
    west, south, east, north = bounds
    coslat = math.cos(math.radians((south + north) / 2))
    span = max((east - west) * coslat, north - south)
    return max(span / PIXELS_ACROSS, COORD_GRID)


def light_geometries(geoms: Any, tolerance: float) -> Any:
    """Simplified, grid-rounded copies of WGS84 geometries (vectorised shapely).

    ``simplify`` (topology preserving, so adjacent areas stay apart) drops vertices closer
    than ``tolerance`` degrees to the simplified line, then coordinates are rounded to
    :data:`COORD_GRID` (5 decimals in the GeoJSON). Rounding by coordinate transform rather
    than ``set_precision`` is several times faster; the sub-metre self-touches or repeated
    points it may leave do not matter to drawing (the GeoPackage keeps the exact geometry).
    Missing geometries stay missing. Merged layers use :func:`budget_geometries`.
    """
    arr = np.asarray(geoms, dtype=object)
    out = shapely.simplify(arr, tolerance, preserve_topology=True)
    return shapely.transform(out, lambda c: np.round(c, _DECIMALS))


def _geojson_array(geoms: Any) -> str:
    """A JSON array of GeoJSON geometries (``null`` for missing or empty ones)."""
    arr = np.asarray(geoms, dtype=object)
    arr = np.where(shapely.is_missing(arr) | shapely.is_empty(arr), None, arr)
    text = "[" + ",".join("null" if t is None else t
                          for t in shapely.to_geojson(arr)) + "]"
    return _shorten_numbers(text)


def _shorten_numbers(text: str) -> str:
    """Rewrite numbers with more than 5 decimals at 5 (shortest form).

    GEOS's GeoJSON writer prints some rounded values with 17 digits (121.33643 as
    121.33642999999999). Candidates are found by their long fraction (a fast scan; a
    pattern starting at every digit takes ten times longer) and widened back to the
    number's start.
    """
    out: list[str] = []
    last = 0
    for mt in _LONG_FRACTION.finditer(text):
        start = mt.start()
        while start > last and text[start - 1] in "0123456789-":
            start -= 1
        out += [text[last:start], repr(round(float(text[start:mt.end()]), _DECIMALS))]
        last = mt.end()
    out.append(text[last:])
    return "".join(out)


def _compact_json(value: Any) -> str:
    """JSON without spaces, safe inside ``<script>`` (no ``</`` or ``<!--``)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")


class _RawScript(Element):
    """Script text added to the page as is. branca wraps each rendered script in an
    ``Element``, whose jinja template re-parses the text: seconds for megabytes of
    coordinates."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def render(self, **kwargs: Any) -> str:
        return self.text


class _RawMacro(MacroElement):
    """A MacroElement whose rendered script goes into the page without re-parsing."""

    def render(self, **kwargs: Any) -> None:
        script = self._template.module.__dict__["script"]
        self.get_root().script.add_child(_RawScript(script(self, kwargs)),
                                         name=self.get_name())
        for child in self._children.values():
            child.render(**kwargs)


class SharedGeometry(_RawMacro):
    """Geometry written once into the page as a JS array, for several :class:`LightLayer`s.

    Parameters
    ----------
    geoms : array of shapely geometries
        WGS84 geometries, already simplified (:func:`light_geometries`).
    """

    # The array is kept as a string and parsed on first use: JSON.parse is several times
    # faster than V8 compiling the same text as a literal, and layers hidden at start
    # never pay for it. GeoJSON of geometries has no quote, backslash or line break.
    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = {text: '{{ this.text }}', value: null};
        {% endmacro %}
    """)

    def __init__(self, geoms: Any) -> None:
        super().__init__()
        self._name = "SharedGeometry"
        self.text = _geojson_array(geoms)
        if re.search(r"['\\\n\r\u2028\u2029]", self.text):  # pragma: no cover - GEOS output
            raise GeoplanError("map geometry text holds a quote or line break")
        self.n = len(geoms)


class LightLayer(_RawMacro):
    """A GeoJSON layer built in the browser from a geometry array and column arrays.

    Tooltip or popup text is assembled on demand from per-feature string columns, and
    polygons are filled from a palette by a per-feature class index, so the page holds
    each value once and no per-feature JavaScript object is written. The Leaflet layer is
    built when its parent group is first on the map (at once for layers shown at start).

    Parameters
    ----------
    geometry : SharedGeometry
        The features' geometry (added to the map before this layer).
    style : dict
        Leaflet path options for every feature (circle markers take ``radius`` too).
    palette, classes : list of str, list of int, optional
        Fill colours and each feature's index into them.
    rows : list of (label, list of str), optional
        Table rows of the tooltip (or popup); values are HTML (escape them first), empty
        ones are left out.
    head : list of str, optional
        A bold first line per feature (e.g. the name).
    kind : {"tooltip", "popup"}
        How the text is shown.
    marker : {"circle", "badge"}
        How points are drawn: canvas circle markers, or numbered badges (``badge_html``
        with ``{}`` replaced by the first row's value; for a few hundred proposed sites).
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function () {
          var group = {{ this._parent.get_name() }};
          function build() {
            var shared = {{ this.geometry.get_name() }};
            var geoms = shared.value || (shared.value = JSON.parse(shared.text));
            var style = {{ this.style_json }}, palette = {{ this.palette_json }};
            var cls = {{ this.classes_json }}, head = {{ this.head_json }};
            var labels = {{ this.labels_json }}, cols = {{ this.columns_json }};
            function text(i) {
                var s = head ? "<b>" + head[i] + "</b>" : "", t = "";
                for (var k = 0; k < labels.length; k++) {
                    if (cols[k][i]) t += "<tr><th style='text-align:left;padding-right:6px'>"
                        + labels[k] + "</th><td>" + cols[k][i] + "</td></tr>";
                }
                return s + (t ? "<table>" + t + "</table>" : "");
            }
            function styleOf(i) {
                var o = Object.assign({}, style);
                if (cls) { o.fillColor = palette[cls[i]]; }
                return o;
            }
            var feats = [];
            for (var i = 0; i < geoms.length; i++) {
                if (geoms[i]) feats.push({type: "Feature", geometry: geoms[i], properties: {i: i}});
            }
            var layer = L.geoJSON({type: "FeatureCollection", features: feats}, {
                style: function (f) { return styleOf(f.properties.i); },
                pointToLayer: function (f, ll) {
                    {%- if this.marker == "badge" %}
                    return L.marker(ll, {icon: L.divIcon({className: "",
                        html: {{ this.badge_html|tojson }}.replace("{}", cols[0][f.properties.i]),
                        iconSize: [26, 22], iconAnchor: [13, 11]})});
                    {%- else %}
                    return L.circleMarker(ll, styleOf(f.properties.i));
                    {%- endif %}
                },
                onEachFeature: function (f, l) {
                    var i = f.properties.i;
                    {%- if this.kind == "popup" %}
                    if (head || labels.length) l.bindPopup(function () { return text(i); },
                                                           {maxWidth: 320});
                    {%- else %}
                    if (head || labels.length) l.bindTooltip(function () { return text(i); },
                                                             {sticky: true});
                    {%- endif %}
                    {%- if this.highlight %}
                    l.on("mouseover", function () { l.setStyle({weight: 2.5, color: "#000000"}); });
                    l.on("mouseout", function () { l.setStyle(styleOf(i)); });
                    {%- endif %}
                }
            });
            layer.addTo(group);
          }
          // Layers hidden at start are built when first switched on: opening the page
          // then costs only what it shows.
          if (group._map) { build(); } else { group.once("add", build); }
        })();
        {% endmacro %}
    """)

    def __init__(self, geometry: SharedGeometry, style: dict[str, Any], *,
                 palette: Sequence[str] | None = None, classes: Any = None,
                 rows: Sequence[tuple[str, Sequence[str]]] = (),
                 head: Sequence[str] | None = None, kind: str = "tooltip",
                 marker: str = "circle", highlight: bool = False,
                 badge_html: str = "") -> None:
        super().__init__()
        self._name = "LightLayer"
        self.geometry = geometry
        self.style_json = _compact_json(style)
        self.palette_json = _compact_json(list(palette) if palette is not None else None)
        self.classes_json = _compact_json(None if classes is None
                                          else np.asarray(classes, dtype=int).tolist())
        self.head_json = _compact_json(None if head is None else [str(h) for h in head])
        self.labels_json = _compact_json([html.escape(label) for label, _ in rows])
        self.columns_json = _compact_json([[str(v) for v in values] for _, values in rows])
        self.kind = kind
        self.marker = marker
        self.highlight = highlight
        self.badge_html = badge_html


class AggregateState:
    """What an aggregated map shares between its layers (kept on the map object).

    Attributes
    ----------
    tolerance : float
        Simplification tolerance in degrees (:func:`pixel_tolerance`).
    """

    def __init__(self, tolerance: float) -> None:
        self.tolerance = tolerance
        self._areas: list[tuple[gpd.GeoDataFrame, SharedGeometry]] = []

    def __deepcopy__(self, memo: dict[int, Any]) -> AggregateState:
        # map_html renders a deep copy of the map: the frames seen need no copy.
        return self

    def area_geometry(self, m: folium.Map, areas: gpd.GeoDataFrame) -> SharedGeometry:
        """The shared simplified geometry of ``areas`` (WGS84), written once per frame.

        A frame with the same index and the same geometries as one seen before reuses its
        geometry, so the coverage layer and every score overlay share one copy.
        """
        geoms = areas.geometry.to_numpy()
        for seen, shared in self._areas:
            if (len(seen) == len(areas) and seen.index.equals(areas.index)
                    and bool(np.all(shapely.equals_exact(seen.geometry.to_numpy(), geoms, 0.0)
                                    | (shapely.is_missing(geoms)
                                       & shapely.is_missing(seen.geometry.to_numpy()))))):
                return shared
        shared = SharedGeometry(light_geometries(geoms, self.tolerance))
        m.add_child(shared)
        _move_before_layers(m, shared)
        self._areas.append((areas, shared))
        return shared


def _move_before_layers(m: folium.Map, element: Element) -> None:
    """Put ``element`` first among the map's children (its JS variable must exist before
    any layer's script refers to it)."""
    key = element.get_name()
    items = list(m._children.items())
    m._children.clear()
    m._children[key] = element
    for k, v in items:
        if k != key:
            m._children[k] = v


def aggregate_state(m: folium.Map) -> AggregateState | None:
    """The map's :class:`AggregateState`, or None for a detailed map."""
    state = getattr(m, "_geoplan_aggregate", None)
    return state if isinstance(state, AggregateState) else None


def _class_index(values: Any) -> np.ndarray:
    """Index into ``SCORE_COLOURS + (NO_DATA_COLOUR,)`` of each share (vectorised
    :func:`_score_colour`)."""
    v = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(float)
    idx = np.searchsorted(np.asarray(SCORE_BREAKS[1:-1]), np.clip(v, 0.0, 1.0), side="right")
    return np.where(np.isfinite(v), idx, len(SCORE_COLOURS))


def _add_aggregate_note(m: folium.Map, lang: str) -> None:
    m.get_root().html.add_child(Element(
        "<div class='geoplan-aggregated' style='position:fixed;top:46px;left:60px;"
        "z-index:900;max-width:480px;background:rgba(255,255,255,0.9);padding:3px 8px;"
        f"font-size:12px;border-radius:4px'>{html.escape(_AGG_TEXT[lang])}</div>"),
        name="geoplan_aggregated")


def _merged_light(geoms: Any, tolerance: float) -> Any:
    """Douglas-Peucker on each ring of (multi)polygons, rebuilt as multipolygons, rounded.

    GEOS simplifies a polygon and then repairs it with a buffer, which on a merged
    catchment of thousands of parts costs as much as a union; simplifying the rings as
    lines and rebuilding is about 15 times faster. Rings that collapse (fewer than 4
    points) are dropped, with the holes of a collapsed shell. Only for drawing.
    """
    arr = np.asarray(geoms, dtype=object)
    out = np.full(len(arr), None, dtype=object)
    parts, gi = shapely.get_parts(arr, return_index=True)
    keep = shapely.get_type_id(parts) == 3
    parts, gi = parts[keep], gi[keep]
    rings, pi = shapely.get_rings(parts, return_index=True)
    rings = shapely.simplify(rings, tolerance, preserve_topology=False)
    rings = shapely.transform(rings, lambda c: np.round(c, _DECIMALS))
    ok = shapely.get_num_coordinates(rings) >= 4
    shell = np.r_[True, pi[1:] != pi[:-1]] if len(pi) else np.zeros(0, bool)
    shell_ok = np.zeros(len(parts), bool)
    shell_ok[pi[shell & ok]] = True
    ok &= shell_ok[pi]
    if not ok.any():
        return out
    part_ids, new_pi = np.unique(pi[ok], return_inverse=True)
    polys = shapely.polygons(shapely.linearrings(shapely.get_coordinates(rings[ok]),
                                                 indices=np.repeat(
                                                     np.arange(ok.sum()),
                                                     shapely.get_num_coordinates(rings[ok]))),
                             indices=new_pi)
    shapely.multipolygons(polys, indices=gi[part_ids], out=out)
    return out


def budget_geometries(geoms: Any, tolerance: float, max_coords: int) -> Any:
    """:func:`light_geometries`, coarsened until at most ``max_coords`` coordinates remain.

    Merged catchments can be so jagged (every street end of hundreds of catchments) that
    simplifying to the map's resolution keeps nearly every vertex; the tolerance is then
    doubled until the layer fits its budget, up to 16 times (4 pixels of the whole-extent
    view on a 1,024-pixel window, see :data:`PIXELS_ACROSS`), where shapes would start to
    look wrong, so the page size stays bounded for any realistic input.
    """
    tol = tolerance
    out = _merged_light(geoms, tol)
    while int(shapely.get_num_coordinates(out).sum()) > max_coords and tol < 16 * tolerance:
        tol *= 2
        out = _merged_light(geoms, tol)
    if tol > tolerance:
        _log.debug("map: layer coarsened to %.1f m to stay within %d coordinates",
                   tol * 111_320, max_coords)
    return out


def light_polygons(m: folium.Map, fg: folium.FeatureGroup, geoms: Any,
                   style: dict[str, Any], tolerance: float,
                   max_coords: int = LAYER_COORDS) -> None:
    """Add polygons to ``fg`` as one simplified :class:`LightLayer` without popups, with at
    most ``max_coords`` coordinates (:func:`budget_geometries`)."""
    shared = SharedGeometry(budget_geometries(geoms, tolerance, max_coords))
    fg.add_child(shared)
    fg.add_child(LightLayer(shared, style))


class _LegendControl(MacroElement):
    """A Leaflet control holding fixed HTML, in the top-right corner under the colour
    bars (so the legends sit together beside the layer control)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function () {
            var c = L.control({position: "topright"});
            c.onAdd = function () {
                var div = L.DomUtil.create("div", "geoplan-legend leaflet-bar");
                div.innerHTML = {{ this.html|tojson }};
                L.DomEvent.disableClickPropagation(div);
                return div;
            };
            c.addTo({{ this._parent.get_name() }});
        })();
        {% endmacro %}
    """)

    def __init__(self, html_text: str) -> None:
        super().__init__()
        self._name = "LegendControl"
        self.html = html_text


#: Legend boxes: white, compact; the colour bars' box (branca's ``.legend``) styled alike.
_LEGEND_CSS = Element(
    "<style>.geoplan-legend,.legend.leaflet-control{background:rgba(255,255,255,0.9);"
    "padding:4px 8px;font-size:12px;border-radius:4px;box-shadow:0 0 4px rgba(0,0,0,0.3);"
    "border:0;clear:both}.legend.leaflet-control:empty{display:none}"
    ".leaflet-control-layers-expanded{max-height:60vh;overflow-y:auto;font-size:12px}"
    "</style>")


def _type_legend(types: list[str], lang: str) -> _LegendControl:
    items = "".join(
        f"<div><span style='display:inline-block;width:10px;height:10px;border-radius:5px;"
        f"background:{_type_colour(k)};border:1px solid #222;margin-right:4px'></span>"
        f"{html.escape(_type_name(k, lang))}</div>" for k in types)
    return _LegendControl(f"<b>{html.escape(_t(lang, 'legend'))}</b>{items}")


def _bounds(frames: Iterable[gpd.GeoDataFrame | gpd.GeoSeries | None]
            ) -> tuple[float, float, float, float] | None:
    boxes = []
    for f in frames:
        if f is None or len(f) == 0:
            continue
        g = f if f.crs is None or f.crs.equals("EPSG:4326") else f.to_crs(4326)
        b = g.total_bounds
        if all(math.isfinite(x) for x in b):
            boxes.append(b)
    if not boxes:
        return None
    return (min(b[0] for b in boxes), min(b[1] for b in boxes),
            max(b[2] for b in boxes), max(b[3] for b in boxes))


def finish_layers(m: folium.Map) -> folium.Map:
    """Call after adding layers to a built map: keeps the layer control last and ids stable.

    Leaflet's layer control only lists layers created before it in the page script, so it
    is moved after every child; element ids are then renumbered deterministically.
    """
    for key in [k for k, v in m._children.items() if isinstance(v, folium.LayerControl)]:
        m._children.move_to_end(key)
    _renumber(m.get_root())
    return m


def _renumber(root: Element) -> None:
    """Give every element in the tree a deterministic id (folium ids are random).

    Children stored under their (random) name are re-keyed under the new name; children
    added with an explicit name keep it.
    """
    counter = 0
    seen: set[int] = set()

    def walk(el: Element) -> None:
        nonlocal counter
        if id(el) in seen:
            return
        seen.add(id(el))
        el._id = f"{counter:05d}"
        counter += 1
        for attr in ("header", "html", "script"):
            sub = el.__dict__.get(attr)
            if isinstance(sub, Element):
                walk(sub)
        children = [(key, child, key == child.get_name()) for key, child in el._children.items()]
        for _, child, _derived in children:
            walk(child)
        el._children.clear()
        for key, child, derived in children:
            el._children[child.get_name() if derived else key] = child

    walk(root)


class _Attribution(MacroElement):
    """Adds a fixed text to the map's attribution control (shown with any base map)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}.attributionControl.addAttribution({{ this.text|tojson }});
        {% endmacro %}
    """)

    def __init__(self, text: str) -> None:
        super().__init__()
        self._name = "Attribution"
        self.text = text


def tianditu_key(key: str | None = None) -> str:
    """The Tianditu key: ``key`` if given, else the ``TIANDITU_KEY`` environment variable.

    Raises
    ------
    ConfigError
        If neither is set, or the key holds anything but letters and digits.
    """
    key = key or os.environ.get("TIANDITU_KEY", "")
    if not key:
        raise ConfigError("output.basemap = 'tianditu' needs a Tianditu key: set "
                          "output.tianditu_key or the TIANDITU_KEY environment variable "
                          "(free browser key from console.tianditu.gov.cn)")
    if not key.isascii() or not key.isalnum():
        raise ConfigError("output.tianditu_key (or TIANDITU_KEY) must be letters and digits "
                          "only, as issued by console.tianditu.gov.cn")
    return key


def add_basemap(m: folium.Map, basemap: str = "osm", key: str | None = None,
                lang: str = "zh") -> None:
    """Add the base map tiles and the OpenStreetMap data attribution to ``m``.

    Parameters
    ----------
    m : folium.Map
        A map created with ``tiles=None``.
    basemap : {"osm", "tianditu", "none"}
        OpenStreetMap tiles, Tianditu vector tiles plus annotation (Chinese, or English
        with ``lang="en"``), or no tiles at all (works offline).
    key : str, optional
        Tianditu key; default the ``TIANDITU_KEY`` environment variable.
    lang : {"zh", "en"}
        Language of the Tianditu annotation layer.

    Raises
    ------
    ConfigError
        For an unknown base map, or Tianditu without a key.
    """
    if basemap not in BASEMAPS:
        raise ConfigError(f"output.basemap = '{basemap}': use one of {', '.join(BASEMAPS)}")
    if basemap == "osm":
        folium.TileLayer(tiles=OSM_TILES, attr=OSM_ATTR, name="OpenStreetMap", max_zoom=19,
                         control=False).add_to(m)
    elif basemap == "tianditu":
        tk = tianditu_key(key)
        # CGCS2000 web-mercator grid (_w): within a metre of WGS84, no shift needed.
        for layer in ("vec", "cva" if lang == "zh" else "eva"):
            folium.TileLayer(tiles=TIANDITU_TILES.format(layer=layer, key=tk),
                             attr=TIANDITU_ATTR, name=f"天地图 {layer}", subdomains="01234567",
                             max_zoom=18, control=False).add_to(m)
    # The data layers (network, areas) come from OSM whatever the base map.
    m.add_child(_Attribution(OSM_ATTR), name="osm_data_attribution")


def build_map(areas: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame | None,
              isochrones_by_type: gpd.GeoDataFrame | None,
              isochrones: gpd.GeoDataFrame | None = None, lang: str = "zh",
              title: str | None = None, score: str = "circle_share",
              circle_minutes: float = 15,
              boundary: gpd.GeoDataFrame | gpd.GeoSeries | shapely.Geometry | None = None,
              types: Sequence[str] | None = None, basemap: str = "osm",
              tianditu_key: str | None = None,
              detail_limit: int | None = MAP_DETAIL_LIMIT) -> folium.Map:
    """Build the interactive coverage map.

    Parameters
    ----------
    areas : GeoDataFrame
        Analysis areas with the share column ``score`` (and ``name``, ``elderly_60``,
        ``pop_estimated``, ``street_name`` for the tooltip).
    facilities : GeoDataFrame or None
        Facility points (``type``, ``name``, ``address``, ``street``, ``capacity``,
        ``snap_m``).
    isochrones_by_type : GeoDataFrame or None
        Merged walking-time polygons per ``type`` and ``threshold_min``.
    isochrones : GeoDataFrame, optional
        Per-facility polygons (``fid``, ``type``, ``threshold_min``); those at the circle
        time are added as hidden outline layers.
    lang : {"zh", "en"}
        Label language.
    title : str, optional
        Page and map title; default the score label.
    score : str
        Share column that colours the areas (0..1), e.g. ``"circle_share"`` or
        ``"canteen_share_15"``.
    circle_minutes : float
        Walking time of the service circle; its catchment layers are shown at start.
    boundary : GeoDataFrame, GeoSeries or shapely geometry, optional
        Study-area outline (a bare geometry must be in WGS84).
    types : sequence of str, optional
        Facility types to show (config order); default the types found in the data.
        A type without facilities gets an empty layer named "…（无）" / "… (none)".
    basemap : {"osm", "tianditu", "none"}
        Base map tiles, see :func:`add_basemap`.
    tianditu_key : str, optional
        Key for ``basemap="tianditu"``; default the ``TIANDITU_KEY`` environment variable.
    detail_limit : int or None, default :data:`MAP_DETAIL_LIMIT`
        Above this many features (:func:`detail_features`) the map is aggregated: areas
        with outlines simplified to the map's resolution (:func:`pixel_tolerance`), one
        merged catchment per type and time, light facility markers, no per-facility
        catchments, and a note on the map that the GeoPackage holds every detail.
        0 aggregates always; None never.

    Returns
    -------
    folium.Map
        The map; element ids are deterministic. It keeps folium's ``_repr_html_`` (shows
        inline in Jupyter).

    Raises
    ------
    GeoplanError
        If ``score`` is not a share column of ``areas``.
    ConfigError
        For an unknown base map, or Tianditu without a key.
    """
    if lang not in _TEXT:
        raise ValueError(f"lang must be 'zh' or 'en', got {lang!r}")
    available = score_columns(areas)
    if score not in available:
        raise GeoplanError(f"unknown map score column '{score}'; available score columns: "
                           f"{', '.join(available) or '(none)'}")
    label = column_label(score, lang, circle_minutes)
    title = title or label

    m = folium.Map(location=_DEFAULT_CENTRE, zoom_start=12, tiles=None, control_scale=True,
                   prefer_canvas=True)
    add_basemap(m, basemap, tianditu_key, lang)
    root = m.get_root()
    root.header.add_child(Element(f"<title>{html.escape(title)}</title>"), name="title")
    root.html.add_child(Element(
        "<div class='geoplan-title' style='position:fixed;top:10px;left:60px;z-index:900;"
        "background:rgba(255,255,255,0.9);padding:4px 10px;font-size:16px;font-weight:bold;"
        f"border-radius:4px'>{html.escape(title)}</div>"), name="geoplan_title")

    boundary_gdf = _boundary_frame(boundary)
    box = _bounds([areas, facilities, boundary_gdf])
    n_features = detail_features(areas, facilities, isochrones, circle_minutes)
    if detail_limit is not None and n_features > detail_limit:
        tolerance = pixel_tolerance(box)
        _log.info("map: %d features (areas + facilities + per-facility catchments) exceed "
                  "output.map_detail_limit = %d: drawing aggregated layers (outlines "
                  "simplified to %.1f m, catchments merged per type); the GeoPackage keeps "
                  "every detail", n_features, detail_limit, tolerance * 111_320)
        m._geoplan_aggregate = AggregateState(tolerance)  # type: ignore[attr-defined]
        _add_aggregate_note(m, lang)

    type_keys = _types(facilities, isochrones_by_type, types)
    _add_areas(m, areas, score, circle_minutes, lang)
    _add_isochrones(m, isochrones_by_type, type_keys,
                    _thresholds(isochrones_by_type, circle_minutes), circle_minutes, lang)
    if isochrones is not None:
        _add_per_facility(m, isochrones, type_keys, circle_minutes, lang)
    _add_streets(m, areas, lang)
    if boundary_gdf is not None:
        _add_boundary(m, boundary_gdf, lang)
    _add_facilities(m, facilities, type_keys, lang)

    colormap = score_colormap(f"{label}（%；{_t(lang, 'grey')}）" if lang == "zh"
                              else f"{label} (%; {_t(lang, 'grey')})")
    colormap.add_to(m)
    root.header.add_child(_LEGEND_CSS, name="geoplan_legend_css")
    if type_keys:
        m.add_child(_type_legend(type_keys, lang), name="geoplan_type_legend")
    # Collapsed to an icon (opens on hover or tap) under the legends: expanded, the list
    # of layers covered a third of the map.
    folium.LayerControl(collapsed=True).add_to(m)

    if box is not None:
        west, south, east, north = (round(v, 7) for v in box)
        m.fit_bounds([[south, west], [north, east]])
    _renumber(root)
    return m


def map_html(m: folium.Map, offline: bool = True, *, last_use: bool = False) -> str:
    """The map as a complete HTML page.

    Parameters
    ----------
    m : folium.Map
        A map from :func:`build_map`.
    offline : bool, default True
        Inline Leaflet and every other script and stylesheet from the vendored files,
        so the page needs no network (tiles excepted: use ``basemap="none"`` for fully
        offline use); ``False`` links them from public CDNs (smaller file).
    last_use : bool, default False
        The map is not rendered or shown again: render it in place rather than a deep
        copy of it (the copy takes as long as the rendering of a district's map).

    Raises
    ------
    GeoplanError
        With ``offline=True``, if the map uses an asset that is not vendored.
    """
    from geoplan.outputs.htmlrender import plain_element_text
    from geoplan.outputs.offline import inline_assets

    # folium's render is not idempotent (a second render repeats the ``addTo`` calls):
    # render a copy so the map can be saved, embedded and shown in Jupyter alike.
    with plain_element_text():
        text = (m if last_use else copy.deepcopy(m)).get_root().render()
    return inline_assets(text) if offline else text


def map_fragment(m: folium.Map, offline: bool = True, height: str = "600px", *,
                 last_use: bool = False) -> str:
    """An ``<iframe srcdoc=…>`` holding the whole map, to paste into a report page.

    Parameters
    ----------
    m : folium.Map
        A map from :func:`build_map`.
    offline : bool, default True
        Inline every script and stylesheet (see :func:`map_html`).
    height : str, default "600px"
        CSS height of the frame (its width is 100 % of the container).
    last_use : bool, default False
        ``m`` is not used again (see :func:`map_html`).

    Returns
    -------
    str
        One ``<iframe>`` element; the page is HTML-escaped into ``srcdoc``, so the
        fragment does not interfere with the host page's scripts or styles.
    """
    page = map_html(m, offline=offline, last_use=last_use)
    return (f'<iframe srcdoc="{html.escape(page, quote=True)}" '
            f'style="width:100%;height:{html.escape(height)};border:0" loading="lazy" '
            'allowfullscreen></iframe>\n')


def save_map(m: folium.Map, path: str | os.PathLike[str], offline: bool = True, *,
             last_use: bool = False) -> Path:
    """Write the map as one HTML file, atomically.

    Parameters
    ----------
    m : folium.Map
        A map from :func:`build_map`.
    path : str or PathLike
        Target ``.html`` file.
    offline : bool, default True
        Write a self-contained page (see :func:`map_html`); ``False`` links CDNs.
    last_use : bool, default False
        ``m`` is not used again (see :func:`map_html`).

    Returns
    -------
    Path
        The written file.
    """
    final = Path(path)
    text = map_html(m, offline=offline, last_use=last_use)
    with atomic_write(final, "w", encoding="utf-8") as fh:
        fh.write(text)
    return final
