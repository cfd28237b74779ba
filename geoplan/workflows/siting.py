"""``geoplan site``: answer the siting scenarios of a config on top of the coverage run.

For each scenario: collect candidate sites, compute candidate → demand and existing →
demand walking times with the reach engine (sparse), build the location model, solve it,
and report the proposed sites in the order they add value, the coverage curve, before/after
figures per area and street, and (capacitated runs) the assignment of residents to sites.
:func:`write_siting_outputs` writes a GeoPackage, an Excel workbook with CSVs, a folium map
and a manifest through a staging folder, like the coverage run.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.spatial import cKDTree

from geoplan import progress
from geoplan.config import Config, Scenario, validate_scenario
from geoplan.errors import InputDataError
from geoplan.network.snapping import SnappedPoints, snap_points
from geoplan.reach.csr import ReachGraph
from geoplan.reach.engine import point_reach
from geoplan.siting.candidates import CandidateSet, candidate_sites
from geoplan.siting.capacitated import CapacitatedMCLP
from geoplan.siting.coverage import LSCP, MCLP, reduce_coverage
from geoplan.siting.greedy import Feasibility, greedy_cover
from geoplan.siting.multitype import Link, MultiTypePlan, MultiTypeResult, TypePlan
from geoplan.siting.problem import SitingProblem
from geoplan.siting.result import SitingResult
from geoplan.sources import osm
from geoplan.sources.facility_types import FACILITY_TYPES
from geoplan.sources.tables import GEO_EXTENSIONS
from geoplan.workflows.coverage import RunResult

log = logging.getLogger(__name__)


@dataclass
class TypeOutcome:
    """One facility type's answer within a scenario."""

    type: str
    cutoff: float
    result: SitingResult
    sites: gpd.GeoDataFrame          # proposed sites, ranked
    candidates: gpd.GeoDataFrame     # all usable candidates
    before: np.ndarray               # per demand point: covered before (bool)
    after: np.ndarray                # per demand point: covered after (bool)
    snapped: SnappedPoints           # of the proposed sites


@dataclass
class ScenarioOutcome:
    """Everything one scenario produced."""

    scenario: Scenario
    outcomes: list[TypeOutcome]
    curve: pd.DataFrame
    areas: gpd.GeoDataFrame
    streets: pd.DataFrame
    assignment: pd.DataFrame
    unreachable: pd.DataFrame
    issues: pd.DataFrame
    summary: dict[str, Any]
    objective: float
    bound: float | None
    gap: float | None
    status: str
    seconds: float
    warnings: list[str] = field(default_factory=list)


#: Where scenario overrides come from, as named in error messages.
OVERRIDES_CLI = "with command-line overrides"
OVERRIDES_API = "with the keyword arguments of site()"


def apply_overrides(sc: Scenario, *, source: str = OVERRIDES_CLI, **overrides: Any) -> Scenario:
    """Return ``sc`` with overrides (``None`` values ignored), validated.

    Parameters
    ----------
    sc : Scenario
        The configured scenario.
    source : str
        Where the overrides come from, for messages (:data:`OVERRIDES_CLI`,
        :data:`OVERRIDES_API`).
    **overrides
        Scenario settings by name.

    Raises
    ------
    ConfigError
        An unknown setting name (``model_copy`` would keep it silently), or a value the
        scenario rejects.
    """
    from geoplan.errors import ConfigError

    allowed = [k for k in type(sc).model_fields if k != "name"]
    unknown = sorted(set(overrides) - set(allowed))
    if unknown:
        raise ConfigError(f"scenario '{sc.name}': unknown setting '{unknown[0]}' ({source}); "
                          f"allowed: {', '.join(allowed)}")
    changes = {k: v for k, v in overrides.items() if v is not None}
    if not changes:
        return sc
    out = sc.model_copy(update=changes)
    validate_scenario(out, f"scenario '{sc.name}' ({source})")
    return out


def _cutoff(sc_cutoff: float | None, type_key: str) -> float:
    return float(sc_cutoff if sc_cutoff is not None else FACILITY_TYPES[type_key].catchment_min)


class _Context:
    """Shared per-run state: graph, snapped demand, OSM features."""

    def __init__(self, run: RunResult) -> None:
        self.run = run
        cfg = run.config
        self.net = run.network
        self.graph = ReachGraph.from_network(self.net)
        self.speed = cfg.walking.speed_mps
        self.demand_geom = run.demand.geometry.to_numpy()
        self.dem_snap = snap_points(self.net, self.demand_geom, self.speed)
        self.demand_xy = np.column_stack([run.demand.geometry.x.to_numpy(),
                                          run.demand.geometry.y.to_numpy()])
        self._features: gpd.GeoDataFrame | None = None

    @property
    def features(self) -> gpd.GeoDataFrame:
        if self._features is None:
            cfg = self.run.config
            self._features = osm.features(cfg.network, cfg.output.cache_dir,
                                          osm.StudyCut.of(cfg)).to_crs(self.net.crs)
        return self._features

    def times(self, snapped: SnappedPoints, cutoff_min: float) -> sp.csr_matrix:
        """Sparse source × demand minutes within ``cutoff_min``."""
        if len(snapped) == 0:
            return sp.csr_matrix((0, len(self.dem_snap)))
        t = point_reach(self.graph, snapped, self.dem_snap, cutoff_min * 60.0)
        t = sp.csr_matrix(t)
        t.data = t.data / 60.0
        return t

    def existing(self, type_key: str) -> tuple[gpd.GeoDataFrame, SnappedPoints]:
        fac = self.run.facilities
        sel = fac[fac["type"] == type_key]
        return sel, snap_points(self.net, sel.geometry.to_numpy(), self.speed)


