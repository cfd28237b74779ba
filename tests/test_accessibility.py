"""2SFCA / E2SFCA against PySAL's ``access`` package and hand-computed values; the gap index."""

from __future__ import annotations

from pathlib import Path

import access
import numpy as np
import pytest
import scipy.sparse as sp

from geoplan.analysis.fca import Decay, floating_catchment, weighted_mean_by_group
from geoplan.analysis.gapindex import access_shortfall, gap_index
from tests.access_reference import access_scores


def _access_scores(times: sp.csr_matrix, supply: np.ndarray, demand: np.ndarray,
                   catchment: float, method: str) -> np.ndarray:
    name = {"step": "e2sfca_step", "gauss": "e2sfca_gaussian"}.get(method, method)
    return access_scores(times, supply, demand, catchment, name)[0]


DECAYS = {"2sfca": Decay(), "step": Decay.luo_qi(15), "gauss": Decay("gaussian", sigma=7.5)}


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("method", list(DECAYS))
def test_matches_pysal_access(seed: int, method: str) -> None:
    rng = np.random.default_rng(seed)
    m, n = 25, 200
    times = sp.random(m, n, density=0.25, random_state=seed, format="csr") * 25.0
    times.data = np.round(times.data, 1)  # ties at the zone breaks are exercised too
    supply = rng.integers(5, 120, m).astype(float)
    demand = rng.integers(0, 400, n).astype(float)
    ours = floating_catchment(times, supply, demand, 15.0, DECAYS[method]).access
    ref = _access_scores(times, supply, demand, 15.0, method)
    ok = np.isfinite(ref)
    assert ok.sum() > n // 2
    np.testing.assert_allclose(ours[ok], ref[ok], rtol=1e-12, atol=1e-15)
    # where access has no entry, no facility is within the catchment: 0 here
    assert np.all(ours[~ok] == 0)


def test_hand_computed_example() -> None:
    """Two facilities, three demand points (times in minutes, catchment 15):

    F0 (20 places) reaches D0 (100 people, 4 min) and D1 (300, 12 min);
    F1 (10 places) reaches D1 (9 min) and D2 (100, 14 min); F1→D0 takes 20 min (out).
    2SFCA: R0 = 20/400 = 0.05, R1 = 10/400 = 0.025;
    A = [0.05, 0.075, 0.025] per person → ×1000 = [50, 75, 25].
    Step weights (≤5: 1, ≤10: 0.68, ≤15: 0.22):
    D0: W00 = 1; D1: W01 = 0.22, W11 = 0.68; D2: W12 = 0.22.
    R0 = 20 / (100 + 0.22·300) = 20/166; R1 = 10 / (0.68·300 + 0.22·100) = 10/226.
    """
    t = sp.csr_matrix(np.array([[4.0, 12.0, 0.0], [20.0, 9.0, 14.0]]))
    t.eliminate_zeros()
    s, p = np.array([20.0, 10.0]), np.array([100.0, 300.0, 100.0])
    r = floating_catchment(t, s, p, 15, per=1000)
    np.testing.assert_allclose(r.access, [50, 75, 25])
    np.testing.assert_allclose(r.ratio, [50, 25])
    r = floating_catchment(t, s, p, 15, Decay.luo_qi(15), per=1000)
    r0, r1 = 20 / 166, 10 / 226
    np.testing.assert_allclose(r.access, 1000 * np.array([r0, 0.22 * r0 + 0.68 * r1,
                                                          0.22 * r1]))
    # conservation: Σ P·A equals the supply of facilities with demand in reach
    np.testing.assert_allclose((p * r.access).sum(), 1000 * s.sum())


def test_explicit_zero_time_counts_and_unused_supply() -> None:
    t = sp.csr_matrix((np.array([0.0, 30.0]), np.array([0, 0]), np.array([0, 1, 2])),
                      shape=(2, 1))
    r = floating_catchment(t, np.array([5.0, 7.0]), np.array([10.0]), 15)
    assert r.access[0] == pytest.approx(0.5)  # facility at the demand point (0 min)
    assert r.ratio[1] == 0 and r.catchment_demand[1] == 0  # nobody within 15 min


def test_decay_steps_match_access_step_fn() -> None:
    fn = access.weights.step_fn({5: 1.0, 10: 0.68, 15: 0.22})
    t = np.array([0, 4.99, 5, 5.01, 10, 12, 15, 15.5])
    np.testing.assert_allclose(Decay.luo_qi(15)(t), [fn(x) for x in t])
    with pytest.raises(ValueError):
        Decay("step", (10, 5), (1, 1))


