"""The siting map: the coverage map plus proposed sites, their catchments and after-coverage.

Proposed sites are numbered badges (rank order) in a colour no facility type uses, with a
popup giving rank, name, candidate source, residents gained and the share covered after
adding it. Areas are shown twice, before and after (switchable layers).
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import folium
import geopandas as gpd
import pandas as pd
import shapely
from branca.element import Element

from geoplan.outputs.labels import column_label, value_label
from geoplan.outputs.webmap import (
    COORD_GRID,
    MAP_DETAIL_LIMIT,
    LightLayer,
    SharedGeometry,
    _add_areas,
    _fmt_number,
    _fmt_share,
    _missing,
    _type_name,
    aggregate_state,
    build_map,
    finish_layers,
    light_geometries,
    light_polygons,
)

PROPOSED_COLOUR = "#6a00a8"
_TXT = {
    "zh": {"sites": "建议新增{t}（{n}处）", "catchment": "新增{t}{m}分钟步行范围",
           "rank": "建议顺序", "origin": "候选点来源", "gain": "新增覆盖老人",
           "after": "累计覆盖率", "persons": "{v}人", "after_layer": "规划后",
           "covered": "覆盖老人（新增前→后）", "share": "覆盖率（新增前→后）",
           "scenario": "方案"},
    "en": {"sites": "Proposed {t} ({n})", "catchment": "Proposed {t}: {m}-min walk",
           "rank": "Rank", "origin": "Candidate source", "gain": "Older residents gained",
           "after": "Share covered after", "persons": "{v}", "after_layer": "after",
           "covered": "Older residents covered (before → after)",
           "share": "Share covered (before → after)", "scenario": "Scenario"},
}


_BADGE = (f"<div style='background:{PROPOSED_COLOUR};color:#fff;border:2px solid #fff;"
          "border-radius:4px;font:bold 12px sans-serif;text-align:center;"
          "line-height:18px;width:22px;height:18px;box-shadow:0 0 3px #000'>{rank}</div>")


def _popup(row: pd.Series, lang: str) -> str:
    """Rank, source, and the elderly covered before and after adding this site."""
    t = _TXT[lang]
    rows = [(t["rank"], str(int(row["rank"]))),
            (t["origin"], str(value_label("origin", row.get("origin"), lang))),
            (t["gain"], t["persons"].format(v=_fmt_number(row.get("marginal"))))]
    cum, gain = row.get("cum_covered"), row.get("marginal")
    if not _missing(cum) and not _missing(gain):
        before = float(cum) - float(gain)
        rows.append((t["covered"], t["persons"].format(
            v=f"{_fmt_number(before)} → {_fmt_number(cum)}")))
        after = row.get("share_after")
        if not _missing(after) and float(cum) > 0:
            rows.append((t["share"], f"{_fmt_share(float(after) * before / float(cum))} → "
                                     f"{_fmt_share(after)}"))
    elif not _missing(row.get("share_after")):
        rows.append((t["after"], _fmt_share(row["share_after"])))
    cells = "".join(f"<tr><th style='text-align:left;padding-right:6px'>{html.escape(k)}</th>"
                    f"<td>{html.escape(v)}</td></tr>" for k, v in rows)
    return f"<b>{html.escape(str(row.get('name', '')))}</b><table>{cells}</table>"


def add_proposed_sites(m: folium.Map, sites: gpd.GeoDataFrame, type_key: str,
                       lang: str, scenario: str | None = None, show: bool = True) -> None:
    """Numbered badges for proposed sites (rank order) in their own layer.

    Parameters
    ----------
    m : folium.Map
        The map.
    sites : geopandas.GeoDataFrame
        Proposed sites (points, any CRS) with ``rank``, ``name``, ``origin``, ``marginal``
        and, when known, ``cum_covered`` and ``share_after`` (shown as before → after).
    type_key : str
        Facility type of the sites.
    lang : {"zh", "en"}
        Labels.
    scenario : str, optional
        Scenario name appended to the layer name (several scenarios on one map).
    show : bool, default True
        Whether the layer is on when the map opens.
    """
    data = sites.to_crs(4326)
    name = _TXT[lang]["sites"].format(t=_type_name(type_key, lang), n=len(data))
    if scenario:
        name += f" · {_TXT[lang]['scenario']} {scenario}"
    fg = folium.FeatureGroup(name=name, show=show)
    if aggregate_state(m) is not None:  # badges built in the browser from arrays
        t = _TXT[lang]
        shared = SharedGeometry(light_geometries(data.geometry.to_numpy(), COORD_GRID))
        fg.add_child(shared)
        gain = [t["persons"].format(v=_fmt_number(v)) for v in data["marginal"]] \
            if "marginal" in data else [""] * len(data)
        after = [_fmt_share(v) if not _missing(v) else "" for v in data["share_after"]] \
            if "share_after" in data else [""] * len(data)
        fg.add_child(LightLayer(
            shared, {}, kind="popup", marker="badge", badge_html=_BADGE.format(rank="{}"),
            head=[html.escape(str(v)) for v in data.get("name", [""] * len(data))],
            rows=[(t["rank"], [str(int(r)) for r in data["rank"]]),
                  (t["origin"], [html.escape(str(value_label("origin", v, lang)))
                                 for v in data.get("origin", [""] * len(data))]),
                  (t["gain"], [html.escape(v) for v in gain]),
                  (t["after"], after)]))
        fg.add_to(m)
        return
    for _, row in data.iterrows():
        pt = row.geometry
        badge = _BADGE.format(rank=int(row["rank"]))
        folium.Marker(location=(round(pt.y, 7), round(pt.x, 7)),
                      icon=folium.DivIcon(html=badge, icon_size=(26, 22), icon_anchor=(13, 11)),
                      popup=folium.Popup(_popup(row, lang), max_width=320),
                      tooltip=html.escape(f"{int(row['rank'])}. {row.get('name', '')}"),
                      ).add_to(fg)
    fg.add_to(m)


def add_catchments(m: folium.Map, polygons: gpd.GeoDataFrame, type_key: str, minutes: float,
                   lang: str) -> None:
    """Dashed outlines of the proposed sites' walking catchments."""
    data = polygons.to_crs(4326)
    data = data[~shapely.is_empty(data.geometry.to_numpy())]
    name = _TXT[lang]["catchment"].format(t=_type_name(type_key, lang), m=f"{minutes:g}")
    fg = folium.FeatureGroup(name=name)
    agg = aggregate_state(m)
    style = {"color": PROPOSED_COLOUR, "weight": 2, "dashArray": "6 4",
             "fillColor": PROPOSED_COLOUR, "fillOpacity": 0.08}
    if len(data) and agg is not None:  # merged into one outline, simplified
        light_polygons(m, fg, [shapely.union_all(data.geometry.to_numpy())], style,
                       agg.tolerance)
    elif len(data):
        folium.GeoJson(
            gpd.GeoDataFrame(geometry=data.geometry.to_numpy(), crs=4326).to_json(drop_id=True),
            style_function=lambda _f: style,
        ).add_to(fg)
    fg.add_to(m)