def _problem(ctx: _Context, sc: Scenario, type_key: str, cutoff: float, search: float,
             ) -> tuple[SitingProblem, CandidateSet, SnappedPoints, gpd.GeoDataFrame]:
    run = ctx.run
    weights = run.demand[sc.weight].to_numpy(np.float64)
    ex, ex_snap = ctx.existing(type_key)
    ex_times = ctx.times(ex_snap, search)
    covered = np.zeros(len(weights), dtype=bool)
    covered[ex_times.indices[ex_times.data <= cutoff + 1e-9]] = True
    cands = candidate_sites(sc.candidates, network=ctx.net, boundary=run.boundary,
                            features=ctx.features if sc.candidates.buildings else
                            gpd.GeoDataFrame(),
                            demand_xy=ctx.demand_xy, weights=weights, uncovered=~covered,
                            existing=ex.geometry.to_numpy(),
                            snap_max_m=run.config.walking.snap_max_m,
                            seed=run.config.analysis.seed)
    if len(cands.sites) == 0:
        raise InputDataError(_no_candidates(sc, type_key, cands.issues))
    c_snap = snap_points(ctx.net, cands.sites.geometry.to_numpy(), ctx.speed)
    times = ctx.times(c_snap, search)
    cap = None
    if sc.model == "cmclp":
        cap = cands.sites["capacity"].to_numpy(np.float64)
        cap = np.where(np.isfinite(cap), cap, float(sc.capacity))
    ex_cap = None
    if sc.model == "cmclp" and len(ex):
        ex_cap = ex["capacity"].to_numpy(np.float64) if "capacity" in ex else np.full(len(ex),
                                                                                     np.nan)
        missing = ~np.isfinite(ex_cap)
        if missing.any():
            if sc.existing_capacity is None:
                raise InputDataError(
                    f"scenario '{sc.name}': {int(missing.sum())} existing {type_key} "
                    "facilities have no capacity; set capacity_column for the facility layer "
                    "or existing_capacity = <places> in the scenario")
            ex_cap = np.where(missing, float(sc.existing_capacity), ex_cap)
    cost = cands.sites["cost"].to_numpy(np.float64) if sc.budget is not None else None
    if cost is not None and not np.isfinite(cost).all():
        raise InputDataError(f"scenario '{sc.name}': budget is set but "
                             f"{int((~np.isfinite(cost)).sum())} candidates have no cost; set "
                             "candidates.cost_column to a column with a cost for every site")
    prob = SitingProblem(weights=weights, times=times, existing_times=ex_times,
                         candidate_cost=cost, candidate_capacity=cap, existing_capacity=ex_cap,
                         candidate_ids=cands.sites["cid"].to_numpy())
    return prob, cands, c_snap, ex


def _no_candidates(sc: Scenario, type_key: str, issues: pd.DataFrame) -> str:
    """Why a scenario has no usable candidate: counts per reason and a first example.

    No output is written when the run stops here, so the message itself must say what
    was dropped and why (there is no issues table to look at).
    """
    c = sc.candidates
    head = f"scenario '{sc.name}': no usable candidate site for {type_key}"
    if issues is None or len(issues) == 0:
        used = [k for k, on in (("candidates.file", c.file is not None),
                                ("candidates.clusters", c.clusters > 0),
                                ("candidates.buildings", c.buildings),
                                ("candidates.grid_m", c.grid_m > 0)) if on]
        return (f"{head}: {', '.join(used) or 'no candidate source'} produced none "
                "(clusters need older residents left uncovered, buildings need street-facing "
                "non-residential OSM buildings, grid_m needs network nodes in the study "
                "area); add candidates.file or another source")
    counts = issues["problem"].value_counts()
    reasons = ", ".join(f"{n} {p.replace('_', ' ')}" for p, n in counts.items())
    ex = issues.iloc[0]
    word = "feature" if str(ex.get("file", "")).lower().endswith(GEO_EXTENSIONS) else "row"
    where = (f"{ex['file']} {word} {ex['row']}" if ex.get("file") and ex["row"] >= 0
             else f"'{ex['name']}'")
    return (f"{head}: all {len(issues)} candidates were dropped ({reasons}; e.g. {where}: "
            f"{ex['detail']}); fix their coordinates or candidates.crs, or add candidates "
            "(file, clusters, buildings, grid_m)")