def test_weighted_mean_by_group() -> None:
    g = np.array([0, 0, 1, -1, 2])
    v = np.array([1.0, 3.0, 5.0, 100.0, 7.0])
    w = np.array([1.0, 3.0, 2.0, 5.0, 0.0])
    out = weighted_mean_by_group(g, v, w, 4)
    np.testing.assert_allclose(out[:2], [2.5, 5.0])
    assert np.isnan(out[2]) and np.isnan(out[3])


def test_gap_index_components_and_rank() -> None:
    comps = {"uncovered": np.array([1.0, 0.2, 0.2, 0.0, 0.5]),
             "access": np.array([1.0, 0.6, 0.6, np.nan, 0.5]),
             "standards": np.array([np.nan, 0.5, 0.5, 0.5, 0.5])}
    w = {"uncovered": 0.5, "access": 0.3, "standards": 0.2}
    elderly = np.array([100.0, 50.0, 80.0, 10.0, 0.0])
    out = gap_index(comps, w, elderly)
    # area 0: standards missing → weights renormalised over uncovered + access
    assert out["gap_index"][0] == pytest.approx(100.0)
    assert out["gap_components"][0] == "uncovered+access"
    # area 1: (0.5·0.2 + 0.3·0.6 + 0.2·0.5) / 1.0 = 0.38
    assert out["gap_index"][1] == pytest.approx(38.0)
    assert out[["contrib_uncovered", "contrib_access", "contrib_standards"]].iloc[1].sum() \
        == pytest.approx(38.0)
    # area 3: access missing → (0.5·0 + 0.2·0.5) / 0.7
    assert out["gap_index"][3] == pytest.approx(100 * 0.1 / 0.7)
    # no elderly: no index, ranked last; tie between 1 and 2 → more elderly first
    assert np.isnan(out["gap_index"][4])
    assert out["gap_index_rank"].tolist() == [1, 3, 2, 4, 5]
    np.testing.assert_allclose(access_shortfall(np.array([0.0, 5.0, 20.0, np.nan]), 10.0),
                               [1.0, 0.5, 0.0, np.nan])


# ------------------------------------------------------------------ real demo data


def test_demo_run_accessibility_matches_access(demo_dir: Path, tmp_path: Path) -> None:
    """On the real demo: the run's per-point scores equal ``access`` on the same times."""
    from geoplan.config import load_config
    from geoplan.network.snapping import snap_points
    from geoplan.reach.csr import ReachGraph
    from geoplan.reach.engine import point_reach
    from geoplan.workflows.coverage import analyse
    from tests.test_site import demo_config

    cfg = load_config(demo_config(demo_dir, tmp_path))
    run = analyse(cfg)
    fac = run.facilities[run.facilities["type"] == "canteen"]
    graph = ReachGraph.from_network(run.network)
    speed = cfg.walking.speed_mps
    f_snap = snap_points(run.network, fac.geometry.to_numpy(), speed)
    d_snap = snap_points(run.network, run.demand.geometry.to_numpy(), speed)
    times = sp.csr_matrix(point_reach(graph, f_snap, d_snap, 15 * 60.0))
    times.data = times.data / 60.0
    demand = run.demand["elderly_60"].to_numpy(np.float64)
    supply = fac["supply_canteen_count"].to_numpy(np.float64)
    assert np.all(supply == 1.0)  # the demo list has no seat counts: 1 per canteen
    # no seat counts: the columns say the supply is a count of canteens
    assert not any(c.startswith("acc_canteen_2sfca") for c in run.demand.columns)
    for col, method in (("acc_canteen_count_2sfca", "2sfca"),
                        ("acc_canteen_count_e2sfca_step", "step"),
                        ("acc_canteen_count_e2sfca_gaussian", "gauss")):
        ref = _access_scores(times, supply, demand, 15.0, method) * 1000.0
        ours = run.demand[col].to_numpy(np.float64)
        ok = np.isfinite(ref)
        assert ok.sum() > 100
        np.testing.assert_allclose(ours[ok], ref[ok], rtol=1e-10)
        assert np.all(ours[~ok] == 0)
        # study-area mean = supply of the canteens that reach someone / elderly (2SFCA
        # hands out all of a facility's supply once it reaches any demand)
        reaches = np.diff(times.indptr) > 0
        assert reaches.sum() >= 4
        assert run.summary[col].iloc[0] == pytest.approx(
            1000 * supply[reaches].sum() / demand.sum())
    areas = run.areas
    assert {"gap_index", "gap_index_rank", "gap_uncovered", "gap_access",
            "contrib_uncovered", "contrib_access"} <= set(areas.columns)
    has = areas["elderly_60"] > 0
    assert areas.loc[has, "gap_index"].between(0, 100).all()
    recon = areas.loc[has, ["contrib_uncovered", "contrib_access"]].sum(axis=1)
    np.testing.assert_allclose(recon, areas.loc[has, "gap_index"], atol=1e-9)
