"""Run manifest: what went in, what came out, with which software, and how long it took.

A planner who hands a map to the bureau must be able to say which data and settings made
it. :class:`RunManifest` records the input files (SHA-256 and size; no modification
times, so a copied data folder gives the same manifest, except for files of 64 MiB and
more such as a province's OSM extract, whose ``hash_method`` says they were fingerprinted
by size, modification time and their first and last MiB, see
:func:`geoplan.hashing.file_digest`), the configuration, the seed,
the package versions, the timing of each pipeline step, counts, and the output files
(hashed after writing). It is written as UTF-8 JSON next to the outputs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.metadata
import json
import math
import os
import platform
import sys
import time
from collections.abc import Iterator, Mapping
from datetime import date, datetime, timezone
from pathlib import Path, PurePath
from typing import Any

import geoplan
from geoplan import interrupts
from geoplan.hashing import file_digest, sha256_file
from geoplan.outputs.atomic import atomic_write

#: Import name → distribution name of the packages whose versions are recorded.
PACKAGES: dict[str, str] = {
    "numpy": "numpy",
    "scipy": "scipy",
    "pandas": "pandas",
    "geopandas": "geopandas",
    "shapely": "shapely",
    "pyproj": "pyproj",
    "pyogrio": "pyogrio",
    "networkx": "networkx",
    "osmnx": "osmnx",
    "numba": "numba",
    "folium": "folium",
    "branca": "branca",
    "openpyxl": "openpyxl",
    "sklearn": "scikit-learn",
    "highspy": "highspy",
    "matplotlib": "matplotlib",
}


def package_versions() -> dict[str, str]:
    """Installed versions of the packages geoplan relies on (missing ones left out).

    Versions come from the installed distribution metadata, so nothing is imported.
    """
    versions: dict[str, str] = {}
    for import_name, dist in PACKAGES.items():
        try:
            versions[import_name] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _json_default(obj: Any) -> Any:
    """Convert values json cannot write (paths, numpy scalars, dates, sets, dataclasses)."""
    if isinstance(obj, PurePath):
        return obj.as_posix()
    if isinstance(obj, datetime | date):
        return obj.isoformat()
    if isinstance(obj, set | frozenset):
        return sorted(obj, key=str)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    item = getattr(obj, "item", None)  # numpy scalars
    if callable(item):
        return item()
    tolist = getattr(obj, "tolist", None)  # numpy arrays
    if callable(tolist):
        return tolist()
    return str(obj)


def _clean(obj: Any) -> Any:
    """Replace non-finite floats by None so the JSON is strict (no NaN/Infinity)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Mapping):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    return obj


