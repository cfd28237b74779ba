"""Extra choropleth layers on the coverage map: accessibility scores and the gap index.

Class breaks come from :mod:`mapclassify` (quantiles by default; natural breaks on request),
so a skewed score such as 2SFCA places per 1,000 elderly still spreads over the colours.
Each layer is an overlay in the layer control with its own legend and a tooltip that shows
the value and, for the gap index, every component, so a planner can explain a rank. On an
aggregated map (:func:`geoplan.outputs.webmap.build_map` above its detail limit) every
overlay colours the map's one shared, simplified copy of the area outlines.
"""

from __future__ import annotations

import html
import warnings
from collections.abc import Sequence

import branca.colormap as cm
import folium
import geopandas as gpd
import numpy as np
import pandas as pd
from branca.element import MacroElement
from jinja2 import Template

from geoplan.outputs.classbreaks import mapclassify
from geoplan.outputs.labels import column_label, is_share_column
from geoplan.outputs.labels import high_is_bad as _high_is_bad
from geoplan.outputs.webmap import LegendColormap, LightLayer, aggregate_state

__all__ = ["add_choropleth", "class_breaks"]

#: ColorBrewer YlOrRd (5 classes): low → high.
YLORRD = ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026")
#: ColorBrewer YlGnBu (5 classes): low → high.
YLGNBU = ("#ffffcc", "#a1dab4", "#41b6c4", "#2c7fb8", "#253494")
NO_DATA = "#cccccc"


class _LegendToggle(MacroElement):
    """Show a layer's legend only while the layer is on.

    branca draws every colormap's legend into the first legend box on the map, so the
    legend's own ``<svg>`` is hidden or shown (not the Leaflet control), on the map's
    ``overlayadd`` / ``overlayremove`` events and once at load.
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            var layer = {{ this.layer.get_name() }};
            var legend = {{ this.colormap.get_name() }}.svg;
            function sync() { legend.style("display", map.hasLayer(layer) ? null : "none"); }
            map.on("overlayadd overlayremove", sync);
            sync();
        })();
        {% endmacro %}
    """)

    def __init__(self, layer: folium.FeatureGroup, colormap: cm.ColorMap) -> None:
        super().__init__()
        self._name = "LegendToggle"
        self.layer = layer
        self.colormap = colormap


