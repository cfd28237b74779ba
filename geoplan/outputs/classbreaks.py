"""Import :mod:`mapclassify` without recompiling its numba kernel on every run.

mapclassify (2.x) compiles its Fisher-Jenks kernel eagerly, with an explicit signature and
without numba's on-disk cache, as its module is imported: that costs 1.5 to 3.5 s on every
``geoplan run``, ``site`` or ``report``, whether natural breaks are used or not (most maps
use quantiles). :func:`mapclassify` imports the package while numba is hidden from it, so
it defines its plain-Python fallback, and then puts back the same kernel compiled by numba
*with* ``cache=True``: compiled once per machine, loaded from the cache afterwards. Class
breaks are those of mapclassify itself (same function, same signature); only where the
compiled code lives changes. If mapclassify was imported elsewhere first, or its kernel is
not where this expects it, the package is used as it is.
"""

from __future__ import annotations

import sys
from types import ModuleType

_KERNEL = "_fisher_jenks_means"
_SIGNATURE = "f8[:](f8[:], u2)"


def mapclassify() -> ModuleType:
    """The :mod:`mapclassify` module, with its Fisher-Jenks kernel cached on disk.

    Returns
    -------
    module
        :mod:`mapclassify`.
    """
    if "mapclassify" in sys.modules:
        return sys.modules["mapclassify"]
    # Its dependencies first, so that only mapclassify's own modules see numba hidden.
    import scipy.stats  # noqa: F401
    import sklearn.cluster  # noqa: F401

    missing = object()
    saved = sys.modules.get("numba", missing)
    sys.modules["numba"] = None  # type: ignore[assignment]  # `from numba import` fails
    try:
        import mapclassify as mc
    finally:
        if saved is missing:
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
