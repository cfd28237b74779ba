"""Command-line interface: ``geoplan run``, ``site``, ``standards``, ``fetch``.

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


def _print_paths(paths: dict[str, object], keys: list[str], width: int = 9) -> None:
    """One line per written output (``tables`` stands for its .csv and .xlsx)."""
    for key in (k for k in keys if k in paths):
        p = paths[key]
        shown = f"{p}.csv, {p}.xlsx" if key == "tables" else str(p)
        print(f"  {key:{width}s} {shown}")


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
    _print_ledger(result)
    _print_paths(paths, list(paths))
    return 0


def _print_ledger(result: object) -> None:
    """The ledger's lines when older residents or facility rows were left out."""
    ledger = getattr(result, "ledger", None)
    fac = getattr(result, "facility_ledger", None)
    if ledger is not None and (ledger.excluded or ledger.notes):
        for line in ledger.lines():
            print(line)
    if fac is not None and fac.not_placed:
        print(fac.line())


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
        _print_paths(paths, ["gpkg", "tables", "map", "png", "pdf"], width=7)
    print(f"done in {time.perf_counter() - t0:.1f} s")
    return 0


def _cmd_standards(args: argparse.Namespace) -> int:
    import dataclasses

    from geoplan.analysis.standards import list_profiles, load_profile
    from geoplan.errors import ConfigError
    from geoplan.standards_pipeline import format_table, quick_check, run_standards

    lang = args.lang or "zh"
    if args.list:
        for pid in list_profiles():
            prof = load_profile(pid)
            print(f"{pid}: {prof.name(lang)}")
            for s in prof.standards:
                print(f"  {s.id:38s} {s.name(lang)} [{', '.join(s.levels)}]")
        return 0
    if args.config is None:
        if args.profile is None or args.elderly is None:
            raise ConfigError("give a CONFIG, or --profile and --elderly for a district-level "
                              "check (e.g. --profile shanghai-yangpu-2016 --elderly 431700)")
        table = quick_check(args.profile, args.elderly, beds=args.beds,
                            nursing_beds=args.nursing_beds, floor_area_m2=args.floor_area,
                            committees=args.committees, lang=lang)
        prof = load_profile(args.profile)
        print(f"{prof.name(lang)}: {args.elderly:,.0f} elderly")
        print(format_table(table, lang))
        rest = [s for s in prof.standards if "district" not in s.levels]
        if rest:
            print(("按街道检查（需配置文件）: " if lang == "zh" else
                   "checked per street with a CONFIG: ") + ", ".join(s.id for s in rest))
        return 0
    from geoplan.config import load_config

    cfg = load_config(args.config)
    if cfg.standards is None:
        raise ConfigError(f"{args.config}: no [standards] section; add one, or use --profile "
                          "and --elderly for a district-level check")
    st = cfg.standards
    changes = {k: v for k, v in (("profile", args.profile), ("elderly_total", args.elderly))
               if v is not None}
    if changes:
        st = dataclasses.replace(st, **changes)
    rep = {k: v for k, v in (("beds", args.beds), ("nursing_beds", args.nursing_beds),
                             ("floor_area_m2", args.floor_area)) if v is not None}
    if rep:
        st = dataclasses.replace(st, reported=dataclasses.replace(st.reported, **rep))
    out = dataclasses.replace(cfg.output, lang=args.lang) if args.lang else cfg.output
    cfg = dataclasses.replace(cfg, standards=st, output=out)
    t0 = time.perf_counter()
    res, paths = run_standards(cfg)
    lang = cfg.output.lang
    district = res.table[res.table["unit_level"] == "district"]
    print(f"{res.profile.name(lang)} — {res.units.district_name}: "
          f"{res.units.district_elderly:,.0f} elderly, {len(res.units.streets)} streets")
    print(format_table(district, lang))
    street = res.table[res.table["unit_level"] == "street"]
    if len(street):
        counts = street["check_status"].value_counts()
        print("streets: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    _print_paths(paths, ["gpkg", "tables", "manifest"])
    print(f"done in {time.perf_counter() - t0:.1f} s")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    import dataclasses

    from geoplan.config import load_config
    from geoplan.report_pipeline import report

    cfg = load_config(args.config)
    if args.lang:
        cfg = dataclasses.replace(cfg, output=dataclasses.replace(cfg.output, lang=args.lang))
    t0 = time.perf_counter()
    paths = report(cfg, use_cache=not args.no_cache)
    print(f"report of {cfg.study_area.name}: {len(paths['siting'])} siting scenarios "
          f"({', '.join(paths['siting']) or 'none; run geoplan site first'}), "
          f"standards {'included' if cfg.standards else 'not configured'}; "
          f"{time.perf_counter() - t0:.1f} s")
    _print_paths(paths, ["html", "tables", "gpkg", "manifest"])
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
    sd = sub.add_parser(
        "standards", parents=[common], help="check planning standards per street and district",
        description="Check the supply standards of a plan profile (beds per elderly, floor "
                    "area per 1,000 elderly, one public care home per street ...) per street "
                    "and for the district. With CONFIG: its [standards] section and facility "
                    "tables; without: a district-level requirement table from --profile and "
                    "--elderly.")
    sd.add_argument("config", nargs="?", help="study-area TOML file with [standards]")
    sd.add_argument("--profile", help="profile id (see --list) or a profile TOML file")
    sd.add_argument("--elderly", type=float, help="district elderly, e.g. 431700")
    sd.add_argument("--beds", type=float, help="existing care-home beds (district)")
    sd.add_argument("--nursing-beds", type=float, help="existing nursing beds (district)")
    sd.add_argument("--floor-area", type=float,
                    help="existing community home-care floor area, m² (district)")
    sd.add_argument("--committees", type=float, help="residents' committees (district)")
    sd.add_argument("--list", action="store_true", help="list the built-in profiles")
    sd.add_argument("--lang", choices=("zh", "en"), help="table language")
    sd.set_defaults(func=_cmd_standards)
    rp = sub.add_parser(
        "report", parents=[common], help="write one HTML report and workbook",
        description="Analyse the study area and write one self-contained HTML report "
                    "(summary per study area and street, worst-covered areas, siting results "
                    "of earlier 'geoplan site' runs with coverage curves, standards check, "
                    "embedded map, method and data sources), an XLSX workbook with one sheet "
                    "per table, a GeoPackage and a manifest.")
    rp.add_argument("config", help="study-area TOML file")
    rp.add_argument("--no-cache", action="store_true", help="rebuild the network, ignore cache")
    rp.add_argument("--lang", choices=("zh", "en"), help="report language")
    rp.set_defaults(func=_cmd_report)
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