def _conflicts(sites: gpd.GeoDataFrame, spacing: float | None) -> np.ndarray | None:
    if spacing is None or len(sites) < 2:
        return None
    xy = np.column_stack([sites.geometry.x.to_numpy(), sites.geometry.y.to_numpy()])
    return cKDTree(xy).query_pairs(spacing, output_type="ndarray")


#: Floor of the "areas below the floor" figure when a scenario sets none (half of an
#: area's older residents within the catchment).
DEFAULT_EQUITY_FLOOR = 0.5


def _equity_units(run: RunResult, level: str) -> tuple[np.ndarray, int, np.ndarray]:
    """Unit position per demand point (areas or streets), the unit count and unit ids."""
    apos = run.demand["area_pos"].to_numpy().astype(np.int64)
    if level == "area":
        return apos, len(run.areas), run.areas["area_id"].astype(str).to_numpy()
    codes = run.areas["street_code"].astype(str).to_numpy() if "street_code" in run.areas \
        else np.full(len(run.areas), "")
    if not (codes != "").any():
        raise InputDataError("equity_level = 'street' needs areas that carry street codes "
                             "(areas.street_code_column, or committee codes); use 'area'")
    ids, spos = np.unique(codes, return_inverse=True)
    unit = np.where(apos >= 0, spos.ravel()[np.maximum(apos, 0)], -1)
    unit[(apos >= 0) & (codes[np.maximum(apos, 0)] == "")] = -1
    return unit, len(ids), ids


def _equity_model(run: RunResult, sc: Scenario, prob: SitingProblem, cut: float,
                  conflicts: np.ndarray | None, kw: dict[str, Any]) -> SitingResult:
    """Area floors, maximin or the weighted MCLP on the scenario's units, with the sites
    ordered by the persons each adds (as for the other coverage models)."""
    from geoplan.siting.equity import AreaFloors, Maximin, weighted_mclp
    from geoplan.siting.greedy import order_by_value

    unit, n_units, _ = _equity_units(run, sc.equity_level)
    if sc.model == "floors":
        assert sc.floor is not None
        res = AreaFloors(prob, unit, n_units, sc.floor, cut, budget=sc.budget,
                         conflicts=conflicts).solve(sc.method, **kw)
    elif sc.model == "maximin":
        kw = dict(kw, mip_gap=max(kw["mip_gap"], 1e-5))
        res = Maximin(prob, unit, n_units, sc.new, cut).solve(sc.method, **kw)
    else:
        res = weighted_mclp(prob, unit, n_units, sc.new, cut, sc.equity_weight,
                            budget=sc.budget, conflicts=conflicts, method=sc.method, **kw)
    red = reduce_coverage(prob, cut)
    res.selected, res.marginal = order_by_value(red.a, red.w, res.selected)
    res.info.pop("area_shares", None)
    return res


def _equity_figures(areas: gpd.GeoDataFrame, streets: pd.DataFrame,
                    outcomes: list[TypeOutcome], floor: float) -> dict[str, Any]:
    """Smallest area share, share of areas below ``floor`` and the population-weighted Gini
    of the areas' covered shares, before and after; per street as columns of ``streets``."""
    from geoplan.siting.equity import equity_figures

    out: dict[str, Any] = {"equity_floor": floor}
    weight = areas["elderly"].to_numpy(np.float64)
    street = (areas["street_code"].astype(str).to_numpy() if "street_code" in areas
              else np.full(len(areas), ""))
    for o in outcomes:
        pre = f"{o.type}_" if len(outcomes) > 1 else ""
        for when in ("before", "after"):
            shares = areas[f"{pre}share_{when}"].to_numpy(np.float64)
            fig = equity_figures(shares, weight, floor)
            out[f"{pre}min_area_share_{when}"] = fig["min_area_share"]
            out[f"{pre}areas_below_floor_{when}"] = fig["areas_below_floor"]
            out[f"{pre}gini_{when}"] = fig["gini"]
            if len(streets) and "street_code" in streets:
                per = {c: equity_figures(shares[street == c], weight[street == c], floor)
                       for c in streets["street_code"].astype(str)}
                codes = streets["street_code"].astype(str)
                streets[f"{pre}min_area_share_{when}"] = codes.map(
                    lambda c, per=per: per[c]["min_area_share"]).to_numpy()
                streets[f"{pre}areas_below_floor_{when}"] = codes.map(
                    lambda c, per=per: per[c]["areas_below_floor"]).to_numpy()
                streets[f"{pre}gini_{when}"] = codes.map(
                    lambda c, per=per: per[c]["gini"]).to_numpy()
    return out


