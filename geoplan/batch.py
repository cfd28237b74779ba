"""``geoplan batch``: many study areas as tasks on Dask distributed, plus a city summary.

One task per polygon of the base config's ``study_area.boundary`` file (e.g. the 16
districts of a city), or one per config file given. Each task runs exactly what
``geoplan run`` runs on the base config with that area's ``boundary_code`` set, into a
per-area output folder, and returns one small summary row. Tasks receive paths and the
parsed TOML mapping (a few kB), never networks or frames, so the same command runs on an
embedded :class:`distributed.LocalCluster` (``--workers N``) or on an institute's cluster
(``--scheduler tcp://host:8786`` or ``DASK_SCHEDULER_ADDRESS``; inputs and the output
folder must then sit on a file system every worker sees).

Dask distributed is used rather than own process pools because it already does what a
batch of hours needs: scheduling over machines, rescheduling the task of a worker that
died (``distributed.scheduler.allowed-failures``), retries, and a dashboard.

Rules of a batch:

- one area's bad input or crash fails that area alone, reported by its one-line error;
- a rerun skips areas whose config mapping and input files (SHA-256) are unchanged and
  whose outputs are still there (``batch-state.json`` in the batch folder);
- overlapping areas are an error (see :func:`check_overlaps`);
- two batches cannot share an output folder (``.geoplan-batch.lock``, see :class:`BatchLock`).
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import re
import shutil
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geoplan import __version__
from geoplan.config import Config, config_from_dict, load_config
from geoplan.errors import ConfigError, GeoplanError, InputDataError

log = logging.getLogger("geoplan.batch")

#: Intersection area, as a share of the smaller of two areas, above which they overlap.
#: Hand-digitised neighbours leave slivers along shared borders; those are tolerated.
OVERLAP_TOLERANCE = 0.005
#: Seconds to wait for a scheduler given by address before giving up.
CONNECT_TIMEOUT_S = 5.0
#: Name of the lock file in the batch output folder.
LOCK_NAME = ".geoplan-batch.lock"
#: Name of the rerun state in the batch output folder.
STATE_NAME = "batch-state.json"


class BatchError(GeoplanError):
    """A problem of the batch as a whole (lock, scheduler, areas file)."""


# --------------------------------------------------------------------------------------
# tasks


@dataclass(frozen=True)
class AreaTask:
    """One study area of a batch: a small, picklable description sent to a worker.

    Attributes
    ----------
    id : str
        Unique key of the area (its code, or the config's study name).
    name : str
        Display name (e.g. the district's name).
    raw : dict
        The parsed TOML mapping of the area's config.
    base_dir : str
        Folder that relative paths of ``raw`` are relative to.
    source_file : str or None
        The config file the mapping came from (recorded in the manifest).
    """

    id: str
    name: str
    raw: dict[str, Any]
    base_dir: str
    source_file: str | None = None

    def config(self) -> Config:
        """The validated :class:`~geoplan.config.Config` of this area."""
        return config_from_dict(copy.deepcopy(self.raw), Path(self.base_dir),
                                Path(self.source_file) if self.source_file else None)


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "area"


def _key_text(value: Any) -> str:
    text = str(value).strip()
    return text[:-2] if re.fullmatch(r"\d+\.0", text) else text


def area_tasks(cfg_path: Path, out: Path) -> tuple[list[AreaTask], gpd.GeoDataFrame]:
    """One task per polygon of the base config's ``study_area.boundary`` file.

    Parameters
    ----------
    cfg_path : Path
        Base config with ``study_area.boundary`` (and no ``boundary_code``/``boundary_name``).
    out : Path
        Batch output folder; area ``<code>`` writes to ``out/areas/<code>/{data,maps}``.

    Returns
    -------
    tasks : list of AreaTask
    polygons : GeoDataFrame
        The areas (WGS84) with ``area_id`` and ``area_name``.

    Raises
    ------
    InputDataError
        The code or name column is missing, a code repeats, or areas overlap.
    """
    from geoplan.sources.boundary import read_polygons_wgs84

    base = load_config(cfg_path)
    sa = base.study_area
    assert sa.boundary is not None
    gdf = read_polygons_wgs84(sa.boundary, sa.boundary_crs, "study_area.boundary")
    have = ", ".join(map(str, gdf.columns.drop("geometry")))
    for col, setting in ((sa.boundary_code_column, "boundary_code_column"),
                         (sa.boundary_name_column, "boundary_name_column")):
        if col not in gdf.columns:
            raise InputDataError(f"{sa.boundary}: column '{col}' not found (set "
                                 f"study_area.{setting} in {cfg_path}; columns are: {have})")
    codes = gdf[sa.boundary_code_column].map(_key_text)
    dup = codes[codes.duplicated()]
    if len(dup):
        raise InputDataError(f"{sa.boundary}: {sa.boundary_code_column} '{dup.iloc[0]}' "
                             "appears more than once; each area needs its own code")
    if (codes == "").any() or gdf[sa.boundary_code_column].isna().any():
        row = int(np.flatnonzero(((codes == "") | gdf[sa.boundary_code_column].isna())
                                 .to_numpy())[0])
        raise InputDataError(f"{sa.boundary}: row {row + 1} has no "
                             f"{sa.boundary_code_column}; give every area a code")
    names = gdf[sa.boundary_name_column].astype(str)
    polys = gpd.GeoDataFrame({"area_id": codes.to_numpy(), "area_name": names.to_numpy()},
                             geometry=gdf.geometry.to_numpy(), crs=4326)
    check_overlaps(polys, sa.boundary)
    raw0 = base.raw
    tasks = []
    cache = base.output.cache_dir.resolve()
    for code, name in zip(polys["area_id"], polys["area_name"], strict=True):
        raw = copy.deepcopy(raw0)
        study = raw["study_area"]
        study["name"] = f"{sa.name}-{_safe(code)}"
        study["boundary_code"] = code
        study.pop("boundary_name", None)
        folder = (out / "areas" / _safe(code)).resolve()
        output = raw.setdefault("output", {})
        output.update({"dir": str(folder / "data"), "maps_dir": str(folder / "maps"),
                       "cache_dir": str(cache)})
        tasks.append(AreaTask(code, name, raw, str(cfg_path.parent.resolve()),
                              str(cfg_path.resolve())))
    return tasks, polys


def config_tasks(paths: Sequence[Path]) -> list[AreaTask]:
    """One task per config file (each keeps its own output folders).

    Raises
    ------
    ConfigError
        Two configs with the same study name or output folder.
    """
    tasks: list[AreaTask] = []
    seen: dict[str, Path] = {}
    dirs: dict[Path, Path] = {}
    for p in paths:
        cfg = load_config(p)
        name = cfg.study_area.name
        if name in seen:
            raise ConfigError(f"{p}: study_area.name '{name}' is also the name in {seen[name]}; "
                              "give each config of a batch its own name")
        d = cfg.output.dir.resolve()
        if d in dirs:
            raise ConfigError(f"{p}: output.dir {cfg.output.dir} is also the output folder of "
                              f"{dirs[d]}; give each config of a batch its own output.dir")
        seen[name], dirs[d] = p, p
        raw = copy.deepcopy(cfg.raw)
        output = raw.setdefault("output", {})
        output.update({"dir": str(d), "maps_dir": str(cfg.output.maps_dir.resolve()),
                       "cache_dir": str(cfg.output.cache_dir.resolve())})
        tasks.append(AreaTask(name, cfg.study_area.title("zh"), raw,
                              str(Path(p).parent.resolve()), str(Path(p).resolve())))
    return tasks


def check_overlaps(polys: gpd.GeoDataFrame, path: object,
                   tolerance: float = OVERLAP_TOLERANCE) -> None:
    """Raise when two areas overlap by more than ``tolerance`` of the smaller one.

    Overlapping areas are an error, not a warning: the city summary adds up older
    residents and uncovered residents over the areas, and an overlap counts the same
    people twice. A batch of a city's districts or streets never overlaps on purpose;
    the slivers that hand-digitised neighbours leave along a shared border (below
    ``tolerance``) are accepted.

    Parameters
    ----------
    polys : GeoDataFrame
        Areas in WGS84 with ``area_id`` and ``area_name``.
    path : object
        The areas file, for the message.
    tolerance : float
        Largest accepted intersection, as a share of the smaller area.
    """
    if len(polys) < 2:
        return
    metric = polys.to_crs(polys.estimate_utm_crs())
    geoms = metric.geometry.to_numpy()
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    if not len(left):
        return
    inter = shapely.area(shapely.intersection(geoms[left], geoms[right]))
    smaller = np.minimum(shapely.area(geoms[left]), shapely.area(geoms[right]))
    share = inter / np.where(smaller > 0, smaller, 1.0)
    bad = np.flatnonzero(share > tolerance)
    if len(bad):
        i, j = left[bad[0]], right[bad[0]]
        a, b = polys.iloc[i], polys.iloc[j]
        raise InputDataError(
            f"{path}: areas {a['area_id']} ({a['area_name']}) and {b['area_id']} "
            f"({b['area_name']}) overlap by {inter[bad[0]] / 1e6:.3f} km² "
            f"({share[bad[0]]:.1%} of the smaller); the city summary would count their "
            "residents twice — fix the polygons or run them in separate batches")


# --------------------------------------------------------------------------------------
# one area (runs on a worker)


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and not isinstance(exc, GeoplanError):
        from geoplan.cli import describe_os_error

        return describe_os_error(exc)
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if isinstance(exc, GeoplanError) else f"{type(exc).__name__}: {text}"


def summary_row(result: Any) -> dict[str, Any]:
    """The city-summary row of one area's :class:`~geoplan.workflows.coverage.RunResult`.

    Returns
    -------
    dict
        ``elderly_60``, ``elderly_80``, ``circle_share``, ``uncovered_60`` (older residents
        outside the circle), ``areas`` (committees scored), ``facilities``, and when
        configured ``gap_index`` (mean over committees, weighted by older residents) and
        ``standards_pass`` / ``standards_fail``.
    """
    s = result.summary.iloc[0]
    e60 = float(s["elderly_60"])
    share = float(s["circle_share"])
    row: dict[str, Any] = {"elderly_60": e60, "elderly_80": float(s.get("elderly_80", np.nan)),
                           "circle_share": share,
                           "uncovered_60": float(s.get("uncovered_60", e60 * (1.0 - share))),
                           "areas": len(result.areas), "facilities": len(result.facilities)}
    areas = result.areas
    if "gap_index" in areas.columns:
        g = areas["gap_index"].to_numpy(float)
        w = areas["elderly_60"].to_numpy(float) if "elderly_60" in areas else np.ones(len(g))
        ok = np.isfinite(g) & np.isfinite(w)
        row["gap_index"] = (float(np.average(g[ok], weights=w[ok]))
                            if ok.any() and w[ok].sum() > 0 else np.nan)
    std = result.standards
    if std is not None and "check_status" in std.table.columns:
        status = std.table["check_status"].astype(str)
        row["standards_pass"] = int((status == "pass").sum())
        row["standards_fail"] = int((status == "fail").sum())
    return row


def run_area(task: AreaTask) -> dict[str, Any]:
    """Run one area as ``geoplan run`` does; never raises for the area's own problems.

    Returns
    -------
    dict
        ``id``, ``status`` ("done" or "failed"), ``error`` (one line), ``seconds``,
        ``warnings`` (the pipeline's warning lines), the summary row (:func:`summary_row`)
        and ``manifest`` (path of the area's manifest).
    """
    t0 = time.perf_counter()
    out: dict[str, Any] = {"id": task.id, "status": "failed", "error": "", "seconds": 0.0}
    with _captured_warnings() as warned:
        try:
            out.update(_run_area(task), status="done")
        except (GeoplanError, OSError, ValueError, KeyError, TypeError, RuntimeError,
                MemoryError) as exc:
            out["error"] = _one_line(exc)
    out["warnings"] = warned
    out["seconds"] = time.perf_counter() - t0
    return out


@contextmanager
def _captured_warnings() -> Iterator[list[str]]:
    """Collect the pipeline's warnings of one area instead of printing them.

    On a worker they would otherwise go to the worker's stderr, interleaved with other
    areas' (or lost on a remote cluster); every one of them is also in the area's
    outputs (issues, ledger), and the batch prints their count per area.
    """
    lines: list[str] = []

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    root = logging.getLogger("geoplan")
    handler = _Collect(logging.WARNING)
    saved = (root.handlers[:], root.propagate, root.level)
    root.handlers[:] = [handler]
    root.propagate = False
    if root.level == logging.NOTSET or root.level > logging.WARNING:
        root.setLevel(logging.WARNING)
    try:
        yield lines
    finally:
        root.handlers[:], root.propagate = saved[0], saved[1]
        root.setLevel(saved[2])


def _run_area(task: AreaTask) -> dict[str, Any]:
    """What ``geoplan run`` does for the area's config; its summary row."""
    from geoplan.outputs.atomic import check_output_folder, remove_stale_staging
    from geoplan.workflows.coverage import output_paths, run

    cfg = task.config()
    for setting, folder in (("output.dir", cfg.output.dir),
                            ("output.maps_dir", cfg.output.maps_dir),
                            ("output.cache_dir", cfg.output.cache_dir)):
        check_output_folder(folder, setting)
        remove_stale_staging(folder)
    result = run(cfg)
    return {**summary_row(result), "manifest": str(output_paths(cfg)["manifest"])}


# --------------------------------------------------------------------------------------
# rerun state


def task_key(task: AreaTask, hashes: dict[str, str] | None = None) -> str:
    """Hash of an area's config mapping, its input files and the geoplan version.

    Files are hashed by :func:`geoplan.hashing.file_digest` (large OSM extracts by size,
    modification time and their first and last MiB, not read whole for every area).

    ``hashes`` caches file hashes across the areas of a batch (they share the OSM file).
    """
    from geoplan.hashing import file_digest

    hashes = {} if hashes is None else hashes
    cfg = task.config()
    files: list[Path] = [*cfg.network.osm_files, *(fl.path for fl in cfg.facilities),
                         *(j.path for j in cfg.joins)]
    files += [p for p in (cfg.study_area.boundary, cfg.network.polygon, cfg.areas.path,
                          cfg.areas.streets_file, cfg.population.census_file) if p is not None]
    if cfg.standards is not None and Path(cfg.standards.profile).is_file():
        files.append(Path(cfg.standards.profile))
    digest = {}
    for p in files:
        k = str(Path(p).resolve())
        if k not in hashes:
            hashes[k] = file_digest(p)[0]
        digest[k] = hashes[k]
    payload = {"geoplan": __version__, "config": task.raw, "files": digest}
    text = json.dumps(payload, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _read_state(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_state(path: Path, state: dict[str, Any]) -> None:
    from geoplan.outputs.atomic import atomic_write

    with atomic_write(path) as fh:
        fh.write(json.dumps(state, ensure_ascii=False, indent=1, sort_keys=True,
                            default=float))


# --------------------------------------------------------------------------------------
# lock and cluster


class BatchLock:
    """An exclusive lock on a batch output folder (``.geoplan-batch.lock``).

    An OS file lock (``flock``; ``msvcrt.locking`` on Windows) rather than a marker file:
    the OS releases it when the process dies, so a killed batch never blocks the next one.
    The file names the holder (host, process id, start time) for the message of a second
    batch, and is removed on release.
    """

    def __init__(self, folder: Path) -> None:
        self.path = folder / LOCK_NAME
        self._fh: Any = None

    def __enter__(self) -> BatchLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+", encoding="utf-8")  # held until __exit__
        try:
            try:
                import fcntl

                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except ImportError:  # Windows
                import msvcrt

                msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            fh.close()
            raise BatchError(f"{self.path.parent}: another geoplan batch is writing to this "
                             f"folder ({holder}); wait for it to finish or give another "
                             "--out") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"host {socket.gethostname()}, pid {os.getpid()}, started "
                 f"{time.strftime('%Y-%m-%d %H:%M:%S')}")
        fh.flush()
        self._fh = fh
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fh is not None:
            try:
                self.path.unlink()
            except OSError:
                pass
            self._fh.close()  # releases the lock
            self._fh = None


@contextmanager
def dask_client(workers: int = 2, scheduler: str | None = None,
                timeout: float = CONNECT_TIMEOUT_S) -> Iterator[Any]:
    """A :class:`distributed.Client`: on ``scheduler`` if given, else an embedded cluster.

    Parameters
    ----------
    workers : int
        Worker processes of the embedded :class:`~distributed.LocalCluster` (one thread
        each: the pipeline holds the GIL in places, so processes, not threads, run in
        parallel).
    scheduler : str, optional
        Address of a running scheduler (``tcp://host:8786``).
    timeout : float
        Seconds to wait for that scheduler.

    Raises
    ------
    BatchError
        The scheduler does not answer within ``timeout``.
    """
    import dask
    from distributed import Client, LocalCluster

    quiet = {"distributed.logging.distributed": "error", "logging.distributed": "error",
             "distributed.comm.timeouts.connect": f"{timeout}s",
             "distributed.admin.system-monitor.gil.enabled": False}
    with dask.config.set(quiet):
        for name in ("distributed", "distributed.client", "distributed.scheduler",
                     "distributed.nanny", "distributed.worker", "distributed.core",
                     "distributed.comm"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
        if scheduler:
            try:
                client = Client(scheduler, timeout=timeout, set_as_default=False)
            except (OSError, TimeoutError, ValueError) as exc:
                reason = " ".join(str(exc).split())[:160]
                raise BatchError(f"Dask scheduler {scheduler} did not answer within "
                                 f"{timeout:g} s ({reason}); check the address and that the "
                                 "scheduler runs, or leave out --scheduler and "
                                 "DASK_SCHEDULER_ADDRESS to run on this machine") from None
            try:
                yield client
            finally:
                client.close()
            return
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=":0", silence_logs=logging.CRITICAL)
        client = Client(cluster, set_as_default=False)
        try:
            yield client
        finally:
            client.close()
            cluster.close()


# --------------------------------------------------------------------------------------
# the batch


@dataclass
class BatchResult:
    """What :func:`run_batch` did: one row per area and the summary files."""

    rows: pd.DataFrame
    paths: dict[str, Path] = field(default_factory=dict)

    @property
    def failed(self) -> pd.DataFrame:
        """Rows of the areas that failed."""
        return self.rows[self.rows["status"] == "failed"]


def run_batch(tasks: Sequence[AreaTask], out: Path, *, polygons: gpd.GeoDataFrame | None = None,
              workers: int = 2, scheduler: str | None = None, client: Any = None,
              retries: int = 1, force: bool = False, lang: str = "zh",
              title: str = "batch", progress: Callable[[str], None] | None = None
              ) -> BatchResult:
    """Run every task on Dask and write the city summary into ``out``.

    Parameters
    ----------
    tasks : sequence of AreaTask
        The areas (:func:`area_tasks` or :func:`config_tasks`).
    out : Path
        Batch output folder (summary, rerun state, lock).
    polygons : GeoDataFrame, optional
        The areas' polygons (WGS84, ``area_id``); else each area's study boundary is read
        back from its GeoPackage.
    workers, scheduler
        See :func:`dask_client`; ignored when ``client`` is given.
    client : distributed.Client, optional
        A client to use as is (tests, notebooks).
    retries : int
        Dask retries of a task that raised (a worker that died is rescheduled anyway).
    force : bool
        Run every area, even unchanged ones.
    lang : {"zh", "en"}
        Language of the summary table's headers and the map.
    title : str
        Base name of the summary files.
    progress : callable, optional
        Receives one line per area as it finishes (default: the log).

    Returns
    -------
    BatchResult
    """
    out = Path(out)
    # folders this batch creates are removed again when it fails before writing anything
    # in them (an unreachable scheduler, an interrupt before the first area)
    top = next((p for p in reversed([out, *out.parents]) if not p.exists()), None)
    try:
        return _run_batch(tasks, out, polygons=polygons, workers=workers,
                          scheduler=scheduler, client=client, retries=retries, force=force,
                          lang=lang, title=title, say=progress or log.info)
    except BaseException:
        if top is not None and top.is_dir() and not any(
                p.is_file() or p.is_symlink() for p in top.rglob("*")):
            shutil.rmtree(top, ignore_errors=True)
        raise


def _run_batch(tasks: Sequence[AreaTask], out: Path, *, polygons: gpd.GeoDataFrame | None,
               workers: int, scheduler: str | None, client: Any, retries: int, force: bool,
               lang: str, title: str, say: Callable[[str], None]) -> BatchResult:
    """:func:`run_batch` once its output folder is settled."""
    from geoplan import interrupts

    with BatchLock(out):
        state_path = out / STATE_NAME
        state = {} if force else _read_state(state_path)
        hashes: dict[str, str] = {}
        keys = {}
        for t in tasks:
            try:
                keys[t.id] = task_key(t, hashes)
            except (GeoplanError, OSError):  # the area's own task reports it
                keys[t.id] = "unreadable-" + t.id
        rows: dict[str, dict[str, Any]] = {}
        todo = []
        for t in tasks:
            prev = state.get(t.id)
            if (isinstance(prev, dict) and prev.get("key") == keys[t.id]
                    and Path(str(prev.get("row", {}).get("manifest", ""))).is_file()):
                rows[t.id] = {**prev["row"], "status": "skipped", "error": "", "seconds": 0.0}
            else:
                todo.append(t)
        n = len(tasks)
        done = 0
        for t in tasks:
            if t.id in rows:
                done += 1
                say(f"[{done}/{n}] {t.id} {t.name}: unchanged since the last batch, skipped")
        published = done
        interrupts.note_batch(published, n)
        if todo:
            ctx = _given(client) if client is not None else dask_client(workers, scheduler)
            with ctx as cl:
                from distributed import as_completed

                nw = len(cl.scheduler_info().get("workers", {}))
                say(f"{len(todo)} area{'s' if len(todo) != 1 else ''} on {nw} Dask "
                    f"worker{'s' if nw != 1 else ''} ({cl.scheduler.address})")
                futures = {cl.submit(run_area, t, key=f"geoplan-area-{t.id}-{keys[t.id][:12]}",
                                     retries=retries, pure=False): t for t in todo}
                for fut in as_completed(futures, loop=cl.loop):
                    t = futures[fut]
                    try:
                        row = fut.result()
                    except Exception as exc:  # the task's worker died too often, etc.
                        row = {"id": t.id, "status": "failed", "error": _one_line(exc),
                               "seconds": 0.0}
                    rows[t.id] = row
                    done += 1
                    warned = row.pop("warnings", None) or []
                    for w in warned:
                        log.debug("%s: %s", t.id, w)
                    row["warnings"] = len(warned)
                    if row["status"] == "done":
                        state[t.id] = {"key": keys[t.id], "row": row}
                        published += 1
                        interrupts.note_batch(published, n)
                        note = (f"; {len(warned)} warnings (see its tables' issues and ledger, "
                                "or -v)" if warned else "")
                        say(f"[{done}/{n}] {t.id} {t.name}: done in {row['seconds']:.1f} s, "
                            f"{row['circle_share']:.1%} of {row['elderly_60']:,.0f} older "
                            f"residents within the circle{note}")
                    else:
                        state.pop(t.id, None)
                        say(f"[{done}/{n}] {t.id} {t.name}: failed: {row['error']}")
                    _write_state(state_path, state)
        table = pd.DataFrame([{"area_id": t.id, "area_name": t.name, **rows[t.id]}
                              for t in tasks]).drop(columns=["id"], errors="ignore")
        paths = write_summary(table, tasks, out, polygons=polygons, lang=lang, title=title)
    return BatchResult(table, paths)


@contextmanager
def _given(client: Any) -> Iterator[Any]:
    yield client


SUMMARY_COLUMNS = ["area_id", "area_name", "status", "error", "elderly_60", "elderly_80",
                   "circle_share", "uncovered_60", "gap_index", "standards_pass",
                   "standards_fail", "areas", "facilities", "warnings", "seconds"]

#: Decimals kept in the summary table.
ROUNDING = {"elderly_60": 1, "elderly_80": 1, "circle_share": 4, "uncovered_60": 1,
            "gap_index": 3, "seconds": 1}

#: Headers of the summary table (zh, en).
HEADERS = {"area_id": ("区域代码", "area code"), "area_name": ("区域名称", "area name"),
           "status": ("状态", "status"), "error": ("错误", "error"),
           "elderly_60": ("60岁以上老人", "residents 60+"),
           "elderly_80": ("80岁以上老人", "residents 80+"),
           "circle_share": ("服务圈覆盖率", "circle share"),
           "uncovered_60": ("服务圈外60岁以上老人", "residents 60+ outside the circle"),
           "gap_index": ("缺口指数（加权平均）", "gap index (weighted mean)"),
           "standards_pass": ("达标项数", "standards passed"),
           "standards_fail": ("未达标项数", "standards failed"),
           "areas": ("居委数", "committees"), "facilities": ("设施数", "facilities"),
           "warnings": ("警告数", "warnings"),
           "seconds": ("用时（秒）", "seconds")}


def write_summary(table: pd.DataFrame, tasks: Sequence[AreaTask], out: Path, *,
                  polygons: gpd.GeoDataFrame | None = None, lang: str = "zh",
                  title: str = "batch") -> dict[str, Path]:
    """Write the city summary: table (CSV, XLSX), map (HTML) and merged GeoPackage.

    The GeoPackage holds ``districts`` (one row per area with the summary) and the
    ``areas`` (committees inside each area), ``facilities`` (inside each area) and
    ``summary`` layers of every finished area, each row tagged with its ``batch_area``.
    """
    from openpyxl import Workbook

    from geoplan.outputs.atomic import StagedOutputs
    from geoplan.outputs.gpkg import write_geopackage
    from geoplan.outputs.tables import workbook_bytes
    from geoplan.outputs.webmap import build_map, save_map

    cols = [c for c in SUMMARY_COLUMNS if c in table.columns]
    table = table[cols].copy()
    for col, digits in ROUNDING.items():
        if col in table.columns:
            table[col] = pd.to_numeric(table[col], errors="coerce").round(digits)
    li = 0 if lang == "zh" else 1
    gpkgs: dict[str, Path] = {}
    for t in tasks:
        row = table.loc[table["area_id"] == t.id].iloc[0]
        if row["status"] in ("done", "skipped"):
            cfg_out = Path(t.raw["output"]["dir"])
            gpkgs[t.id] = cfg_out / f"{t.raw['study_area']['name']}-coverage.gpkg"
    layers: dict[str, list[gpd.GeoDataFrame]] = {"areas": [], "facilities": [], "summary": []}
    bounds = []
    for aid, g in gpkgs.items():
        if not g.is_file():
            continue
        for layer in layers:
            try:
                df = gpd.read_file(g, layer=layer)
            except Exception:  # a layer an older run did not write
                continue
            # committees outside this area (kept in its own table as excluded) and
            # facilities outside it belong to a neighbour's rows
            if "excluded_reason" in df.columns:
                df = df[df["excluded_reason"].fillna("").astype(str) != "outside_study_area"]
            if "outside_boundary" in df.columns:
                df = df[~df["outside_boundary"].fillna(False).astype(bool)]
            df.insert(0, "batch_area", aid)
            layers[layer].append(df)
        if polygons is None:
            a = (layers["areas"][-1] if layers["areas"]
                 and (layers["areas"][-1]["batch_area"] == aid).all() else None)
            if a is not None and len(a):
                bounds.append({"area_id": aid, "geometry": shapely.union_all(
                    a.geometry.to_numpy())})
    if polygons is not None:
        geo = polygons[["area_id", "geometry"]]
    else:
        geo = gpd.GeoDataFrame(bounds or {"area_id": [], "geometry": []}, crs=4326)
    districts = gpd.GeoDataFrame(geo.merge(table, on="area_id", how="right"),
                                 geometry="geometry", crs=4326)
    paths = {"csv": out / f"{title}-summary.csv", "xlsx": out / f"{title}-summary.xlsx",
             "gpkg": out / f"{title}-summary.gpkg", "map": out / f"{title}-summary.html"}
    labelled = table.rename(columns={k: v[li] for k, v in HEADERS.items()})
    with StagedOutputs(out) as staged:
        labelled.to_csv(staged.path("", paths["csv"].name), index=False,
                        encoding="utf-8-sig")
        wb = Workbook()
        ws = wb.active
        ws.title = "汇总" if lang == "zh" else "summary"
        ws.append(list(labelled.columns))
        for rec in labelled.itertuples(index=False):
            ws.append([None if isinstance(v, float) and not np.isfinite(v) else
                       (v.item() if hasattr(v, "item") else v) for v in rec])
        staged.path("", paths["xlsx"].name).write_bytes(workbook_bytes(wb))
        merged: dict[str, pd.DataFrame | None] = {"districts": districts}
        for layer, frames in layers.items():
            merged[layer] = pd.concat(frames, ignore_index=True) if frames else None
        write_geopackage(staged.path("", paths["gpkg"].name), merged)
        shown = districts[districts.geometry.notna() & ~districts.geometry.is_empty].copy()
        shown["name"] = shown["area_name"]
        if len(shown):
            m = build_map(shown, None, None, lang=lang, title=title, score="circle_share")
            save_map(m, staged.path("", paths["map"].name))
        else:
            paths.pop("map")
    return paths
