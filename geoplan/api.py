"""The public Python API: a :class:`Study` built from a config, and its :class:`Results`.

The command line is one way in; a notebook or a report script is another. Both go through
the same workflows (:mod:`geoplan.workflows`): :func:`~geoplan.workflows.coverage.analyse`,
:func:`~geoplan.workflows.siting.site`, :func:`~geoplan.workflows.standards.check_config`
and :func:`~geoplan.workflows.report.report`.

Examples
--------
>>> from geoplan import Study                                   # doctest: +SKIP
>>> study = Study.from_toml("examples/yangpu-wujiaochang.toml")  # doctest: +SKIP
>>> res = study.run()                                           # doctest: +SKIP
>>> res.summary[["elderly_60", "circle_share"]]                  # doctest: +SKIP
>>> res.map()            # a folium.Map, shown inline in Jupyter   # doctest: +SKIP
>>> study.site("canteens-7")[0].summary["status"]                # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geoplan.config import Config, config_from_dict, load_config, replace
from geoplan.errors import ConfigError


def _check_outputs(cfg: Config, *, data: bool = True, maps: bool = True,
                   cache: bool = True) -> None:
    """The command line's output-folder checks, before any work (one-line errors)."""
    from geoplan.outputs.atomic import check_output_folder

    out = cfg.output
    for setting, folder, used in (("output.dir", out.dir, data),
                                  ("output.maps_dir", out.maps_dir, maps),
                                  ("output.cache_dir", out.cache_dir, cache)):
        if used and folder is not None:
            check_output_folder(folder, setting)


def _plain(value: Any) -> Any:
    """``value`` with numpy scalars as Python numbers and paths as text, recursively.

    Notebook users pass ``numpy.int64`` (from a DataFrame) and ``pathlib.Path``; the config
    validation is strict about types (a string for a number stays an error), so only these
    lossless conversions are made here.
    """
    import numbers
    import os

    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, bool | str | int | float) or value is None:
        return value
    kind = type(value).__module__.split(".")[0]
    if kind == "numpy":
        if type(value).__name__ == "bool_" or type(value).__name__ == "bool":
            return bool(value)
        if isinstance(value, numbers.Integral):
            return int(value)
        if isinstance(value, numbers.Real):
            return float(value)
    return value


if TYPE_CHECKING:  # heavy modules are imported when a method needs them
    import folium
    import geopandas as gpd
    import pandas as pd

    from geoplan.workflows.coverage import RunResult
    from geoplan.workflows.siting import ScenarioOutcome
    from geoplan.workflows.standards import StandardsResult


class Results:
    """What a coverage run computed, as GeoDataFrames (metric CRS of the network).

    Attributes
    ----------
    run : RunResult
        Everything the run computed (see :class:`geoplan.workflows.coverage.RunResult`).
    """

    def __init__(self, run: RunResult) -> None:
        self.run = run

    @property
    def areas(self) -> gpd.GeoDataFrame:
        """Areas (committees, compounds or grid cells) with their scores."""
        return self.run.areas

    @property
    def streets(self) -> pd.DataFrame:
        """Per street (街道): the same figures rolled up (empty without street codes)."""
        return self.run.streets

    @property
    def summary(self) -> pd.DataFrame:
        """One row for the whole study area."""
        return self.run.summary

    @property
    def facilities(self) -> gpd.GeoDataFrame:
        """Facilities placed on the network."""
        return self.run.facilities

    @property
    def isochrones(self) -> gpd.GeoDataFrame:
        """Merged catchments per facility type and threshold (minutes)."""
        return self.run.isochrones_by_type

    @property
    def issues(self) -> pd.DataFrame:
        """Input rows reported (dropped or kept with a problem)."""
        return self.run.issues

    @property
    def ledger(self) -> pd.DataFrame:
        """Every older resident and facility row that entered the run, accounted for."""
        return self.run.ledger_table()

    def map(self, score: str | None = None) -> folium.Map:
        """The interactive coverage map (displays inline in Jupyter).

        Like the saved maps it is self-contained unless ``output.offline`` is false: the
        inline display and ``.save()`` carry the vendored Leaflet, so a notebook without
        internet shows it.

        Parameters
        ----------
        score : str, optional
            Numeric area column to colour by (default: the config's ``output.map_score``).

        Raises
        ------
        ConfigError
            If ``score`` is not a numeric column of :attr:`areas` (the message lists them).
        """
        from geoplan.workflows.coverage import coverage_map, map_score

        run = self.run
        if score is not None:
            out = replace(run.config.output, "score", map_score=score)
            cfg = replace(run.config, output=out)
            try:
                map_score(run.areas, cfg)
            except Exception as exc:
                raise ConfigError(str(exc).replace("output.map_score", "score")) from None
            run = dataclasses.replace(run, config=cfg)
        m = coverage_map(run)
        if not run.config.output.offline:
            return m
        from geoplan.outputs.offline import self_contained

        return self_contained(m)

    def write(self) -> dict[str, Any]:
        """Write the GeoPackage, tables, maps and manifest as ``geoplan run`` does.

        Returns
        -------
        dict
            Output kind -> path.
        """
        from geoplan.workflows.coverage import write_outputs

        _check_outputs(self.run.config, cache=False)
        return write_outputs(self.run)

    def _repr_html_(self) -> str:
        from geoplan.outputs.report import key_value_html

        cfg = self.run.config
        return key_value_html(self.summary.iloc[0], cfg.output.lang,
                              cfg.analysis.circle_minutes)

    def __repr__(self) -> str:
        s = self.summary.iloc[0]
        return (f"<Results {self.run.config.study_area.name}: {s['elderly_60']:.0f} aged 60+, "
                f"circle share {s['circle_share']:.1%}, {len(self.areas)} areas>")