def _ranked_sites(cands: CandidateSet, res: SitingResult, before_w: float, total: float,
                  type_key: str, model: str) -> gpd.GeoDataFrame:
    sel = res.selected
    sites = cands.sites.iloc[sel].reset_index(drop=True).copy()
    sites.insert(0, "rank", np.arange(1, len(sel) + 1))
    sites.insert(1, "type", type_key)
    sites["marginal"] = res.marginal
    if model in ("mclp", "lscp", "multi", "cmclp", "floors", "maximin", "wmclp"):
        cum = before_w + np.cumsum(res.marginal)
        sites["cum_covered"] = cum
        sites["share_after"] = cum / total if total > 0 else np.nan
    return sites


def _coverage_curve(prob: SitingProblem, cutoff: float, max_sites: int, total: float,
                    type_key: str, conflicts: np.ndarray | None = None,
                    budget: float | None = None) -> pd.DataFrame:
    """Nested greedy curve: covered share after adding 0, 1, …, ``max_sites`` sites.

    The scenario's minimum spacing and budget hold along the curve too, so it never shows a
    share the rules forbid.
    """
    from geoplan.siting.coverage import _conflict_matrix

    red = reduce_coverage(prob, cutoff)
    feas = Feasibility(max_sites=max_sites, conflicts=_conflict_matrix(conflicts,
                                                                       red.a.shape[0]),
                       cost=prob.candidate_cost if budget is not None else None,
                       budget=budget)
    order, gains = greedy_cover(red.a, red.w, feas)
    k = np.arange(0, len(order) + 1)
    cov = red.base + np.concatenate([[0.0], np.cumsum(gains)])
    return pd.DataFrame({"type": type_key, "sites": k, "covered": cov,
                         "share": cov / total if total > 0 else np.nan,
                         "gain": np.concatenate([[0.0], gains])})


def _covered_by(times: sp.csr_matrix, rows: np.ndarray, cutoff: float, n: int) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    if len(rows):
        sub = times[np.asarray(rows)]
        out[sub.indices[sub.data <= cutoff + 1e-9]] = True
    return out


