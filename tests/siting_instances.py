"""Small random siting instances shared by the siting tests (not a test module)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from geoplan.siting.problem import SitingProblem

BIG = 1e6  # "unreachable" in dense matrices handed to spopt


def random_instance(seed: int, n: int = 60, m: int = 20, k_existing: int = 0,
                    search: float = 25.0, size: float = 4000.0, speed: float = 60.0,
                    ) -> tuple[SitingProblem, np.ndarray, np.ndarray]:
    """Points in a square, times = straight-line metres / speed (m/min), kept up to ``search``.

    Returns the problem and the dense candidate × demand and existing × demand time matrices
    (``BIG`` where the pair is beyond the search cutoff) for independent checks.
    """
    rng = np.random.default_rng(seed)
    dem = rng.random((n, 2)) * size
    cand = rng.random((m, 2)) * size
    ex = rng.random((k_existing, 2)) * size
    w = rng.integers(1, 50, n).astype(float)

    def mat(src: np.ndarray) -> np.ndarray:
        d = np.linalg.norm(src[:, None, :] - dem[None, :, :], axis=2) / speed
        return np.where(d <= search, np.round(d, 3), BIG)

    tc, te = mat(cand), mat(ex)

    def sparse(d: np.ndarray) -> sp.csr_matrix:
        r, c = np.nonzero(d < BIG)
        return sp.csr_matrix((d[r, c], (r, c)), shape=d.shape)

    prob = SitingProblem(weights=w, times=sparse(tc), existing_times=sparse(te))
    return prob, tc, te
