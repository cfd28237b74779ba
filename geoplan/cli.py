"""Command-line interface: ``geoplan run``, ``geoplan site``, ``geoplan fetch``.

Thin on purpose: it parses arguments, sets up logging and calls :mod:`geoplan.pipeline`.
Input problems (:class:`~geoplan.errors.GeoplanError`) are printed as one line with a
non-zero exit code and no traceback (``-v`` adds the traceback).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import warnings
from collections.abc import Sequence

from geoplan import __version__
from geoplan.errors import GeoplanError

log = logging.getLogger("geoplan")


def _setup_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity < 0 else logging.DEBUG if verbosity > 0 else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(message)s",
                                           datefmt="%H:%M:%S"))
    root = logging.getLogger("geoplan")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    if verbosity <= 0:
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=UserWarning, module="osmnx")


def _cmd_run(args: argparse.Namespace) -> int:
    from geoplan.config import load_config
    from geoplan.pipeline import output_paths, run

    cfg = load_config(args.config)
    over = {k: v for k, v in (("lang", args.lang), ("basemap", args.basemap),
                              ("offline", args.offline or None), ("embed", args.embed or None),
                              ("static_map", False if args.no_static_map else None))
            if v is not None}
    if over:
        import dataclasses

        cfg = dataclasses.replace(cfg, output=dataclasses.replace(cfg.output, **over))
    t0 = time.perf_counter()
    result = run(cfg, use_cache=not args.no_cache)
    s = result.summary.iloc[0]
    paths = output_paths(cfg)
    print(f"study area {cfg.study_area.name}: {s['elderly_60']:.0f} residents aged 60+ "
          f"({result.shares_source}); {s['circle_share']:.1%} reach every required service "
          f"within {cfg.analysis.circle_minutes:g} min; {len(result.areas)} areas scored in "
          f"{time.perf_counter() - t0:.1f} s")
    for key, p in paths.items():
        shown = f"{p}.csv, {p}.xlsx" if key == "tables" else str(p)
        print(f"  {key:9s} {shown}")
    return 0


def _cmd_fetch(args: argparse.Namespace) -> int:
    from geoplan.config import load_config
    from geoplan.network.prepare import prepare_network
    from geoplan.sources.osm import features

    cfg = load_config(args.config)
    net, cached = prepare_network(cfg)
    feats = features(cfg.network, cfg.output.cache_dir)
    state = "already cached" if cached else "prepared and cached"
    print(f"network {state}: {net.n_nodes} nodes, {net.n_edges} edges, "
          f"{net.report.get('length_km', 0):.1f} km; {len(feats)} buildings/landuse features")
    return 0


def _cmd_site(args: argparse.Namespace) -> int:
    import dataclasses

    from geoplan.config import Candidates, Scenario, load_config, validate_scenario
    from geoplan.pipeline import analyse
    from geoplan.siting_pipeline import site, write_siting_outputs

    cfg = load_config(args.config)
    if args.lang:
        cfg = dataclasses.replace(cfg, output=dataclasses.replace(cfg.output, lang=args.lang))
    overrides = {"model": args.model, "type": args.type, "new": args.new,
                 "target": args.target, "cutoff_min": args.cutoff, "capacity": args.capacity,
                 "method": args.method, "time_limit_s": args.time_limit,
                 "weight": args.weight}
    names = list(args.scenario or [])
    known = {s.name for s in cfg.scenarios}
    if names and names[0] not in known and args.model and (args.type or args.model == "multi"):
        # An ad-hoc scenario from the command line (candidates: uncovered-demand clusters
        # and a 200 m network grid unless the config has a scenario to copy them from).
        base = cfg.scenarios[0].candidates if cfg.scenarios else Candidates(clusters=30,
                                                                             grid_m=200.0)
        sc = Scenario(name=names[0], model=args.model, type=args.type or "",
                      new=args.new or 0, candidates=base)
        sc = dataclasses.replace(sc, **{k: v for k, v in overrides.items() if v is not None})
        validate_scenario(sc)
        cfg = dataclasses.replace(cfg, scenarios=(*cfg.scenarios, sc))
    t0 = time.perf_counter()
    run = analyse(cfg, use_cache=not args.no_cache)
    run.manifest.command = "site"
    outcomes = site(cfg, run, names, overrides)
    written = write_siting_outputs(run, outcomes)
    for oc, paths in zip(outcomes, written, strict=True):
        s = oc.summary
        gap = "n/a" if oc.gap is None else f"{100 * oc.gap:.3f} %"
        print(f"scenario {oc.scenario.name} ({oc.scenario.model}, {s['method']}): "
              f"{s['objective_name']} {oc.objective:,.1f}; status {oc.status}; gap {gap}")
        for o in oc.outcomes:
            r = o.result
            after = r.info.get("covered_total")
            tot = r.info.get("total_weight") or 0
            share = f"; covered {after / tot:.1%} after" if after is not None and tot else ""
            print(f"  {o.type}: {len(r.selected)} new sites within {o.cutoff:g} min{share}")
            for _, row in o.sites.head(10).iterrows():
                print(f"    {int(row['rank']):>2}. {row['cid']:<10} {str(row['name'])[:30]:<30} "
                      f"+{row['marginal']:,.0f}")
        if s.get("mean_min_after") is not None:
            print(f"  mean walk to the nearest {oc.scenario.type}: {s['mean_min_before']:.1f} min "
                  f"before, {s['mean_min_after']:.1f} min after (capped at the penalty time)")
        for w in oc.warnings:
            print(f"  warning: {w}")
        for key in ("gpkg", "tables", "map", "png", "pdf"):
            if key not in paths:
                continue
            p = paths[key]
            shown = f"{p}.csv, {p}.xlsx" if key == "tables" else str(p)
            print(f"  {key:7s} {shown}")
    print(f"done in {time.perf_counter() - t0:.1f} s")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    p = argparse.ArgumentParser(
        prog="geoplan",
        description="Plan the 15-minute elder-care service circle (15分钟养老服务圈): walking "
                    "coverage of elder-care facilities, gaps per residents' committee, "
                    "maps and tables for reports.")
    p.add_argument("--version", action="version", version=f"geoplan {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="count", default=0,
                        help="more detail (debug log, tracebacks on errors)")
    common.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    r = sub.add_parser("run", parents=[common], help="analyse coverage and write all outputs",
                       description="Build the walking network, place facilities, estimate "
                                   "the elderly, compute 5/10/15-minute coverage per area and "
                                   "write the GeoPackage, CSV/XLSX tables, folium map and "
                                   "manifest.")
    r.add_argument("config", help="study-area TOML file (see examples/)")
    r.add_argument("--no-cache", action="store_true", help="rebuild the network, ignore cache")
    r.add_argument("--lang", choices=("zh", "en"), help="table and map language "
                                                         "(overrides output.lang)")
    r.add_argument("--basemap", choices=("osm", "tianditu", "none"),
                   help="web map tiles (overrides output.basemap; tianditu needs "
                        "output.tianditu_key or TIANDITU_KEY)")
    r.add_argument("--offline", action="store_true",
                   help="self-contained HTML map: inline Leaflet and every script/style "
                        "(output.offline)")
    r.add_argument("--embed", action="store_true",
                   help="also write <name>-map-embed.html, an <iframe srcdoc> fragment to "
                        "paste into a report page (output.embed)")
    r.add_argument("--no-static-map", action="store_true",
                   help="skip the PNG/PDF map for print (output.static_map = false)")
    r.set_defaults(func=_cmd_run)
    f = sub.add_parser("fetch", parents=[common],
                       help="download (or read) and cache the network of a study area",
                       description="Prepare and cache the walking network and OSM buildings "
                                   "for a study area (downloads with osmnx for place, polygon "
                                   "or bbox sources), so later runs work offline.")
    f.add_argument("config", help="study-area TOML file")
    f.set_defaults(func=_cmd_fetch)
    st = sub.add_parser(
        "site", parents=[common], help="propose sites for new facilities ([[scenarios]])",
        description="Run the coverage analysis, then solve the siting scenarios of the config "
                    "(MCLP, LSCP, p-median, capacitated, multi-type 1+N) and write proposed "
                    "sites, coverage curve, before/after tables, GeoPackage and map. Options "
                    "override the scenario's settings.")
    st.add_argument("config", help="study-area TOML file with [[scenarios]]")
    st.add_argument("--scenario", action="append", metavar="NAME",
                    help="run only this scenario (repeatable); with --model and --type a new "
                         "ad-hoc scenario of this name")
    st.add_argument("--model", choices=("mclp", "lscp", "pmedian", "cmclp", "multi"))
    st.add_argument("--type", help="facility type key, e.g. canteen, day_care")
    st.add_argument("--new", type=int, help="number of new sites")
    st.add_argument("--target", type=float, help="LSCP coverage target share, e.g. 0.95")
    st.add_argument("--cutoff", type=float, help="catchment in walking minutes")
    st.add_argument("--capacity", type=float, help="places per new site (cmclp)")
    st.add_argument("--method", choices=("auto", "exact", "heuristic"))
    st.add_argument("--time-limit", type=float, help="solver time limit, seconds")
    st.add_argument("--weight", choices=("elderly_60", "elderly_80"),
                    help="demand weight (default elderly_60)")
    st.add_argument("--no-cache", action="store_true", help="rebuild the network, ignore cache")
    st.add_argument("--lang", choices=("zh", "en"), help="table and map language")
    st.set_defaults(func=_cmd_site)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``geoplan`` console script."""
    args = build_parser().parse_args(argv)
    verbosity = -1 if args.quiet else args.verbose
    _setup_logging(verbosity)
    try:
        return int(args.func(args))
    except GeoplanError as exc:
        if verbosity > 0:
            log.exception("failed")
        print(f"geoplan: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("geoplan: interrupted; no output was written", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
