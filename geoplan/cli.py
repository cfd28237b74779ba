"""Command-line interface: ``geoplan run CONFIG``, ``geoplan fetch CONFIG``.

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
    if args.lang:
        import dataclasses

        cfg = dataclasses.replace(cfg, output=dataclasses.replace(cfg.output, lang=args.lang))
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
    r.set_defaults(func=_cmd_run)
    f = sub.add_parser("fetch", parents=[common],
                       help="download (or read) and cache the network of a study area",
                       description="Prepare and cache the walking network and OSM buildings "
                                   "for a study area (downloads with osmnx for place, polygon "
                                   "or bbox sources), so later runs work offline.")
    f.add_argument("config", help="study-area TOML file")
    f.set_defaults(func=_cmd_fetch)
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