def _per_area(run: RunResult, w: np.ndarray, outcomes: list[TypeOutcome],
              extra: dict[str, np.ndarray]) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Before/after covered elderly and shares per area and per street."""
    apos = run.demand["area_pos"].to_numpy()
    areas = run.areas
    n_areas = len(areas)
    ok = apos >= 0
    cols: dict[str, np.ndarray] = {}
    tot = np.bincount(apos[ok], weights=w[ok], minlength=n_areas)
    cols["elderly"] = tot
    for o in outcomes:
        pre = f"{o.type}_" if len(outcomes) > 1 else ""
        b = np.bincount(apos[ok], weights=(w * o.before)[ok], minlength=n_areas)
        a = np.bincount(apos[ok], weights=(w * o.after)[ok], minlength=n_areas)
        with np.errstate(invalid="ignore", divide="ignore"):
            cols[f"{pre}covered_before"] = b
            cols[f"{pre}covered_after"] = a
            cols[f"{pre}share_before"] = np.where(tot > 0, b / tot, np.nan)
            cols[f"{pre}share_after"] = np.where(tot > 0, a / tot, np.nan)
            cols[f"{pre}gain"] = a - b
    for k, v in extra.items():
        cols[k] = np.bincount(apos[ok], weights=v[ok], minlength=n_areas)
    keep = [c for c in ("area_id", "area_kind", "code", "name", "street_code", "street_name",
                        "pop_estimated") if c in areas.columns]
    out = areas[keep].copy()
    for k, v in cols.items():
        out[k] = v
    out = gpd.GeoDataFrame(out, geometry=areas.geometry.to_numpy(), crs=areas.crs)
    streets = pd.DataFrame()
    if "street_code" in out and (out["street_code"].astype(str) != "").any():
        num = [c for c in cols if not c.startswith("share") and "share_" not in c]
        streets = out.groupby(["street_code", "street_name"], as_index=False)[num].sum()
        for o in outcomes:
            pre = f"{o.type}_" if len(outcomes) > 1 else ""
            with np.errstate(invalid="ignore", divide="ignore"):
                streets[f"{pre}share_before"] = streets[f"{pre}covered_before"] / streets[
                    "elderly"].where(streets["elderly"] > 0)
                streets[f"{pre}share_after"] = streets[f"{pre}covered_after"] / streets[
                    "elderly"].where(streets["elderly"] > 0)
    return out, streets


def run_scenario(ctx: _Context, sc: Scenario) -> ScenarioOutcome:
    """Solve one scenario on a finished coverage run."""
    t0 = time.perf_counter()
    run = ctx.run
    w = run.demand[sc.weight].to_numpy(np.float64)
    total = float(w.sum())
    seed = run.config.analysis.seed
    kw = dict(time_limit=sc.time_limit_s, mip_gap=sc.mip_gap, seed=seed)
    outcomes: list[TypeOutcome] = []
    curves, issues = [], []
    assignment = pd.DataFrame()
    unreachable = pd.DataFrame()
    warnings: list[str] = []
    extra: dict[str, np.ndarray] = {}
    if sc.model == "multi":
        plans, probs = [], {}
        for tc in sc.plans:
            cut = _cutoff(tc.cutoff_min, tc.type)
            prob, cands, c_snap, _ = _problem(ctx, sc, tc.type, cut, cut)
            probs[tc.type] = (prob, cands, c_snap, cut)
            plans.append(TypePlan(tc.type, prob, cut, tc.new, tc.weight))
            issues.append(cands.issues)
        link = None
        if sc.link is not None:
            lk = sc.link
            s_snap, c_snap = probs[lk.station][2], probs[lk.centre][2]
            lt = point_reach(ctx.graph, s_snap, c_snap, lk.max_min * 60.0)
            lt = sp.csr_matrix(lt)
            lt.data = lt.data / 60.0
            _, ex_c = ctx.existing(lk.centre)
            ex_t = point_reach(ctx.graph, s_snap, ex_c, lk.max_min * 60.0) if len(ex_c) else \
                sp.csr_matrix((len(s_snap), 0))
            ex_t = sp.csr_matrix(ex_t)
            has_ex = np.zeros(len(s_snap), dtype=bool)
            rows = np.repeat(np.arange(ex_t.shape[0]), np.diff(ex_t.indptr))
            has_ex[rows[ex_t.data <= lk.max_min * 60.0 + 1e-6]] = True
            link = Link(lk.station, lk.centre, lt, has_ex, lk.max_min)
        mres: MultiTypeResult = MultiTypePlan(plans, link).solve(sc.method, **kw)
        for tc in sc.plans:
            prob, cands, c_snap, cut = probs[tc.type]
            res = mres.by_type[tc.type]
            before = prob.covered_by_existing(cut)
            after = before | _covered_by(prob.times, res.selected, cut, len(w))
            sites = _ranked_sites(cands, res, float(w[before].sum()), total, tc.type, "multi")
            outcomes.append(TypeOutcome(tc.type, cut, res, sites, cands.sites, before, after,
                                        c_snap.subset(res.selected)))
            curves.append(_coverage_curve(prob, cut, max(sc.curve_max, 2 * tc.new, 10), total,
                                          tc.type))
        objective, bound, gap, status = mres.objective, mres.bound, mres.gap, mres.status
        warnings += mres.warnings
    else:
        cut = _cutoff(sc.cutoff_min, sc.type)
        search = cut
        if sc.model == "pmedian":
            search = float(sc.penalty_min or max(2 * cut, 30.0))
        prob, cands, c_snap, ex = _problem(ctx, sc, sc.type, cut, search)
        issues.append(cands.issues)
        conflicts = _conflicts(cands.sites, sc.min_spacing_m)
        if sc.model == "mclp":
            res = MCLP(prob, sc.new, cut, budget=sc.budget, conflicts=conflicts).solve(
                sc.method, **kw)
        elif sc.model == "lscp":
            model = LSCP(prob, sc.target, cut, budget=sc.budget, conflicts=conflicts)
            res = model.solve(sc.method, **kw)
            unreachable = _unreachable_by_area(run, w, model.unreachable)
        elif sc.model == "cmclp":
            res = CapacitatedMCLP(prob, sc.new, cut).solve(sc.method, **kw)
            assignment = _assignment_table(run, cands, ex, res)
            served = np.zeros(len(w))
            served_new = np.zeros(len(w))
            if len(res.assignment):
                a = res.assignment
                np.add.at(served, a["demand"].to_numpy(), a["persons"].to_numpy())
                new = ~a["existing"].to_numpy()
                np.add.at(served_new, a["demand"].to_numpy()[new], a["persons"].to_numpy()[new])
            extra = {"served_total": served, "served_new": served_new}
        elif sc.model in ("floors", "maximin", "wmclp"):
            res = _equity_model(run, sc, prob, cut, conflicts, kw)
        else:  # pmedian
            from geoplan.siting.pmedian import PMedian

            res = PMedian(prob, sc.new, penalty_min=search).solve(sc.method, **kw)
        before = prob.covered_by_existing(cut)
        after = before | _covered_by(prob.times, res.selected, cut, len(w))
        if sc.model == "pmedian":
            t_before = np.minimum(prob.existing_best_time(), search)
            sub = prob.times[res.selected]
            t_after = t_before.copy()
            if sub.nnz:
                np.minimum.at(t_after, sub.indices, sub.data)
            extra = {"wtime_before": w * t_before, "wtime_after": w * t_after}
        base = float(res.info["served_existing"]) if sc.model == "cmclp" else float(
            w[before].sum())
        sites = _ranked_sites(cands, res, base, total, sc.type, sc.model)
        outcomes.append(TypeOutcome(sc.type, cut, res, sites, cands.sites, before, after,
                                    c_snap.subset(res.selected)))
        curve_max = max(sc.curve_max, 2 * max(sc.new, len(res.selected)), 10)
        curves.append(_coverage_curve(prob, cut, min(curve_max, prob.n_candidates), total,
                                      sc.type, conflicts, sc.budget))
        objective, bound, gap, status = res.objective, res.bound, res.gap, res.status
        warnings += res.warnings
    areas, streets = _per_area(run, w, outcomes, extra)
    equity = _equity_figures(areas, streets, outcomes, sc.floor if sc.floor is not None
                             else DEFAULT_EQUITY_FLOOR)
    if "wtime_before" in extra:
        for df in (areas, streets):
            if len(df):
                den = df["elderly"].where(df["elderly"] > 0)
                df["mean_min_before"] = df["wtime_before"] / den
                df["mean_min_after"] = df["wtime_after"] / den
    if "served_total" in extra:
        for df in (areas, streets):
            if len(df):
                den = df["elderly"].where(df["elderly"] > 0)
                df["served_share_after"] = df["served_total"] / den
    for msg in warnings:
        log.warning("scenario '%s': %s", sc.name, msg)
    summary = _summary(sc, outcomes, total, objective, bound, gap, status, extra)
    summary.update(equity)
    issues_df = pd.concat([i for i in issues if len(i)], ignore_index=True) if any(
        len(i) for i in issues) else pd.DataFrame()
    return ScenarioOutcome(scenario=sc, outcomes=outcomes,
                           curve=pd.concat(curves, ignore_index=True), areas=areas,
                           streets=streets, assignment=assignment, unreachable=unreachable,
                           issues=issues_df, summary=summary, objective=objective, bound=bound,
                           gap=gap, status=status, seconds=time.perf_counter() - t0,
                           warnings=warnings)


def _summary(sc: Scenario, outcomes: list[TypeOutcome], total: float, objective: float,
             bound: float | None, gap: float | None, status: str,
             extra: dict[str, np.ndarray]) -> dict[str, Any]:
    out: dict[str, Any] = {"scenario": sc.name, "model": sc.model, "method":
                           outcomes[0].result.method if outcomes else sc.method,
                           "elderly": total, "objective": objective,
                           "objective_name": outcomes[0].result.objective_name,
                           "bound": bound, "gap": gap, "status": status,
                           "verified": all(o.result.info.get("verified") for o in outcomes)}
    first = outcomes[0].result.info if outcomes else {}
    if first.get("milp_attempts"):  # each HiGHS run and what its check found
        out["solver_attempts"] = " | ".join(first["milp_attempts"])
    if first.get("limited_by"):
        out["limited_by"] = ", ".join(first["limited_by"])
        out["best_share"] = first.get("best_share")
    for o in outcomes:
        pre = f"{o.type}_" if len(outcomes) > 1 else ""
        w = o.result.info.get("total_weight", total)
        out[f"{pre}type"] = o.type
        out[f"{pre}cutoff_min"] = o.cutoff
        out[f"{pre}new_sites"] = len(o.result.selected)
        out[f"{pre}candidates"] = len(o.candidates)
        if w > 0:
            b = o.result.info.get("covered_existing")
            out[f"{pre}share_before"] = (b / w) if b is not None else None
            after = o.result.info.get("covered_total")
            out[f"{pre}share_after"] = (after / w) if after is not None else None
    if "wtime_before" in extra and total > 0:
        out["mean_min_before"] = float(extra["wtime_before"].sum() / total)
        out["mean_min_after"] = float(extra["wtime_after"].sum() / total)
    if "served_total" in extra:
        out["served_total"] = float(extra["served_total"].sum())
        out["served_new"] = float(extra["served_new"].sum())
    for k in ("target", "best_share", "share", "unreachable_weight"):
        if outcomes and k in outcomes[0].result.info:
            out[k] = outcomes[0].result.info[k]
    return out


def _unreachable_by_area(run: RunResult, w: np.ndarray, mask: np.ndarray) -> pd.DataFrame:
    apos = run.demand["area_pos"].to_numpy()
    sel = mask & (apos >= 0)
    if not sel.any():
        return pd.DataFrame(columns=["area_id", "name", "points", "elderly"])
    df = pd.DataFrame({"area_pos": apos[sel], "w": w[sel]})
    g = df.groupby("area_pos").agg(points=("w", "size"), elderly=("w", "sum")).reset_index()
    areas = run.areas
    g["area_id"] = areas["area_id"].to_numpy()[g["area_pos"].to_numpy()]
    g["name"] = areas["name"].to_numpy()[g["area_pos"].to_numpy()]
    return g[["area_id", "name", "points", "elderly"]].sort_values(
        "elderly", ascending=False).reset_index(drop=True)


def _assignment_table(run: RunResult, cands: CandidateSet, existing: gpd.GeoDataFrame,
                      res: SitingResult) -> pd.DataFrame:
    """Residents per (demand point, site), with site ids of candidates or facilities."""
    a = res.assignment
    if a is None or len(a) == 0:
        return pd.DataFrame()
    ex = a["existing"].to_numpy()
    pos = a["site"].to_numpy()
    site_id = np.empty(len(a), dtype=object)
    site_id[~ex] = cands.sites["cid"].to_numpy()[pos[~ex]]
    site_id[ex] = existing["fid"].to_numpy()[pos[ex]]
    name = np.empty(len(a), dtype=object)
    name[~ex] = cands.sites["name"].to_numpy()[pos[~ex]]
    name[ex] = existing["name"].to_numpy()[pos[ex]]
    dem = run.demand
    return pd.DataFrame({
        "demand_id": dem["demand_id"].to_numpy()[a["demand"].to_numpy()],
        "site_id": site_id, "site_name": name, "existing": ex,
        "persons": a["persons"].to_numpy(), "time_min": a["time_min"].to_numpy()})


def site(cfg: Config, run: RunResult, names: list[str] | None = None,
         overrides: dict[str, Any] | None = None, *,
         source: str = OVERRIDES_CLI) -> list[ScenarioOutcome]:
    """Solve the named scenarios (all when ``names`` is empty) on a finished run.

    ``source`` names where ``overrides`` come from in error messages.
    """
    scenarios = list(cfg.scenarios)
    if names:
        known = {s.name: s for s in scenarios}
        missing = [n for n in names if n not in known]
        if missing:
            raise InputDataError(f"no scenario named '{missing[0]}' in {cfg.source_file}; "
                                 f"scenarios: {', '.join(known) or '(none)'}")
        scenarios = [known[n] for n in names]
    if overrides:
        scenarios = [apply_overrides(s, source=source, **overrides) for s in scenarios]
    if not scenarios:
        raise InputDataError("the config has no [[scenarios]]; add one (see "
                             "examples/yangpu-wujiaochang.toml) or pass --model/--type/--new "
                             "with --scenario NAME")
    ctx = _Context(run)
    out = []
    for sc in progress.track(scenarios, "scenarios", unit="scenario"):
        with run.manifest.step(f"scenario {sc.name}"):
            oc = run_scenario(ctx, sc)
        log.info("scenario '%s': %s", sc.name, "; ".join(o.result.summary()
                                                          for o in oc.outcomes))
        out.append(oc)
    return out


def _safe(name: str) -> str:
    import re

    return re.sub(r"[^0-9A-Za-z_\-\u4e00-\u9fff]+", "_", name).strip("_") or "scenario"


def siting_paths(cfg: Config, scenario: str) -> dict[str, Any]:
    """Where :func:`write_siting_outputs` puts a scenario's files."""
    base = f"{cfg.study_area.name}-site-{_safe(scenario)}"
    folder = cfg.output.dir / "siting"
    return {"gpkg": folder / f"{base}.gpkg", "tables": folder / base,
            "map": cfg.output.maps_dir / f"{base}.html",
            "manifest": folder / f"{base}-manifest.json",
            **({"png": cfg.output.maps_dir / f"{base}.png",
                "pdf": cfg.output.maps_dir / f"{base}.pdf"} if cfg.output.static_map else {})}


