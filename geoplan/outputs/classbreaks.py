"""Import :mod:`mapclassify` light: no numba recompile, no scikit-learn, SciPy or pyplot.

mapclassify (2.x) does three costly things as its package is imported, none of which the
class breaks geoplan draws need at that moment:

* it compiles its Fisher-Jenks kernel eagerly, with an explicit signature and without
  numba's on-disk cache (1.5 to 3.5 s on every ``geoplan run``, ``site`` or ``report``);
* ``mapclassify.classifiers`` imports ``scipy.stats`` (0.4 to 0.7 s; only its
  ``scoreatpercentile`` is used, by ``Quantiles``) and ``sklearn.cluster`` (0.3 s; its
  ``KMeans`` is used only by ``NaturalBreaks``, which a run does not call);
* ``mapclassify.value_by_alpha`` imports ``matplotlib.pyplot`` (0.3 to 0.5 s) for its
  value-by-alpha plots, which geoplan never draws (the print map uses
  ``matplotlib.figure.Figure`` without pyplot).

:func:`mapclassify` imports the package while numba is hidden from it, so that it defines
its plain-Python fallback, and then puts back the same kernel compiled by numba *with*
``cache=True``: compiled once per machine, loaded from the cache afterwards.
scikit-learn's ``KMeans`` is handed to it as a stand-in that imports the real one on first
use, and ``scipy.stats`` as a module whose ``scoreatpercentile`` is
:func:`score_at_percentile` (SciPy's own arithmetic for a 1-D array, so quantile breaks
are bit for bit SciPy's; a test compares them) and whose every other name imports SciPy's;
pyplot, if nothing imported it yet, is hidden, which mapclassify handles itself (its
value-by-alpha plots then say that matplotlib is needed). If mapclassify was imported
elsewhere first, or its kernel is not where this expects it, the package is used as it is.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from numbers import Real
from types import ModuleType
from typing import Any

import numpy as np

_KERNEL = "_fisher_jenks_means"
_SIGNATURE = "f8[:](f8[:], u2)"
_MISSING = object()


class _LazyModule(ModuleType):
    """Stands in for module ``name`` and imports it on first attribute access."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._real: ModuleType | None = None

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__") or attr == "_real":
            raise AttributeError(attr)
        if self._real is None:
            self._real = importlib.import_module(self.__name__)
        return getattr(self._real, attr)


def score_at_percentile(a: Any, per: Any, limit: tuple = (),
                        interpolation_method: str = "fraction", axis: int | None = None) -> Any:
    """``scipy.stats.scoreatpercentile``, without importing :mod:`scipy.stats` (0.4 s).

    For a flattened array (``axis=None``), no ``limit`` and the default ``"fraction"``
    interpolation at a scalar percentile, this does SciPy's own steps (sort, fractional
    index, ``np.add.reduce`` of the two neighbours times their weights, divided by the
    weights' sum), so the result is bit for bit SciPy's; anything else is passed to SciPy.
    Written here because mapclassify's ``Quantiles`` calls it once per class boundary on
    every map, and SciPy offers it only inside :mod:`scipy.stats`.

    Parameters
    ----------
    a : array_like
        Values.
    per : float
        Percentile in [0, 100].
    limit, interpolation_method, axis
        As for ``scipy.stats.scoreatpercentile`` (non-default values go to SciPy).

    Returns
    -------
    numpy.float64
        The score at ``per``.
    """
    if limit or interpolation_method != "fraction" or axis is not None or \
            not isinstance(per, Real | np.integer | np.floating):
        import scipy.stats

        return scipy.stats.scoreatpercentile(a, per, limit, interpolation_method, axis)
    arr = np.asarray(a)
    if arr.size == 0:
        return np.nan
    if not (0 <= per <= 100):
        raise ValueError("percentile must be in the range [0, 100]")
    s = np.sort(arr, axis=None)
    idx = per / 100. * (s.shape[0] - 1)
    i = int(idx)
    if i == idx:
        return np.add.reduce(s[i:i + 1] * np.array(1), axis=0) / 1.0
    weights = np.array([(i + 1 - idx), (idx - i)], float)
    return np.add.reduce(s[i:i + 2] * weights, axis=0) / weights.sum()


class _Stats(_LazyModule):
    """``scipy.stats`` for mapclassify: :func:`score_at_percentile`, the rest lazily."""

    scoreatpercentile = staticmethod(score_at_percentile)


def _kmeans(*args: Any, **kwargs: Any) -> Any:
    """``sklearn.cluster.KMeans(*args, **kwargs)``, scikit-learn imported on the first call."""
    from sklearn.cluster import KMeans

    return KMeans(*args, **kwargs)


@contextmanager
def _stand_ins(modules: dict[str, ModuleType | None]) -> Iterator[None]:
    """``sys.modules`` entries for the modules not imported yet, removed afterwards."""
    placed = [name for name in modules if name not in sys.modules]
    for name in placed:
        sys.modules[name] = modules[name]  # type: ignore[assignment]  # None: hidden
    try:
        yield
    finally:
        for name in placed:
            if sys.modules.get(name) is modules[name]:
                del sys.modules[name]


def mapclassify() -> ModuleType:
    """The :mod:`mapclassify` module, light to import, Fisher-Jenks kernel cached on disk.

    Returns
    -------
    module
        :mod:`mapclassify`.
    """
    if "mapclassify" in sys.modules:
        return sys.modules["mapclassify"]
    stats = _Stats("scipy.stats")
    cluster = ModuleType("sklearn.cluster")
    cluster.KMeans = _kmeans  # type: ignore[attr-defined]
    # `import matplotlib.pyplot` fails on the parent when matplotlib is not imported yet
    pyplot = "matplotlib.pyplot" if "matplotlib" in sys.modules else "matplotlib"
    saved = sys.modules.get("numba", _MISSING)
    sys.modules["numba"] = None  # type: ignore[assignment]  # `from numba import` fails
    try:
        with _stand_ins({"scipy.stats": stats, "sklearn.cluster": cluster, pyplot: None}):
            import mapclassify as mc
    finally:
        if saved is _MISSING:
            del sys.modules["numba"]
        else:
            sys.modules["numba"] = saved  # type: ignore[assignment]
    classifiers = sys.modules.get("mapclassify.classifiers")
    plain = getattr(getattr(classifiers, _KERNEL, None), "__wrapped__", None)
    if classifiers is not None and plain is not None:
        from numba import njit

        setattr(classifiers, _KERNEL, njit(_SIGNATURE, cache=True)(plain))
        classifiers.HAS_NUMBA = True
    return mc