class RunManifest:
    """Collect provenance of one geoplan run and write it as JSON.

    Parameters
    ----------
    config : Config or mapping, optional
        The run configuration; its raw TOML mapping is recorded (``Config.raw``), and
        its seed unless ``seed`` is given.
    seed : int, optional
        Random seed used by the run.
    command : str, optional
        Command line or sub-command that started the run.

    Examples
    --------
    >>> man = RunManifest(cfg)  # doctest: +SKIP
    >>> man.add_input(cfg.source_file, "config")  # doctest: +SKIP
    >>> with man.step("network"):  # doctest: +SKIP
    ...     graph = build_walk_graph(cfg)
    >>> man.set_counts(nodes=graph.number_of_nodes())  # doctest: +SKIP
    >>> man.write(out_dir / "manifest.json")  # doctest: +SKIP
    """

    def __init__(self, config: Any = None, seed: int | None = None,
                 command: str | None = None) -> None:
        raw: Any = None
        cfg_seed: int | None = None
        source: Any = None
        if config is not None:
            if isinstance(config, Mapping):
                raw = dict(config)
            else:
                raw = dict(getattr(config, "raw", {}) or {})
                analysis = getattr(config, "analysis", None)
                cfg_seed = getattr(analysis, "seed", None)
                source = getattr(config, "source_file", None)
        self.config: dict[str, Any] | None = raw
        self.config_file: str | None = Path(source).as_posix() if source else None
        self.seed: int | None = seed if seed is not None else cfg_seed
        self.command = command
        self.started = _utc_now()
        self.finished: str | None = None
        self.inputs: list[dict[str, Any]] = []
        self.outputs: list[dict[str, Any]] = []
        self.steps: list[dict[str, Any]] = []
        self.counts: dict[str, Any] = {}
        self.ledger: dict[str, Any] | None = None

    # -- recording ----------------------------------------------------------------------
    def add_input(self, path: str | os.PathLike[str], role: str) -> dict[str, Any]:
        """Record an input file with its role (``"osm"``, ``"facilities"``, ``"config"``...).

        Returns
        -------
        dict
            The entry: ``path``, ``role``, ``sha256``, ``hash_method`` (``"sha256"`` of
            the content, or ``"size-mtime-head-tail"`` for large files: see
            :func:`geoplan.hashing.file_digest`), ``size_bytes``.
        """
        p = Path(path)
        digest, method = file_digest(p)
        entry = {"path": p.as_posix(), "role": role, "sha256": digest, "hash_method": method,
                 "size_bytes": p.stat().st_size}
        self.inputs.append(entry)
        return entry

    def add_output(self, path: str | os.PathLike[str],
                   final: str | os.PathLike[str] | None = None) -> dict[str, Any]:
        """Record an output file; call after it has been written (it is hashed now).

        Parameters
        ----------
        path : str or PathLike
            The written file (may be a staging path).
        final : str or PathLike, optional
            Where the file will end up (e.g. after :class:`StagedOutputs` publishes it);
            recorded as its path. Default ``path``.

        Returns
        -------
        dict
            The entry: ``path``, ``sha256``, ``size_bytes``.
        """
        p = Path(path)
        shown = Path(final) if final is not None else p
        entry = {"path": shown.as_posix(), "sha256": sha256_file(p),
                 "size_bytes": p.stat().st_size}
        self.outputs = [o for o in self.outputs if o["path"] != entry["path"]]
        self.outputs.append(entry)
        return entry

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[dict[str, Any]]:
        """Time a pipeline step; the entry is recorded even if the step fails.

        An interrupt (SIGINT/SIGTERM) received before or during the step is raised at its
        start and end, even if a callback swallowed it (see :mod:`geoplan.interrupts`).

        Yields
        ------
        dict
            The step entry (``name``, ``seconds``, ``status``); extra keys may be added.
        """
        interrupts.check()  # stop between steps after an interrupt a callback swallowed
        entry: dict[str, Any] = {"name": name, "seconds": None, "status": "running"}
        self.steps.append(entry)
        t0 = time.perf_counter()
        try:
            yield entry
            interrupts.check()
        except BaseException:
            entry["status"] = "failed"
            raise
        else:
            entry["status"] = "ok"
        finally:
            entry["seconds"] = round(time.perf_counter() - t0, 3)

    def set_counts(self, **counts: Any) -> None:
        """Record counts (facilities read, areas, demand points, issues ...)."""
        self.counts.update(counts)

    def set_ledger(self, ledger: Mapping[str, Any]) -> None:
        """Record the population and facility ledgers (:mod:`geoplan.analysis.ledger`):
        every older resident and facility row that entered the run, scored or excluded
        by reason."""
        self.ledger = dict(ledger)

    def finish(self) -> None:
        """Stamp the finishing time (done by :meth:`write` if not yet set)."""
        self.finished = _utc_now()

    # -- output ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The manifest as a JSON-ready dictionary."""
        data = {
            "geoplan_version": geoplan.__version__,
            "command": self.command,
            "started_utc": self.started,
            "finished_utc": self.finished,
            "seed": self.seed,
            "python": sys.version.split()[0],
            "python_implementation": platform.python_implementation(),
            "platform": platform.platform(),
            "packages": package_versions(),
            "config_file": self.config_file,
            "config": self.config,
            "inputs": list(self.inputs),
            "steps": list(self.steps),
            "counts": dict(self.counts),
            "ledger": self.ledger,
            "outputs": list(self.outputs),
        }
        # Round-trip through json to apply the converters once, then drop NaN/inf.
        return _clean(json.loads(json.dumps(data, default=_json_default, ensure_ascii=False)))

    def write(self, path: str | os.PathLike[str]) -> Path:
        """Write the manifest as UTF-8 JSON (``ensure_ascii=False``, indent 2), atomically.

        The finishing time is stamped if :meth:`finish` was not called.
        """
        if self.finished is None:
            self.finish()
        final = Path(path)
        text = json.dumps(self.to_dict(), ensure_ascii=False, indent=2, allow_nan=False)
        with atomic_write(final, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
        return final
