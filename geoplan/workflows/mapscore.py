"""Checks of ``output.map_score`` against the score columns a run produces.

Kept out of :mod:`geoplan.workflows.coverage` so that ``geoplan config`` can check the
setting without importing the analysis stack.
"""

from __future__ import annotations

from geoplan.config import Config
from geoplan.errors import ConfigError

__all__ = ["check_map_score", "score_columns"]


#: At most this many column names are listed when ``output.map_score`` is not one.
SCORE_NAMES_SHOWN = 12


def _some_names(names: list[str]) -> str:
    """The shortest ``SCORE_NAMES_SHOWN`` names (a one-line message), then "..."."""
    ordered = sorted(dict.fromkeys(names), key=lambda c: (len(c), c))
    shown = ", ".join(ordered[:SCORE_NAMES_SHOWN])
    return shown + (f", ... ({len(ordered) - SCORE_NAMES_SHOWN} more)"
                    if len(ordered) > SCORE_NAMES_SHOWN else "")


def score_columns(cfg: Config) -> list[str]:
    """Numeric area columns that a run of ``cfg`` produces whatever its data.

    Columns whose name depends on the data (the supply unit of ``acc_*``) are given in
    every form. Used to check ``output.map_score`` before any work.
    """
    from geoplan.analysis.accessibility import decays

    an = cfg.analysis
    minutes = sorted({*an.thresholds_min, an.circle_minutes})
    cols = ["elderly_60", "elderly_80", "circle_share", "circle_share80", "uncovered_60",
            "uncovered_80", "gap_rank", "excluded_60", "excluded_80", "pop_estimated"]
    for t in cfg.facility_types:
        cols += [f"{t}_share_{m:g}" for m in minutes]
        cols += [f"{t}_share80_{m:g}" for m in minutes]
        cols += [f"{t}_median_min", f"{t}_p90_min", f"{t}_uncovered_60"]
    acc = cfg.accessibility
    if acc is not None:
        methods = decays(acc, acc.catchment_min or an.circle_minutes)
        for t in acc.types or cfg.facility_types:
            for unit in ("", "_beds", "_nursing_beds", "_floor_area_m2", "_count"):
                cols += [f"acc_{t}{unit}_{m}" for m in methods]
    if cfg.gap_index is not None or cfg.standards is not None:
        cols += ["gap_index", "gap_index_rank", "gap_uncovered", "gap_access", "gap_standards",
                 "contrib_uncovered", "contrib_access", "contrib_standards"]
    return cols


def check_map_score(cfg: Config) -> None:
    """Check ``output.map_score`` before any work.

    A name that is neither a column this config produces (:func:`score_columns`) nor a
    column geoplan knows at all (a label, e.g. ``gap_access_canteen``) is a typo: it is
    reported now in one line, not after the whole analysis. Known columns that the data
    does not produce are still caught by :func:`map_score` after the run.

    Raises
    ------
    ConfigError
        One line naming the setting and some valid names (shortest first).
    """
    from geoplan.outputs.labels import column_kind

    score = cfg.output.map_score
    cols = score_columns(cfg)
    if score in cols or column_kind(score) is not None:
        return
    raise ConfigError(f"output.map_score = '{score}' is not a score column of the areas "
                      f"table; use one of: {_some_names(cols)}")
