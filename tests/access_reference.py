"""The reference for geoplan's 2SFCA/E2SFCA: the same inputs through PySAL's ``access``.

Shared by the accessibility tests and ``scripts/bench_fca.py`` (which also times it).
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd
import scipy.sparse as sp

#: Method names as in ``[accessibility] methods``.
METHODS = ("2sfca", "e2sfca_step", "e2sfca_gaussian")


def access_scores(times: sp.csr_matrix, supply: np.ndarray, demand: np.ndarray,
                  catchment: float, method: str, sigma: float = 7.5) -> tuple[np.ndarray, float]:
    """Accessibility per demand point from ``access.Access`` and the seconds it took.

    Parameters
    ----------
    times : scipy.sparse.csr_matrix
        Facilities × demand points, walking minutes (stored pairs only).
    supply, demand : numpy.ndarray
        Capacity per facility, population per demand point.
    catchment : float
        Catchment in minutes.
    method : {"2sfca", "e2sfca_step", "e2sfca_gaussian"}
        Step weights 1 / 0.68 / 0.22 over three equal zones; Gaussian with ``sigma``.

    Returns
    -------
    scores : numpy.ndarray
        Per demand point; NaN where ``access`` gives no value (no facility in reach).
    seconds : float
        Time of the ``access`` computation (building its long cost table excluded).
    """
    import access

    coo = times.tocoo()
    cost = pd.DataFrame({"origin": coo.col, "dest": coo.row, "cost": coo.data})
    dem = pd.DataFrame({"pop": demand}, index=pd.RangeIndex(len(demand), name="geoid"))
    sup = pd.DataFrame({"cap": supply}, index=pd.RangeIndex(len(supply), name="geoid"))
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = access.Access(demand_df=dem, demand_index=True, demand_value="pop", supply_df=sup,
                          supply_index=True, supply_value="cap", cost_df=cost,
                          cost_origin="origin", cost_dest="dest", cost_name="cost")
        if method == "2sfca":
            r = a.two_stage_fca(name=method, max_cost=catchment)
        elif method == "e2sfca_step":
            c = catchment
            fn = access.weights.step_fn({c / 3: 1.0, 2 * c / 3: 0.68, c: 0.22})
            r = a.enhanced_two_stage_fca(name=method, max_cost=catchment, weight_fn=fn)
        elif method == "e2sfca_gaussian":
            r = a.enhanced_two_stage_fca(name=method, max_cost=catchment,
                                         weight_fn=access.weights.gaussian(sigma))
        else:
            raise ValueError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")
    secs = time.perf_counter() - t0
    return r.iloc[:, 0].reindex(range(len(demand))).to_numpy(np.float64), secs