class Study:
    """A study area: one validated config, and the analyses run on it.

    Parameters
    ----------
    config : Config
        A validated configuration (:meth:`from_toml`, :meth:`from_dict`).
    """

    def __init__(self, config: Config) -> None:
        if not isinstance(config, Config):
            raise TypeError("Study needs a geoplan Config; use Study.from_toml(path) or "
                            "Study.from_dict(mapping)")
        self.config = config
        self._results: Results | None = None

    @classmethod
    def from_toml(cls, path: str | Path) -> Study:
        """Read and validate a TOML config.

        Raises
        ------
        ConfigError
            One line naming the bad setting, as on the command line.
        """
        return cls(load_config(path))

    @classmethod
    def from_dict(cls, raw: dict[str, Any], base_dir: str | Path = ".") -> Study:
        """Validate a config given as a mapping (the TOML's structure).

        Parameters
        ----------
        raw : dict
            Sections and keys as in the TOML file. numpy numbers are taken as Python
            numbers, and ``pathlib.Path`` values as text.
        base_dir : str or Path
            Folder that relative ``paths.data_root`` is resolved against.

        Raises
        ------
        ConfigError
            Unknown keys, wrong types or values out of range (one line, as for TOML).
        """
        if not isinstance(raw, dict):
            raise ConfigError(f"a config mapping is needed, got {type(raw).__name__}")
        return cls(config_from_dict(_plain(raw), base_dir=Path(base_dir).resolve()))

    def run(self, *, use_cache: bool = True, write: bool = False) -> Results:
        """Coverage, gaps, accessibility, standards and the ledger (as ``geoplan run``).

        Parameters
        ----------
        use_cache : bool, default True
            Use the prepared-network cache.
        write : bool, default False
            Also write the outputs (GeoPackage, tables, maps, manifest).
        """
        from geoplan.workflows.coverage import analyse, write_outputs

        _check_outputs(self.config, data=write, maps=write, cache=use_cache)
        run = analyse(self.config, use_cache=use_cache)
        if write:
            write_outputs(run)
        self._results = Results(run)
        return self._results

    def site(self, scenarios: str | list[str] | None = None, *, write: bool = False,
             **overrides: Any) -> list[ScenarioOutcome]:
        """Solve siting scenarios of the config (all when none is named).

        Parameters
        ----------
        scenarios : str or list of str, optional
            Scenario names.
        write : bool, default False
            Also write each scenario's outputs (as ``geoplan site``).
        **overrides
            Scenario settings to override, e.g. ``new=5``, ``time_limit_s=60``.

        Returns
        -------
        list of ScenarioOutcome
            Each with ``summary`` (status, objective, bound, gap, equity figures), ``areas``,
            ``streets`` and the proposed sites per type (``outcomes[i].sites``).
        """
        from geoplan.workflows.siting import (
            OVERRIDES_API,
            apply_overrides,
            site,
            write_siting_outputs,
        )

        names = [scenarios] if isinstance(scenarios, str) else list(scenarios or [])
        known = {s.name: s for s in self.config.scenarios}
        for sc in [known[n] for n in names if n in known] if names else known.values():
            apply_overrides(sc, source=OVERRIDES_API, **overrides)  # before any work
        if write:
            _check_outputs(self.config, cache=False)
        results = self._results or self.run()
        out = site(self.config, results.run, names, overrides or None, source=OVERRIDES_API)
        if write:
            write_siting_outputs(results.run, out)
        return out

    def standards(self) -> StandardsResult:
        """Check the config's ``[standards]`` (per street and district)."""
        from geoplan.workflows.standards import check_config

        return check_config(self.config)

    def report(self, *, use_cache: bool = True) -> dict[str, Any]:
        """Write the HTML and Word report, workbook and GeoPackage (as ``geoplan report``)."""
        from geoplan.workflows.report import report

        _check_outputs(self.config, maps=False, cache=use_cache)  # as geoplan report
        return report(self.config, use_cache=use_cache)

    def __repr__(self) -> str:
        c = self.config
        return (f"<Study {c.study_area.name}: {len(c.facilities)} facility layers, "
                f"{len(c.scenarios)} scenarios>")
