"""``geoplan report``: one HTML report and one workbook for a study area.

Runs the coverage analysis (with accessibility, standards and the gap index when
configured), reads back the siting results that ``geoplan site`` wrote, and writes
``<area>-report.html`` (self-contained: the map is embedded, its scripts inlined unless
``output.offline = false``), ``<area>-report.docx`` (the Word report: numbered sections,
tables, the print map), ``<area>-report.xlsx`` (one sheet per table, Chinese headers by
default, frozen header rows), ``<area>-report.gpkg`` and a manifest, atomically.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from geoplan.config import Config
from geoplan.notes import Note, note_text
from geoplan.outputs.report import (
    SitingSummary,
    read_siting,
    render_report,
    report_sheets,
)

log = logging.getLogger(__name__)

__all__ = ["report", "report_paths"]


def report_paths(cfg: Config) -> dict[str, Path]:
    """Where :func:`report` writes."""
    base = cfg.output.dir / f"{cfg.study_area.name}-report"
    return {"html": base.with_suffix(".html"), "docx": base.with_suffix(".docx"),
            "tables": base, "gpkg": base.with_suffix(".gpkg"),
            "manifest": cfg.output.dir / f"{cfg.study_area.name}-report-manifest.json"}


def add_siting_layers(m: Any, siting: list[SitingSummary], lang: str) -> None:
    """Each scenario's proposed sites on the report's map (numbered, before → after).

    Only the first scenario is switched on when the map opens, so numbered badges of
    different scenarios do not sit on top of each other.
    """
    from geoplan.outputs.sitingmap import add_proposed_sites
    from geoplan.outputs.webmap import finish_layers

    shown = None
    for sc in siting:
        if sc.sites_geo.crs is None or not len(sc.sites_geo) or "type" not in sc.sites_geo:
            continue
        shown = sc.name if shown is None else shown
        for type_key, sites in sc.sites_geo.groupby("type", sort=True):
            add_proposed_sites(m, sites, str(type_key), lang, scenario=sc.name,
                               show=sc.name == shown)
    finish_layers(m)


def print_map_png(result: Any, siting: list[SitingSummary]) -> bytes | None:
    """The print map of the run as PNG (with the first scenario's proposed sites), for
    the Word report; None if it cannot be drawn (the report is still written)."""
    from geoplan.outputs.staticmap import build_static_map, static_map_png

    cfg = result.config
    lang = cfg.output.lang
    proposed = []
    for sc in siting[:1]:
        geo = sc.sites_geo
        if geo.crs is not None and len(geo) and "type" in geo:
            proposed = [(str(k), g) for k, g in geo.groupby("type", sort=True)]
    try:
        fig = build_static_map(result.areas, result.facilities, result.isochrones_by_type,
                               boundary=result.boundary, lang=lang,
                               title=cfg.study_area.title(lang),
                               score=cfg.output.map_score,
                               circle_minutes=cfg.analysis.circle_minutes,
                               types=list(cfg.facility_types), proposed=proposed)
        return static_map_png(fig)
    except (ValueError, KeyError) as exc:  # an odd score column or empty layers
        log.warning("report: the print map for the Word report could not be drawn (%s)", exc)
        return None


def report(cfg: Config, *, use_cache: bool = True) -> dict[str, Any]:
    """Analyse the study area and write the report files; returns their paths."""
    from geoplan.outputs.atomic import StagedOutputs
    from geoplan.outputs.gpkg import write_geopackage
    from geoplan.outputs.report import area_display_names
    from geoplan.outputs.tables import write_area_tables
    from geoplan.outputs.webmap import map_html
    from geoplan.outputs.wordreport import write_word_report
    from geoplan.workflows.coverage import analyse, coverage_map

    result = analyse(cfg, use_cache=use_cache)
    manifest = result.manifest
    manifest.command = "report"
    lang = cfg.output.lang
    circle = cfg.analysis.circle_minutes
    siting_dir = cfg.output.dir / "siting"
    skipped: list[tuple[Path, str]] = []
    siting = read_siting(siting_dir, cfg.study_area.name, skipped)
    # every siting file read (scenario names may differ from the file-safe stems)
    unread = {p.name for p, _ in skipped}
    for sc in sorted(siting_dir.glob(f"{cfg.study_area.name}-site-*.gpkg")):
        if sc.name not in unread:
            manifest.add_input(sc, "siting result")
    notes = list(result.notes) + [Note(f"Siting result {p.name} skipped: {why}.",
                                       f"选址结果{p.name}未纳入：{note_text(why, 'zh')}。")
                                  for p, why in skipped]
    standards = result.standards.table if result.standards is not None else None
    paths = report_paths(cfg)
    areas_wgs = result.areas.to_crs(4326)
    ledger = result.ledger_table()
    with manifest.step("report"):
        m = coverage_map(result, areas_wgs=areas_wgs)
        add_siting_layers(m, siting, lang)
        # the same page as the map file (offline: scripts inlined, so the report stands alone)
        page_map = map_html(m, offline=cfg.output.offline)
        title = cfg.study_area.title(lang)
        inputs = {f"{i['role']}: {Path(i['path']).name}": i["sha256"]
                  for i in manifest.inputs}
        shown = pd.DataFrame(areas_wgs.drop(columns="geometry"))
        shown["display_name"] = area_display_names(areas_wgs, lang)  # unnamed: kind, place
        page = render_report(
            title, lang=lang, circle_minutes=circle, summary=result.summary,
            streets=result.streets, areas=shown,
            siting=siting, standards=standards, map_html=page_map, notes=notes,
            inputs=inputs, generated=str(manifest.started), ledger=ledger)
        map_png = print_map_png(result, siting)
    sheets = report_sheets(result.summary, result.streets,
                           pd.DataFrame(areas_wgs.drop(columns="geometry")), siting, standards,
                           ledger)
    layers: dict[str, Any] = {"areas": areas_wgs, "summary": result.summary,
                              "ledger": ledger,
                              "streets": result.streets if len(result.streets) else None,
                              "standards": standards}
    for sc in siting:
        key = re.sub(r"[^A-Za-z0-9_]", "_", sc.name)  # GeoPackage layer names are ASCII
        layers[f"proposed_sites_{key}"] = sc.sites
        layers[f"coverage_curve_{key}"] = sc.curve if len(sc.curve) else None
    with StagedOutputs({"data": cfg.output.dir}) as staged:
        html_path = staged.path("data", paths["html"].name)
        html_path.write_text(page, encoding="utf-8")
        docx_path = write_word_report(
            staged.path("data", paths["docx"].name), title, lang=lang, circle_minutes=circle,
            summary=result.summary, streets=result.streets, areas=shown, siting=siting,
            standards=standards, map_png=map_png, notes=notes, inputs=inputs,
            generated=str(manifest.started), ledger=ledger)
        write_geopackage(staged.path("data", paths["gpkg"].name), layers)
        tables = write_area_tables(staged, ("data", paths["tables"].name), sheets, lang=lang,
                                   circle_minutes=circle, notes=notes)
        manifest.add_output(html_path, final=paths["html"])
        manifest.add_output(docx_path, final=paths["docx"])
        manifest.add_output(staged.path("data", paths["gpkg"].name), final=paths["gpkg"])
        for kind in ("csv", "xlsx"):
            manifest.add_output(tables[kind], final=paths["tables"].with_suffix(f".{kind}"))
        manifest.finish()
        manifest.write(staged.path("data", paths["manifest"].name))
    log.info("report: %d siting scenarios, standards %s", len(siting),
             "included" if standards is not None else "not configured")
    return {**paths, "siting": [s.name for s in siting],
            "areas": gpd.GeoDataFrame(areas_wgs)}