def _catchments(ctx: _Context, o: TypeOutcome) -> gpd.GeoDataFrame:
    from geoplan.reach.engine import node_reach
    from geoplan.reach.isochrones import isochrones

    if len(o.snapped) == 0:
        return gpd.GeoDataFrame({"cid": [], "rank": []}, geometry=[], crs=ctx.net.crs)
    nt = node_reach(ctx.graph, o.snapped, o.cutoff * 60.0)
    iso = isochrones(ctx.net, o.snapped, nt, [o.cutoff * 60.0],
                     walk_in_m=ctx.run.config.analysis.walk_in_m,
                     source_ids=o.sites["cid"].to_numpy())
    iso = iso.rename(columns={"source": "cid"})
    iso["rank"] = o.sites["rank"].to_numpy()
    iso["type"] = o.type
    return iso


def write_siting_outputs(run: RunResult, outcomes: list[ScenarioOutcome]) -> list[dict[str, Any]]:
    """Write GeoPackage, tables (CSV + XLSX), map and manifest per scenario, atomically."""
    from geoplan.outputs.atomic import StagedOutputs
    from geoplan.outputs.gpkg import write_geopackage
    from geoplan.outputs.sitingmap import build_siting_map
    from geoplan.outputs.tables import write_area_tables
    from geoplan.outputs.webmap import save_map

    cfg = run.config
    lang = cfg.output.lang
    ctx = _Context(run)
    fac_wgs = run.facilities.to_crs(4326)
    iso_type_wgs = run.isochrones_by_type.to_crs(4326)
    boundary = gpd.GeoSeries([run.boundary], crs=run.network.crs).to_crs(4326).iloc[0]
    written = []
    manifest = run.manifest
    with StagedOutputs({"data": cfg.output.dir / "siting",
                        "maps": cfg.output.maps_dir}) as staged:
        for oc in outcomes:
            sc = oc.scenario
            paths = siting_paths(cfg, sc.name)
            names = {k: p.name for k, p in paths.items()}
            catch = {o.type: _catchments(ctx, o) for o in oc.outcomes}
            sites = pd.concat([o.sites for o in oc.outcomes], ignore_index=True)
            sites = gpd.GeoDataFrame(sites, geometry="geometry", crs=run.network.crs)
            cands = pd.concat([o.candidates.assign(type=o.type) for o in oc.outcomes],
                              ignore_index=True)
            cands = gpd.GeoDataFrame(cands, geometry="geometry", crs=run.network.crs)
            summary = pd.DataFrame([oc.summary])
            catch_all = pd.concat(list(catch.values()), ignore_index=True)
            catch_all = gpd.GeoDataFrame(catch_all, geometry="geometry", crs=run.network.crs)
            areas_wgs = oc.areas.to_crs(4326)
            layers = {"scenario": summary, "proposed_sites": sites.to_crs(4326),
                      "catchments": catch_all.to_crs(4326), "areas": areas_wgs,
                      "coverage_curve": oc.curve, "candidates": cands.to_crs(4326),
                      "streets": oc.streets if len(oc.streets) else None,
                      "assignment": oc.assignment if len(oc.assignment) else None,
                      "unreachable": oc.unreachable if len(oc.unreachable) else None,
                      "issues": oc.issues if len(oc.issues) else None}
            write_geopackage(staged.path("data", names["gpkg"]), layers)
            sheets = {"sites": sites.drop(columns="geometry"), "scenarios": summary,
                      "curve": oc.curve, "areas_change": oc.areas.drop(columns="geometry")}
            for key, df in (("streets_change", oc.streets), ("assignment", oc.assignment),
                            ("unreachable", oc.unreachable), ("issues", oc.issues)):
                if len(df):
                    sheets[key] = df
            sheets["candidates"] = cands.drop(columns="geometry")
            notes = [f"Scenario '{sc.name}': model {sc.model}, {oc.summary.get('status')}, "
                     f"objective {oc.objective:,.1f}" + (
                         f", gap {100 * oc.gap:.3f} %" if oc.gap is not None else ""),
                     "Proposed sites are ranked in the order in which they add value; "
                     "'marginal' is what each adds given the ones before it.",
                     "The coverage curve adds sites greedily (nested), from the existing "
                     "facilities; the proposed set itself is optimised by the model.",
                     *oc.warnings, *run.notes]
            tables = write_area_tables(staged, ("data", names["tables"]), sheets, lang=lang,
                                       circle_minutes=cfg.analysis.circle_minutes, notes=notes)
            title = f"{cfg.study_area.title(lang)} · {sc.name}"
            m = build_siting_map(
                areas_wgs, fac_wgs, iso_type_wgs,
                [(o.type, o.cutoff, o.sites, catch[o.type]) for o in oc.outcomes],
                lang=lang, title=title, boundary=boundary, types=list(cfg.facility_types),
                basemap=cfg.output.basemap, tianditu_key=cfg.output.tianditu_key or None,
                equity={k: v for k, v in oc.summary.items()
                        if k.startswith(("min_area_share", "areas_below_floor", "gini"))},
                detail_limit=cfg.output.map_detail_limit)
            save_map(m, staged.path("maps", names["map"]), offline=cfg.output.offline)
            if cfg.output.static_map:
                from geoplan.outputs.staticmap import write_static_map

                multi = len(oc.outcomes) > 1
                write_static_map(
                    [staged.path("maps", names["png"]), staged.path("maps", names["pdf"])],
                    areas_wgs, fac_wgs, iso_type_wgs, boundary=boundary, lang=lang,
                    title=title, circle_minutes=cfg.analysis.circle_minutes,
                    score=f"{oc.outcomes[0].type}_share_after" if multi else "share_after",
                    types=list(cfg.facility_types),
                    proposed=[(o.type, o.sites) for o in oc.outcomes],
                    font_cache=cfg.output.cache_dir / "pdf-fonts")
                for key in ("png", "pdf"):
                    manifest.add_output(staged.path("maps", names[key]), final=paths[key])
            manifest.set_counts(**{f"scenario_{sc.name}": oc.summary})
            manifest.add_output(staged.path("data", names["gpkg"]), final=paths["gpkg"])
            for kind in ("csv", "xlsx"):
                manifest.add_output(tables[kind], final=paths["tables"].with_suffix(f".{kind}"))
            manifest.add_output(staged.path("maps", names["map"]), final=paths["map"])
            written.append(paths)
        manifest.finish()
        for paths in written:
            manifest.write(staged.path("data", paths["manifest"].name))
    return written
