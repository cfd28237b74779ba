"""Command-line interface: ``geoplan run``, ``site``, ``standards``, ``fetch``, ``batch``, ``init``.

Thin on purpose: it parses arguments, sets up logging and calls :mod:`geoplan.workflows.coverage`.
Input problems (:class:`~geoplan.errors.GeoplanError`) and file-system problems (an
unreadable input, an output folder that is a file or not writable, a full disk: any
:class:`OSError`) are printed as one line naming the path and what to do, with a non-zero
exit code and no traceback (``-v`` adds the traceback). SIGINT, SIGTERM and SIGHUP end a
run with exit code 130 / 143 / 129 and nothing published (see :mod:`geoplan.interrupts`).
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import signal
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from geoplan import __version__, interrupts, progress
from geoplan.configbase import SITING_MODELS, Range
from geoplan.errors import GeoplanError

log = logging.getLogger("geoplan")

if TYPE_CHECKING:
    from geoplan.config import Config


class _UsageError(GeoplanError):
    """A bad command line (unknown option, a value out of range ...)."""


class _Parser(argparse.ArgumentParser):
    """Argument errors as one line (``geoplan: error: ...``) with exit code 2, no usage dump."""

    def error(self, message: str) -> NoReturn:
        raise _UsageError(f"{self.prog}: {message} (see '{self.prog} --help')")


def _number(rng: Range | tuple[str, str], integer: bool = False) -> Callable[[str], float]:
    """An argparse ``type`` that parses a finite number within ``rng``.

    ``rng`` is a :class:`~geoplan.config.Range` or the (dataclass, field) key of the config
    setting the option overrides, so an option and its setting share one range (looked up
    when a value is parsed: the config models are not imported for ``--help``).
    """

    def parse(text: str) -> float:
        if isinstance(rng, Range):
            r = rng
        else:
            from geoplan.config import NUMERIC_RANGES

            r = NUMERIC_RANGES[rng]
        advice = f"; {r.advice}" if r.advice else ""
        try:
            value = int(text) if integer else float(text)
        except ValueError:
            kind = "a whole number" if integer else "a number"
            raise argparse.ArgumentTypeError(f"'{text}' is not {kind}: give a value in "
                                             f"{r.text()}{advice}") from None
        why = r.problem(float(value))
        if why is not None:
            raise argparse.ArgumentTypeError(f"{text} {why}: give a value in {r.text()}"
                                             f"{advice}")
        return value

    parse.__name__ = "whole number" if integer else "number"  # argparse names it in errors
    return parse


#: Output folders of the current command (set by :func:`_check_outputs`), so that an
#: OSError on a path inside them is reported as a write problem, elsewhere as a read one.
_OUTPUT_FOLDERS: list[tuple[str, Path]] = []


def _check_outputs(cfg: Any, *, data: bool = True, maps: bool = False,
                   cache: bool = True) -> None:
    """Check the output folders a command will write before any work starts.

    Staging folders and temporary files left there by runs that were killed (their
    process no longer runs) are removed now.
    """
    from geoplan.outputs.atomic import check_output_folder, remove_stale_staging

    folders = [("output.dir", cfg.output.dir, data), ("output.maps_dir", cfg.output.maps_dir,
                                                      maps),
               ("output.cache_dir", cfg.output.cache_dir, cache)]
    _OUTPUT_FOLDERS[:] = [(name, Path(p)) for name, p, _ in folders]
    for name, path, used in folders:
        if used:
            check_output_folder(path, name)
    for name, path, used in folders:
        if used:
            for folder in (path, path / "siting") if name == "output.dir" else (path,):
                remove_stale_staging(folder)


def _inside(path: Path, folder: Path) -> bool:
    try:
        return path.resolve().is_relative_to(folder.resolve())
    except (OSError, RuntimeError, ValueError):
        return False


def describe_os_error(exc: OSError) -> str:
    """One line for a file-system error: the path, what went wrong, what to do.

    Parameters
    ----------
    exc : OSError
        The error (its ``filename`` names the path when the OS reported one).

    Returns
    -------
    str
        E.g. ``"cannot read data/fac.csv: permission denied; check the file's
        permissions, or copy it to a folder you can read"``.
    """
    from geoplan.outputs.atomic import shown_path

    raw = exc.filename if exc.filename is not None else exc.filename2
    path = shown_path(os.fsdecode(raw)) if isinstance(raw, str | bytes | os.PathLike) else None
    shown = str(path) if path is not None else "a file"
    # inside an output folder, or one of its parents that had to be created
    setting = next((name for name, folder in _OUTPUT_FOLDERS
                    if path is not None and (_inside(path, folder) or _inside(folder, path))),
                   None)
    where = (f"choose another output folder ({setting})" if setting
             else "choose another output folder (output.dir, output.maps_dir, "
                  "output.cache_dir)")
    code = exc.errno
    reason = (exc.strerror or str(exc)).rstrip(".").lower()
    if code in (errno.ENOSPC, errno.EDQUOT):
        return (f"the disk is full (writing {shown}); free disk space or {where}; "
                "nothing was published")
    if code == errno.EFBIG:
        return (f"file too large (writing {shown}): the disk or a file-size limit is "
                f"exhausted; free disk space, raise the limit or {where}")
    if code == errno.EROFS:
        return f"{shown} is on a read-only file system; {where}"
    if code in (errno.EACCES, errno.EPERM):
        if setting:
            return (f"cannot write {shown}: permission denied; make the folder writable "
                    f"for you or {where}")
        return (f"cannot read {shown}: permission denied; check the file's permissions "
                "(e.g. chmod a+r), or copy it to a folder you can read")
    if code == errno.ENOTDIR:
        return (f"{shown}: part of this path is a file, not a folder; rename or remove that "
                f"file, or {where}")
    if code == errno.EEXIST:
        return f"{shown} exists as a file where a folder is needed; rename or remove it, or {where}"
    if code == errno.EISDIR:
        return (f"{shown} is a folder where a file is expected; rename or remove the folder"
                + (f", or {where}" if setting else ", or give the path of a file"))
    if code == errno.ENOENT:
        return f"{shown} does not exist; check the path"
    if code == errno.EIO:
        return f"input/output error on {shown}; check the disk (or network drive) it is on"
    return f"{shown}: {reason}; check the path, its permissions and the free disk space"


def _setup_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity < 0 else logging.DEBUG if verbosity > 0 else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(message)s",
                                           datefmt="%H:%M:%S"))
    root = logging.getLogger("geoplan")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    if verbosity < 0:
        progress.disable()
    if verbosity <= 0:
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=UserWarning, module="osmnx")


def _print_paths(paths: dict[str, object], keys: list[str], width: int = 9) -> None:
    """One line per written output (``tables`` stands for its .csv and .xlsx)."""
    for key in (k for k in keys if k in paths):
        p = paths[key]
        shown = f"{p}.csv, {p}.xlsx" if key == "tables" else str(p)
        print(f"  {key:{width}s} {shown}")


def _offline(args: argparse.Namespace) -> bool | None:
    """``output.offline`` from ``--offline`` / ``--cdn`` (None: keep the config's)."""
    return True if getattr(args, "offline", False) else False if args.cdn else None


def _with_assets(cfg: Config, args: argparse.Namespace) -> Config:
    """The config with ``--cdn`` applied (maps link public CDNs instead of inlining)."""
    from geoplan.config import replace

    if _offline(args) is None:
        return cfg
    return replace(cfg, output=replace(cfg.output, "output", offline=_offline(args)))


def _cmd_run(args: argparse.Namespace) -> int:
    from geoplan.config import load_config
    from geoplan.workflows.coverage import output_paths, run

    cfg = load_config(args.config)
    _check_outputs(cfg, maps=True, cache=not args.no_cache)
    over = {k: v for k, v in (("lang", args.lang), ("basemap", args.basemap),
                              ("offline", _offline(args)), ("embed", args.embed or None),
                              ("static_map", False if args.no_static_map else None))
            if v is not None}
    if over:
        from geoplan.config import replace

        cfg = replace(cfg, output=replace(cfg.output, "output", **over))
    t0 = time.perf_counter()
    result = run(cfg, use_cache=not args.no_cache)
    s = result.summary.iloc[0]
    paths = output_paths(cfg)
    print(f"study area {cfg.study_area.name}: {s['elderly_60']:.0f} residents aged 60+ "
          f"({result.shares_source}); {s['circle_share']:.1%} reach every required service "
          f"within {cfg.analysis.circle_minutes:g} min; {result.ledger.scored_areas} areas "
          f"with older residents scored ({len(result.areas)} in the area table) in "
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
    _check_outputs(cfg, data=False)
    net, cached = prepare_network(cfg)
    feats = features(cfg.network, cfg.output.cache_dir)
    state = "already cached" if cached else "prepared and cached"
    print(f"network {state}: {net.n_nodes} nodes, {net.n_edges} edges, "
          f"{net.report.get('length_km', 0):.1f} km; {len(feats)} buildings/landuse features")
    return 0


def _cmd_site(args: argparse.Namespace) -> int:
    from geoplan.config import Candidates, Scenario, load_config, replace, validate_scenario
    from geoplan.workflows.coverage import analyse
    from geoplan.workflows.siting import site, write_siting_outputs

    cfg = load_config(args.config)
    _check_outputs(cfg, maps=True, cache=not args.no_cache)
    if args.lang:
        cfg = replace(cfg, output=replace(cfg.output, "output", lang=args.lang))
    cfg = _with_assets(cfg, args)
    overrides = {"model": args.model, "type": args.type, "new": args.new,
                 "target": args.target, "cutoff_min": args.cutoff, "capacity": args.capacity,
                 "method": args.method, "time_limit_s": args.time_limit,
                 "weight": args.weight, "floor": args.floor,
                 "equity_weight": args.equity_weight}
    names = list(args.scenario or [])
    known = {s.name for s in cfg.scenarios}
    if names and names[0] not in known and args.model and (args.type or args.model == "multi"):
        # An ad-hoc scenario from the command line (candidates: uncovered-demand clusters
        # and a 200 m network grid unless the config has a scenario to copy them from).
        base = cfg.scenarios[0].candidates if cfg.scenarios else Candidates(clusters=30,
                                                                             grid_m=200.0)
        sc = Scenario(name=names[0], model=args.model, type=args.type or "",
                      new=args.new or 0, candidates=base)
        sc = sc.model_copy(update={k: v for k, v in overrides.items() if v is not None})
        validate_scenario(sc)
        cfg = replace(cfg, scenarios=(*cfg.scenarios, sc))
    _check_scenarios(cfg, names, overrides)  # before the network build, not after it
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


def _check_scenarios(cfg: Config, names: list[str], overrides: dict[str, object]) -> None:
    """Check scenario names and command-line overrides before any work starts."""
    from geoplan.errors import ConfigError
    from geoplan.workflows.siting import apply_overrides

    scenarios = list(cfg.scenarios)
    known = {s.name: s for s in scenarios}
    missing = [n for n in names if n not in known]
    if missing:
        hint = (" (or add --model and --type for a new ad-hoc scenario of that name)"
                if len(missing) == 1 else "")
        raise ConfigError(f"--scenario {missing[0]}: no scenario of that name in "
                          f"{cfg.source_file}; scenarios: "
                          f"{', '.join(known) or '(none)'}{hint}")
    for sc in [known[n] for n in names] if names else scenarios:
        apply_overrides(sc, **overrides)


def _cmd_standards(args: argparse.Namespace) -> int:
    from geoplan.analysis.standards import list_profiles, load_profile
    from geoplan.errors import ConfigError
    from geoplan.workflows.standards import format_table, quick_check, run_standards

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
    from geoplan.config import load_config, replace

    cfg = load_config(args.config)
    if cfg.standards is None:
        raise ConfigError(f"{args.config}: no [standards] section; add one, or use --profile "
                          "and --elderly for a district-level check")
    _check_outputs(cfg, cache=False)
    st = cfg.standards
    changes = {k: v for k, v in (("profile", args.profile), ("elderly_total", args.elderly))
               if v is not None}
    if changes:
        st = replace(st, "standards", **changes)
    rep = {k: v for k, v in (("beds", args.beds), ("nursing_beds", args.nursing_beds),
                             ("floor_area_m2", args.floor_area)) if v is not None}
    if rep:
        st = replace(st, reported=replace(st.reported, "standards.reported", **rep))
    out = replace(cfg.output, "output", lang=args.lang) if args.lang else cfg.output
    cfg = replace(cfg, standards=st, output=out)
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
    from geoplan.config import load_config, replace
    from geoplan.workflows.report import report

    cfg = load_config(args.config)
    _check_outputs(cfg, cache=not args.no_cache)
    if args.lang:
        cfg = replace(cfg, output=replace(cfg.output, "output", lang=args.lang))
    cfg = _with_assets(cfg, args)
    t0 = time.perf_counter()
    paths = report(cfg, use_cache=not args.no_cache)
    print(f"report of {cfg.study_area.name}: {len(paths['siting'])} siting scenarios "
          f"({', '.join(paths['siting']) or 'none; run geoplan site first'}), "
          f"standards {'included' if cfg.standards else 'not configured'}; "
          f"{time.perf_counter() - t0:.1f} s")
    _print_paths(paths, ["html", "docx", "tables", "gpkg", "manifest"])
    return 0


def _cmd_config(args: argparse.Namespace) -> int:
    from geoplan.errors import ConfigError

    if args.schema or args.reference:
        if args.config is not None:
            raise ConfigError("give either a CONFIG to check or --schema / --reference")
        if args.schema:
            import json

            from geoplan.config import config_schema

            text = json.dumps(config_schema(), ensure_ascii=False, indent=2) + "\n"
        else:
            from geoplan.configdocs import reference_markdown

            text = reference_markdown()
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except BrokenPipeError:  # e.g. `geoplan config --schema | head`: not an error
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    if args.config is None:
        raise ConfigError("give a CONFIG to check, or --schema (JSON Schema for TOML editors) "
                          "or --reference (the config reference)")
    from geoplan.config import load_config

    cfg = load_config(args.config)
    from geoplan.workflows.mapscore import check_map_score

    check_map_score(cfg)
    print(f"{args.config}: valid; study area {cfg.study_area.name}, "
          f"{len(cfg.facilities)} facility layers ({', '.join(cfg.facility_types)}), "
          f"{len(cfg.scenarios)} siting scenarios, standards "
          f"{'configured' if cfg.standards else 'not configured'}; data under {cfg.data_root}")
    return 0


def _cmd_batch(args: argparse.Namespace) -> int:
    from geoplan.batch import area_tasks, config_tasks, run_batch
    from geoplan.config import load_config

    configs = [Path(c) for c in args.config]
    first = load_config(configs[0])
    sa = first.study_area
    by_area = (len(configs) == 1 and sa.boundary is not None and sa.boundary_code is None
               and sa.boundary_name is None)
    out = Path(args.out) if args.out else (first.output.dir if by_area
                                           else Path("data/processed/batch"))
    from geoplan.outputs.atomic import check_output_folder

    check_output_folder(out, "--out")
    _OUTPUT_FOLDERS[:] = [("--out", out)]
    if by_area:
        tasks, polys = area_tasks(configs[0], out)
    else:
        tasks, polys = config_tasks(configs), None
    scheduler = args.scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS") or None
    t0 = time.perf_counter()
    res = run_batch(tasks, out, polygons=polys, workers=args.workers, scheduler=scheduler,
                    force=args.force, lang=args.lang or first.output.lang,
                    title=sa.name if by_area else "batch", progress=print)
    counts = res.rows["status"].value_counts()
    print(f"batch of {len(tasks)} areas: " + ", ".join(f"{v} {k}" for k, v in counts.items())
          + f"; {time.perf_counter() - t0:.1f} s")
    _print_paths({k: v for k, v in res.paths.items()}, list(res.paths), width=5)
    return 0 if len(res.failed) == 0 else 1


def _cmd_init(args: argparse.Namespace) -> int:
    from geoplan.workflows.init import InitRequest, parse_facility_arg, write_init

    req = InitRequest(
        out=Path(args.out), name=args.name, osm=[Path(p) for p in args.osm or []],
        facilities=[parse_facility_arg(f) for f in args.facilities or []],
        study_id=args.id, boundary=Path(args.boundary) if args.boundary else None,
        boundary_code=args.boundary_code, boundary_name=args.boundary_name,
        osm_name=args.osm_name, osm_admin_level=int(args.osm_admin_level),
        osm_relation=args.osm_relation, areas=Path(args.areas) if args.areas else None,
        census=Path(args.census) if args.census else None, district_code=args.district_code,
        lon_column=args.lon_column, lat_column=args.lat_column, crs=args.crs)
    res = write_init(req, force=args.force)
    for g in res.facilities:
        where = "geometry" if g.is_gis else f"x = {g.x}, y = {g.y}"
        what = g.type or f"categories of '{g.category_column}'"
        print(f"{g.path.name}: {where}, crs = {g.crs}"
              f"{'' if g.crs_source else ' (CHECK)'}, type {what}, {g.rows} rows")
    for note in res.notes:
        print(f"check: {note}")
    print(f"wrote {args.out}: check it, then run: geoplan run {args.out}")
    return 0


#: Residents' committees of a district (``geoplan standards --committees``; no config key).
COMMITTEES = Range(0, 1e5, advice="the number of residents' committees in the district")


_CDN_HELP = ("link Leaflet and the other map scripts from public CDNs instead of inlining "
             "them (smaller files; blank maps where the CDNs are blocked; output.offline = "
             "false)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    p = _Parser(
        prog="geoplan",
        description="Plan the 15-minute elder-care service circle (15分钟养老服务圈): walking "
                    "coverage of elder-care facilities, gaps per residents' committee, "
                    "maps and tables for reports.")
    p.add_argument("--version", action="version", version=f"geoplan {__version__}")
    common = _Parser(add_help=False)
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
    assets = r.add_mutually_exclusive_group()
    assets.add_argument("--offline", action="store_true",
                        help="self-contained HTML map, the default: Leaflet and every "
                             "script/style inlined (overrides output.offline = false)")
    assets.add_argument("--cdn", action="store_true", help=_CDN_HELP)
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
    st.add_argument("--model", choices=SITING_MODELS)
    st.add_argument("--type", help="facility type key, e.g. canteen, day_care")
    st.add_argument("--new", type=_number(("Scenario", "new"), integer=True),
                    help="number of new sites")
    st.add_argument("--target", type=_number(("Scenario", "target")),
                    help="LSCP coverage target share, e.g. 0.95")
    st.add_argument("--floor", type=_number(("Scenario", "floor")),
                    help="share every area must reach (model floors), e.g. 0.6")
    st.add_argument("--equity-weight", type=_number(("Scenario", "equity_weight")),
                    help="weight of the areas' covered shares (model wmclp; 0 = MCLP)")
    st.add_argument("--cutoff", type=_number(("Scenario", "cutoff_min")),
                    help="catchment in walking minutes")
    st.add_argument("--capacity", type=_number(("Scenario", "capacity")),
                    help="places per new site (cmclp)")
    st.add_argument("--method", choices=("auto", "exact", "heuristic"))
    st.add_argument("--time-limit", type=_number(("Scenario", "time_limit_s")),
                    help="solver time limit, seconds")
    st.add_argument("--weight", choices=("elderly_60", "elderly_80"),
                    help="demand weight (default elderly_60)")
    st.add_argument("--no-cache", action="store_true", help="rebuild the network, ignore cache")
    st.add_argument("--lang", choices=("zh", "en"), help="table and map language")
    st.add_argument("--cdn", action="store_true", help=_CDN_HELP)
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
    sd.add_argument("--elderly", type=_number(("Standards", "elderly_total")),
                    help="district elderly, e.g. 431700")
    sd.add_argument("--beds", type=_number(("ReportedStock", "beds")),
                    help="existing care-home beds (district)")
    sd.add_argument("--nursing-beds", type=_number(("ReportedStock", "nursing_beds")),
                    help="existing nursing beds (district)")
    sd.add_argument("--floor-area", type=_number(("ReportedStock", "floor_area_m2")),
                    help="existing community home-care floor area, m² (district)")
    sd.add_argument("--committees", type=_number(COMMITTEES),
                    help="residents' committees (district)")
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
    rp.add_argument("--cdn", action="store_true", help=_CDN_HELP)
    rp.set_defaults(func=_cmd_report)
    b = sub.add_parser(
        "batch", parents=[common], help="run many study areas on Dask (a city's districts)",
        description="Run 'geoplan run' for many study areas as Dask tasks: one per polygon "
                    "of the config's study_area.boundary file (when it sets no boundary_code "
                    "or boundary_name), or one per CONFIG given. Writes each area's outputs "
                    "under OUT/areas/<code>/ and a city summary (CSV, XLSX, map, merged "
                    "GeoPackage) into OUT. A rerun skips unchanged areas; one area's failure "
                    "does not stop the others (exit code 1 when any failed).")
    b.add_argument("config", nargs="+", help="base study-area TOML file, or several configs")
    b.add_argument("--out", help="batch output folder (default: output.dir of the base config; "
                                 "data/processed/batch for a list of configs)")
    b.add_argument("--workers", type=_number(Range(1, 1024), integer=True), default=2,
                   help="worker processes of the embedded Dask cluster (default 2)")
    b.add_argument("--scheduler", help="address of a running Dask scheduler, e.g. "
                                       "tcp://host:8786 (default: DASK_SCHEDULER_ADDRESS)")
    b.add_argument("--force", action="store_true", help="rerun unchanged areas too")
    b.add_argument("--lang", choices=("zh", "en"), help="summary language")
    b.set_defaults(func=_cmd_batch)
    ini = sub.add_parser(
        "init", parents=[common], help="write a commented config for a new district",
        description="Write a commented config TOML for a new district from its boundary (a "
                    "polygon file, or an OSM boundary relation by name or id), OSM extract and "
                    "facility tables. Each facility table is read and its columns recognised: "
                    "longitude/latitude (经度/纬度, lng/lat, lon_gcj02, bd09_lng ...), the datum "
                    "their names or the file name hint at (gcj02/amap/高德, bd09/baidu/百度, "
                    "wgs84/gps), name, address, street, capacity and the facility type (file "
                    "name or category column). The file is validated before it is written; "
                    "lines marked CHECK need a look.",
        epilog="example: geoplan init yangpu.toml --name 杨浦区 --boundary "
               "admin/yangpu_boundary_gcj02.geojson --osm yangpu.osm.pbf --facilities "
               "canteens_gcj02.csv --facilities homes.xlsx:care_home")
    ini.add_argument("out", metavar="OUT.toml", help="config file to write")
    ini.add_argument("--name", required=True,
                     help="district name for titles, e.g. 杨浦区")
    ini.add_argument("--id", help="study_area.name (letters, digits, -, _; names the output "
                                  "folder; default: from --name or OUT)")
    where = ini.add_mutually_exclusive_group()
    where.add_argument("--boundary", metavar="FILE",
                       help="study-area polygon file (GeoJSON, GeoPackage, Shapefile)")
    where.add_argument("--osm-name", metavar="NAME",
                       help="boundary relation of this name in the OSM extract, e.g. 杨浦区")
    where.add_argument("--osm-relation", metavar="ID", type=_number(Range(1, 1e12),
                                                                     integer=True),
                       help="boundary relation id in the OSM extract")
    ini.add_argument("--boundary-code", metavar="X",
                     help="polygon of --boundary with this code (e.g. adcode 310110)")
    ini.add_argument("--boundary-name", metavar="NAME", help="polygon of --boundary by name")
    ini.add_argument("--osm-admin-level", type=_number(Range(1, 12), integer=True), default=6,
                     help="admin_level of --osm-name (6: district/county, the default)")
    ini.add_argument("--osm", action="append", metavar="FILE", required=True,
                     help="OSM extract (.osm.pbf, .osm); repeatable")
    ini.add_argument("--facilities", action="append", metavar="FILE[:TYPE]", required=True,
                     help="facility table (CSV, XLSX or GIS points); repeatable; :TYPE "
                          "(e.g. :canteen) when its name does not tell")
    ini.add_argument("--areas", metavar="FILE",
                     help="committee (居委会) polygons with codes and elderly counts")
    ini.add_argument("--census", metavar="FILE", help="census table (with --district-code)")
    ini.add_argument("--district-code", metavar="CODE",
                     help="6-digit division code (default: a 6-digit --boundary-code)")
    ini.add_argument("--lon-column", metavar="NAME",
                     help="longitude column, for files whose columns are not recognised")
    ini.add_argument("--lat-column", metavar="NAME", help="latitude column, likewise")
    ini.add_argument("--crs", help="datum of the facility coordinates (wgs84, gcj02, bd09 or "
                                   "EPSG:nnnn) when their names do not say")
    ini.add_argument("--force", action="store_true", help="overwrite OUT")
    ini.set_defaults(func=_cmd_init)
    c = sub.add_parser(
        "config", parents=[common], help="check a config, or print its JSON Schema or reference",
        description="Check a study-area config (one line per problem, as 'geoplan run' "
                    "would stop), or print the JSON Schema of config files (for TOML editors: "
                    "completion, descriptions, ranges) or the config reference "
                    "(docs/config.md).")
    c.add_argument("config", nargs="?", help="study-area TOML file to check")
    shown = c.add_mutually_exclusive_group()
    shown.add_argument("--schema", action="store_true",
                       help="print the JSON Schema of config files to stdout")
    shown.add_argument("--reference", action="store_true",
                       help="print the config reference (Markdown) to stdout")
    c.set_defaults(func=_cmd_config)
    return p


def _interrupted(signum: int) -> int:
    name = signal.Signals(signum).name
    done = ("outputs published before it are complete" if interrupts.published()
            else "nothing was published")
    batch = interrupts.batch_progress()
    if batch is not None:
        n, total = batch
        done = (f"{n} of {total} areas were published (their outputs are complete); the "
                f"other {total - n} and the batch summary were not: run the batch again to "
                "finish them" if n else "no area and no batch summary was published")
    print(f"geoplan: interrupted ({name}); {done}", file=sys.stderr)
    return interrupts.exit_code(signum)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``geoplan`` console script."""
    try:
        args = build_parser().parse_args(argv)
    except _UsageError as exc:
        print(f"geoplan: error: {exc}", file=sys.stderr)
        return exc.exit_code
    verbosity = -1 if args.quiet else args.verbose
    _setup_logging(verbosity)
    _OUTPUT_FOLDERS.clear()
    with interrupts.handle_signals():
        try:
            code = int(args.func(args))
            # an interrupt swallowed on the way (e.g. inside a numba or HiGHS callback)
            interrupts.check()
            return code
        except KeyboardInterrupt:
            return _interrupted(interrupts.pending() or signal.SIGINT)
        except interrupts.Terminated as exc:
            return _interrupted(exc.signum)
        except Exception as exc:
            if interrupts.pending() is not None:  # a library turned the interrupt into this
                if verbosity > 0:
                    log.exception("failed after an interrupt")
                return _interrupted(interrupts.pending() or signal.SIGINT)
            if not isinstance(exc, GeoplanError | OSError):
                raise
            if verbosity > 0:
                log.exception("failed")
            if isinstance(exc, GeoplanError):
                print(f"geoplan: error: {exc}", file=sys.stderr)
                return exc.exit_code
            print(f"geoplan: error: {describe_os_error(exc)}", file=sys.stderr)
            return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