def build_siting_map(areas: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame,
                     isochrones_by_type: gpd.GeoDataFrame,
                     proposed: Sequence[tuple[str, float, gpd.GeoDataFrame, gpd.GeoDataFrame]],
                     *, lang: str, title: str, boundary: shapely.Geometry | None,
                     types: Sequence[str], basemap: str = "osm",
                     tianditu_key: str | None = None,
                     equity: dict[str, float] | None = None,
                     detail_limit: int | None = MAP_DETAIL_LIMIT) -> folium.Map:
    """Coverage map coloured by the share covered before, with after-layers on top.

    Parameters
    ----------
    areas : GeoDataFrame (WGS84)
        Areas with ``share_before`` and ``share_after`` (or ``<type>_share_*``).
    facilities, isochrones_by_type : GeoDataFrame (WGS84)
        Existing facilities and their merged catchments.
    proposed : sequence of (type, minutes, sites, catchments)
        Per planned type: ranked proposed sites and their catchment polygons.
    lang, title, boundary, types, basemap, tianditu_key
        As for :func:`geoplan.outputs.webmap.build_map`.
    equity : dict, optional
        The scenario's equity figures (``min_area_share_before/after``,
        ``areas_below_floor_before/after``, ``gini_before/after``, ``equity_floor``), shown
        in a box at the bottom left.
    detail_limit : int or None
        As for :func:`geoplan.outputs.webmap.build_map`; an aggregated map also merges the
        proposed sites' catchments per type and draws their badges in the browser.
    """
    multi = len(proposed) > 1
    first = proposed[0][0]
    before = f"{first}_share_before" if multi else "share_before"
    m = build_map(areas, facilities, isochrones_by_type, lang=lang, title=title, score=before,
                  boundary=boundary, types=list(types), basemap=basemap,
                  tianditu_key=tianditu_key, detail_limit=detail_limit)
    for type_key, _, _, _ in proposed:
        col = f"{type_key}_share_after" if multi else "share_after"
        _add_areas(m, areas, col, 15, lang)
    for type_key, minutes, sites, catch in proposed:
        add_catchments(m, catch, type_key, minutes, lang)
        add_proposed_sites(m, sites, type_key, lang)
    if equity:
        _add_equity_box(m, equity, lang)
    return finish_layers(m)


def _add_equity_box(m: folium.Map, eq: dict[str, float], lang: str) -> None:
    """A fixed box with the equity figures before → after (no layer: always visible)."""
    rows = []
    for key in ("min_area_share", "areas_below_floor", "gini"):
        b, a = eq.get(f"{key}_before"), eq.get(f"{key}_after")
        if b is None or a is None or _missing(b) or _missing(a):
            continue
        fmt = (lambda v: f"{v:.3f}") if key == "gini" else _fmt_share
        label = column_label(f"{key}_after", lang).replace(
            "规划后", "").replace(" after", "").replace(", after", "")
        rows.append(f"<tr><td>{html.escape(label)}</td><td>{fmt(b)} → {fmt(a)}</td></tr>")
    if not rows:
        return
    head = "公平性（规划前→后）" if lang == "zh" else "Equity (before → after)"
    m.get_root().html.add_child(Element(
        "<div class='geoplan-equity' style='position:fixed;bottom:30px;left:10px;z-index:900;"
        "background:rgba(255,255,255,0.92);padding:4px 8px;font-size:12px;border-radius:4px'>"
        f"<b>{html.escape(head)}</b><table>{''.join(rows)}</table></div>"),
        name="geoplan_equity")