def class_breaks(values: np.ndarray, k: int = 5, scheme: str = "quantiles") -> np.ndarray:
    """Upper bounds of up to ``k`` classes of the finite ``values`` (mapclassify).

    Fewer classes are returned when there are fewer distinct values.
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return np.array([])
    k = int(min(k, np.unique(v).size))
    if k < 2:
        return np.array([float(v.max())])
    if scheme not in ("natural_breaks", "quantiles"):
        raise ValueError(f"unknown classification scheme '{scheme}'")
    with warnings.catch_warnings():  # many ties (e.g. zeros): mapclassify lowers k itself
        warnings.simplefilter("ignore", UserWarning)
        if scheme == "natural_breaks":
            # Jenks' optimal breaks, as the print map (staticmap.classify): exact and
            # reproducible, unlike k-means based NaturalBreaks (random starts)
            c = mapclassify().FisherJenks(v, k=k)
        else:
            c = mapclassify().Quantiles(v, k=k)
    return np.unique(np.asarray(c.bins, dtype=np.float64))


def _fmt(v: float, share: bool) -> str:
    if not np.isfinite(v):
        return "–"
    return f"{100 * v:.1f}%" if share else f"{v:,.2f}" if abs(v) < 100 else f"{v:,.0f}"


def add_choropleth(m: folium.Map, areas: gpd.GeoDataFrame, column: str, *, lang: str = "zh",
                   circle_minutes: float = 15, k: int = 5, scheme: str = "quantiles",
                   high_is_bad: bool | None = None, show: bool = False,
                   extra: Sequence[str] = ()) -> None:
    """Add an overlay colouring ``areas`` by ``column`` with a legend.

    Parameters
    ----------
    m : folium.Map
        The map.
    areas : geopandas.GeoDataFrame
        Areas (any CRS) with ``column`` and ``name``.
    column : str
        The score; NaN is drawn grey ("no data").
    lang : {"zh", "en"}
        Labels.
    circle_minutes : float
        For column labels.
    k, scheme : int, str
        Number of classes and mapclassify scheme (``quantiles`` or ``natural_breaks``).
    high_is_bad : bool, optional
        Colour high values red (gap index) rather than blue (accessibility); by default
        from the column (:func:`geoplan.outputs.labels.high_is_bad`).
    show : bool
        Whether the layer is on when the map opens.
    extra : sequence of str
        Further columns shown in the tooltip (e.g. the gap components).
    """
    label = column_label(column, lang, circle_minutes)
    if areas is None or len(areas) == 0 or column not in areas:
        folium.FeatureGroup(name=label + ("（无数据）" if lang == "zh" else " (no data)"),
                            show=show).add_to(m)
        return
    data = areas.to_crs(4326)
    data = data[data.geometry.notna() & ~data.geometry.is_empty]
    vals = data[column].to_numpy(np.float64)
    breaks = class_breaks(vals, k, scheme)
    bad_high = _high_is_bad(column) if high_is_bad is None else high_is_bad
    colours = YLORRD if bad_high else YLGNBU
    palette = list(colours[-len(breaks):]) if len(breaks) else [colours[-1]]
    cls = np.searchsorted(breaks, vals, side="left").clip(0, max(len(breaks) - 1, 0))
    fill = np.where(np.isfinite(vals), np.asarray(palette, dtype=object)[cls], NO_DATA)
    share = is_share_column(column)
    props = pd.DataFrame({"f_name": data["name"].fillna("").astype(str).to_numpy()
                          if "name" in data else "",
                          "f_value": [_fmt(v, share) for v in vals], "_fill": fill})
    fields, aliases = ["f_name", "f_value"], ["名称" if lang == "zh" else "Name", label]
    for i, col in enumerate(c for c in extra if c in data):
        x = data[col]
        props[f"f_x{i}"] = ([_fmt(v, is_share_column(col)) for v in x.to_numpy(np.float64)]
                            if pd.api.types.is_numeric_dtype(x) else x.astype(str).to_numpy())
        fields.append(f"f_x{i}")
        aliases.append(column_label(col, lang, circle_minutes))
    fg = folium.FeatureGroup(name=label, show=show)
    agg = aggregate_state(m)
    if agg is not None:  # shared simplified outlines, this layer adds only its values
        palette_all = [*palette, NO_DATA]
        fg.add_child(LightLayer(
            agg.area_geometry(m, data), {"color": "#555555", "weight": 0.5,
                                         "fillOpacity": 0.7},
            palette=palette_all,
            classes=np.where(np.isfinite(vals), cls, len(palette_all) - 1),
            head=[html.escape(v) for v in props["f_name"]],
            rows=[(alias, [html.escape(str(v)) for v in props[f]])
                  for f, alias in zip(fields[1:], aliases[1:], strict=True)],
            highlight=True))
    else:
        gj = gpd.GeoDataFrame(props, geometry=data.geometry.values, crs=4326)
        folium.GeoJson(
            gj.to_json(drop_id=True), control=False,
            style_function=lambda f: {"fillColor": f["properties"]["_fill"],
                                      "color": "#555555", "weight": 0.5, "fillOpacity": 0.7},
            highlight_function=lambda _f: {"weight": 2.5, "color": "#000000"},
            tooltip=folium.GeoJsonTooltip(fields=fields, aliases=aliases, sticky=True),
        ).add_to(fg)
    fg.add_to(m)
    if len(breaks):
        finite = vals[np.isfinite(vals)]
        scale = 100.0 if share else 1.0
        lo = float(min(finite.min(), breaks[0])) * scale
        index = [lo, *(float(b) * scale for b in breaks)]
        if index[-1] <= index[0]:
            index[-1] = index[0] + 1e-9
        cmap = LegendColormap(palette, index=index, caption=label + (" (%)" if share else ""))
        cmap.add_to(m)
        _LegendToggle(fg, cmap).add_to(m)
